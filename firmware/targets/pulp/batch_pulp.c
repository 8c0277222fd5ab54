/*
 * Batch runner of the linked model on pulp-open (GVSoC), for the tests and the benchmark: reads
 * its job from the host file rnnse_in.bin and writes rnnse_out.bin (semihosting; no simulated
 * cycles are spent on the file transfers). Layout (little-endian; host/rnnse/bench/gvsoc.py
 * reads and writes it):
 *
 *   in : header u32[8] = {BATCH_IN_MAGIC, BATCH_VERSION, mode, cores, frames, arg, arg2, 0}, then
 *        BATCH_NET:   frames x n_in float32 magnitudes
 *        BATCH_CHAIN: frames x DSP_HOP int16 samples (hops of audio)
 *        BATCH_LAYERS: nothing (arg = repetitions per measurement, at least 1)
 *        BATCH_LAYER_IO: frames cases of layer `arg` (arg2: records per DMA tile, 0 = as many as
 *                     fit), each x[n_in] (in_type), then for recurrent layers h[n_out] (out_type)
 *                     and for LSTM layers c[n_out] (int8/int16/FP16 as the layer's cell state)
 *   out: header u32[8] = {BATCH_OUT_MAGIC, BATCH_VERSION, status, mode, records, record_bytes, 0, 0}
 *        BATCH_NET:   per frame float32 mask[n_out], u32 stats[BATCH_STATS]
 *        BATCH_CHAIN: per frame int16 out[DSP_HOP], float32 mask[n_out], float32 mag[n_in],
 *                     u32 stats[BATCH_STATS]
 *        BATCH_LAYERS: per measurement u32[BATCH_LAYER_FIELDS] (see layer_record)
 *        BATCH_LAYER_IO: per case y[n_out] (out_type; h' for recurrent layers), then for LSTM
 *                     layers c[n_out]
 *   stats: [0] frame cycles (FC), [1] DSP cycles, [2] network step cycles (FC: fork to join),
 *          [3] n network phases, [4..] their cycles as cluster core 0 saw them (rnnse_net),
 *          [STAT_TEAM] n team phases, then their totals and busiest-core cycles (event unit)
 * status: 0, or an RNNSE_ERR_* / BATCH_ERR_* code (the output then has no records).
 */
#include <string.h>

#include "dsp.h"
#include "platform.h"
#include "pulp.h"
#include "pulp_internal.h"
#include "rnnse_harness.h"
#include "rnnse_kernels.h"
#include "rnnse_net.h"

#define BATCH_IN_MAGIC 0x49424E52u    /* "RNBI" */
#define BATCH_OUT_MAGIC 0x4F424E52u   /* "RNBO" */
#define BATCH_VERSION 1u
enum { BATCH_NET = 1, BATCH_CHAIN = 2, BATCH_LAYERS = 3, BATCH_LAYER_IO = 4 };
enum { BATCH_ERR_IO = -100, BATCH_ERR_INPUT = -101 };
#define MAXPH 24
#define STAT_NET 3
#define STAT_TEAM (STAT_NET + 1 + MAXPH)
#define BATCH_STATS (STAT_TEAM + 1 + 2 * MAXPH)
#define BATCH_LAYER_FIELDS 12
enum { VARIANT_STREAMED = 0, VARIANT_COMPUTE = 1, VARIANT_DMA = 2 };

extern const rnnse_model_t rnnse_model;

static rnnse_net_t net;
static dsp_chain_t chain;
static uint32_t stats[BATCH_STATS];
static float mag[RNNSE_NET_IO + 3], mask[RNNSE_NET_IO + 3];
static int in_fd = -1, out_fd = -1;

static int read_all(void *buf, size_t n) { return pulp_host_read(in_fd, buf, n) == (long)n ? 0 : BATCH_ERR_IO; }
static int write_all(const void *buf, size_t n) { return pulp_host_write(out_fd, buf, n) == (long)n ? 0 : BATCH_ERR_IO; }

static void collect_stats(uint32_t total, uint32_t dsp)
{
    uint32_t tot[MAXPH], busy[MAXPH];
    int k, n = pulp_phases(tot, busy, MAXPH);
    memset(stats, 0, sizeof stats);
    stats[0] = total;
    stats[1] = dsp;
    stats[2] = (uint32_t)net.step_cycles;
    stats[STAT_NET] = (uint32_t)(net.n_phases < MAXPH ? net.n_phases : MAXPH);
    for (k = 0; k < (int)stats[STAT_NET]; k++) stats[STAT_NET + 1 + k] = (uint32_t)net.phase_cycles[k];
    stats[STAT_TEAM] = (uint32_t)n;
    for (k = 0; k < n; k++) {
        stats[STAT_TEAM + 1 + k] = tot[k];
        stats[STAT_TEAM + 1 + MAXPH + k] = busy[k];
    }
}

static int run_net(uint32_t frames)
{
    uint32_t n_in = rnnse_model.layers[0].n_in, n_out = rnnse_model.layers[rnnse_model.n_layers - 1].n_out, t;
    int rc;
    if (n_in > RNNSE_NET_IO + 3 || n_out > RNNSE_NET_IO + 3) return BATCH_ERR_INPUT;
    for (t = 0; t < frames; t++) {
        if ((rc = read_all(mag, n_in * sizeof(float))) != 0) return rc;
        if ((rc = rnnse_net_step(&net, mag, mask)) != RNNSE_OK) return rc;
        collect_stats((uint32_t)net.step_cycles, 0);
        if ((rc = write_all(mask, n_out * sizeof(float))) != 0 || (rc = write_all(stats, sizeof stats)) != 0)
            return rc;
    }
    return 0;
}

static int run_chain(uint32_t frames)
{
    int16_t in[DSP_HOP], out[DSP_HOP];
    uint32_t t;
    int rc;
    if (rnnse_model.layers[0].n_in != DSP_NBINS || rnnse_model.layers[rnnse_model.n_layers - 1].n_out != DSP_NBINS)
        return BATCH_ERR_INPUT;
    dsp_chain_reset(&chain);
    for (t = 0; t < frames; t++) {
        uint64_t t0, t1, t2, t3;
        if ((rc = read_all(in, sizeof in)) != 0) return rc;
        t0 = plat_cycles();
        dsp_analyze(&chain, in, mag);
        t1 = plat_cycles();
        if ((rc = rnnse_net_step(&net, mag, mask)) != RNNSE_OK) return rc;
        t2 = plat_cycles();
        dsp_synthesize(&chain, mask, out);
        t3 = plat_cycles();
        collect_stats((uint32_t)(t3 - t0), (uint32_t)((t1 - t0) + (t3 - t2)));
        if ((rc = write_all(out, sizeof out)) != 0 || (rc = write_all(mask, DSP_NBINS * sizeof(float))) != 0 ||
            (rc = write_all(mag, DSP_NBINS * sizeof(float))) != 0 || (rc = write_all(stats, sizeof stats)) != 0)
            return rc;
    }
    return 0;
}

/* ---- per-layer measurements ------------------------------------------------------------------ */

static uint8_t lx[1056] __attribute__((aligned(16))), lh[1056] __attribute__((aligned(16)));
static uint8_t lc[1056] __attribute__((aligned(16))), ly[1056] __attribute__((aligned(16)));

typedef struct {
    const rnnse_layer_t *L;
    rnnse_tiles_t tiles;
} dma_job_t;

/* every core streams its slice of the layer's records through its tiles, computing nothing */
static void dma_only_team(void *arg)
{
    dma_job_t *j = (dma_job_t *)arg;
    rnnse_stream_t s;
    int first, count, n;
    count = rnnse_slice((int)j->L->n_out, plat_core_id(), plat_num_cores(), &first);
    rnnse_stream_open(&s, &j->tiles, j->L->rec, j->L->rec_bytes, first, count);
    while (rnnse_stream_next(&s, &n) != NULL)
        ;
}

/* the L1 the harness takes before its tiles: x, y/h', h, c, tables */
static void reserve_like_harness(const rnnse_layer_t *L)
{
    int ib = rnnse_type_bytes(L->in_type), ob = rnnse_type_bytes(L->out_type);
    plat_l1_reset();
    plat_l1_alloc((size_t)rnnse_round4(L->n_in) * ib);
    plat_l1_alloc((size_t)rnnse_round4(L->n_out) * ob);
    if (L->kind != RNNSE_FC) {
        plat_l1_alloc((size_t)rnnse_round4(L->n_out) * ob);
        if (L->kind == RNNSE_LSTM) plat_l1_alloc((size_t)rnnse_round4(L->n_out) * 2);
    }
    plat_l1_alloc(2 * RNNSE_TABLE_SIZE);
    plat_l1_alloc(2 * RNNSE_TABLE_SIZE);
}

static int layer_record(uint32_t index, const rnnse_layer_t *L, int cores, int variant, uint32_t reps)
{
    uint32_t rec[BATCH_LAYER_FIELDS], r, best = 0xFFFFFFFFu, tile = 0;
    uint32_t tot[MAXPH], busy[MAXPH];
    int rc = 0;
    for (r = 0; r <= reps; r++) {       /* the first run warms the instruction cache */
        if (variant == VARIANT_DMA) {
            dma_job_t j;
            uint32_t slice = (L->n_out + (uint32_t)cores - 1u) / (uint32_t)cores;
            reserve_like_harness(L);
            j.L = L;
            rc = rnnse_tiles_alloc(&j.tiles, cores, L->rec_bytes, slice * L->rec_bytes);
            if (rc != RNNSE_OK) return rc;
            tile = j.tiles.buf_bytes;
            plat_team_fork(cores, dma_only_team, &j);
        } else {
            pulp_dma_set_enabled(variant != VARIANT_COMPUTE);
            rc = rnnse_harness_layer(L, rnnse_model.sigmoid_table, rnnse_model.tanh_table, cores, 0, 0, lx, lh, lc,
                                     ly);
            pulp_dma_set_enabled(1);
            if (rc != RNNSE_OK) return rc;
        }
        if (pulp_phases(tot, busy, MAXPH) < 1) return BATCH_ERR_INPUT;
        if (r > 0 && tot[0] < best) best = tot[0];
    }
    if (variant != VARIANT_DMA) {      /* tile size the harness got: same reservation, same call */
        rnnse_tiles_t t;
        uint32_t slice = (L->n_out + (uint32_t)cores - 1u) / (uint32_t)cores;
        reserve_like_harness(L);
        if (rnnse_tiles_alloc(&t, cores, L->rec_bytes, slice * L->rec_bytes) == RNNSE_OK) tile = t.buf_bytes;
    }
    rec[0] = index;
    rec[1] = L->kind;
    rec[2] = L->prec;
    rec[3] = (uint32_t)cores;
    rec[4] = (uint32_t)variant;
    rec[5] = best;
    rec[6] = L->rec_bytes;
    rec[7] = L->n_in;
    rec[8] = L->n_out;
    rec[9] = tile;
    rec[10] = busy[0];
    rec[11] = 0;
    return write_all(rec, sizeof rec);
}

/* The most cores (at most max_cores) whose double-buffered tiles of one record each fit the L1
 * left after the harness's vectors: an FP16 LSTM-256 record (4 kB) does not fit 8 x 2 times in
 * pulp-open's 64 kB. */
static int fit_cores(const rnnse_layer_t *L, int max_cores)
{
    int cores;
    for (cores = max_cores; cores > 1; cores--) {
        rnnse_tiles_t t;
        uint32_t slice = (L->n_out + (uint32_t)cores - 1u) / (uint32_t)cores;
        reserve_like_harness(L);
        if (rnnse_tiles_alloc(&t, cores, L->rec_bytes, slice * L->rec_bytes) == RNNSE_OK) break;
    }
    plat_l1_reset();
    return cores;
}

static int run_layers(int max_cores, uint32_t reps, uint32_t *records)
{
    uint32_t i;
    int rc, variant, k;
    memset(lx, 0, sizeof lx);
    memset(lh, 0, sizeof lh);
    memset(lc, 0, sizeof lc);
    for (i = 0; i < sizeof lx; i++) {          /* small values valid as int8 and as FP16 */
        lx[i] = (uint8_t)((i * 37u) & 0x1Fu);
        lh[i] = (uint8_t)((i * 11u) & 0x0Fu);
    }
    for (i = 0; i < rnnse_model.n_layers; i++) {
        const rnnse_layer_t *L = &rnnse_model.layers[i];
        int counts[2];
        if (!L->rec_bytes) continue;
        counts[0] = 1;
        counts[1] = fit_cores(L, max_cores);
        for (k = 0; k < (max_cores > 1 ? 2 : 1); k++)
            for (variant = VARIANT_STREAMED; variant <= VARIANT_DMA; variant++) {
                if ((rc = layer_record(i, L, counts[k], variant, reps)) != 0) return rc;
                (*records)++;
            }
    }
    return 0;
}

static int cell_bytes(const rnnse_layer_t *L)
{
    if (L->kind != RNNSE_LSTM) return 0;
    return L->prec == RNNSE_INT8 ? (L->c_bits == 16 ? 2 : 1) : 2;
}

static int run_layer_io(uint32_t index, uint32_t cases, int cores, uint32_t max_tile)
{
    const rnnse_layer_t *L;
    uint32_t t, nx, ny, nc;
    int rc, rnn;
    if (index >= rnnse_model.n_layers) return BATCH_ERR_INPUT;
    L = &rnnse_model.layers[index];
    rnn = L->kind == RNNSE_LSTM || L->kind == RNNSE_GRU;
    nx = L->n_in * (uint32_t)rnnse_type_bytes(L->in_type);
    ny = L->n_out * (uint32_t)rnnse_type_bytes(L->out_type);
    nc = L->n_out * (uint32_t)cell_bytes(L);
    if (nx > sizeof lx || ny > sizeof ly || nc > sizeof lc) return BATCH_ERR_INPUT;
    for (t = 0; t < cases; t++) {
        memset(lx, 0, sizeof lx);
        memset(lh, 0, sizeof lh);
        memset(lc, 0, sizeof lc);
        if ((rc = read_all(lx, nx)) != 0) return rc;
        if (rnn && (rc = read_all(lh, ny)) != 0) return rc;
        if (nc && (rc = read_all(lc, nc)) != 0) return rc;
        rc = rnnse_harness_layer(L, rnnse_model.sigmoid_table, rnnse_model.tanh_table, cores, max_tile, 0, lx, lh,
                                 lc, ly);
        if (rc != RNNSE_OK) return rc;
        if ((rc = write_all(ly, ny)) != 0) return rc;
        if (nc && (rc = write_all(lc, nc)) != 0) return rc;
    }
    return 0;
}

int main(void)
{
    uint32_t hdr[8], out[8] = {BATCH_OUT_MAGIC, BATCH_VERSION, 0, 0, 0, 0, 0, 0}, records = 0;
    int rc;
    in_fd = pulp_host_open("rnnse_in.bin", 0);
    out_fd = pulp_host_open("rnnse_out.bin", 4);
    if (in_fd < 0 || out_fd < 0) {
        pulp_printf("rnnse_batch: cannot open rnnse_in.bin / rnnse_out.bin\n");
        return 2;
    }
    rc = read_all(hdr, sizeof hdr);
    if (rc == 0 && (hdr[0] != BATCH_IN_MAGIC || hdr[1] != BATCH_VERSION || hdr[3] < 1 || hdr[3] > PLAT_MAX_CORES))
        rc = BATCH_ERR_INPUT;
    out[3] = rc == 0 ? hdr[2] : 0;
    if (rc == 0) {
        if (hdr[2] == BATCH_LAYERS) {
            /* placeholder header first: the record count is only known at the end */
            rc = write_all(out, sizeof out);
            if (rc == 0) rc = run_layers((int)hdr[3], hdr[5] ? hdr[5] : 1u, &records);
        } else if (hdr[2] == BATCH_LAYER_IO) {
            rc = write_all(out, sizeof out);
            if (rc == 0) rc = run_layer_io(hdr[5], hdr[4], (int)hdr[3], hdr[6]);
            records = hdr[4];
        } else if (hdr[2] == BATCH_NET || hdr[2] == BATCH_CHAIN) {
            rc = rnnse_net_init(&net, &rnnse_model, (int)hdr[3]);
            if (rc == 0) {   /* the signal chain runs on the cluster in the network's tiles */
                size_t bytes;
                void *l1 = rnnse_net_scratch(&net, &bytes);
                pulp_dsp_set_scratch(l1, bytes, (int)hdr[3]);
            }
            if (rc == 0) rc = write_all(out, sizeof out);
            if (rc == 0) rc = hdr[2] == BATCH_NET ? run_net(hdr[4]) : run_chain(hdr[4]);
            records = hdr[4];
        } else {
            rc = BATCH_ERR_INPUT;
        }
    }
    out[2] = (uint32_t)rc;
    out[4] = rc == 0 ? records : 0;
    out[5] = hdr[2] == BATCH_LAYERS ? BATCH_LAYER_FIELDS * 4u : 0u;
    /* the final header goes at the end: the host reads it from there (no seek in semihosting) */
    write_all(out, sizeof out);
    for (int c = 0; c < PULP_CLUSTER_CORES; c++)
        pulp_printf("stack peak core %d: %u bytes\n", c, (unsigned)pulp_stack_peak(c));
    pulp_host_close(out_fd);
    pulp_host_close(in_fd);
    return rc == 0 ? 0 : 1;
}
