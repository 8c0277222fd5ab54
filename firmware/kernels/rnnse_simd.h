/*
 * The one SIMD abstraction of the kernels.
 *
 *   rnnse_dot_s8_rows  / rnnse_dot_s8_gates : 4x8-bit sums of dot products into int32
 *                                             (Xpulp pv.sdotsp.b semantics)
 *   rnnse_dot_f16_rows / rnnse_dot_f16_gates: 2x16-bit FP16 products accumulated in FP32
 *                                             (Xpulp vfdotpex.s.h semantics)
 *   rnnse_sigmoid_f32x8 / rnnse_tanh_f32x8  : FP32 activations of 8 values
 * and, where a path has them (RNNSE_SIMD_HAS_LSTM_CELLS8, _LSTM_GATES2, _GRU_UNITS; the kernels
 * keep their scalar code for the other paths and for leftover units):
 *   rnnse_lstm_gates2 / rnnse_gru_gates2    : requantized gate sums of two recurrent units
 *   rnnse_lstm_cells8 / rnnse_gru_outputs8  : INT8 cell updates and outputs of eight units,
 *                                             the integers of the scalar code (rnnse_scalar.h)
 *
 * Dot products: rows are `stride` elements apart, n is a multiple of 4 and padded elements
 * are zero. The `gates` form computes, for G gate rows of one recurrent unit, the input part
 * w[g][0..nx) . x and the recurrent part w[g][nx..nx+nh) . h in one pass.
 *
 * Paths, chosen at build time:
 *   portable C (any target; define RNNSE_SIMD_PORTABLE to force it);
 *   x86 AVX2 + F16C + FMA (RNNSE_SIMD_AVX2, set by the host build when the CPU has them):
 *     int8: |x| (unsigned) x sign(x)*w with vpmaddubsw, exact because the weights are in
 *     [-127, 127] (docs/numerics.md; rnnse_net_init refuses -128): no pair sum exceeds 32512;
 *     FP16: vcvtph2ps + vfmadd (a product of two FP16 values is exact in FP32, so the fused
 *     multiply-add rounds exactly like the spec's multiply then add);
 *   x86 AVX-512 F/BW/VL/VNNI int8 dot products inside the AVX2 build (RNNSE_SIMD_AVX512VNNI, set
 *     by the host build when the compiler has them), chosen at run time when the CPU has them,
 *     else the AVX2 ones: vpdpbusd on 512-bit vectors, exact like the others; x86 builds also
 *     prefetch the weight rows ahead of use (RNNSE_X86_PREFETCH);
 *     the INT8 recurrent units' integer steps in AVX2 lanes (gathers for the tables);
 *   PULP cluster cores (RNNSE_SIMD_XPULP, set by the pulp target): pv.sdotsp.b and vfdotpex.s.h
 *     with hardware loops and post-increment loads, FPU activations on integer registers (Zfinx).
 * One header per path beside this one: rnnse_simd_portable.h, rnnse_simd_avx2.h, rnnse_simd_xpulp.h;
 * this one holds what they share (the portable reference functions every path builds on).
 * INT8 results are identical on every path (exact integer sums). FP16 sums differ only by FP32
 * summation order. The activations run the same operation sequence on every path (scalar code
 * below, mirrored lane by lane in AVX2), so they are identical too.
 */
#ifndef RNNSE_SIMD_H
#define RNNSE_SIMD_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rnnse_fp16.h"

#if !defined(RNNSE_SIMD_PORTABLE) && defined(RNNSE_SIMD_AVX2) && defined(__AVX2__) && defined(__F16C__) && \
    defined(__FMA__)
#define RNNSE_SIMD_USE_AVX2 1
#include <immintrin.h>
#if defined(RNNSE_SIMD_AVX512VNNI) && defined(__GNUC__)
#define RNNSE_SIMD_USE_VNNI 1   /* AVX-512 VNNI dot products, used when the CPU has them */
#endif
#endif

/* ---- portable primitives: one 32-bit word of each operand --------------------------------- */

/* acc + a0*b0 + a1*b1 + a2*b2 + a3*b3 over the four signed bytes of each word (pv.sdotsp.b). */
static inline int32_t rnnse_sdot4(int32_t acc, uint32_t a, uint32_t b)
{
    int k;
    for (k = 0; k < 32; k += 8)
        acc += (int32_t)(int8_t)(uint8_t)(a >> k) * (int32_t)(int8_t)(uint8_t)(b >> k);
    return acc;
}

/* acc + a0*b0 + a1*b1 over the two FP16 halves of each word, in FP32 (vfdotpex.s.h). */
static inline float rnnse_fdot2(float acc, uint32_t a, uint32_t b)
{
    float p0 = rnnse_f16_to_f32((rnnse_f16_t)(a & 0xffffu)) * rnnse_f16_to_f32((rnnse_f16_t)(b & 0xffffu));
    float p1 = rnnse_f16_to_f32((rnnse_f16_t)(a >> 16)) * rnnse_f16_to_f32((rnnse_f16_t)(b >> 16));
    return acc + (p0 + p1);
}

static inline uint32_t rnnse_load32(const void *p)
{
    uint32_t u;
    memcpy(&u, p, sizeof u);
    return u;
}

/* ---- FP32 activations (FP16 layers) ---------------------------------------------------------
 * exp: x clamped to [-87, 88] (2^n stays normal; beyond, sigmoid and tanh are saturated to FP32
 * precision anyway), n = nearest integer of x*log2(e), Cody-Waite reduction r = x - n*ln2 with a
 * 2-part ln2, degree-7 Taylor polynomial of exp(r) on |r| <= 0.35, times 2^n. Max error about
 * 1.5 ulp. sigmoid(v) = 1 / (1 + exp(-v)). tanh: |v| < 0.625: v + v^3 P(v^2) (degree-5 fit,
 * relative error below 0.01 ulp before rounding); else sign(v) (1 - 2 / (exp(2|v|) + 1)).
 * The tests measure the error against float64 over a dense sweep. */

#define RNNSE_EXP_LO (-87.0f)
#define RNNSE_EXP_HI 88.0f
#define RNNSE_LOG2E 1.44269504f
#define RNNSE_LN2_HI 0.693359375f           /* 355/512: n*LN2_HI exact for |n| <= 128 */
#define RNNSE_LN2_LO (-2.12194440e-4f)
#define RNNSE_ROUND_MAGIC 12582912.0f       /* 1.5 * 2^23: x + M - M rounds x to an integer */
#define RNNSE_TANH_SMALL 0.625f
#define RNNSE_EXP_C7 1.98412698e-4f         /* 1/7! .. 1/2! */
#define RNNSE_EXP_C6 1.38888889e-3f
#define RNNSE_EXP_C5 8.33333333e-3f
#define RNNSE_EXP_C4 4.16666667e-2f
#define RNNSE_EXP_C3 1.66666667e-1f
#define RNNSE_EXP_C2 0.5f
#define RNNSE_TANH_P0 (-0.3333333134651184f)
#define RNNSE_TANH_P1 0.13333210349082947f
#define RNNSE_TANH_P2 (-0.05394720286130905f)
#define RNNSE_TANH_P3 0.021702967584133148f
#define RNNSE_TANH_P4 (-0.008182676509022713f)
#define RNNSE_TANH_P5 0.002147538820281625f

static inline float rnnse_exp_f32(float x)
{
    float t, n, r, p;
    if (x < RNNSE_EXP_LO) x = RNNSE_EXP_LO;
    if (x > RNNSE_EXP_HI) x = RNNSE_EXP_HI;
    t = x * RNNSE_LOG2E;
    n = (t + RNNSE_ROUND_MAGIC) - RNNSE_ROUND_MAGIC;
    r = fmaf(-n, RNNSE_LN2_HI, x);
    r = fmaf(-n, RNNSE_LN2_LO, r);
    p = fmaf(RNNSE_EXP_C7, r, RNNSE_EXP_C6);
    p = fmaf(p, r, RNNSE_EXP_C5);
    p = fmaf(p, r, RNNSE_EXP_C4);
    p = fmaf(p, r, RNNSE_EXP_C3);
    p = fmaf(p, r, RNNSE_EXP_C2);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    return p * rnnse_bits_f32((uint32_t)((int32_t)n + 127) << 23);
}

static inline float rnnse_sigmoid_f32(float v) { return 1.0f / (1.0f + rnnse_exp_f32(-v)); }

static inline float rnnse_tanh_f32(float v)
{
    uint32_t sign = rnnse_f32_bits(v) & 0x80000000u;
    float a = rnnse_bits_f32(rnnse_f32_bits(v) & 0x7fffffffu), r;
    if (a < RNNSE_TANH_SMALL) {
        float z = a * a, p;
        p = fmaf(RNNSE_TANH_P5, z, RNNSE_TANH_P4);
        p = fmaf(p, z, RNNSE_TANH_P3);
        p = fmaf(p, z, RNNSE_TANH_P2);
        p = fmaf(p, z, RNNSE_TANH_P1);
        p = fmaf(p, z, RNNSE_TANH_P0);
        r = fmaf(a * z, p, a);
    } else {
        r = 1.0f - 2.0f / (rnnse_exp_f32(a + a) + 1.0f);
    }
    return rnnse_bits_f32(rnnse_f32_bits(r) | sign);
}

/* ---- portable paths ---------------------------------------------------------------------------- */

/* The portable dot products are written for scalar cores without SIMD (RV32IMAFC): byte and
 * halfword loads instead of word loads and shifts (a core without fast unaligned access turns
 * memcpy-based word loads into byte loads and stack round trips), four rows per pass so that
 * every x element is loaded (and, for FP16, converted) once per four rows, and the element loop
 * unrolled (n is a multiple of 4). INT8 sums are exact, so the result does not depend on this
 * order; FP16 rows are summed k = 0, 1, .. in FP32, the spec's reference order. About 4 (INT8)
 * and 6 (FP16) instructions per multiply-accumulate on RV32IMAFC. */

static inline void rnnse_dot_s8_rows_portable(const int8_t *w, size_t stride, int nrows, const int8_t *x,
                                              int n, int32_t *out)
{
    int r = 0, k;
    for (; r + 4 <= nrows; r += 4) {
        const int8_t *w0 = w + (size_t)r * stride, *w1 = w0 + stride, *w2 = w1 + stride, *w3 = w2 + stride;
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (k = 0; k < n; k += 4) {
            int32_t x0 = x[k], x1 = x[k + 1], x2 = x[k + 2], x3 = x[k + 3];
            a0 += w0[k] * x0 + w0[k + 1] * x1 + w0[k + 2] * x2 + w0[k + 3] * x3;
            a1 += w1[k] * x0 + w1[k + 1] * x1 + w1[k + 2] * x2 + w1[k + 3] * x3;
            a2 += w2[k] * x0 + w2[k + 1] * x1 + w2[k + 2] * x2 + w2[k + 3] * x3;
            a3 += w3[k] * x0 + w3[k + 1] * x1 + w3[k + 2] * x2 + w3[k + 3] * x3;
        }
        out[r] = a0;
        out[r + 1] = a1;
        out[r + 2] = a2;
        out[r + 3] = a3;
    }
    for (; r < nrows; r++) {
        const int8_t *w0 = w + (size_t)r * stride;
        int32_t a0 = 0;
        for (k = 0; k < n; k += 4)
            a0 += w0[k] * x[k] + w0[k + 1] * x[k + 1] + w0[k + 2] * x[k + 2] + w0[k + 3] * x[k + 3];
        out[r] = a0;
    }
}

/* FP16 -> FP32 for finite values (weights and activations always are), branch-free: the sign,
 * exponent and mantissa fields moved to their FP32 positions give the value times 2^-112 (the
 * difference of the exponent biases), exactly, subnormal halves included; a multiplication by
 * 2^112 then gives the value. rnnse_f16_to_f32 also handles Inf and NaN. */
#define RNNSE_F16_RESCALE 5.192296858534828e33f     /* 2^112 */

static inline float rnnse_f16_bits_scaled(rnnse_f16_t h)
{
    uint32_t u = (uint32_t)(int32_t)(int16_t)h;     /* sign copied into bits 15..31 */
    return rnnse_bits_f32((u << 13) & 0x8fffffffu);
}

static inline float rnnse_f16_finite_to_f32(rnnse_f16_t h) { return rnnse_f16_bits_scaled(h) * RNNSE_F16_RESCALE; }

/* acc + a*b where a*b is exact in FP32: a fused multiply-add rounds exactly like the spec's
 * multiply-then-add, so use it where it is an instruction. */
#ifdef __FP_FAST_FMAF
#define RNNSE_F16_MAC(acc, a, b) fmaf((a), (b), (acc))
#else
#define RNNSE_F16_MAC(acc, a, b) ((acc) + (a) * (b))
#endif

/* Each weight is used as w * 2^-112 (rnnse_f16_bits_scaled, no multiplication) and each x element
 * as x * 2^112 * 2^112 (below 2^128: no overflow), so every product is w * x, exactly as the spec
 * computes it (a product of two FP16 values is exact in FP32). */
static inline void rnnse_dot_f16_rows_portable(const rnnse_f16_t *w, size_t stride, int nrows,
                                               const rnnse_f16_t *x, int n, float *out)
{
    int r = 0, k;
    for (; r + 4 <= nrows; r += 4) {
        const rnnse_f16_t *w0 = w + (size_t)r * stride, *w1 = w0 + stride, *w2 = w1 + stride, *w3 = w2 + stride;
        float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
        for (k = 0; k < n; k += 2) {
            float x0 = rnnse_f16_finite_to_f32(x[k]) * RNNSE_F16_RESCALE;
            float x1 = rnnse_f16_finite_to_f32(x[k + 1]) * RNNSE_F16_RESCALE;
            a0 = RNNSE_F16_MAC(a0, rnnse_f16_bits_scaled(w0[k]), x0);
            a1 = RNNSE_F16_MAC(a1, rnnse_f16_bits_scaled(w1[k]), x0);
            a2 = RNNSE_F16_MAC(a2, rnnse_f16_bits_scaled(w2[k]), x0);
            a3 = RNNSE_F16_MAC(a3, rnnse_f16_bits_scaled(w3[k]), x0);
            a0 = RNNSE_F16_MAC(a0, rnnse_f16_bits_scaled(w0[k + 1]), x1);
            a1 = RNNSE_F16_MAC(a1, rnnse_f16_bits_scaled(w1[k + 1]), x1);
            a2 = RNNSE_F16_MAC(a2, rnnse_f16_bits_scaled(w2[k + 1]), x1);
            a3 = RNNSE_F16_MAC(a3, rnnse_f16_bits_scaled(w3[k + 1]), x1);
        }
        out[r] = a0;
        out[r + 1] = a1;
        out[r + 2] = a2;
        out[r + 3] = a3;
    }
    for (; r < nrows; r++) {
        const rnnse_f16_t *w0 = w + (size_t)r * stride;
        float a0 = 0.0f;
        for (k = 0; k < n; k++)
            a0 = RNNSE_F16_MAC(a0, rnnse_f16_bits_scaled(w0[k]), rnnse_f16_finite_to_f32(x[k]) * RNNSE_F16_RESCALE);
        out[r] = a0;
    }
}

static inline void rnnse_sigmoid_f32x8_portable(float *v)
{
    int i;
    for (i = 0; i < 8; i++) v[i] = rnnse_sigmoid_f32(v[i]);
}

static inline void rnnse_tanh_f32x8_portable(float *v)
{
    int i;
    for (i = 0; i < 8; i++) v[i] = rnnse_tanh_f32(v[i]);
}

#ifdef RNNSE_SIMD_USE_AVX2
#include "rnnse_simd_avx2.h"       /* x86 AVX2 + F16C + FMA, AVX-512 VNNI dot products at run time */
#elif !defined(RNNSE_SIMD_PORTABLE) && defined(RNNSE_SIMD_XPULP)
#include "rnnse_simd_xpulp.h"   /* PULP cluster cores: Xpulp SIMD, hardware loops, Zfinx FPU */
#else
#include "rnnse_simd_portable.h"   /* portable C */
#endif

#endif /* RNNSE_SIMD_H */
