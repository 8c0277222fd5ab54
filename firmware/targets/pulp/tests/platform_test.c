/* Checks of the pulp-open port, printed one per line as "name: ok|FAIL ..." followed by
 * measurements "measure: name value"; the exit status is the number of failed checks.
 *   boot        FC runs main, the cluster answers forks
 *   team        plat_core_id / plat_num_cores / barriers on 1..8 cores (rnnse_harness_team)
 *   dma         every core copies its own L2 block into L1 with two transfers in flight
 *   dma_off     with transfers turned off (measurements) a start copies nothing, leaves no id
 *   dma_fc      a transfer started by the FC is a copy done at start
 *   float       soft-float entry points on the FPU against IEEE results computed on the host
 *   sdot        the Xpulp int8 dot products (rows and gate forms) against the portable C ones;
 *               the FP16 ones against the portable order within the FP32 summation bound
 *   fdot        the FP16 dot products bit for bit against the pairwise reference (rnnse_fdot2)
 *   activations FPU sigmoid/tanh against the portable operation sequence, bit for bit
 *   fixed       the INT8 kernels' integer primitives (rnnse_scalar.h, Xpulp building blocks) on a
 *               cluster core against the 64-bit requant and plain C, on corners and random inputs
 *   fpscalar    the FP32 / FP16 scalar steps of rnnse_scalar.h (FPU forms) against the portable
 *               C: every FP16 value converted to FP32, a sweep of FP32 values to FP16 (saturating),
 *               rounding to integers, ReLU and clamps, bit for bit
 *   dsp         the signal chain on the cluster (dsp_cluster.c, 8 and 3 cores) against the portable
 *               chain on the FC, bit for bit: magnitudes, spectra, history, output, overlap-add
 * Measurements: fork+join cycles, barrier cycles, DMA bytes/cycle (8 cores, 4 kB each x 2).
 */
#include <math.h>
#include <string.h>

#include "platform.h"
#include "pulp.h"
#include "pulp_internal.h"
#include "dsp.h"
#include "rnnse_scalar.h"
#include "rnnse_harness.h"
#include "rnnse_simd.h"

static int failures;

static void check(const char *name, int ok, const char *detail)
{
    pulp_printf("%s: %s%s%s\n", name, ok ? "ok" : "FAIL", ok || !detail ? "" : " ", ok || !detail ? "" : detail);
    if (!ok) failures++;
}

/* ---- team -------------------------------------------------------------------------------- */
static void empty(void *arg) { (void)arg; }

static void barriers(void *arg)
{
    int i, rounds = *(int *)arg;
    for (i = 0; i < rounds; i++) plat_team_barrier();
}

static void check_team(void)
{
    int n, bad = 0;
    for (n = 1; n <= PLAT_MAX_CORES; n++) {
        int ids[PLAT_MAX_CORES], sizes[PLAT_MAX_CORES], i;
        for (i = 0; i < PLAT_MAX_CORES; i++) ids[i] = sizes[i] = -1;
        bad += rnnse_harness_team(n, 20, ids, sizes);
        for (i = 0; i < PLAT_MAX_CORES; i++)
            if (i < n ? (ids[i] != i || sizes[i] != n) : (ids[i] != -1 || sizes[i] != -1)) bad++;
    }
    check("team", bad == 0, "wrong ids, sizes or barrier order");
    {
        uint64_t t0 = plat_cycles();
        int rounds = 100;
        for (n = 0; n < 10; n++) plat_team_fork(8, empty, NULL);
        pulp_printf("measure: fork_join_cycles %u\n", (unsigned)((plat_cycles() - t0) / 10));
        t0 = plat_cycles();
        plat_team_fork(8, barriers, &rounds);
        pulp_printf("measure: fork_100_barriers_cycles %u\n", (unsigned)(plat_cycles() - t0));
    }
}

/* ---- DMA --------------------------------------------------------------------------------- */
#define DMA_BLOCK 2048   /* 8 cores x 2 blocks: 32 kB of L1 */
static uint8_t l2_src[PLAT_MAX_CORES][2][DMA_BLOCK] __attribute__((aligned(16)));

typedef struct {
    uint8_t *dst[PLAT_MAX_CORES];
    int bad[PLAT_MAX_CORES];
    uint32_t cycles[PLAT_MAX_CORES];
} dma_job_t;

static void dma_team(void *arg)
{
    dma_job_t *j = (dma_job_t *)arg;
    int me = plat_core_id(), i, b;
    plat_dma_t d[2];
    uint32_t t0;
    plat_team_barrier();
    t0 = pulp_mcycle();
    plat_dma_start(&d[0], j->dst[me], l2_src[me][0], DMA_BLOCK);
    plat_dma_start(&d[1], j->dst[me] + DMA_BLOCK, l2_src[me][1], DMA_BLOCK);
    plat_dma_wait(&d[1]);
    plat_dma_wait(&d[0]);
    plat_team_barrier();
    j->cycles[me] = pulp_mcycle() - t0;
    for (b = 0; b < 2; b++)
        for (i = 0; i < DMA_BLOCK; i++)
            if (j->dst[me][b * DMA_BLOCK + i] != l2_src[me][b][i]) j->bad[me]++;
}

static void check_dma(void)
{
    dma_job_t j;
    int c, b, i, bad = 0;
    memset(&j, 0, sizeof j);
    for (c = 0; c < PLAT_MAX_CORES; c++)
        for (b = 0; b < 2; b++)
            for (i = 0; i < DMA_BLOCK; i++) l2_src[c][b][i] = (uint8_t)(i * 7 + c * 13 + b * 101 + (i >> 8));
    plat_l1_reset();
    for (c = 0; c < PLAT_MAX_CORES; c++) {
        j.dst[c] = (uint8_t *)plat_l1_alloc(2 * DMA_BLOCK);
        if (!j.dst[c]) {
            check("dma", 0, "L1 arena too small");
            return;
        }
        memset(j.dst[c], 0, 2 * DMA_BLOCK);
    }
    plat_team_fork(PLAT_MAX_CORES, dma_team, &j);
    for (c = 0; c < PLAT_MAX_CORES; c++) bad += j.bad[c];
    check("dma", bad == 0, "L1 copy differs from L2");
    pulp_printf("measure: dma_bytes %u dma_cycles %u\n", (unsigned)(PLAT_MAX_CORES * 2 * DMA_BLOCK),
                (unsigned)j.cycles[0]);

    /* the cases plat_dma_inline.h hands to dma.c: transfers turned off copy nothing and leave
     * nothing pending; on the FC the copy is done at start */
    {
        plat_dma_t d;
        uint8_t *dst = (uint8_t *)plat_l1_alloc(DMA_BLOCK);
        int off_bad = 0, fc_bad = 0;
        if (!dst) {
            check("dma", 0, "L1 arena too small");
            return;
        }
        memset(dst, 0xA5, DMA_BLOCK);
        pulp_dma_set_enabled(0);
        plat_dma_start(&d, dst, l2_src[0][0], DMA_BLOCK);
        if (d.pending != 0) off_bad++;
        plat_dma_wait(&d);
        pulp_dma_set_enabled(1);
        for (i = 0; i < DMA_BLOCK; i++)
            if (dst[i] != 0xA5) off_bad++;
        check("dma_off", off_bad == 0, "a transfer turned off copied or left ids pending");
        plat_dma_start(&d, dst, l2_src[1][1], DMA_BLOCK);
        if (d.pending != 0) fc_bad++;
        plat_dma_wait(&d);
        for (i = 0; i < DMA_BLOCK; i++)
            if (dst[i] != l2_src[1][1][i]) fc_bad++;
        check("dma_fc", fc_bad == 0, "a transfer started by the FC differs from its source");
    }
    plat_l1_reset();
}

/* ---- floating point ------------------------------------------------------------------------ */
enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_SQRT, OP_FMA };
static const uint32_t fcases[][5] = {
    /* op, a, b, c, expected (numpy float32 / exact rounding, on the host) */
    {OP_ADD, 0x3F800000u, 0x40400000u, 0x00000000u, 0x40800000u},
    {OP_SUB, 0x3F800000u, 0x40400000u, 0x00000000u, 0xC0000000u},
    {OP_MUL, 0x3F800000u, 0x40400000u, 0x00000000u, 0x40400000u},
    {OP_DIV, 0x3F800000u, 0x40400000u, 0x00000000u, 0x3EAAAAABu},
    {OP_ADD, 0xC0200000u, 0x3DCCCCCDu, 0x00000000u, 0xC019999Au},
    {OP_SUB, 0xC0200000u, 0x3DCCCCCDu, 0x00000000u, 0xC0266666u},
    {OP_MUL, 0xC0200000u, 0x3DCCCCCDu, 0x00000000u, 0xBE800000u},
    {OP_DIV, 0xC0200000u, 0x3DCCCCCDu, 0x00000000u, 0xC1C80000u},
    {OP_ADD, 0x0DA24260u, 0x501502F9u, 0x00000000u, 0x501502F9u},
    {OP_SUB, 0x0DA24260u, 0x501502F9u, 0x00000000u, 0xD01502F9u},
    {OP_MUL, 0x0DA24260u, 0x501502F9u, 0x00000000u, 0x1E3CE508u},
    {OP_DIV, 0x0DA24260u, 0x501502F9u, 0x00000000u, 0x000116C2u},
    {OP_ADD, 0x7F7FC99Eu, 0x41200000u, 0x00000000u, 0x7F7FC99Eu},
    {OP_SUB, 0x7F7FC99Eu, 0x41200000u, 0x00000000u, 0x7F7FC99Eu},
    {OP_MUL, 0x7F7FC99Eu, 0x41200000u, 0x00000000u, 0x7F800000u},
    {OP_DIV, 0x7F7FC99Eu, 0x41200000u, 0x00000000u, 0x7DCCA14Bu},
    {OP_ADD, 0x80000000u, 0x00000000u, 0x00000000u, 0x00000000u},
    {OP_SUB, 0x80000000u, 0x00000000u, 0x00000000u, 0x80000000u},
    {OP_MUL, 0x80000000u, 0x00000000u, 0x00000000u, 0x80000000u},
    {OP_ADD, 0x40E00000u, 0xB3D6BF95u, 0x00000000u, 0x40E00000u},
    {OP_SUB, 0x40E00000u, 0xB3D6BF95u, 0x00000000u, 0x40E00000u},
    {OP_MUL, 0x40E00000u, 0xB3D6BF95u, 0x00000000u, 0xB53BE7A2u},
    {OP_DIV, 0x40E00000u, 0xB3D6BF95u, 0x00000000u, 0xCC8583B0u},
    {OP_ADD, 0x477FE000u, 0x33800000u, 0x00000000u, 0x477FE000u},
    {OP_SUB, 0x477FE000u, 0x33800000u, 0x00000000u, 0x477FE000u},
    {OP_MUL, 0x477FE000u, 0x33800000u, 0x00000000u, 0x3B7FE000u},
    {OP_DIV, 0x477FE000u, 0x33800000u, 0x00000000u, 0x537FE000u},
    {OP_SQRT, 0x40000000u, 0x00000000u, 0x00000000u, 0x3FB504F3u},
    {OP_SQRT, 0x3F000000u, 0x00000000u, 0x00000000u, 0x3F3504F3u},
    {OP_SQRT, 0x1E3CE508u, 0x00000000u, 0x00000000u, 0x2EDBE6FFu},
    {OP_SQRT, 0x4640E6B6u, 0x00000000u, 0x00000000u, 0x42DE38E3u},
    {OP_FMA, 0x3F800001u, 0x3F800001u, 0xBF800000u, 0x34800000u},
    {OP_FMA, 0x40400000u, 0x3EAAAAABu, 0xBF800000u, 0x33000000u},
    {OP_FMA, 0x3DCCCCCDu, 0x41200000u, 0xBF800000u, 0x32800000u},
    {OP_FMA, 0xBFC00000u, 0x30800000u, 0x3089705Fu, 0xAFDA3E84u},
};

static float fbits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t bitsf(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* volatile operands: the compiler must not fold the operations at build time */
static volatile float va, vb, vc;

static void check_float(void)
{
    unsigned i;
    int bad = 0;
    for (i = 0; i < sizeof fcases / sizeof fcases[0]; i++) {
        float r = 0;
        va = fbits(fcases[i][1]);
        vb = fbits(fcases[i][2]);
        vc = fbits(fcases[i][3]);
        switch (fcases[i][0]) {
        case OP_ADD: r = va + vb; break;
        case OP_SUB: r = va - vb; break;
        case OP_MUL: r = va * vb; break;
        case OP_DIV: r = va / vb; break;
        case OP_SQRT: r = sqrtf(va); break;
        case OP_FMA: r = fmaf(va, vb, vc); break;
        }
        if (bitsf(r) != fcases[i][4]) {
            pulp_printf("  float case %u: got 0x%x, expected 0x%x\n", i, (unsigned)bitsf(r), (unsigned)fcases[i][4]);
            bad++;
        }
    }
    /* comparisons (NaN included), conversions, lrintf (ties to even) */
    va = 1.5f;
    vb = 2.5f;
    vc = fbits(0x7FC00000u);
    bad += !(va < vb) + !(va <= vb) + (va > vb) + (va >= vb) + (va == vb) + !(va != vb);
    bad += (vc < va) + (vc <= va) + (vc > va) + (vc >= va) + (vc == vc) + !(vc != vc);
    bad += (lrintf(vb) != 2) + (lrintf(va) != 2) + (lrintf(-vb) != -2) + ((int)-2.7f != -2);
    va = -2.7f;
    bad += ((int)va != -2) + ((unsigned)(vb * 2.0f) != 5u) + ((float)(int)-7 != -7.0f);
    bad += (bitsf((float)(unsigned)4000000001u) != 0x4F6E6B28u) + (bitsf((float)-16777217) != 0xCB800000u);
    check("float", bad == 0, "FPU results differ from IEEE 754");
}

/* ---- integer primitives of the INT8 kernels, on a cluster core ------------------------------ */
static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s ^ (*s >> 15);
}

static int32_t wide_pair_sat16(int32_t a, int32_t ma, int sa, int32_t b, int32_t mb, int sb)
{
    int64_t v = (int64_t)rnnse_requant_wide(a, ma, sa) + rnnse_requant_wide(b, mb, sb);
    return v < -32768 ? -32768 : (v > 32767 ? 32767 : (int32_t)v);
}

static void fixed_team(void *arg)
{
    static const int32_t accs[] = {INT32_MIN, INT32_MIN + 1, -(1 << 30), -65536, -129, -1, 0, 1, 127,
                                   65535, 1 << 30, INT32_MAX - 1, INT32_MAX};
    static const int32_t mults[] = {0, 1, 3, (1 << 30) - 1, 1 << 30, INT32_MAX - 1, INT32_MAX};
    int *bad = (int *)arg, s, i, k;
    uint32_t seed = 4242u;
    if (plat_core_id() != 0) return;
    for (s = 1; s <= 62; s++)
        for (i = 0; i < 13 + 40; i++)
            for (k = 0; k < 7 + 8; k++) {
                int32_t a = i < 13 ? accs[i] : (int32_t)lcg(&seed) >> (lcg(&seed) & 15u);
                int32_t m = k < 7 ? mults[k] : (int32_t)(lcg(&seed) & 0x7FFFFFFFu);
                int32_t b = (int32_t)lcg(&seed) >> (lcg(&seed) & 31u), mb = (int32_t)(lcg(&seed) & 0x7FFFFFFFu);
                int sb = 1 + (int)(lcg(&seed) % 62u), kk = 33 - s;
                int32_t w = rnnse_requant_wide(a, m, s);
                *bad += rnnse_requant(a, m, s) != w;
                if (s >= 32) *bad += rnnse_requant_ge32(a, m, s) != w;
                if (s <= 32) *bad += rnnse_requant_le32(a, m, s) != w;
                if (kk >= 0 && kk <= 31 && (a >> (31 - kk)) == 0 - (a < 0)) *bad += rnnse_requant_small(a, m, kk) != w;
                if (s >= 2 && s <= 33) {   /* no miss exactly when a * 2^kk fits, and then the result */
                    uint32_t miss = 0;
                    int32_t r = rnnse_requant_le33(a, m, s, &miss);
                    int fits = kk == 0 || (a >> (31 - kk)) == 0 - (a < 0);
                    *bad += (miss == 0) != fits || (fits && r != w);
                }
                *bad += rnnse_requant2_sat16(a, m, s, b, mb, sb) != wide_pair_sat16(a, m, s, b, mb, sb);
                if (s >= 32 && sb >= 32)
                    *bad += rnnse_requant2_sat16_ge32(a, m, s, b, mb, sb) != wide_pair_sat16(a, m, s, b, mb, sb);
                if (s >= 33 && sb >= 33)
                    *bad += rnnse_requant2_sat16_gt32(a, m, s, b, mb, sb) != wide_pair_sat16(a, m, s, b, mb, sb);
            }
    for (i = 0; i < 4000; i++) {   /* building blocks against plain C */
        int32_t a = (int32_t)(int16_t)lcg(&seed), b = (int32_t)(int16_t)lcg(&seed), x = (int32_t)lcg(&seed);
        int t = 1 + (int)(lcg(&seed) % 31u);
        if (i < 4) a = b = i < 2 ? -32768 : 32767;
        if ((a == -32768 && b == -32768)) b = -32767;   /* |a b| < 2^30 */
        *bad += rnnse_fx_mul_rshr15(a, b) != ((a * b + (1 << 14)) >> 15);
        *bad += rnnse_fx_mul_rshr23(a, b) != ((a * b + (1 << 22)) >> 23);
        *bad += rnnse_fx_clip8(x >> (i & 31)) != rnnse_clamp(x >> (i & 31), -128, 127);
        *bad += rnnse_fx_clip15(x >> (i & 31)) != rnnse_clamp(x >> (i & 31), -16384, 16383);
        *bad += rnnse_fx_clip16(x >> (i & 31)) != rnnse_clamp(x >> (i & 31), -32768, 32767);
        *bad += rnnse_fx_clipu8(x >> (i & 31)) != rnnse_clamp(x >> (i & 31), 0, 127);
        x >>= 1;   /* no overflow of x + 2^(t-1) */
        *bad += rnnse_fx_rshr(x, t) != (int32_t)(((int64_t)x + (1 << (t - 1))) >> t);
        *bad += rnnse_fx_mulh(x, a << 8) != (int32_t)(((int64_t)x * (a << 8)) >> 32);
        {
            uint32_t u = lcg(&seed);
            *bad += rnnse_fx_mulhsu(x, u) != (int32_t)(((int64_t)x * (int64_t)u) >> 32);
        }
    }
}

static void check_fixed(void)
{
    int bad = 0;
    plat_team_fork(1, fixed_team, &bad);
    check("fixed", bad == 0, "integer primitives differ from the 64-bit requant or plain C");
}

/* ---- FP32 / FP16 scalar steps on a cluster core against the portable C ------------------------ */
static float fp_sweep(uint32_t *seed, int i)
{
    static const float edge[] = {0.0f, -0.0f, 0.5f, -0.5f, 1.5f, -2.5f, 65504.0f, 65519.0f, 65520.0f, 65536.0f,
                                 -65520.0f, 1e30f, -1e30f, 5.9604645e-8f, 2.9802322e-8f, 8.940697e-8f,
                                 6.1035156e-5f, 6.0975552e-5f, 127.5f, -128.5f, 2147483520.0f, -2147483648.0f};
    uint32_t u;
    if (i < (int)(sizeof edge / sizeof edge[0])) return edge[i];
    u = lcg(seed);
    /* exponents from subnormal-half range to beyond FP16's, full mantissas */
    u = (u & 0x807FFFFFu) | ((uint32_t)(96 + (lcg(seed) % 64u)) << 23);
    return fbits(u);
}

static void fpscalar_team(void *arg)
{
    int *bad = (int *)arg, i;
    uint32_t seed = 2024u;
    if (plat_core_id() != 0) return;
    for (i = 0; i < 65536; i++) {
        rnnse_f16_t h = (rnnse_f16_t)i;
        if ((i & 0x7C00) == 0x7C00 && (i & 0x3FF)) continue;   /* NaN: inputs are finite */
        *bad += bitsf(rnnse_fp_f16_to_f32(h)) != bitsf(rnnse_f16_to_f32(h));
    }
    for (i = 0; i < 20000; i++) {
        float v = fp_sweep(&seed, i), c = v > 65504.0f ? 65504.0f : (v < -65504.0f ? -65504.0f : v);
        float t = v > 127.0f ? 127.0f : (v < -128.0f ? -128.0f : v);
        *bad += rnnse_fp_f16_sat(v) != rnnse_f32_to_f16(c);
        *bad += bitsf(rnnse_fp_relu(v)) != bitsf(v > 0.0f ? v : 0.0f);
        *bad += bitsf(rnnse_fp_clamp(v, -128.0f, 127.0f)) != bitsf(t);
        *bad += rnnse_fp_lrint(t) != (int32_t)lrintf(t);
        {
            int32_t q = (int32_t)lcg(&seed) >> (i & 31);
            *bad += bitsf(rnnse_fp_from_int(q)) != bitsf((float)q);
        }
        *bad += bitsf(rnnse_fp_mul(v, 0.37f)) != bitsf(v * 0.37f);
    }
}

static void check_fpscalar(void)
{
    int bad = 0;
    plat_team_fork(1, fpscalar_team, &bad);
    check("fpscalar", bad == 0, "FP32/FP16 scalar steps differ from the portable C");
}

/* ---- the signal chain on the cluster against the portable chain on the FC ------------------- */
static dsp_chain_t chain_c, chain_p;
static int16_t dsp_hop[DSP_HOP], out_c[DSP_HOP], out_p[DSP_HOP];
static float mag_c[DSP_NBINS], mag_p[DSP_NBINS], dsp_mask[DSP_NBINS];

static int differ(const void *a, const void *b, size_t n) { return memcmp(a, b, n) != 0; }

static void check_dsp(void)
{
    uint32_t seed = 99u;
    int bad = 0, cores, t, i;
    void *l1;
    plat_l1_reset();
    l1 = plat_l1_alloc(PULP_DSP_SCRATCH_BYTES);
    if (!l1) {
        check("dsp", 0, "L1 arena too small");
        return;
    }
    for (cores = 8; cores >= 3; cores -= 5) {
        dsp_chain_reset(&chain_c);
        dsp_chain_reset(&chain_p);
        for (t = 0; t < 8; t++) {
            int shift = t == 3 ? 0 : 2 + (int)(lcg(&seed) % 12u);   /* hop 3 at full scale */
            for (i = 0; i < DSP_HOP; i++) dsp_hop[i] = (int16_t)((int32_t)(int16_t)lcg(&seed) >> shift);
            if (t == 5) memset(dsp_hop, 0, sizeof dsp_hop);
            for (i = 0; i < DSP_NBINS; i++) dsp_mask[i] = (float)(lcg(&seed) % 1300u) * (1.0f / 1000.0f);
            pulp_dsp_set_scratch(l1, PULP_DSP_SCRATCH_BYTES, cores);
            dsp_analyze(&chain_c, dsp_hop, mag_c);
            pulp_dsp_set_scratch(NULL, 0, 0);
            dsp_analyze(&chain_p, dsp_hop, mag_p);
            bad += differ(mag_c, mag_p, sizeof mag_c) + differ(chain_c.spec, chain_p.spec, sizeof chain_c.spec) +
                   differ(chain_c.in, chain_p.in, sizeof chain_c.in);
            pulp_dsp_set_scratch(l1, PULP_DSP_SCRATCH_BYTES, cores);
            dsp_synthesize(&chain_c, dsp_mask, out_c);
            pulp_dsp_set_scratch(NULL, 0, 0);
            dsp_synthesize(&chain_p, dsp_mask, out_p);
            bad += differ(out_c, out_p, sizeof out_c) + differ(chain_c.ola, chain_p.ola, sizeof chain_c.ola);
        }
    }
    check("dsp", bad == 0, "the cluster chain differs from the portable one");
    plat_l1_reset();
}

/* ---- Xpulp dot products against the portable primitives ------------------------------------ */
#ifdef RNNSE_SIMD_USE_XPULP
static int8_t w8[4][260] __attribute__((aligned(4)));
static int8_t x8[260] __attribute__((aligned(4)));
static uint16_t w16[4][260] __attribute__((aligned(4)));
static uint16_t x16[260] __attribute__((aligned(4)));

/* The reference order of the Xpulp FP16 kernel: per row, words k = 0, 1, ... each added as
 * acc + (w0*x0 + w1*x1) (rnnse_fdot2: both products exact in FP32, the pair sum and the
 * accumulation each rounded once), which is what vfdotpex.s.h computes. */
static void fdot_rows_ref(const uint16_t *w, size_t stride, int nrows, const uint16_t *x, int n, float *out)
{
    int r, k;
    for (r = 0; r < nrows; r++) {
        float acc = 0.0f;
        for (k = 0; k < n; k += 2) acc = rnnse_fdot2(acc, rnnse_load32(w + (size_t)r * stride + k), rnnse_load32(x + k));
        out[r] = acc;
    }
}

static void check_simd(void)
{
    int r, k, n, bad = 0, fbad = 0;
    uint32_t seed = 12345u;
    for (r = 0; r < 4; r++)
        for (k = 0; k < 260; k++) {
            seed = seed * 1103515245u + 12345u;
            w8[r][k] = (int8_t)(int)((seed >> 16) % 255u) - 127;
            /* values with full 11-bit significands over a wide range: rounding matters */
            w16[r][k] = (uint16_t)(((seed >> 8) & 0x83FFu) | (0x3000u + ((seed >> 3) & 0x0C00u)));
        }
    for (k = 0; k < 260; k++) {
        seed = seed * 1103515245u + 12345u;
        x8[k] = (int8_t)(seed >> 24);
        x16[k] = (uint16_t)(((seed >> 8) & 0x83FFu) | (0x3400u + ((seed >> 5) & 0x0C00u)));
    }
    for (n = 4; n <= 260; n += 64) {
        for (r = 1; r <= 4; r++) {
            int32_t got[4], want[4];
            float fgot[4], fwant[4], fref[4];
            rnnse_dot_s8_rows(&w8[0][0], 260, r, x8, n, got);
            rnnse_dot_s8_rows_portable(&w8[0][0], 260, r, x8, n, want);
            for (k = 0; k < r; k++) bad += got[k] != want[k];
            rnnse_dot_f16_rows(&w16[0][0], 260, r, x16, n, fgot);
            fdot_rows_ref(&w16[0][0], 260, r, x16, n, fref);
            rnnse_dot_f16_rows_portable(&w16[0][0], 260, r, x16, n, fwant);
            for (k = 0; k < r; k++) {
                float d = fgot[k] - fwant[k], s = 0.0f;
                int q;
                for (q = 0; q < n; q++)
                    s += fabsf(rnnse_f16_to_f32(w16[k][q]) * rnnse_f16_to_f32(x16[q]));
                fbad += bitsf(fgot[k]) != bitsf(fref[k]);
                /* two FP32 summation orders of n products: 2 (n + 1) u sum|terms| apart at most */
                bad += fabsf(d) > 2.0f * (float)(n + 1) * 5.9604645e-8f * s;
            }
        }
        /* gate form: 3 and 4 gate rows, input and recurrent parts */
        for (r = 3; r <= 4; r++) {
            int32_t ax[4], ah[4], wx8[4], wh8[4];
            float gx[4], gh[4], rx[4], rh[4];
            rnnse_dot_s8_gates(&w8[0][0], 260, r, x8, n - 4 > 0 ? n - 4 : 4, x8 + 4, 4, ax, ah);
            rnnse_dot_s8_rows_portable(&w8[0][0], 260, r, x8, n - 4 > 0 ? n - 4 : 4, wx8);
            rnnse_dot_s8_rows_portable(&w8[0][0] + (n - 4 > 0 ? n - 4 : 4), 260, r, x8 + 4, 4, wh8);
            for (k = 0; k < r; k++) bad += (ax[k] != wx8[k]) + (ah[k] != wh8[k]);
            rnnse_dot_f16_gates(&w16[0][0], 260, r, x16, n - 4 > 0 ? n - 4 : 4, x16 + 4, 4, gx, gh);
            fdot_rows_ref(&w16[0][0], 260, r, x16, n - 4 > 0 ? n - 4 : 4, rx);
            fdot_rows_ref(&w16[0][0] + (n - 4 > 0 ? n - 4 : 4), 260, r, x16 + 4, 4, rh);
            for (k = 0; k < r; k++) fbad += (bitsf(gx[k]) != bitsf(rx[k])) + (bitsf(gh[k]) != bitsf(rh[k]));
        }
    }
    check("sdot", bad == 0, "Xpulp int8 dot products differ from the portable path, or FP16 beyond the bound");
    check("fdot", fbad == 0, "vfdotpex.s.h results differ from the pairwise FP32 reference (rnnse_fdot2)");
    /* activations: the inline-FPU sequence against the portable C sequence, bit for bit */
    {
        float v[8], u[8];
        int i, abad = 0;
        for (i = -64; i < 64; i++) {
            for (k = 0; k < 8; k++) v[k] = u[k] = (float)(i * 8 + k) * 0.0371f;
            rnnse_sigmoid_f32x8(v);
            rnnse_sigmoid_f32x8_portable(u);
            for (k = 0; k < 8; k++) abad += bitsf(v[k]) != bitsf(u[k]);
            for (k = 0; k < 8; k++) v[k] = u[k] = (float)(i * 8 + k) * 0.0137f;
            rnnse_tanh_f32x8(v);
            rnnse_tanh_f32x8_portable(u);
            for (k = 0; k < 8; k++) abad += bitsf(v[k]) != bitsf(u[k]);
        }
        check("activations", abad == 0, "FPU sigmoid/tanh differ from the portable sequence");
    }
}

/* cycles of the dot-product primitives on one cluster core, data in L1: one LSTM unit's gate
 * rows (4 x (260 + 256)) in INT8 and FP16 */
typedef struct {
    int8_t *w8, *x8;
    uint16_t *w16, *x16;
    uint32_t c8, c16, cmemcpy;
} dot_job_t;

static void dot_timing(void *arg)
{
    dot_job_t *j = (dot_job_t *)arg;
    int32_t ax[4], ah[4];
    float fx[4], fh[4];
    uint8_t tail[64];
    uint32_t t0;
    int rep;
    if (plat_core_id() != 0) return;
    for (rep = 0; rep < 2; rep++) {   /* the first round warms the instruction cache */
        t0 = pulp_mcycle();
        rnnse_dot_s8_gates(j->w8, 516, 4, j->x8, 260, j->x8 + 260, 256, ax, ah);
        j->c8 = pulp_mcycle() - t0;
        t0 = pulp_mcycle();
        rnnse_dot_f16_gates(j->w16, 516, 4, j->x16, 260, j->x16 + 260, 256, fx, fh);
        j->c16 = pulp_mcycle() - t0;
        t0 = pulp_mcycle();
        memcpy(tail, j->w8 + 4, 56);
        j->cmemcpy = pulp_mcycle() - t0;
    }
}

static void measure_dots(void)
{
    dot_job_t j;
    plat_l1_reset();
    j.w8 = (int8_t *)plat_l1_alloc(4 * 516);
    j.x8 = (int8_t *)plat_l1_alloc(516);
    j.w16 = (uint16_t *)plat_l1_alloc(2 * 4 * 516);
    j.x16 = (uint16_t *)plat_l1_alloc(2 * 516);
    if (!j.w8 || !j.x8 || !j.w16 || !j.x16) return;
    memset(j.w8, 3, 4 * 516);
    memset(j.x8, 5, 516);
    memset(j.w16, 0x11, 2 * 4 * 516);
    memset(j.x16, 0x22, 2 * 516);
    plat_team_fork(1, dot_timing, &j);
    pulp_printf("measure: sdot_gates_2064mac_cycles %u fdot_gates_2064mac_cycles %u memcpy56_cycles %u\n",
                (unsigned)j.c8, (unsigned)j.c16, (unsigned)j.cmemcpy);
    plat_l1_reset();
}
#endif

int main(void)
{
    pulp_printf("boot: ok\n");
    check_team();
    check_dma();
    check_float();
#ifdef RNNSE_SIMD_USE_XPULP
    check_simd();
    measure_dots();
#endif
    check_fixed();
    check_fpscalar();
    check_dsp();
    pulp_printf("stack peak core 0: %u bytes\n", (unsigned)pulp_stack_peak(0));
    pulp_printf("failures: %d\n", failures);
    return failures;
}
