/* Test and benchmark entry points (see rnnse_harness.h). */
#include <stddef.h>
#include <string.h>

#include "rnnse_scalar.h"
#include "rnnse_harness.h"
#include "rnnse_kernels.h"
#include "rnnse_net.h"
#include "rnnse_simd.h"

const char *rnnse_simd_name(void) { return RNNSE_SIMD_NAME; }

typedef struct {
    const rnnse_layer_t *L;
    rnnse_ctx_t ctx;
    const void *x, *h;
    void *h_out, *c, *y;
} layer_job_t;

static void layer_team(void *arg)
{
    layer_job_t *j = (layer_job_t *)arg;
    rnnse_layer_run(j->L, &j->ctx, j->x, j->h, j->h_out, j->c, j->y);
}

static void *l1_copy(const void *src, size_t bytes, size_t padded)
{
    uint8_t *p = (uint8_t *)plat_l1_alloc(padded ? padded : 16);
    if (p) {
        memset(p, 0, padded);
        if (src) memcpy(p, src, bytes);
    }
    return p;
}

int rnnse_harness_layer(const rnnse_layer_t *L, const int16_t *sigmoid_table, const int16_t *tanh_table,
                        int ncores, uint32_t max_tile_rec, int in_place, const void *x, const void *h, void *c,
                        void *y)
{
    int rnn = L->kind == RNNSE_LSTM || L->kind == RNNSE_GRU, rc;
    int ib = rnnse_type_bytes(L->in_type), ob = rnnse_type_bytes(L->out_type);
    int cb = L->prec == RNNSE_INT8 ? (L->c_bits == 16 ? 2 : 1) : 2;
    uint32_t slice;
    layer_job_t j;
    if (ncores < 1 || ncores > PLAT_MAX_CORES || ib == 0 || ob == 0) return RNNSE_ERR_ARG;
    if ((L->kind == RNNSE_FC || rnn) &&
        (!L->rec || !L->rec_bytes || L->rec_bytes != rnnse_record_bytes(L->kind, L->prec, L->n_in, L->n_out)))
        return RNNSE_ERR_FORMAT;
    if (!rnnse_weights_in_range(L)) return RNNSE_ERR_FORMAT;
    memset(&j, 0, sizeof j);
    plat_l1_reset();
    j.L = L;
    j.x = l1_copy(x, (size_t)L->n_in * ib, (size_t)rnnse_round4(L->n_in) * ib);
    j.y = l1_copy(NULL, 0, (size_t)rnnse_round4(L->n_out) * ob);
    if (rnn) {
        j.h = l1_copy(h, (size_t)L->n_out * ob, (size_t)rnnse_round4(L->n_out) * ob);
        j.h_out = j.y;
        j.y = NULL;
        if (L->kind == RNNSE_LSTM) j.c = l1_copy(c, (size_t)L->n_out * cb, (size_t)rnnse_round4(L->n_out) * cb);
    }
    j.ctx.sigmoid_table = (const int16_t *)l1_copy(sigmoid_table, sigmoid_table ? 2 * RNNSE_TABLE_SIZE : 0,
                                                   2 * RNNSE_TABLE_SIZE);
    j.ctx.tanh_table = (const int16_t *)l1_copy(tanh_table, tanh_table ? 2 * RNNSE_TABLE_SIZE : 0,
                                                2 * RNNSE_TABLE_SIZE);
    if (!j.x || !(j.y || j.h_out) || (rnn && !j.h) || (L->kind == RNNSE_LSTM && !j.c) || !j.ctx.tanh_table)
        return RNNSE_ERR_L1;
    slice = (L->n_out + (uint32_t)ncores - 1u) / (uint32_t)ncores;
    if (L->rec_bytes) {
        rc = rnnse_tiles_alloc(&j.ctx.tiles, ncores, L->rec_bytes, slice * L->rec_bytes);
        if (rc != RNNSE_OK) return rc;
        j.ctx.tiles.max_tile_rec = max_tile_rec;
        j.ctx.tiles.in_place = in_place ? 1u : 0u;
    }
    plat_team_fork(ncores, layer_team, &j);
    memcpy(y, rnn ? j.h_out : j.y, (size_t)L->n_out * ob);
    if (L->kind == RNNSE_LSTM) memcpy(c, j.c, (size_t)L->n_out * cb);
    return RNNSE_OK;
}

typedef struct {
    int rounds, errors;
    int counters[PLAT_MAX_CORES];
    int *ids, *sizes;
} team_job_t;

static void team_check(void *arg)
{
    team_job_t *t = (team_job_t *)arg;
    int me = plat_core_id(), n = plat_num_cores(), r, k, bad = 0;
    t->ids[me] = me;
    t->sizes[me] = n;
    for (r = 1; r <= t->rounds; r++) {
        __atomic_store_n(&t->counters[me], r, __ATOMIC_RELAXED);
        plat_team_barrier();
        for (k = 0; k < n; k++)
            if (__atomic_load_n(&t->counters[k], __ATOMIC_RELAXED) < r) bad++;
        plat_team_barrier();
    }
    if (bad) __atomic_add_fetch(&t->errors, bad, __ATOMIC_RELAXED);
}

int rnnse_harness_team(int ncores, int rounds, int *ids, int *sizes)
{
    team_job_t t;
    memset(&t, 0, sizeof t);
    t.rounds = rounds;
    t.ids = ids;
    t.sizes = sizes;
    plat_team_fork(ncores, team_check, &t);
    return t.errors;
}

int rnnse_harness_dma(const uint8_t *src, uint32_t n, uint8_t *before, uint8_t *after)
{
    plat_dma_t d;
    uint8_t *dst;
    plat_l1_reset();
    dst = (uint8_t *)plat_l1_alloc(n);
    if (!dst) return -1;
    memset(&d, 0, sizeof d);
    plat_dma_start(&d, dst, src, n);
    memcpy(before, dst, n);      /* deliberate misuse: read before the wait */
    plat_dma_wait(&d);
    memcpy(after, dst, n);
    return 0;
}

int rnnse_harness_abi(uint32_t *out, int n)
{
    uint32_t v[] = {
        (uint32_t)sizeof(rnnse_layer_t), (uint32_t)sizeof(rnnse_model_t),
        (uint32_t)offsetof(rnnse_model_t, layers), (uint32_t)offsetof(rnnse_model_t, checksum),
        (uint32_t)offsetof(rnnse_layer_t, rec), (uint32_t)sizeof(rnnse_net_t),
        (uint32_t)PLAT_MAX_CORES, RNNSE_FORMAT_MAGIC, RNNSE_FORMAT_VERSION, (uint32_t)RNNSE_MAX_LAYERS,
    };
    int i, count = (int)(sizeof v / sizeof v[0]);
    for (i = 0; i < n && i < count; i++) out[i] = v[i];
    return count;
}

int rnnse_harness_net_run(rnnse_net_t *net, const float *mags, float *masks, int frames, uint64_t *frame_cycles)
{
    size_t n_in, n_out;
    int t, rc = RNNSE_OK;
    if (!net || !net->model || !mags || !masks || frames < 0) return RNNSE_ERR_ARG;
    n_in = net->model->layers[0].n_in;
    n_out = net->model->layers[net->model->n_layers - 1].n_out;
    for (t = 0; t < frames && rc == RNNSE_OK; t++) {
        rc = rnnse_net_step(net, mags + (size_t)t * n_in, masks + (size_t)t * n_out);
        if (frame_cycles) frame_cycles[t] = net->step_cycles;
    }
    return rc;
}

int rnnse_harness_act(int fn, const float *x, float *y, int n)
{
    int i;
    if (n < 0 || (fn < 2 && n % 8)) return RNNSE_ERR_ARG;
    for (i = 0; i < n; i++) y[i] = x[i];
    for (i = 0; i < n; i += fn < 2 ? 8 : 1) {
        switch (fn) {
        case 0: rnnse_sigmoid_f32x8(y + i); break;
        case 1: rnnse_tanh_f32x8(y + i); break;
        case 2: y[i] = rnnse_sigmoid_f32(y[i]); break;
        case 3: y[i] = rnnse_tanh_f32(y[i]); break;
        case 4: y[i] = rnnse_exp_f32(y[i]); break;
        default: return RNNSE_ERR_ARG;
        }
    }
    return RNNSE_OK;
}

int rnnse_harness_requant(int form, const int32_t *acc, const int32_t *mult, const int32_t *shift, int32_t *out,
                           int n)
{
    int i;
    if (n < 0) return RNNSE_ERR_ARG;
    for (i = 0; i < n; i++) {
        int32_t a = acc[i], m = mult[i], b = acc[n + i], mb = mult[n + i];
        int s = (int)shift[i], sb = (int)shift[n + i];
        switch (form) {
        case 0: out[i] = rnnse_requant(a, m, s); break;
        case 1: out[i] = rnnse_requant_wide(a, m, s); break;
        case 2: out[i] = rnnse_requant_ge32(a, m, s); break;
        case 3: out[i] = rnnse_requant_le32(a, m, s); break;
        case 4: out[i] = rnnse_requant_small(a, m, 33 - s); break;
        case 5: out[i] = rnnse_requant2_sat16(a, m, s, b, mb, sb); break;
        case 6: out[i] = rnnse_requant2_sat16_ge32(a, m, s, b, mb, sb); break;
        case 7: out[i] = rnnse_requant2_sat16_gt32(a, m, s, b, mb, sb); break;
        case 8: out[i] = rnnse_add_sat(a, b, -32768, 32767); break;
        case 9: out[i] = rnnse_shifts_ge32((uint32_t)a, (uint32_t)m); break;
        case 10: out[i] = rnnse_shifts_gt32((uint32_t)a, (uint32_t)m); break;
        case 11: out[i] = rnnse_requant_bounded(a, m, s); break;
        case 12: out[i] = rnnse_requant2_sat16_bounded(a, m, s, b, mb, sb); break;
        case 13:
        case 14: {   /* a miss as INT32_MIN (the results of these forms are within +-(2^29 + 1)) */
            uint32_t miss = 0;
            int32_t r = form == 13 ? rnnse_requant_le33(a, m, s, &miss)
                                   : rnnse_requant2_sat16_le33(a, m, s, b, mb, sb, &miss);
            out[i] = miss ? INT32_MIN : r;
            break;
        }
        case 15: out[i] = rnnse_shifts_le33((uint32_t)a, (uint32_t)m); break;
        default: return RNNSE_ERR_ARG;
        }
    }
    return RNNSE_OK;
}

int rnnse_harness_net_phases(const rnnse_net_t *net, uint64_t *out, int max)
{
    int i;
    if (!net || !net->model) return 0;
    for (i = 0; i < net->n_phases && i < max; i++) out[i] = net->phase_cycles[i];
    return net->n_phases;
}
