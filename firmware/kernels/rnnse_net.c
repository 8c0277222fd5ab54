/* Whole-network frame step over an exported model descriptor (see rnnse_net.h). */
#include <string.h>

#include "rnnse_kernels.h"
#include "rnnse_net.h"
#include "rnnse_scalar.h"

const char *rnnse_strerror(int code)
{
    switch (code) {
    case RNNSE_OK: return "ok";
    case RNNSE_ERR_ARG: return "invalid argument (NULL pointer or core count outside 1..PLAT_MAX_CORES)";
    case RNNSE_ERR_MAGIC: return "not an rnnse model descriptor (bad magic)";
    case RNNSE_ERR_VERSION: return "model descriptor format version not supported by this firmware";
    case RNNSE_ERR_CHECKSUM: return "model descriptor checksum mismatch (corrupt or modified weights)";
    case RNNSE_ERR_FORMAT: return "inconsistent model descriptor (layer kinds, types, sizes or records)";
    case RNNSE_ERR_L1: return "L1 budget too small for the states and one weight tile per core";
    default: return "unknown error";
    }
}

static int is_rnn(const rnnse_layer_t *L) { return L->kind == RNNSE_LSTM || L->kind == RNNSE_GRU; }

/* Types a layer of each kind may take and give. */
static int layer_types_ok(const rnnse_layer_t *L)
{
    uint32_t in = L->in_type, out = L->out_type;
    switch (L->kind) {
    case RNNSE_FC:
        if (L->act > RNNSE_ACT_SIGMOID) return 0;
        if (L->prec == RNNSE_FP16) return in == RNNSE_FP16 && out == RNNSE_FP16;
        return L->prec == RNNSE_INT8 && in == RNNSE_INT8 &&
               out == (L->act == RNNSE_ACT_SIGMOID ? RNNSE_INT16 : RNNSE_INT8);
    case RNNSE_LSTM:
    case RNNSE_GRU:
        if (L->prec == RNNSE_FP16) return in == RNNSE_FP16 && out == RNNSE_FP16;
        if (L->prec != RNNSE_INT8 || in != RNNSE_INT8 || out != RNNSE_INT8) return 0;
        if (L->kind == RNNSE_LSTM && L->c_bits != 8 && L->c_bits != 16) return 0;
        if (L->kind == RNNSE_LSTM && (L->c_shift < 1 || L->c_shift > 62 || L->ct_shift < 1 || L->ct_shift > 62))
            return 0;
        return 1;
    case RNNSE_QUANT: return (in == RNNSE_FP32 || in == RNNSE_FP16) && out == RNNSE_INT8 && L->n_in == L->n_out;
    case RNNSE_DEQUANT:
        return (in == RNNSE_INT8 || in == RNNSE_INT16) && (out == RNNSE_FP16 || out == RNNSE_FP32) &&
               L->n_in == L->n_out;
    default: return 0;
    }
}

static int validate(const rnnse_model_t *m)
{
    uint32_t i;
    if (m->n_layers < 1 || m->n_layers > RNNSE_MAX_LAYERS) return RNNSE_ERR_FORMAT;
    if (m->input_roots > RNNSE_MAX_INPUT_ROOTS) return RNNSE_ERR_FORMAT;
    if (!(m->mask_floor >= 0.0f && m->mask_floor < 1.0f)) return RNNSE_ERR_FORMAT;
    if (m->layers[0].in_type != RNNSE_FP32 && m->layers[0].in_type != RNNSE_FP16) return RNNSE_ERR_FORMAT;
    for (i = 0; i < m->n_layers; i++) {
        const rnnse_layer_t *L = &m->layers[i];
        int needs_rec = L->kind == RNNSE_FC || is_rnn(L);
        if (L->n_in < 1 || L->n_out < 1 || !layer_types_ok(L)) return RNNSE_ERR_FORMAT;
        if (i > 0 && (L->in_type != m->layers[i - 1].out_type || L->n_in != m->layers[i - 1].n_out))
            return RNNSE_ERR_FORMAT;
        if (needs_rec && (!L->rec || L->rec_bytes != rnnse_record_bytes(L->kind, L->prec, L->n_in, L->n_out)))
            return RNNSE_ERR_FORMAT;
        if (L->prec == RNNSE_INT8 && (L->table_mode > RNNSE_TABLE_LINEAR || !m->sigmoid_table || !m->tanh_table))
            return RNNSE_ERR_FORMAT;
        if (needs_rec && !rnnse_weights_in_range(L)) return RNNSE_ERR_FORMAT;
        if (L->kind == RNNSE_QUANT && !(L->rec_bytes == 0 ? L->scale > 0.0f : L->rec_bytes == 4 && L->rec))
            return RNNSE_ERR_FORMAT;
        if (L->kind == RNNSE_DEQUANT && L->rec_bytes) return RNNSE_ERR_FORMAT;
    }
    i = m->layers[m->n_layers - 1].out_type;
    return i == RNNSE_FP16 || i == RNNSE_FP32 ? RNNSE_OK : RNNSE_ERR_FORMAT;
}

static uint32_t vec_bytes(uint32_t n, uint32_t type) { return rnnse_round4(n) * (uint32_t)rnnse_type_bytes(type); }

static void *l1_zalloc(size_t bytes, int *rc)
{
    void *p = plat_l1_alloc(bytes);
    if (!p) *rc = RNNSE_ERR_L1;
    else memset(p, 0, bytes);
    return p;
}

/* States, activation buffers and tables in L1. */
static int alloc_l1_data(rnnse_net_t *net)
{
    const rnnse_model_t *m = net->model;
    uint32_t i, act = vec_bytes(m->layers[0].n_in, RNNSE_FP32);
    int rc = RNNSE_OK;
    for (i = 0; i < m->n_layers && rc == RNNSE_OK; i++) {
        const rnnse_layer_t *L = &m->layers[i];
        uint32_t ob = vec_bytes(L->n_out, L->out_type);
        if (ob > act) act = ob;
        if (!is_rnn(L)) continue;
        net->state_bytes[i] = ob;
        net->h[i][0] = l1_zalloc(ob, &rc);
        net->h[i][1] = l1_zalloc(ob, &rc);
        if (L->kind == RNNSE_LSTM) {
            net->c_bytes[i] = L->prec == RNNSE_INT8 ? vec_bytes(L->n_out, L->c_bits == 16 ? RNNSE_INT16 : RNNSE_INT8)
                                                    : ob;
            net->c[i] = l1_zalloc(net->c_bytes[i], &rc);
        }
    }
    net->act_bytes = act;
    net->act[0] = l1_zalloc(act, &rc);
    net->act[1] = l1_zalloc(act, &rc);
    if (m->sigmoid_table && m->tanh_table && rc == RNNSE_OK) {
        int16_t *t = (int16_t *)l1_zalloc(2 * RNNSE_TABLE_SIZE * sizeof(int16_t), &rc);
        if (t) {
            memcpy(t, m->sigmoid_table, RNNSE_TABLE_SIZE * sizeof(int16_t));
            memcpy(t + RNNSE_TABLE_SIZE, m->tanh_table, RNNSE_TABLE_SIZE * sizeof(int16_t));
            net->ctx.sigmoid_table = t;
            net->ctx.tanh_table = t + RNNSE_TABLE_SIZE;
        }
    }
    return rc;
}

#ifndef RNNSE_NET_SCRATCH_MIN
#define RNNSE_NET_SCRATCH_MIN 0   /* bytes the tiles keep at least (a port's rnnse_net_scratch users) */
#endif

static uint32_t align16(uint32_t n) { return (n + 15u) & ~15u; }

/* Smallest and largest tile buffer: one record of any layer (promoted ones stream again under
 * rnnse_net_set_max_tile), a core's whole slice of any streamed layer (not resident, not `skip`). */
static void tile_needs(const rnnse_net_t *net, uint32_t skip, uint32_t *min_b, uint32_t *max_b)
{
    const rnnse_model_t *m = net->model;
    uint32_t i;
    *min_b = *max_b = 0;
    for (i = 0; i < m->n_layers; i++) {
        const rnnse_layer_t *L = &m->layers[i];
        uint32_t slice = (L->n_out + (uint32_t)net->ncores - 1u) / (uint32_t)net->ncores;
        if (L->rec_bytes > *min_b) *min_b = L->rec_bytes;
        if (i == skip || net->resident[i]) continue;
        if (slice * L->rec_bytes > *max_b) *max_b = slice * L->rec_bytes;
    }
    if (*min_b == 0) *min_b = 16;
    if (*max_b < *min_b) *max_b = *min_b;
}

/* L1 the tiles must keep: one record per buffer, and the scratch floor. */
static uint32_t tile_reserve(const rnnse_net_t *net, uint32_t skip)
{
    uint32_t min_b, max_b, need;
    tile_needs(net, skip, &min_b, &max_b);
    need = 2u * (uint32_t)net->ncores * align16(min_b);
    return need > RNNSE_NET_SCRATCH_MIN ? need : align16(RNNSE_NET_SCRATCH_MIN);
}

/* Tensor promotion: largest layers first, every layer whose records fit next to what the tiles
 * must keep is copied into L1 once and runs in place from there. */
static void promote(rnnse_net_t *net)
{
    const rnnse_model_t *m = net->model;
    for (;;) {
        uint32_t i, best = RNNSE_MAX_LAYERS, best_bytes = 0;
        size_t free_bytes = plat_l1_budget() - plat_l1_used();
        for (i = 0; i < m->n_layers; i++) {
            const rnnse_layer_t *L = &m->layers[i];
            uint32_t bytes = align16(L->n_out * L->rec_bytes);
            if (!L->rec_bytes || net->resident[i] || bytes <= best_bytes) continue;
            if ((size_t)bytes + tile_reserve(net, i) <= free_bytes) {
                best = i;
                best_bytes = bytes;
            }
        }
        if (best == RNNSE_MAX_LAYERS) return;
        {
            void *l1 = plat_l1_alloc(best_bytes);
            if (!l1) return;
            memcpy(l1, m->layers[best].rec, (size_t)m->layers[best].n_out * m->layers[best].rec_bytes);
            net->res[best] = m->layers[best];
            net->res[best].rec = l1;
            net->resident[best] = 1;
            net->resident_bytes += best_bytes;
        }
    }
}

/* Tile buffers for the streamed layers: at least one record of each, at most a core's whole slice. */
static int alloc_tiles(rnnse_net_t *net)
{
    uint32_t min_b, max_b, floor_b = align16((RNNSE_NET_SCRATCH_MIN + 2u * (uint32_t)net->ncores - 1u) /
                                             (2u * (uint32_t)net->ncores));
    int rc;
    tile_needs(net, RNNSE_MAX_LAYERS, &min_b, &max_b);
    if (max_b < floor_b) max_b = floor_b;
    rc = rnnse_tiles_alloc(&net->ctx.tiles, net->ncores, min_b, max_b);
    net->ctx_res = net->ctx;
    net->ctx_res.tiles.in_place = 1;
    return rc;
}

int rnnse_net_init(rnnse_net_t *net, const rnnse_model_t *model, int ncores)
{
    int rc;
    if (!net || !model || ncores < 1 || ncores > PLAT_MAX_CORES) return RNNSE_ERR_ARG;
    memset(net, 0, sizeof *net);
    if (model->magic != RNNSE_FORMAT_MAGIC) return RNNSE_ERR_MAGIC;
    if (model->version != RNNSE_FORMAT_VERSION) return RNNSE_ERR_VERSION;
    if (model->n_layers < 1 || model->n_layers > RNNSE_MAX_LAYERS) return RNNSE_ERR_FORMAT;
    if (rnnse_model_checksum(model) != model->checksum) return RNNSE_ERR_CHECKSUM;
    rc = validate(model);
    if (rc != RNNSE_OK) return rc;
    net->model = model;
    net->ncores = ncores;
    rc = alloc_l1_data(net);
    if (rc == RNNSE_OK) promote(net);
    if (rc == RNNSE_OK) rc = alloc_tiles(net);
    if (rc != RNNSE_OK) net->model = NULL;   /* rnnse_net_step refuses an uninitialised net */
    return rc;
}

void *rnnse_net_scratch(const rnnse_net_t *net, size_t *bytes)
{
    if (!net || !net->model || !net->ctx.tiles.block) {
        if (bytes) *bytes = 0;
        return NULL;
    }
    if (bytes) *bytes = net->ctx.tiles.block_bytes;
    return net->ctx.tiles.block;
}

int rnnse_net_resident(const rnnse_net_t *net, uint32_t *bytes)
{
    int i, n = 0;
    if (bytes) *bytes = 0;
    if (!net || !net->model) return 0;
    for (i = 0; i < RNNSE_MAX_LAYERS; i++) n += net->resident[i] != 0;
    if (bytes && n) *bytes = net->resident_bytes;
    return n;
}

void rnnse_net_set_max_tile(rnnse_net_t *net, uint32_t records)
{
    net->ctx.tiles.max_tile_rec = records;
    net->ctx_res.tiles.max_tile_rec = records;
    net->stream_all = records != 0;
}

void rnnse_net_set_weights_in_place(rnnse_net_t *net, int on) { net->ctx.tiles.in_place = on ? 1u : 0u; }

void rnnse_net_reset(rnnse_net_t *net)
{
    int i;
    if (!net->model) return;
    for (i = 0; i < RNNSE_MAX_LAYERS; i++) {
        if (net->h[i][0]) memset(net->h[i][0], 0, net->state_bytes[i]);
        if (net->h[i][1]) memset(net->h[i][1], 0, net->state_bytes[i]);
        if (net->c[i]) memset(net->c[i], 0, net->c_bytes[i]);
    }
    net->parity = 0;
}

/* The output of a layer whose input is x: the other activation buffer. */
static void *next_act(rnnse_net_t *net, const void *x) { return x == net->act[0] ? net->act[1] : net->act[0]; }

/* The network input of this core's share of the bins: |X|^(1 / 2^roots), as FP16 (x16) or FP32 (x32). */
static void convert_input(rnnse_net_t *net, rnnse_f16_t *x16, float *x32, uint32_t n)
{
    int first, i;
    uint32_t roots = net->model->input_roots, r;
    int count = rnnse_slice((int)n, plat_core_id(), plat_num_cores(), &first);
    if (roots == 0) {   /* the linear magnitude: a conversion only (x16 is set then) */
        for (i = first; i < first + count; i++) x16[i] = rnnse_fp_f16_sat(net->io_in[i]);
        return;
    }
    for (i = first; i < first + count; i++) {
        float v = net->io_in[i];
        for (r = 0; r < roots; r++) v = rnnse_fp_sqrt(v);
        if (x16) x16[i] = rnnse_fp_f16_sat(v);
        else x32[i] = v;
    }
}

/* The mask of this core's share of the bins, in FP32, raised to at least the model's mask_floor. */
static void convert_output(rnnse_net_t *net, const void *y, uint32_t type, uint32_t n)
{
    int first, i;
    float floor = net->model->mask_floor;
    int count = rnnse_slice((int)n, plat_core_id(), plat_num_cores(), &first);
    for (i = first; i < first + count; i++) {
        float v = type == RNNSE_FP16 ? rnnse_fp_f16_to_f32(((const rnnse_f16_t *)y)[i]) : ((const float *)y)[i];
        net->io_out[i] = v < floor ? floor : v;
    }
}

/* Zero the padding elements after the n valid ones (they meet zero weights in dot products). */
static void zero_pad(void *y, uint32_t n, uint32_t type)
{
    int eb = rnnse_type_bytes(type);
    memset((uint8_t *)y + (size_t)n * eb, 0, (size_t)(rnnse_round4(n) - n) * eb);
}

/* Core 0 notes the time at the end of each phase. */
static void phase_end(rnnse_net_t *net, int *phase, uint64_t *t)
{
    if (plat_core_id() == 0) {
        uint64_t now = plat_cycles();
        net->phase_cycles[*phase] = now - *t;
        *t = now;
    }
    (*phase)++;
}

static void net_team(void *arg)
{
    rnnse_net_t *net = (rnnse_net_t *)arg;
    const rnnse_model_t *m = net->model;
    const void *x = net->io_in;
    uint32_t i;
    int phase = 0;
    uint64_t t = plat_core_id() == 0 ? plat_cycles() : 0;
    if (m->layers[0].in_type == RNNSE_FP16 || m->input_roots) {
        uint32_t type = m->layers[0].in_type;
        convert_input(net, type == RNNSE_FP16 ? (rnnse_f16_t *)net->act[0] : NULL,
                      type == RNNSE_FP16 ? NULL : (float *)net->act[0], m->layers[0].n_in);
        if (plat_core_id() == 0) zero_pad(net->act[0], m->layers[0].n_in, type);
        plat_team_barrier();
        phase_end(net, &phase, &t);
        x = net->act[0];
    }
    for (i = 0; i < m->n_layers; i++) {
        const rnnse_layer_t *L = &m->layers[i];
        void *y;
        int res = net->resident[i] && !net->stream_all;
        const rnnse_layer_t *LR = res ? &net->res[i] : L;   /* promoted: records read in place in L1 */
        const rnnse_ctx_t *ctx = res ? &net->ctx_res : &net->ctx;
        if (is_rnn(L)) {
            y = net->h[i][net->parity ^ 1];
            rnnse_layer_run(LR, ctx, x, net->h[i][net->parity], y, net->c[i], NULL);
        } else {
            y = next_act(net, x);
            rnnse_layer_run(LR, ctx, x, NULL, NULL, NULL, y);
            if (plat_core_id() == 0) zero_pad(y, L->n_out, L->out_type);
        }
        plat_team_barrier();
        phase_end(net, &phase, &t);
        x = y;
    }
    convert_output(net, x, m->layers[m->n_layers - 1].out_type, m->layers[m->n_layers - 1].n_out);
    phase_end(net, &phase, &t);   /* core 0's own share of the output conversion */
    if (plat_core_id() == 0) net->n_phases = phase;
}

int rnnse_net_step(rnnse_net_t *net, const float *mag, float *mask)
{
    uint64_t t0;
    if (!net || !net->model || !mag || !mask) return RNNSE_ERR_ARG;
    t0 = plat_cycles();
    net->io_in = mag;
    net->io_out = mask;
    plat_team_fork(net->ncores, net_team, net);
    net->parity ^= 1;
    net->step_cycles = plat_cycles() - t0;
    return RNNSE_OK;
}
