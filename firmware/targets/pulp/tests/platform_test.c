/* Checks of the pulp-open port, printed one per line as "name: ok|FAIL ..." followed by
 * measurements "measure: name value"; the exit status is the number of failed checks.
 *   boot        FC runs main, the cluster answers forks
 *   team        plat_core_id / plat_num_cores / barriers on 1..8 cores (rnnse_harness_team)
 *   dma         every core copies its own L2 block into L1 with two transfers in flight
 *   float       soft-float entry points on the FPU against IEEE results computed on the host
 *   sdot, fdot  the Xpulp dot-product instructions against the portable C primitives
 * Measurements: fork+join cycles, barrier cycles, DMA bytes/cycle (8 cores, 4 kB each x 2).
 */
#include <math.h>
#include <string.h>

#include "platform.h"
#include "pulp.h"
#include "pulp_internal.h"
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
#define DMA_BLOCK 4096
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

/* ---- Xpulp dot products against the portable primitives ------------------------------------ */
#ifdef RNNSE_SIMD_USE_XPULP
static int8_t w8[4][260] __attribute__((aligned(4)));
static int8_t x8[260] __attribute__((aligned(4)));
static uint16_t w16[4][260] __attribute__((aligned(4)));
static uint16_t x16[260] __attribute__((aligned(4)));

static void check_simd(void)
{
    int r, k, n, bad = 0;
    uint32_t seed = 12345u;
    for (r = 0; r < 4; r++)
        for (k = 0; k < 260; k++) {
            seed = seed * 1103515245u + 12345u;
            w8[r][k] = (int8_t)(int)((seed >> 16) % 255u) - 127;
            w16[r][k] = rnnse_f32_to_f16((float)(int)((seed >> 8) % 2001u - 1000) / 256.0f);
        }
    for (k = 0; k < 260; k++) {
        seed = seed * 1103515245u + 12345u;
        x8[k] = (int8_t)(seed >> 24);
        x16[k] = rnnse_f32_to_f16((float)(int)((seed >> 8) % 2001u - 1000) / 1024.0f);
    }
    for (n = 4; n <= 260; n += 64) {
        for (r = 1; r <= 4; r++) {
            int32_t got[4], want[4];
            float fgot[4], fwant[4];
            rnnse_dot_s8_rows(&w8[0][0], 260, r, x8, n, got);
            rnnse_dot_s8_rows_portable(&w8[0][0], 260, r, x8, n, want);
            rnnse_dot_f16_rows(&w16[0][0], 260, r, x16, n, fgot);
            rnnse_dot_f16_rows_portable(&w16[0][0], 260, r, x16, n, fwant);
            for (k = 0; k < r; k++) bad += (got[k] != want[k]) + (bitsf(fgot[k]) != bitsf(fwant[k]));
        }
    }
    check("sdot_fdot", bad == 0, "Xpulp dot products differ from the portable path");
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
#endif
    pulp_printf("stack peak core 0: %u bytes\n", (unsigned)pulp_stack_peak(0));
    pulp_printf("failures: %d\n", failures);
    return failures;
}
