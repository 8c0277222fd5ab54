/*
 * x86 AVX2 + F16C + FMA path of the SIMD abstraction (included by rnnse_simd.h when the host build
 * sets RNNSE_SIMD_AVX2 and the compiler targets those extensions), with the AVX-512 VNNI int8 dot
 * products chosen at run time (RNNSE_SIMD_AVX512VNNI). What each function computes, and why the
 * results equal the portable path's: rnnse_simd.h.
 */
#ifndef RNNSE_SIMD_AVX2_H
#define RNNSE_SIMD_AVX2_H

/* Software prefetch distance (bytes) of the weight rows: the kernels call the dot products record
 * after record through memory, with scalar code in between; loading the rows this far ahead keeps
 * the loads from waiting on L2/L3 (the weights of a 256-unit network exceed a typical L2). */
#ifndef RNNSE_X86_PREFETCH
#define RNNSE_X86_PREFETCH 2048
#endif
#define RNNSE_X86_PF(p) _mm_prefetch((const char *)(p) + RNNSE_X86_PREFETCH, _MM_HINT_T0)

/* Mask of the 32-bit lanes holding the first `rem` bytes (rem a multiple of 4, below 32). */
static inline __m256i rnnse_avx2_mask(int rem)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(rem >> 2), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* acc + the 32 products w * x, with xa = |x| (as unsigned bytes) and xs = x (for its signs). */
static inline __m256i rnnse_avx2_dot32(__m256i acc, __m256i xa, __m256i xs, __m256i w)
{
    __m256i p = _mm256_maddubs_epi16(xa, _mm256_sign_epi8(w, xs));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

/* [sum(a0), sum(a1), sum(a2), sum(a3)] */
static inline __m128i rnnse_avx2_hsum4_epi32(__m256i a0, __m256i a1, __m256i a2, __m256i a3)
{
    __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
    return _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
}

static inline __m128 rnnse_avx2_hsum4_ps(__m256 a0, __m256 a1, __m256 a2, __m256 a3)
{
    __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

/* Dot products of 4 rows (w0..w3, some possibly repeated) with x over n bytes. */
static inline __m128i rnnse_avx2_dot4_s8(const int8_t *w0, const int8_t *w1, const int8_t *w2, const int8_t *w3,
                                         const int8_t *x, int n)
{
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    int k, n32 = n & ~31;
    for (k = 0; k < n32; k += 32) {
        __m256i xs = _mm256_loadu_si256((const __m256i *)(const void *)(x + k));
        __m256i xa = _mm256_abs_epi8(xs);
        if ((k & 63) == 0) {   /* one prefetch per 64-byte line */
            RNNSE_X86_PF(w0 + k);
            RNNSE_X86_PF(w1 + k);
            RNNSE_X86_PF(w2 + k);
            RNNSE_X86_PF(w3 + k);
        }
        a0 = rnnse_avx2_dot32(a0, xa, xs, _mm256_loadu_si256((const __m256i *)(const void *)(w0 + k)));
        a1 = rnnse_avx2_dot32(a1, xa, xs, _mm256_loadu_si256((const __m256i *)(const void *)(w1 + k)));
        a2 = rnnse_avx2_dot32(a2, xa, xs, _mm256_loadu_si256((const __m256i *)(const void *)(w2 + k)));
        a3 = rnnse_avx2_dot32(a3, xa, xs, _mm256_loadu_si256((const __m256i *)(const void *)(w3 + k)));
    }
    if (k < n) {   /* 4..28 bytes left: masked loads never touch the bytes beyond */
        __m256i m = rnnse_avx2_mask(n - k);
        __m256i xs = _mm256_maskload_epi32((const int *)(const void *)(x + k), m);
        __m256i xa = _mm256_abs_epi8(xs);
        a0 = rnnse_avx2_dot32(a0, xa, xs, _mm256_maskload_epi32((const int *)(const void *)(w0 + k), m));
        a1 = rnnse_avx2_dot32(a1, xa, xs, _mm256_maskload_epi32((const int *)(const void *)(w1 + k), m));
        a2 = rnnse_avx2_dot32(a2, xa, xs, _mm256_maskload_epi32((const int *)(const void *)(w2 + k), m));
        a3 = rnnse_avx2_dot32(a3, xa, xs, _mm256_maskload_epi32((const int *)(const void *)(w3 + k), m));
    }
    return rnnse_avx2_hsum4_epi32(a0, a1, a2, a3);
}

static inline __m256 rnnse_avx2_ld8_f16(const rnnse_f16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p));
}

static inline __m256 rnnse_avx2_ld4_f16(const rnnse_f16_t *p)   /* 4 values, upper lanes 0 */
{
    return _mm256_cvtph_ps(_mm_loadl_epi64((const __m128i *)(const void *)p));
}

static inline __m128 rnnse_avx2_dot4_f16(const rnnse_f16_t *w0, const rnnse_f16_t *w1, const rnnse_f16_t *w2,
                                         const rnnse_f16_t *w3, const rnnse_f16_t *x, int n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int k, n8 = n & ~7;
    for (k = 0; k < n8; k += 8) {
        __m256 xv = rnnse_avx2_ld8_f16(x + k);
        if ((k & 31) == 0) {
            RNNSE_X86_PF(w0 + k);
            RNNSE_X86_PF(w1 + k);
            RNNSE_X86_PF(w2 + k);
            RNNSE_X86_PF(w3 + k);
        }
        a0 = _mm256_fmadd_ps(rnnse_avx2_ld8_f16(w0 + k), xv, a0);
        a1 = _mm256_fmadd_ps(rnnse_avx2_ld8_f16(w1 + k), xv, a1);
        a2 = _mm256_fmadd_ps(rnnse_avx2_ld8_f16(w2 + k), xv, a2);
        a3 = _mm256_fmadd_ps(rnnse_avx2_ld8_f16(w3 + k), xv, a3);
    }
    if (k < n) {   /* 4 values left */
        __m256 xv = rnnse_avx2_ld4_f16(x + k);
        a0 = _mm256_fmadd_ps(rnnse_avx2_ld4_f16(w0 + k), xv, a0);
        a1 = _mm256_fmadd_ps(rnnse_avx2_ld4_f16(w1 + k), xv, a1);
        a2 = _mm256_fmadd_ps(rnnse_avx2_ld4_f16(w2 + k), xv, a2);
        a3 = _mm256_fmadd_ps(rnnse_avx2_ld4_f16(w3 + k), xv, a3);
    }
    return rnnse_avx2_hsum4_ps(a0, a1, a2, a3);
}

static inline void rnnse_dot_s8_rows_avx2(const int8_t *w, size_t stride, int nrows, const int8_t *x, int n,
                                          int32_t *out)
{
    int r;
    for (r = 0; r < nrows; r += 4) {
        const int8_t *w0 = w + (size_t)r * stride;
        const int8_t *w1 = r + 1 < nrows ? w0 + stride : w0;
        const int8_t *w2 = r + 2 < nrows ? w0 + 2 * stride : w0;
        const int8_t *w3 = r + 3 < nrows ? w0 + 3 * stride : w0;
        int32_t t[4];
        _mm_storeu_si128((__m128i *)(void *)t, rnnse_avx2_dot4_s8(w0, w1, w2, w3, x, n));
        memcpy(out + r, t, (size_t)(nrows - r < 4 ? nrows - r : 4) * sizeof(int32_t));
    }
}

static inline void rnnse_dot_f16_rows_avx2(const rnnse_f16_t *w, size_t stride, int nrows, const rnnse_f16_t *x,
                                           int n, float *out)
{
    int r;
    for (r = 0; r < nrows; r += 4) {
        const rnnse_f16_t *w0 = w + (size_t)r * stride;
        const rnnse_f16_t *w1 = r + 1 < nrows ? w0 + stride : w0;
        const rnnse_f16_t *w2 = r + 2 < nrows ? w0 + 2 * stride : w0;
        const rnnse_f16_t *w3 = r + 3 < nrows ? w0 + 3 * stride : w0;
        float t[4];
        _mm_storeu_ps(t, rnnse_avx2_dot4_f16(w0, w1, w2, w3, x, n));
        memcpy(out + r, t, (size_t)(nrows - r < 4 ? nrows - r : 4) * sizeof(float));
    }
}

/* G (3 or 4) gate rows of a recurrent unit: ax[g] = w_g[0..nx) . x, ah[g] = w_g[nx..nx+nh) . h */
static inline void rnnse_dot_s8_gates_avx2(const int8_t *w, size_t stride, int gates, const int8_t *x, int nx,
                                           const int8_t *h, int nh, int32_t *ax, int32_t *ah)
{
    const int8_t *w3 = gates > 3 ? w + 3 * stride : w;
    int32_t t[8];
    __m128i sx = rnnse_avx2_dot4_s8(w, w + stride, w + 2 * stride, w3, x, nx);
    __m128i sh = rnnse_avx2_dot4_s8(w + nx, w + stride + nx, w + 2 * stride + nx, w3 + nx, h, nh);
    _mm_storeu_si128((__m128i *)(void *)t, sx);
    _mm_storeu_si128((__m128i *)(void *)(t + 4), sh);
    memcpy(ax, t, (size_t)gates * sizeof(int32_t));
    memcpy(ah, t + 4, (size_t)gates * sizeof(int32_t));
}

static inline void rnnse_dot_f16_gates_avx2(const rnnse_f16_t *w, size_t stride, int gates, const rnnse_f16_t *x,
                                            int nx, const rnnse_f16_t *h, int nh, float *ax, float *ah)
{
    const rnnse_f16_t *w3 = gates > 3 ? w + 3 * stride : w;
    float t[8];
    _mm_storeu_ps(t, rnnse_avx2_dot4_f16(w, w + stride, w + 2 * stride, w3, x, nx));
    _mm_storeu_ps(t + 4, rnnse_avx2_dot4_f16(w + nx, w + stride + nx, w + 2 * stride + nx, w3 + nx, h, nh));
    memcpy(ax, t, (size_t)gates * sizeof(float));
    memcpy(ah, t + 4, (size_t)gates * sizeof(float));
}

#ifdef RNNSE_SIMD_USE_VNNI
/* ---- x86 AVX-512 F/BW/VL/VNNI, chosen at run time --------------------------------------------
 * Built into the AVX2 library with per-function target attributes (the rest of the library needs
 * AVX2 only) and used when the CPU has these extensions: rnnse_simd_x86_vnni, set when the library
 * is loaded (firmware/targets/host/simd_x86.c; RNNSE_SIMD=avx2 in the environment keeps the AVX2
 * code). Int8 dot products only: vpdpbusd of w + 128 (unsigned bytes) with x, less 128 sum(x)
 * (rnnse_vnni_acc_s8): exact integer sums, identical to the other paths. Tails (n not a multiple
 * of 64) use masked loads, which read nothing beyond n. */
#define RNNSE_VNNI __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define RNNSE_VNNI_INLINE __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"), \
                                         always_inline))

extern int rnnse_simd_x86_vnni;   /* 1: use the functions below */

RNNSE_VNNI static inline __m512i rnnse_vnni_ld(const void *p) { return _mm512_loadu_si512(p); }

/* Accumulate w_g[0..n) . x into *a_g for the G (3 or 4, a constant once inlined) rows w0..w3.
 * vpdpbusd multiplies unsigned by signed bytes: it takes u = w ^ 0x80 = w + 128 (in [1, 255]) and
 * x, so each lane gains w . x + 128 sum(x) over its bytes, and 128 times the lane sums of x
 * (vpdpbusd of ones and x) is taken off at the end. All these are exact integers: a product is
 * at most 255 * 128 in magnitude and vpdpbusd adds four of them to int32 without saturation. */
RNNSE_VNNI_INLINE static inline void rnnse_vnni_acc_s8(const int8_t *w0, const int8_t *w1, const int8_t *w2,
                                                       const int8_t *w3, int G, const int8_t *x, int n,
                                                       __m512i *a0, __m512i *a1, __m512i *a2, __m512i *a3)
{
    const __m512i bias = _mm512_set1_epi8((char)0x80), ones = _mm512_set1_epi8(1);
    __m512i sx = _mm512_setzero_si512();
    int k;
    for (k = 0; k + 64 <= n; k += 64) {
        __m512i xv = rnnse_vnni_ld(x + k);
        RNNSE_X86_PF(w0 + k);
        RNNSE_X86_PF(w1 + k);
        RNNSE_X86_PF(w2 + k);
        if (G > 3) RNNSE_X86_PF(w3 + k);
        sx = _mm512_dpbusd_epi32(sx, ones, xv);
        *a0 = _mm512_dpbusd_epi32(*a0, _mm512_xor_si512(rnnse_vnni_ld(w0 + k), bias), xv);
        *a1 = _mm512_dpbusd_epi32(*a1, _mm512_xor_si512(rnnse_vnni_ld(w1 + k), bias), xv);
        *a2 = _mm512_dpbusd_epi32(*a2, _mm512_xor_si512(rnnse_vnni_ld(w2 + k), bias), xv);
        if (G > 3) *a3 = _mm512_dpbusd_epi32(*a3, _mm512_xor_si512(rnnse_vnni_ld(w3 + k), bias), xv);
    }
    if (k < n) {   /* masked-off bytes: x = 0, so their (0 ^ 0x80) * 0 adds nothing */
        __mmask64 m = ((__mmask64)1 << (n - k)) - 1u;
        __m512i xv = _mm512_maskz_loadu_epi8(m, x + k);
        sx = _mm512_dpbusd_epi32(sx, ones, xv);
        *a0 = _mm512_dpbusd_epi32(*a0, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, w0 + k), bias), xv);
        *a1 = _mm512_dpbusd_epi32(*a1, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, w1 + k), bias), xv);
        *a2 = _mm512_dpbusd_epi32(*a2, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, w2 + k), bias), xv);
        if (G > 3) *a3 = _mm512_dpbusd_epi32(*a3, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, w3 + k), bias), xv);
    }
    sx = _mm512_slli_epi32(sx, 7);
    *a0 = _mm512_sub_epi32(*a0, sx);
    *a1 = _mm512_sub_epi32(*a1, sx);
    *a2 = _mm512_sub_epi32(*a2, sx);
    if (G > 3) *a3 = _mm512_sub_epi32(*a3, sx);
}

/* 16 int32 lanes -> 8 (pairwise sums) */
RNNSE_VNNI_INLINE static inline __m256i rnnse_vnni_fold_epi32(__m512i a)
{
    return _mm256_add_epi32(_mm512_castsi512_si256(a), _mm512_extracti64x4_epi64(a, 1));
}

/* [sum(a0), .., sum(a7)] */
RNNSE_VNNI_INLINE static inline __m256i rnnse_vnni_hsum8_epi32(__m512i a0, __m512i a1, __m512i a2, __m512i a3,
                                                               __m512i a4, __m512i a5, __m512i a6, __m512i a7)
{
    __m256i t0 = _mm256_hadd_epi32(rnnse_vnni_fold_epi32(a0), rnnse_vnni_fold_epi32(a1));
    __m256i t1 = _mm256_hadd_epi32(rnnse_vnni_fold_epi32(a2), rnnse_vnni_fold_epi32(a3));
    __m256i t2 = _mm256_hadd_epi32(rnnse_vnni_fold_epi32(a4), rnnse_vnni_fold_epi32(a5));
    __m256i t3 = _mm256_hadd_epi32(rnnse_vnni_fold_epi32(a6), rnnse_vnni_fold_epi32(a7));
    __m256i u0 = _mm256_hadd_epi32(t0, t1), u1 = _mm256_hadd_epi32(t2, t3);
    return _mm256_add_epi32(_mm256_permute2x128_si256(u0, u1, 0x20), _mm256_permute2x128_si256(u0, u1, 0x31));
}

RNNSE_VNNI static inline void rnnse_dot_s8_rows_vnni(const int8_t *w, size_t stride, int nrows, const int8_t *x,
                                                     int n, int32_t *out)
{
    int r;
    for (r = 0; r < nrows; r += 4) {
        const int8_t *w0 = w + (size_t)r * stride;
        const int8_t *w1 = r + 1 < nrows ? w0 + stride : w0;
        const int8_t *w2 = r + 2 < nrows ? w0 + 2 * stride : w0;
        const int8_t *w3 = r + 3 < nrows ? w0 + 3 * stride : w0;
        __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
        int32_t t[4];
        rnnse_vnni_acc_s8(w0, w1, w2, w3, 4, x, n, &a0, &a1, &a2, &a3);
        _mm_storeu_si128((__m128i *)(void *)t, rnnse_avx2_hsum4_epi32(rnnse_vnni_fold_epi32(a0),
                                                                      rnnse_vnni_fold_epi32(a1),
                                                                      rnnse_vnni_fold_epi32(a2),
                                                                      rnnse_vnni_fold_epi32(a3)));
        memcpy(out + r, t, (size_t)(nrows - r < 4 ? nrows - r : 4) * sizeof(int32_t));
    }
}

RNNSE_VNNI_INLINE static inline void rnnse_vnni_gates_s8(const int8_t *w, size_t stride, int G, const int8_t *x,
                                                         int nx, const int8_t *h, int nh, int32_t *ax, int32_t *ah)
{
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int32_t t[8];
    rnnse_vnni_acc_s8(w, w + stride, w + 2 * stride, w + 3 * stride, G, x, nx, &a0, &a1, &a2, &a3);
    rnnse_vnni_acc_s8(w + nx, w + stride + nx, w + 2 * stride + nx, w + 3 * stride + nx, G, h, nh, &b0, &b1, &b2,
                      &b3);
    _mm256_storeu_si256((__m256i *)(void *)t, rnnse_vnni_hsum8_epi32(a0, a1, a2, a3, b0, b1, b2, b3));
    memcpy(ax, t, (size_t)G * sizeof(int32_t));
    memcpy(ah, t + 4, (size_t)G * sizeof(int32_t));
}

RNNSE_VNNI static inline void rnnse_dot_s8_gates_vnni(const int8_t *w, size_t stride, int gates, const int8_t *x,
                                                      int nx, const int8_t *h, int nh, int32_t *ax, int32_t *ah)
{
    if (gates == 4) rnnse_vnni_gates_s8(w, stride, 4, x, nx, h, nh, ax, ah);
    else rnnse_vnni_gates_s8(w, stride, 3, x, nx, h, nh, ax, ah);
}

#define RNNSE_VNNI_DISPATCH(call) \
    if (rnnse_simd_x86_vnni) {    \
        call;                     \
        return;                   \
    }
#else
#define RNNSE_VNNI_DISPATCH(call)
#endif /* RNNSE_SIMD_USE_VNNI */

/* The int8 dot products of the x86 path: AVX-512 VNNI when chosen, else AVX2. */
static inline void rnnse_dot_s8_rows(const int8_t *w, size_t stride, int nrows, const int8_t *x, int n,
                                     int32_t *out)
{
    RNNSE_VNNI_DISPATCH(rnnse_dot_s8_rows_vnni(w, stride, nrows, x, n, out))
    rnnse_dot_s8_rows_avx2(w, stride, nrows, x, n, out);
}


static inline void rnnse_dot_s8_gates(const int8_t *w, size_t stride, int gates, const int8_t *x, int nx,
                                      const int8_t *h, int nh, int32_t *ax, int32_t *ah)
{
    RNNSE_VNNI_DISPATCH(rnnse_dot_s8_gates_vnni(w, stride, gates, x, nx, h, nh, ax, ah))
    rnnse_dot_s8_gates_avx2(w, stride, gates, x, nx, h, nh, ax, ah);
}

/* FP16 stays on AVX2 code on every x86 CPU: vcvtph2ps bounds these loops, and its 512-bit form
 * measured slower than two 256-bit ones (AMD Zen 4 class host, docs/benchmarks.md). */
#define rnnse_dot_f16_rows rnnse_dot_f16_rows_avx2
#define rnnse_dot_f16_gates rnnse_dot_f16_gates_avx2

/* rnnse_exp_f32 lane by lane */
static inline __m256 rnnse_avx2_exp(__m256 x)
{
    __m256 t, n, r, p;
    __m256i e;
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(RNNSE_EXP_LO)), _mm256_set1_ps(RNNSE_EXP_HI));
    t = _mm256_mul_ps(x, _mm256_set1_ps(RNNSE_LOG2E));
    n = _mm256_sub_ps(_mm256_add_ps(t, _mm256_set1_ps(RNNSE_ROUND_MAGIC)), _mm256_set1_ps(RNNSE_ROUND_MAGIC));
    r = _mm256_fmadd_ps(_mm256_sub_ps(_mm256_setzero_ps(), n), _mm256_set1_ps(RNNSE_LN2_HI), x);
    r = _mm256_fmadd_ps(_mm256_sub_ps(_mm256_setzero_ps(), n), _mm256_set1_ps(RNNSE_LN2_LO), r);
    p = _mm256_fmadd_ps(_mm256_set1_ps(RNNSE_EXP_C7), r, _mm256_set1_ps(RNNSE_EXP_C6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(RNNSE_EXP_C5));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(RNNSE_EXP_C4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(RNNSE_EXP_C3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(RNNSE_EXP_C2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

static inline void rnnse_sigmoid_f32x8(float *v)
{
    __m256 x = _mm256_loadu_ps(v);
    __m256 e = rnnse_avx2_exp(_mm256_sub_ps(_mm256_setzero_ps(), x));
    _mm256_storeu_ps(v, _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e)));
}

static inline void rnnse_tanh_f32x8(float *v)
{
    __m256 x = _mm256_loadu_ps(v);
    __m256 sign = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u)));
    __m256 a = _mm256_andnot_ps(_mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u)), x);
    __m256 z = _mm256_mul_ps(a, a), p, small, big;
    p = _mm256_fmadd_ps(_mm256_set1_ps(RNNSE_TANH_P5), z, _mm256_set1_ps(RNNSE_TANH_P4));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(RNNSE_TANH_P3));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(RNNSE_TANH_P2));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(RNNSE_TANH_P1));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(RNNSE_TANH_P0));
    small = _mm256_fmadd_ps(_mm256_mul_ps(a, z), p, a);
    big = _mm256_sub_ps(_mm256_set1_ps(1.0f),
                        _mm256_div_ps(_mm256_set1_ps(2.0f),
                                      _mm256_add_ps(rnnse_avx2_exp(_mm256_add_ps(a, a)), _mm256_set1_ps(1.0f))));
    p = _mm256_blendv_ps(big, small, _mm256_cmp_ps(a, _mm256_set1_ps(RNNSE_TANH_SMALL), _CMP_LT_OQ));
    _mm256_storeu_ps(v, _mm256_or_ps(p, sign));
}

/* ---- INT8 recurrent cells, 8 units at a time (docs/numerics.md "LSTM (int8)") ----------------
 * The same integers as the scalar code of the kernels (rnnse_scalar.h), in 32-bit lanes; the
 * requantizations, whose products need 64 bits, in the even and odd lanes' 64-bit halves.
 * Tables: 257 int16 entries; a gather reads 32 bits, so an index i reads t[i] and t[i + 1]
 * and the last entry is read as the upper half of t[255..256] (nothing beyond the table). */
#define RNNSE_SIMD_HAS_LSTM_CELLS8 1
#define RNNSE_SIMD_HAS_LSTM_GATES2 1
#define RNNSE_SIMD_HAS_GRU_UNITS 1

/* t[idx] for idx in [0, 256] */
static inline __m256i rnnse_avx2_lut(const int16_t *t, __m256i idx)
{
    __m256i last = _mm256_srli_epi32(idx, 8);                               /* 1 where idx == 256 */
    __m256i v = _mm256_i32gather_epi32((const int *)(const void *)t, _mm256_sub_epi32(idx, last), 2);
    __m256i up = _mm256_sub_epi32(_mm256_set1_epi32(16), _mm256_slli_epi32(last, 4));
    return _mm256_srai_epi32(_mm256_sllv_epi32(v, up), 16);
}

/* t[i] + rshr((t[i + 1] - t[i]) * f, bits) for i in [0, 255] */
static inline __m256i rnnse_avx2_lut_lerp(const int16_t *t, __m256i i, __m256i f, int bits)
{
    __m256i v = _mm256_i32gather_epi32((const int *)(const void *)t, i, 2);
    __m256i lo = _mm256_srai_epi32(_mm256_slli_epi32(v, 16), 16), hi = _mm256_srai_epi32(v, 16);
    __m256i d = _mm256_mullo_epi32(_mm256_sub_epi32(hi, lo), f);
    return _mm256_add_epi32(lo, _mm256_srai_epi32(_mm256_add_epi32(d, _mm256_set1_epi32(1 << (bits - 1))), bits));
}

/* rnnse_sig_lookup / rnnse_tanh_lookup of 8 values in the int16 range */
static inline __m256i rnnse_avx2_sig(__m256i p, const int16_t *t, int nearest)
{
    __m256i u = _mm256_add_epi32(p, _mm256_set1_epi32(32768));
    if (nearest) return rnnse_avx2_lut(t, _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(128)), 8));
    return rnnse_avx2_lut_lerp(t, _mm256_srli_epi32(u, 8), _mm256_and_si256(u, _mm256_set1_epi32(255)), 8);
}

static inline __m256i rnnse_avx2_tanh(__m256i p, const int16_t *t, int nearest)
{
    __m256i u = _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(p, _mm256_set1_epi32(-16384)),
                                                  _mm256_set1_epi32(16383)),
                                 _mm256_set1_epi32(16384));
    if (nearest) return rnnse_avx2_lut(t, _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(64)), 7));
    return rnnse_avx2_lut_lerp(t, _mm256_srli_epi32(u, 7), _mm256_and_si256(u, _mm256_set1_epi32(127)), 7);
}

/* (a * b + 2^(s-1)) >> s for products within int32 (rnnse_fx_mul_rshr15 / 23) */
static inline __m256i rnnse_avx2_mul_rshr(__m256i a, __m256i b, int s)
{
    return _mm256_srai_epi32(_mm256_add_epi32(_mm256_mullo_epi32(a, b), _mm256_set1_epi32(1 << (s - 1))), s);
}

/* the 64-bit lanes q >> s (arithmetic), s the count in cnt */
static inline __m256i rnnse_avx2_sra64(__m256i q, __m128i cnt)
{
    __m256i sign = _mm256_cmpgt_epi64(_mm256_setzero_si256(), q);
    return _mm256_xor_si256(_mm256_srl_epi64(_mm256_xor_si256(q, sign), cnt), sign);
}

/* sat32 of the 64-bit lanes */
static inline __m256i rnnse_avx2_sat32_64(__m256i q)
{
    const __m256i hi = _mm256_set1_epi64x(INT32_MAX), lo = _mm256_set1_epi64x(INT32_MIN);
    q = _mm256_blendv_epi8(q, hi, _mm256_cmpgt_epi64(q, hi));
    return _mm256_blendv_epi8(q, lo, _mm256_cmpgt_epi64(lo, q));
}

/* requant(acc, mult, shift) = sat32((acc * mult + 2^(shift-1)) >> shift) of 8 values, one mult and
 * shift (0 <= mult < 2^31, 1 <= shift <= 62): |acc * mult| < 2^62 and the rounding term is at most
 * 2^61, so the 64-bit sums are exact (the definition of rnnse_requant_wide). */
static inline __m256i rnnse_avx2_requant(__m256i acc, int32_t mult, int shift)
{
    const __m256i m = _mm256_set1_epi32(mult), rnd = _mm256_set1_epi64x((long long)1 << (shift - 1));
    const __m128i cnt = _mm_cvtsi32_si128(shift);
    __m256i even = _mm256_mul_epi32(acc, m), odd = _mm256_mul_epi32(_mm256_srli_epi64(acc, 32), m);
    even = rnnse_avx2_sat32_64(rnnse_avx2_sra64(_mm256_add_epi64(even, rnd), cnt));
    odd = rnnse_avx2_sat32_64(rnnse_avx2_sra64(_mm256_add_epi64(odd, rnd), cnt));
    return _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

/* The int32 lanes, already within the int16 range, as 8 int16 values in order. */
static inline __m128i rnnse_avx2_narrow16(__m256i v)
{
    return _mm256_castsi256_si128(_mm256_permute4x64_epi64(_mm256_packs_epi32(v, v), 0x08));
}

/* High 32 bits of the signed 64-bit products of the int32 lanes (rnnse_fx_mulh). */
static inline __m256i rnnse_avx2_mulh(__m256i a, __m256i b)
{
    __m256i even = _mm256_mul_epi32(a, b), odd = _mm256_mul_epi32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(b, 32));
    return _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

/* (x + 2^(s-1)) >> s per lane, 1 <= s <= 31 (rnnse_fx_rshr; no overflow: the callers' |x| < 2^30) */
static inline __m256i rnnse_avx2_rshr(__m256i x, __m256i s)
{
    __m256i one = _mm256_set1_epi32(1);
    return _mm256_srav_epi32(_mm256_add_epi32(x, _mm256_sllv_epi32(one, _mm256_sub_epi32(s, one))), s);
}

/* Two 4-int32 blocks (one per unit) as one vector. */
static inline __m256i rnnse_avx2_pair(const void *a, const void *b)
{
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)a)),
                                   _mm_loadu_si128((const __m128i *)b), 1);
}

static inline __m256i rnnse_avx2_pair_u8(const uint8_t *a, const uint8_t *b)
{
    uint32_t wa, wb;
    memcpy(&wa, a, 4);
    memcpy(&wb, b, 4);
    return _mm256_cvtepu8_epi32(_mm_set_epi32(0, 0, (int)wb, (int)wa));
}

/* The four gate pre-activations of two LSTM units (lstm_int8.c): for gate g of unit q, with its
 * constants b, mult_x, mult_h, shift_x, shift_h at t_q + tb, tmx, tmh (int32[4]) and tsx, tsh
 * (uint8[4]), out_q[g] = sat16(requant(ax_q[g] + b, mult_x, shift_x) + requant(ah_q[g], mult_h,
 * shift_h)). Recurrent shifts >= 33 (the multiply-high form); input shifts >= 33 likewise, or,
 * with le33, in [2, 33] by rnnse_requant_le33's scaling, whose out-of-range flag is returned
 * (nonzero: the results are not valid, take the general form). The int32 sum of the two parts
 * is exact (each within [-2^29 - 1, 2^29 + 1]). */
static inline uint32_t rnnse_lstm_gates2(const int32_t *ax0, const int32_t *ah0, const uint8_t *t0, const int32_t *ax1,
                                         const int32_t *ah1, const uint8_t *t1, int tb, int tmx, int tmh, int tsx,
                                         int tsh, int le33, int32_t *out0, int32_t *out1)
{
    const __m256i c32 = _mm256_set1_epi32(32);
    __m256i x = _mm256_add_epi32(rnnse_avx2_pair(ax0, ax1), rnnse_avx2_pair(t0 + tb, t1 + tb));
    __m256i sx = rnnse_avx2_pair_u8(t0 + tsx, t1 + tsx), sh = rnnse_avx2_pair_u8(t0 + tsh, t1 + tsh);
    __m256i rh = rnnse_avx2_rshr(rnnse_avx2_mulh(rnnse_avx2_pair(ah0, ah1), rnnse_avx2_pair(t0 + tmh, t1 + tmh)),
                                 _mm256_sub_epi32(sh, c32));
    __m256i rx, v, miss = _mm256_setzero_si256();
    if (le33) {
        __m256i k = _mm256_sub_epi32(_mm256_set1_epi32(33), sx), a = _mm256_sllv_epi32(x, k);
        miss = _mm256_xor_si256(_mm256_srav_epi32(a, k), x);
        rx = rnnse_avx2_rshr(rnnse_avx2_mulh(a, rnnse_avx2_pair(t0 + tmx, t1 + tmx)), _mm256_set1_epi32(1));
    } else {
        rx = rnnse_avx2_rshr(rnnse_avx2_mulh(x, rnnse_avx2_pair(t0 + tmx, t1 + tmx)), _mm256_sub_epi32(sx, c32));
    }
    v = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(rx, rh), _mm256_set1_epi32(-32768)),
                         _mm256_set1_epi32(32767));
    _mm_storeu_si128((__m128i *)(void *)out0, _mm256_castsi256_si128(v));
    _mm_storeu_si128((__m128i *)(void *)out1, _mm256_extracti128_si256(v, 1));
    return (uint32_t)!_mm256_testz_si256(miss, miss);
}

/* p[0..8)[4] (unit-major) as four vectors of 8 units: g[k] holds value k of every unit. */
static inline void rnnse_avx2_units8(const int32_t (*p)[4], __m256i *g)
{
    __m256i a0 = rnnse_avx2_pair(p[0], p[4]), a1 = rnnse_avx2_pair(p[1], p[5]);
    __m256i a2 = rnnse_avx2_pair(p[2], p[6]), a3 = rnnse_avx2_pair(p[3], p[7]);
    __m256i t0 = _mm256_unpacklo_epi32(a0, a1), t1 = _mm256_unpacklo_epi32(a2, a3);
    __m256i t2 = _mm256_unpackhi_epi32(a0, a1), t3 = _mm256_unpackhi_epi32(a2, a3);
    g[0] = _mm256_unpacklo_epi64(t0, t1);
    g[1] = _mm256_unpackhi_epi64(t0, t1);
    g[2] = _mm256_unpacklo_epi64(t2, t3);
    g[3] = _mm256_unpackhi_epi64(t2, t3);
}

/* Clamp of the int32 lanes to [lo, hi]. */
static inline __m256i rnnse_avx2_clamp(__m256i v, int32_t lo, int32_t hi)
{
    return _mm256_min_epi32(_mm256_max_epi32(v, _mm256_set1_epi32(lo)), _mm256_set1_epi32(hi));
}

/* 8 int32 lanes within the int8 range stored as 8 bytes. */
static inline void rnnse_avx2_store8(int8_t *dst, __m256i v)
{
    __m128i h16 = rnnse_avx2_narrow16(v);
    _mm_storel_epi64((__m128i *)(void *)dst, _mm_packs_epi16(h16, h16));
}

/* Cell and output of units [j, j + 8) (lstm_int8.c, lstm_cell) from their gate pre-activations
 * p[0..8)[4] (Q3.12): updates c (int16 when c16, else int8) and writes h_out. */
static inline void rnnse_lstm_cells8(const int32_t (*p)[4], int j, int8_t *h_out, void *c, const int16_t *sig,
                                     const int16_t *tnh, int nearest, int c16, int32_t c_mult, int c_shift,
                                     int32_t ct_mult, int ct_shift)
{
    __m256i gate[4], i, f, g, o, cv, ig, t;
    rnnse_avx2_units8(p, gate);
    i = rnnse_avx2_sig(gate[0], sig, nearest);
    f = rnnse_avx2_sig(gate[1], sig, nearest);
    g = rnnse_avx2_tanh(gate[2], tnh, nearest);
    o = rnnse_avx2_sig(gate[3], sig, nearest);
    if (c16) cv = _mm256_cvtepi16_epi32(_mm_loadu_si128((const __m128i *)(const void *)((int16_t *)c + j)));
    else cv = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)((int8_t *)c + j)));
    /* c' = sat(rshr(f c, 15) + requant(i g)); the requantized term is first clamped to +-2^30, which
     * keeps the int32 sum exact and, with |rshr(f c, 15)| <= 2^15, the saturated result unchanged */
    ig = rnnse_avx2_clamp(rnnse_avx2_requant(_mm256_mullo_epi32(i, g), c_mult, c_shift), -(1 << 30), 1 << 30);
    cv = rnnse_avx2_clamp(_mm256_add_epi32(rnnse_avx2_mul_rshr(f, cv, 15), ig), c16 ? -32768 : -128,
                          c16 ? 32767 : 127);
    if (c16) _mm_storeu_si128((__m128i *)(void *)((int16_t *)c + j), rnnse_avx2_narrow16(cv));
    else rnnse_avx2_store8((int8_t *)c + j, cv);
    /* h' = sat8(rshr(o tanh(sat16(requant(c', ct))), 23)) */
    t = rnnse_avx2_tanh(rnnse_avx2_clamp(rnnse_avx2_requant(cv, ct_mult, ct_shift), -32768, 32767), tnh, nearest);
    rnnse_avx2_store8(h_out + j, rnnse_avx2_clamp(rnnse_avx2_mul_rshr(o, t, 23), -128, 127));
}

/* Phase 1 of two GRU units (gru_int8.c, GRU_GATES), from their accumulators ax_q[0..3), ah_q[0..3)
 * and constants at t_q (b int32[3] at tb, b_hn at tbhn, mult_x / mult_h int32[3] at tmx / tmh,
 * shift_x / shift_h uint8[3] at tsx / tsh): out_q = {sat16(xr_r + hr_r), sat16(xr_z + hr_z), xr_n,
 * sat16(hr_n)}, with hr_n the requantized ah_q[2] + b_hn. The four values of a unit are computed
 * as lanes: x part {r, z, n, 0}, h part {r, z, 0, n} (a zero multiplier gives 0). Shift forms and
 * the returned flag as rnnse_lstm_gates2. */
static inline uint32_t rnnse_gru_gates2(const int32_t *ax0, const int32_t *ah0, const uint8_t *t0, const int32_t *ax1,
                                        const int32_t *ah1, const uint8_t *t1, int tb, int tbhn, int tmx, int tmh,
                                        int tsx, int tsh, int le33, int32_t *out0, int32_t *out1)
{
    const __m256i c32 = _mm256_set1_epi32(32), s33 = _mm256_set_epi32(33, 0, 0, 0, 33, 0, 0, 0);
    const int swap23 = 0xB4;     /* lanes {0, 1, 3, 2} of each unit */
    __m256i b = rnnse_avx2_pair(t0 + tb, t1 + tb);          /* b_r, b_z, b_n, b_hn */
    __m256i x = _mm256_blend_epi32(_mm256_add_epi32(rnnse_avx2_pair(ax0, ax1), b), _mm256_setzero_si256(), 0x88);
    __m256i sx = _mm256_blend_epi32(rnnse_avx2_pair_u8(t0 + tsx, t1 + tsx), s33, 0x88);
    __m256i mx = _mm256_blend_epi32(rnnse_avx2_pair(t0 + tmx, t1 + tmx), _mm256_setzero_si256(), 0x88);
    /* h part in lanes {r, z, n}: ah_r, ah_z, ah_n + b_hn, then moved to {r, z, -, n} */
    __m256i ah = _mm256_add_epi32(rnnse_avx2_pair(ah0, ah1), _mm256_blend_epi32(_mm256_setzero_si256(),
                                                                                 _mm256_shuffle_epi32(b, 0xFF), 0x44));
    __m256i hv = _mm256_shuffle_epi32(_mm256_blend_epi32(ah, _mm256_setzero_si256(), 0x88), swap23);
    __m256i sh = _mm256_shuffle_epi32(_mm256_blend_epi32(rnnse_avx2_pair_u8(t0 + tsh, t1 + tsh), s33, 0x88), swap23);
    __m256i mh = _mm256_shuffle_epi32(_mm256_blend_epi32(rnnse_avx2_pair(t0 + tmh, t1 + tmh), _mm256_setzero_si256(),
                                                         0x88), swap23);
    __m256i rx, rh, v, miss = _mm256_setzero_si256();
    rh = rnnse_avx2_rshr(rnnse_avx2_mulh(hv, mh), _mm256_sub_epi32(sh, c32));
    if (le33) {
        __m256i k = _mm256_sub_epi32(_mm256_set1_epi32(33), sx), a = _mm256_sllv_epi32(x, k);
        miss = _mm256_xor_si256(_mm256_srav_epi32(a, k), x);
        rx = rnnse_avx2_rshr(rnnse_avx2_mulh(a, mx), _mm256_set1_epi32(1));
    } else {
        rx = rnnse_avx2_rshr(rnnse_avx2_mulh(x, mx), _mm256_sub_epi32(sx, c32));
    }
    v = _mm256_blend_epi32(rnnse_avx2_clamp(_mm256_add_epi32(rx, rh), -32768, 32767), rx, 0x44);   /* xr_n unclamped */
    _mm_storeu_si128((__m128i *)(void *)out0, _mm256_castsi256_si128(v));
    _mm_storeu_si128((__m128i *)(void *)out1, _mm256_extracti128_si256(v, 1));
    return (uint32_t)!_mm256_testz_si256(miss, miss);
}

/* Phase 2 of GRU units [j, j + 8) (gru_int8.c, gru_outputs): h' = sat8(rshr(2^15 n + z (256 h - n), 23))
 * with r = SIG(q0), z = SIG(q1), n = TANH(sat16(q2 + rshr(r q3, 15))). The int32 arithmetic wraps
 * as the scalar code's: every product and the final sum lie within int32 (see there). */
static inline void rnnse_gru_outputs8(const int32_t (*q)[4], int j, const int8_t *h, int8_t *h_out, const int16_t *sig,
                                      const int16_t *tnh, int nearest)
{
    __m256i v[4], rg, zg, nn, hv, d;
    rnnse_avx2_units8(q, v);
    rg = rnnse_avx2_sig(v[0], sig, nearest);
    zg = rnnse_avx2_sig(v[1], sig, nearest);
    nn = rnnse_avx2_tanh(rnnse_avx2_clamp(_mm256_add_epi32(v[2], rnnse_avx2_mul_rshr(rg, v[3], 15)), -32768, 32767),
                         tnh, nearest);
    hv = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(h + j)));
    d = _mm256_add_epi32(_mm256_slli_epi32(nn, 15),
                         _mm256_mullo_epi32(zg, _mm256_sub_epi32(_mm256_slli_epi32(hv, 8), nn)));
    d = _mm256_srai_epi32(_mm256_add_epi32(d, _mm256_set1_epi32(1 << 22)), 23);
    rnnse_avx2_store8(h_out + j, rnnse_avx2_clamp(d, -128, 127));
}

#define RNNSE_SIMD_NAME "avx2"

#endif /* RNNSE_SIMD_AVX2_H */
