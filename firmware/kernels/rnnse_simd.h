/*
 * The one SIMD abstraction of the kernels: dot products of several weight rows with one vector.
 *
 *   rnnse_dot_s8_rows : 4x8-bit sum-of-dot-products into int32 (Xpulp pv.sdotsp.b semantics)
 *   rnnse_dot_f16_rows: 2x16-bit FP16 products with FP32 accumulation (Xpulp vfdotpex.s.h semantics)
 *
 * Rows are `stride` elements apart; n is a multiple of 4 (int8) or 2 (FP16) and padded elements
 * are zero. Paths, chosen at build time:
 *   portable C (any target; define RNNSE_SIMD_PORTABLE to force it),
 *   x86 AVX2 + F16C (RNNSE_SIMD_AVX2, set by the host build when the compiler targets AVX2),
 *   room for Xpulp: replace rnnse_sdot4 / rnnse_fdot2 by the instructions.
 * INT8 results are identical on every path (exact integer sums). FP16 sums differ only by FP32
 * summation order.
 */
#ifndef RNNSE_SIMD_H
#define RNNSE_SIMD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rnnse_fp16.h"

#if !defined(RNNSE_SIMD_PORTABLE) && defined(RNNSE_SIMD_AVX2) && defined(__AVX2__) && defined(__F16C__) && defined(__FMA__)
#define RNNSE_SIMD_USE_AVX2 1
#include <immintrin.h>
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

static inline void rnnse_dot_s8_rows_portable(const int8_t *w, size_t stride, int nrows, const int8_t *x,
                                              int n, int32_t *out)
{
    int r, k;
    for (r = 0; r < nrows; r++) {
        const int8_t *row = w + (size_t)r * stride;
        int32_t acc = 0;
        for (k = 0; k < n; k += 4) acc = rnnse_sdot4(acc, rnnse_load32(row + k), rnnse_load32(x + k));
        out[r] = acc;
    }
}

static inline void rnnse_dot_f16_rows_portable(const rnnse_f16_t *w, size_t stride, int nrows,
                                               const rnnse_f16_t *x, int n, float *out)
{
    int r, k;
    for (r = 0; r < nrows; r++) {
        const rnnse_f16_t *row = w + (size_t)r * stride;
        float acc = 0.0f;
        for (k = 0; k < n; k += 2) acc = rnnse_fdot2(acc, rnnse_load32(row + k), rnnse_load32(x + k));
        out[r] = acc;
    }
}

#ifdef RNNSE_SIMD_USE_AVX2
/* ---- x86 AVX2 + F16C ---------------------------------------------------------------------- */

static inline int32_t rnnse_hsum_epi32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

static inline float rnnse_hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0x55));
    return _mm_cvtss_f32(s);
}

static inline __m256i rnnse_ld16_s8(const int8_t *p)
{
    return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)p));
}

static inline void rnnse_dot_s8_rows(const int8_t *w, size_t stride, int nrows, const int8_t *x, int n,
                                     int32_t *out)
{
    int r = 0, k;
    int n16 = n & ~15;
    for (; r + 4 <= nrows; r += 4) {
        const int8_t *w0 = w + (size_t)r * stride, *w1 = w0 + stride, *w2 = w1 + stride, *w3 = w2 + stride;
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
        int32_t t[4];
        for (k = 0; k < n16; k += 16) {
            __m256i xv = rnnse_ld16_s8(x + k);
            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(rnnse_ld16_s8(w0 + k), xv));
            a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(rnnse_ld16_s8(w1 + k), xv));
            a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(rnnse_ld16_s8(w2 + k), xv));
            a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(rnnse_ld16_s8(w3 + k), xv));
        }
        t[0] = rnnse_hsum_epi32(a0);
        t[1] = rnnse_hsum_epi32(a1);
        t[2] = rnnse_hsum_epi32(a2);
        t[3] = rnnse_hsum_epi32(a3);
        for (; k < n; k += 4) {
            uint32_t xw = rnnse_load32(x + k);
            t[0] = rnnse_sdot4(t[0], rnnse_load32(w0 + k), xw);
            t[1] = rnnse_sdot4(t[1], rnnse_load32(w1 + k), xw);
            t[2] = rnnse_sdot4(t[2], rnnse_load32(w2 + k), xw);
            t[3] = rnnse_sdot4(t[3], rnnse_load32(w3 + k), xw);
        }
        memcpy(out + r, t, sizeof t);
    }
    for (; r < nrows; r++) {
        const int8_t *w0 = w + (size_t)r * stride;
        __m256i a0 = _mm256_setzero_si256();
        int32_t t;
        for (k = 0; k < n16; k += 16)
            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(rnnse_ld16_s8(w0 + k), rnnse_ld16_s8(x + k)));
        t = rnnse_hsum_epi32(a0);
        for (; k < n; k += 4) t = rnnse_sdot4(t, rnnse_load32(w0 + k), rnnse_load32(x + k));
        out[r] = t;
    }
}

static inline __m256 rnnse_ld8_f16(const rnnse_f16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
}

static inline void rnnse_dot_f16_rows(const rnnse_f16_t *w, size_t stride, int nrows, const rnnse_f16_t *x,
                                      int n, float *out)
{
    int r = 0, k;
    int n8 = n & ~7;
    for (; r + 4 <= nrows; r += 4) {
        const rnnse_f16_t *w0 = w + (size_t)r * stride, *w1 = w0 + stride, *w2 = w1 + stride, *w3 = w2 + stride;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (k = 0; k < n8; k += 8) {
            __m256 xv = rnnse_ld8_f16(x + k);
            a0 = _mm256_add_ps(a0, _mm256_mul_ps(rnnse_ld8_f16(w0 + k), xv));
            a1 = _mm256_add_ps(a1, _mm256_mul_ps(rnnse_ld8_f16(w1 + k), xv));
            a2 = _mm256_add_ps(a2, _mm256_mul_ps(rnnse_ld8_f16(w2 + k), xv));
            a3 = _mm256_add_ps(a3, _mm256_mul_ps(rnnse_ld8_f16(w3 + k), xv));
        }
        out[r] = rnnse_hsum_ps(a0);
        out[r + 1] = rnnse_hsum_ps(a1);
        out[r + 2] = rnnse_hsum_ps(a2);
        out[r + 3] = rnnse_hsum_ps(a3);
        for (; k < n; k += 2) {
            uint32_t xw = rnnse_load32(x + k);
            out[r] = rnnse_fdot2(out[r], rnnse_load32(w0 + k), xw);
            out[r + 1] = rnnse_fdot2(out[r + 1], rnnse_load32(w1 + k), xw);
            out[r + 2] = rnnse_fdot2(out[r + 2], rnnse_load32(w2 + k), xw);
            out[r + 3] = rnnse_fdot2(out[r + 3], rnnse_load32(w3 + k), xw);
        }
    }
    for (; r < nrows; r++) {
        const rnnse_f16_t *w0 = w + (size_t)r * stride;
        __m256 a0 = _mm256_setzero_ps();
        float t;
        for (k = 0; k < n8; k += 8) a0 = _mm256_add_ps(a0, _mm256_mul_ps(rnnse_ld8_f16(w0 + k), rnnse_ld8_f16(x + k)));
        t = rnnse_hsum_ps(a0);
        for (; k < n; k += 2) t = rnnse_fdot2(t, rnnse_load32(w0 + k), rnnse_load32(x + k));
        out[r] = t;
    }
}

#define RNNSE_SIMD_NAME "avx2"
#else
/* ---- portable ------------------------------------------------------------------------------ */
#define rnnse_dot_s8_rows rnnse_dot_s8_rows_portable
#define rnnse_dot_f16_rows rnnse_dot_f16_rows_portable
#define RNNSE_SIMD_NAME "portable"
#endif

#endif /* RNNSE_SIMD_H */
