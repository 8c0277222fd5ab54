/*
 * The per-hop signal chain (firmware/dsp/dsp.h: dsp_analyze, dsp_synthesize) on the cluster cores
 * of pulp-open, replacing the portable versions in this port. The fabric controller would run the
 * portable C code as soft-float calls (about 300 k cycles per hop); here the cluster team does the
 * same arithmetic with inline FPU instructions (Zfinx) on data in L1, the FFT butterflies shared
 * among the cores.
 *
 * Same results bit for bit: every FP32 operation of the portable chain (the files of firmware/dsp) is done
 * once, in the same order, with the same rounding (IEEE nearest even), only distributed over the
 * cores; data movement (bit reversal, copies) is exact. firmware/targets/pulp/tests/platform_test.c
 * compares both hop after hop.
 *
 * L1: the chain borrows a scratch area between network steps (pulp_dsp_set_scratch; the network's
 * weight tiles, rnnse_net_scratch). The persistent state stays in dsp_chain_t (L2): each fork loads
 * what it needs with the cluster DMA and stores what changed. Without a scratch area (or with a
 * smaller one) the portable code runs on the fabric controller.
 *
 * Work split (n cores): the 256-point complex FFT's first five stages (spans 1..16) stay inside
 * blocks of 32 points, one block per core at a time, without barriers; the last three stages
 * (spans 32, 64, 128) share their 128 butterflies among the cores, a barrier after each. The real
 * FFT's split step, the magnitudes and the synthesis window / overlap-add go by bins or samples.
 * The forks are unrecorded (pulp_team_fork_unrecorded): the phase statistics keep describing the
 * network.
 */
#include <string.h>

#include "../platform.h"
#include "dsp.h"
#include "pulp.h"

/* ---- FP32 on the FPU, operands in integer registers ----------------------------------------- */
static inline uint32_t fb(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float bf(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

#define ZF_OP(name, funct7)                                                                        \
    static inline float name(float a, float b)                                                     \
    {                                                                                              \
        uint32_t r;                                                                                \
        __asm__(".insn r 0x53, 7, " #funct7 ", %0, %1, %2" : "=r"(r) : "r"(fb(a)), "r"(fb(b)));   \
        return bf(r);                                                                              \
    }
ZF_OP(fadd, 0x00)
ZF_OP(fsub, 0x04)
ZF_OP(fmul, 0x08)

static inline float fsqrt(float a)
{
    uint32_t r;
    __asm__(".insn r 0x53, 7, 0x2C, %0, %1, x0" : "=r"(r) : "r"(fb(a)));
    return bf(r);
}

static inline float fcvt_s_w(int32_t a)   /* (float)a, nearest even */
{
    uint32_t r;
    __asm__(".insn r 0x53, 7, 0x68, %0, %1, x0" : "=r"(r) : "r"(a));
    return bf(r);
}

static inline int32_t fcvt_w_s(float a)   /* lrintf: nearest even (the dynamic rounding mode) */
{
    int32_t r;
    __asm__(".insn r 0x53, 7, 0x60, %0, %1, x0" : "=r"(r) : "r"(fb(a)));
    return r;
}

static inline int feq(float a, float b)
{
    int r;
    __asm__(".insn r 0x53, 2, 0x50, %0, %1, %2" : "=r"(r) : "r"(fb(a)), "r"(fb(b)));
    return r;
}

static inline int fle(float a, float b)
{
    int r;
    __asm__(".insn r 0x53, 0, 0x50, %0, %1, %2" : "=r"(r) : "r"(fb(a)), "r"(fb(b)));
    return r;
}

static inline float fneg(float a) { return bf(fb(a) ^ 0x80000000u); }

/* ---- scratch layout (bytes) ------------------------------------------------------------------- */
#define OFF_Z 0                                   /* float[514]: spectrum / FFT buffer */
#define OFF_Z2 (OFF_Z + 2064)                     /* float[512]: synthesis FFT buffer */
#define OFF_TW (OFF_Z2 + 2048)                    /* float[512]: split_tw (tw[j] = split_tw[2j]) */
#define OFF_WIN (OFF_TW + 2048)                   /* float[400]: window or synthesis window */
#define OFF_ST (OFF_WIN + 1600)                   /* float[400]: input history or overlap-add */
#define OFF_ST2 (OFF_ST + 1600)                   /* float[400]: the next overlap-add */
#define OFF_V (OFF_ST2 + 1600)                    /* float[257]: magnitudes or mask */
#define OFF_PCM (OFF_V + 1040)                    /* int16[100]: input or output hop */
#define OFF_BR (OFF_PCM + 208)                    /* uint8[256]: bit reversal */
#define SCRATCH_BYTES (OFF_BR + 256)
#if SCRATCH_BYTES > PULP_DSP_SCRATCH_BYTES
#error "PULP_DSP_SCRATCH_BYTES (pulp.h) is too small"
#endif
#if defined(RNNSE_NET_SCRATCH_MIN) && RNNSE_NET_SCRATCH_MIN < PULP_DSP_SCRATCH_BYTES
#error "RNNSE_NET_SCRATCH_MIN (targets/pulp/SConscript) is below PULP_DSP_SCRATCH_BYTES"
#endif

typedef struct {
    dsp_chain_t *c;
    const int16_t *hop;
    float *mag;
    const float *mask;
    int16_t *out;
    uint8_t *l1;
} dsp_job_t;

static uint8_t *scratch;
static int scratch_cores;

void pulp_dsp_set_scratch(void *l1, size_t bytes, int ncores)
{
    scratch = l1 && bytes >= SCRATCH_BYTES && ncores >= 1 ? (uint8_t *)l1 : NULL;
    scratch_cores = ncores > PLAT_MAX_CORES ? PLAT_MAX_CORES : ncores;
}

/* [lo, hi) of n items for the calling core */
static void my_range(int n, int *lo, int *hi)
{
    int c = plat_core_id(), k = plat_num_cores();
    *lo = n * c / k;
    *hi = n * (c + 1) / k;
}

/* Copies between L2 and L1 with the cluster DMA, copy i by core i mod n (each core has its own
 * command queue): into L1 (out = 0) before a barrier that makes them visible to all, or out of L1
 * (out = 1) after one. The cluster cores never touch L2 themselves (each access would cost tens of
 * cycles). */
typedef struct {
    const void *l2;
    int off, bytes;
} dsp_copy_t;

static void copy_all(uint8_t *l1, const dsp_copy_t *cp, int n, int out)
{
    int i;
    for (i = plat_core_id(); i < n; i += plat_num_cores()) {
        plat_dma_t d;
        if (out) pulp_dma_out_start(&d, (void *)(uintptr_t)cp[i].l2, l1 + cp[i].off, (size_t)cp[i].bytes);
        else plat_dma_start(&d, l1 + cp[i].off, cp[i].l2, (size_t)cp[i].bytes);
        plat_dma_wait(&d);
    }
}

/* One radix-2 butterfly of dsp_cfft256, operation for operation: a = z + 2p, b = a + 2 half. */
static inline void butterfly(float *a, float *b, float wr, float wi)
{
    float b0 = b[0], b1 = b[1], a0 = a[0], a1 = a[1];
    float tr = fsub(fmul(b0, wr), fmul(b1, wi));
    float ti = fadd(fmul(b0, wi), fmul(b1, wr));
    b[0] = fsub(a0, tr);
    b[1] = fsub(a1, ti);
    a[0] = fadd(a0, tr);
    a[1] = fadd(a1, ti);
}

/* The stages of dsp_cfft256 on z (already in bit-reversed order), inverse: conjugate twiddles
 * (the portable code multiplies the sine by -1.0f: an exact negation). */
static void cfft_stages(float *z, const float *tw2, int inverse)
{
    int core = plat_core_id(), ncores = plat_num_cores(), blk, half, lh, q, lo, hi;
    for (blk = core; blk < 8; blk += ncores) {            /* spans 1..16 inside 32-point blocks */
        float *zb = z + 64 * blk;
        for (half = 1; half < 32; half *= 2) {
            int stride = DSP_HALF / (2 * half), start, j;
            for (start = 0; start < 32; start += 2 * half)
                for (j = 0; j < half; j++) {
                    const float *w = tw2 + 4 * j * stride;  /* tw[2 j stride] = split_tw[4 j stride] */
                    butterfly(zb + 2 * (start + j), zb + 2 * (start + j + half), w[0], inverse ? fneg(w[1]) : w[1]);
                }
        }
    }
    for (lh = 5, half = 32; half < DSP_HALF; lh++, half *= 2) {   /* spans 32, 64, 128: shared */
        int stride = DSP_HALF / (2 * half);
        plat_team_barrier();
        my_range(DSP_HALF / 2, &lo, &hi);
        for (q = lo; q < hi; q++) {
            int j = q & (half - 1), p = ((q >> lh) << (lh + 1)) + j;   /* group q / half, offset q % half */
            const float *w = tw2 + 4 * j * stride;
            butterfly(z + 2 * p, z + 2 * (p + half), w[0], inverse ? fneg(w[1]) : w[1]);
        }
    }
    plat_team_barrier();
}

/* ---- analysis: dsp_analyze ---------------------------------------------------------------------- */

static void analyze_team(void *arg)
{
    dsp_job_t *j = (dsp_job_t *)arg;
    dsp_chain_t *c = j->c;
    uint8_t *l1 = j->l1;
    float *z = (float *)(l1 + OFF_Z), *tw = (float *)(l1 + OFF_TW), *win = (float *)(l1 + OFF_WIN);
    float *in = (float *)(l1 + OFF_ST), *mag = (float *)(l1 + OFF_V);
    const int16_t *pcm = (const int16_t *)(l1 + OFF_PCM);
    const uint8_t *br = l1 + OFF_BR;
    plat_dma_t hist;
    int lo, hi, i, k;
    {
        const dsp_copy_t cp[5] = {{c->in + DSP_HOP, OFF_ST, (DSP_WIN - DSP_HOP) * 4}, {dsp_tables.window, OFF_WIN, DSP_WIN * 4},
                                  {dsp_tables.split_tw, OFF_TW, DSP_NFFT * 4}, {dsp_tables.bitrev, OFF_BR, DSP_HALF},
                                  {j->hop, OFF_PCM, DSP_HOP * 2}};
        copy_all(l1, cp, 5, 0);
    }
    plat_team_barrier();
    /* the new hop after the 300 kept samples (dsp_pcm16_to_float) */
    my_range(DSP_HOP, &lo, &hi);
    for (i = lo; i < hi; i++) in[DSP_WIN - DSP_HOP + i] = fmul(fcvt_s_w(pcm[i]), 1.0f / 32768.0f);
    plat_team_barrier();
    hist.pending = 0;
    if (plat_core_id() == plat_num_cores() - 1)   /* the updated history back to the chain, meanwhile */
        pulp_dma_out_start(&hist, c->in, in, DSP_WIN * 4);
    /* window (dsp_window_frame), placed in bit-reversed order (the permutation of dsp_cfft256) */
    my_range(DSP_HALF, &lo, &hi);
    for (k = lo; k < hi; k++) {
        int m = 2 * k, d = 2 * br[k];
        z[d] = m < DSP_WIN ? fmul(in[m], win[m]) : 0.0f;
        z[d + 1] = m + 1 < DSP_WIN ? fmul(in[m + 1], win[m + 1]) : 0.0f;
    }
    plat_team_barrier();
    cfft_stages(z, tw, 0);
    /* split step of dsp_rfft512 for bins k and 256 - k, then their magnitudes (dsp_magnitude) */
    my_range(DSP_HALF / 2 + 1, &lo, &hi);
    for (k = lo; k < hi; k++) {
        float *a = z + 2 * k, *b = z + 2 * (DSP_HALF - k);
        int kb = DSP_HALF - k;
        if (k == 0) {
            float z0r = z[0], z0i = z[1];
            z[0] = fadd(z0r, z0i);
            z[1] = 0.0f;
            z[2 * DSP_HALF] = fsub(z0r, z0i);
            z[2 * DSP_HALF + 1] = 0.0f;
            kb = DSP_HALF;
            b = z + 2 * DSP_HALF;
        } else {
            float a0 = a[0], a1 = a[1], b0 = b[0], b1 = b[1];
            float er = fmul(0.5f, fadd(a0, b0)), ei = fmul(0.5f, fsub(a1, b1));
            float or_ = fmul(0.5f, fadd(a1, b1)), oi = fmul(0.5f, fsub(b0, a0));
            float wr = tw[2 * k], wi = tw[2 * k + 1];
            float tr = fsub(fmul(wr, or_), fmul(wi, oi)), ti = fadd(fmul(wr, oi), fmul(wi, or_));
            a[0] = fadd(er, tr);
            a[1] = fadd(ei, ti);
            b[0] = fsub(er, tr);   /* k = 128: b == a, and these last values stay, as in the portable code */
            b[1] = fsub(ti, ei);
        }
        mag[k] = fsqrt(fadd(fmul(a[0], a[0]), fmul(a[1], a[1])));
        if (kb != k) mag[kb] = fsqrt(fadd(fmul(b[0], b[0]), fmul(b[1], b[1])));
    }
    plat_team_barrier();
    {   /* spectrum and magnitudes to L2 */
        const dsp_copy_t cp[2] = {{c->spec, OFF_Z, 2 * DSP_NBINS * 4}, {j->mag, OFF_V, DSP_NBINS * 4}};
        copy_all(l1, cp, 2, 1);
    }
    plat_dma_wait(&hist);
}

/* ---- synthesis: dsp_synthesize ------------------------------------------------------------------ */

static inline int16_t to_pcm16(float x)   /* dsp_float_to_pcm16 of one sample */
{
    float v = fmul(x, 32768.0f);
    if (!feq(v, v)) return 0;
    if (fle(32767.0f, v)) return 32767;
    if (fle(v, -32768.0f)) return -32768;
    return (int16_t)fcvt_w_s(v);
}

static void synthesize_team(void *arg)
{
    dsp_job_t *j = (dsp_job_t *)arg;
    dsp_chain_t *c = j->c;
    uint8_t *l1 = j->l1;
    float *z = (float *)(l1 + OFF_Z), *x = (float *)(l1 + OFF_Z2), *tw = (float *)(l1 + OFF_TW);
    float *win = (float *)(l1 + OFF_WIN), *ola = (float *)(l1 + OFF_ST), *ola2 = (float *)(l1 + OFF_ST2);
    const float *mask = (const float *)(l1 + OFF_V), s = 1.0f / DSP_NFFT;
    int16_t *pcm = (int16_t *)(l1 + OFF_PCM);
    const uint8_t *br = l1 + OFF_BR;
    int lo, hi, i, k;
    {
        const dsp_copy_t cp[6] = {{c->spec, OFF_Z, 2 * DSP_NBINS * 4}, {c->ola, OFF_ST, DSP_WIN * 4},
                                  {dsp_tables.synth_window, OFF_WIN, DSP_WIN * 4}, {dsp_tables.split_tw, OFF_TW, DSP_NFFT * 4},
                                  {dsp_tables.bitrev, OFF_BR, DSP_HALF}, {j->mask, OFF_V, DSP_NBINS * 4}};
        copy_all(l1, cp, 6, 0);
    }
    plat_team_barrier();
    /* mask (dsp_apply_mask) and the split step of dsp_irfft512 for bins k and 256 - k, the results
     * placed in bit-reversed order (the permutation of dsp_cfft256) */
    my_range(DSP_HALF / 2 + 1, &lo, &hi);
    for (k = lo; k < hi; k++) {
        if (k == 0) {
            float x0 = fmul(z[0], mask[0]), xn = fmul(z[2 * DSP_HALF], mask[DSP_HALF]);
            x[0] = fmul(s, fadd(x0, xn));
            x[1] = fmul(s, fsub(x0, xn));
        } else {
            float mk = mask[k], mb = mask[DSP_HALF - k];
            float a0 = fmul(z[2 * k], mk), a1 = fmul(z[2 * k + 1], mk);
            float b0 = fmul(z[2 * (DSP_HALF - k)], mb), b1 = fmul(z[2 * (DSP_HALF - k) + 1], mb);
            float er = fmul(s, fadd(a0, b0)), ei = fmul(s, fsub(a1, b1));
            float dr = fmul(s, fsub(a0, b0)), di = fmul(s, fadd(a1, b1));
            float wr = tw[2 * k], wi = fneg(tw[2 * k + 1]);
            float or_ = fsub(fmul(dr, wr), fmul(di, wi)), oi = fadd(fmul(dr, wi), fmul(di, wr));
            float *pa = x + 2 * br[k], *pb = x + 2 * br[DSP_HALF - k];
            pa[0] = fsub(er, oi);
            pa[1] = fadd(ei, or_);
            pb[0] = fadd(er, oi);   /* k = 128: pb == pa, and these last values stay, as in the portable code */
            pb[1] = fsub(or_, ei);
        }
    }
    plat_team_barrier();
    cfft_stages(x, tw, 1);
    /* synthesis window (dsp_synth_window), overlap-add (dsp_overlap_add), int16 (dsp_float_to_pcm16) */
    my_range(DSP_WIN, &lo, &hi);
    for (i = lo; i < hi; i++) {
        float v = fadd(ola[i], fmul(x[i], win[i]));
        if (i < DSP_HOP) pcm[i] = to_pcm16(v);
        else ola2[i - DSP_HOP] = v;
        if (i >= DSP_WIN - DSP_HOP) ola2[i] = 0.0f;
    }
    plat_team_barrier();
    {
        const dsp_copy_t cp[2] = {{c->ola, OFF_ST2, DSP_WIN * 4}, {j->out, OFF_PCM, DSP_HOP * 2}};
        copy_all(l1, cp, 2, 1);
    }
}

/* ---- the chain's entry points ----------------------------------------------------------------- */

void dsp_analyze(dsp_chain_t *c, const int16_t *hop, float *mag)
{
    dsp_job_t j;
    if (!scratch) {   /* the portable chain on the fabric controller */
        memmove(c->in, c->in + DSP_HOP, (DSP_WIN - DSP_HOP) * sizeof(float));
        dsp_pcm16_to_float(hop, c->in + DSP_WIN - DSP_HOP, DSP_HOP);
        dsp_window_frame(c->in, c->work);
        dsp_rfft512(c->work, c->spec);
        dsp_magnitude(c->spec, mag, DSP_NBINS);
        return;
    }
    j.c = c;
    j.hop = hop;
    j.mag = mag;
    j.l1 = scratch;
    pulp_team_fork_unrecorded(scratch_cores, analyze_team, &j);
}

void dsp_synthesize(dsp_chain_t *c, const float *mask, int16_t *out)
{
    dsp_job_t j;
    if (!scratch) {
        float hop[DSP_HOP];
        dsp_apply_mask(c->spec, mask, DSP_NBINS);
        dsp_irfft512(c->spec, c->work);
        dsp_synth_window(c->work, c->work);
        dsp_overlap_add(c->ola, c->work, hop);
        dsp_float_to_pcm16(hop, out, DSP_HOP);
        return;
    }
    j.c = c;
    j.mask = mask;
    j.out = out;
    j.l1 = scratch;
    pulp_team_fork_unrecorded(scratch_cores, synthesize_team, &j);
}
