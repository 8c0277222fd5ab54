/*
 * Xpulp path of the SIMD abstraction (included by rnnse_simd.h when RNNSE_SIMD_XPULP is defined):
 * PULP cluster cores (RI5CY class, Xpulpv2 + smallFloat, FP values in integer registers, Zfinx).
 *
 *   INT8 : pv.sdotsp.b (4 signed 8-bit products added to an int32 accumulator) on 3 or 4 weight rows
 *          sharing each 4-byte load of the input, p.lw post-increment loads, hardware loop 0:
 *          9 instructions per 16 MACs (4 rows), 7 per 12 (3 rows), no branch.
 *   FP16 : vfdotpex.s.h (acc + (a0*b0 + a1*b1), products exact in FP32, one rounding for the pair
 *          sum and one for the accumulation), the same instruction pattern: 9 instructions per
 *          8 MACs. Its rounding steps are exactly rnnse_fdot2's, and every row is summed in the
 *          portable order, so FP16 dot products equal the portable path's bit for bit.
 *   FP32 activations: the portable operation sequence (rnnse_exp_f32, rnnse_sigmoid_f32,
 *          rnnse_tanh_f32) as inline FPU instructions (fmadd.s for fmaf: both round once), so the
 *          results equal the portable path's bit for bit, without soft-float calls.
 * The instructions are encoded with .insn (the GNU assembler of Debian's toolchain has no Xpulp
 * mnemonics); the hardware loop's body size is counted in 4-byte instructions.
 *
 * Requirements as in rnnse_simd.h: n a multiple of 4 (INT8) / 4 elements (FP16), rows 4-byte
 * aligned (the records and vectors are).
 */
#ifndef RNNSE_SIMD_XPULP_H
#define RNNSE_SIMD_XPULP_H

#define RNNSE_SIMD_USE_XPULP 1

#define RNNSE_XP_LOOP(words) ".insn i 0x7b, 4, x0, %[cnt], " #words "\n\t"   /* lp.setup 0, cnt, body */
#define RNNSE_XP_LW(rd, ptr) ".insn i 0x0b, 2, %[" #rd "], 4(%[" #ptr "])\n\t"  /* p.lw rd, 4(ptr!) */
#define RNNSE_XP_SDOT(acc, a, b) ".insn r 0x57, 1, 0x5C, %[" #acc "], %[" #a "], %[" #b "]\n\t"
#define RNNSE_XP_FDOT(acc, a, b) ".insn r 0x33, 0, 0x4B, %[" #acc "], %[" #a "], %[" #b "]\n\t"

/* acc[0..3] += rows w0..w3 . x over `words` 32-bit words (4 int8 or 2 FP16 each); fdot selects
 * vfdotpex.s.h (accumulators hold FP32 bits) instead of pv.sdotsp.b. */
#define RNNSE_XP_DOT4(OP)                                                                          \
    __asm__ volatile(".option push\n\t.option norvc\n\t" RNNSE_XP_LOOP(18)                           \
                     RNNSE_XP_LW(vx, px) RNNSE_XP_LW(v0, p0) RNNSE_XP_LW(v1, p1) RNNSE_XP_LW(v2, p2)  \
                     RNNSE_XP_LW(v3, p3) OP(a0, vx, v0) OP(a1, vx, v1) OP(a2, vx, v2) OP(a3, vx, v3)  \
                     ".option pop"                                                                 \
                     : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [px] "+r"(px),  \
                       [p0] "+r"(p0), [p1] "+r"(p1), [p2] "+r"(p2), [p3] "+r"(p3), [vx] "=&r"(vx), \
                       [v0] "=&r"(v0), [v1] "=&r"(v1), [v2] "=&r"(v2), [v3] "=&r"(v3)              \
                     : [cnt] "r"(words)                                                            \
                     : "memory")

#define RNNSE_XP_DOT3(OP)                                                                          \
    __asm__ volatile(".option push\n\t.option norvc\n\t" RNNSE_XP_LOOP(14)                           \
                     RNNSE_XP_LW(vx, px) RNNSE_XP_LW(v0, p0) RNNSE_XP_LW(v1, p1) RNNSE_XP_LW(v2, p2)  \
                     OP(a0, vx, v0) OP(a1, vx, v1) OP(a2, vx, v2)                                  \
                     ".option pop"                                                                 \
                     : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [px] "+r"(px), [p0] "+r"(p0),  \
                       [p1] "+r"(p1), [p2] "+r"(p2), [vx] "=&r"(vx), [v0] "=&r"(v0), [v1] "=&r"(v1), \
                       [v2] "=&r"(v2)                                                              \
                     : [cnt] "r"(words)                                                            \
                     : "memory")

/* ---- INT8 ------------------------------------------------------------------------------------ */

static inline void rnnse_xpulp_s8x4(const int8_t *w0, const int8_t *w1, const int8_t *w2, const int8_t *w3,
                                    const int8_t *x, int n, int32_t *out)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    const int8_t *px = x, *p0 = w0, *p1 = w1, *p2 = w2, *p3 = w3;
    uint32_t vx, v0, v1, v2, v3;
    int words = n >> 2;
    if (words > 0) RNNSE_XP_DOT4(RNNSE_XP_SDOT);
    out[0] = a0;
    out[1] = a1;
    out[2] = a2;
    out[3] = a3;
}

static inline void rnnse_xpulp_s8x3(const int8_t *w0, const int8_t *w1, const int8_t *w2, const int8_t *x, int n,
                                    int32_t *out)
{
    int32_t a0 = 0, a1 = 0, a2 = 0;
    const int8_t *px = x, *p0 = w0, *p1 = w1, *p2 = w2;
    uint32_t vx, v0, v1, v2;
    int words = n >> 2;
    if (words > 0) RNNSE_XP_DOT3(RNNSE_XP_SDOT);
    out[0] = a0;
    out[1] = a1;
    out[2] = a2;
}

static inline void rnnse_dot_s8_rows(const int8_t *w, size_t stride, int nrows, const int8_t *x, int n,
                                     int32_t *out)
{
    int r, q;
    for (r = 0; r < nrows; r += 4) {
        const int8_t *w0 = w + (size_t)r * stride;
        int32_t t[4];
        int left = nrows - r;
        if (left == 3) {
            rnnse_xpulp_s8x3(w0, w0 + stride, w0 + 2 * stride, x, n, out + r);
            break;
        }
        rnnse_xpulp_s8x4(w0, left > 1 ? w0 + stride : w0, left > 2 ? w0 + 2 * stride : w0,
                         left > 3 ? w0 + 3 * stride : w0, x, n, t);
        for (q = 0; q < 4 && q < left; q++) out[r + q] = t[q];
    }
}

/* G (3 or 4) gate rows of a recurrent unit: ax[g] = w_g[0..nx) . x, ah[g] = w_g[nx..nx+nh) . h */
static inline void rnnse_dot_s8_gates(const int8_t *w, size_t stride, int gates, const int8_t *x, int nx,
                                      const int8_t *h, int nh, int32_t *ax, int32_t *ah)
{
    if (gates == 4) {
        rnnse_xpulp_s8x4(w, w + stride, w + 2 * stride, w + 3 * stride, x, nx, ax);
        rnnse_xpulp_s8x4(w + nx, w + stride + nx, w + 2 * stride + nx, w + 3 * stride + nx, h, nh, ah);
    } else {
        rnnse_xpulp_s8x3(w, w + stride, w + 2 * stride, x, nx, ax);
        rnnse_xpulp_s8x3(w + nx, w + stride + nx, w + 2 * stride + nx, h, nh, ah);
    }
}

/* ---- FP16 ------------------------------------------------------------------------------------ */

static inline void rnnse_xpulp_f16x4(const rnnse_f16_t *w0, const rnnse_f16_t *w1, const rnnse_f16_t *w2,
                                     const rnnse_f16_t *w3, const rnnse_f16_t *x, int n, float *out)
{
    uint32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;   /* FP32 bits of 0.0f */
    const rnnse_f16_t *px = x, *p0 = w0, *p1 = w1, *p2 = w2, *p3 = w3;
    uint32_t vx, v0, v1, v2, v3;
    int words = n >> 1;
    if (words > 0) RNNSE_XP_DOT4(RNNSE_XP_FDOT);
    out[0] = rnnse_bits_f32(a0);
    out[1] = rnnse_bits_f32(a1);
    out[2] = rnnse_bits_f32(a2);
    out[3] = rnnse_bits_f32(a3);
}

static inline void rnnse_xpulp_f16x3(const rnnse_f16_t *w0, const rnnse_f16_t *w1, const rnnse_f16_t *w2,
                                     const rnnse_f16_t *x, int n, float *out)
{
    uint32_t a0 = 0, a1 = 0, a2 = 0;
    const rnnse_f16_t *px = x, *p0 = w0, *p1 = w1, *p2 = w2;
    uint32_t vx, v0, v1, v2;
    int words = n >> 1;
    if (words > 0) RNNSE_XP_DOT3(RNNSE_XP_FDOT);
    out[0] = rnnse_bits_f32(a0);
    out[1] = rnnse_bits_f32(a1);
    out[2] = rnnse_bits_f32(a2);
}

static inline void rnnse_dot_f16_rows(const rnnse_f16_t *w, size_t stride, int nrows, const rnnse_f16_t *x,
                                      int n, float *out)
{
    int r, q;
    for (r = 0; r < nrows; r += 4) {
        const rnnse_f16_t *w0 = w + (size_t)r * stride;
        float t[4];
        int left = nrows - r;
        if (left == 3) {
            rnnse_xpulp_f16x3(w0, w0 + stride, w0 + 2 * stride, x, n, out + r);
            break;
        }
        rnnse_xpulp_f16x4(w0, left > 1 ? w0 + stride : w0, left > 2 ? w0 + 2 * stride : w0,
                          left > 3 ? w0 + 3 * stride : w0, x, n, t);
        for (q = 0; q < 4 && q < left; q++) out[r + q] = t[q];
    }
}

static inline void rnnse_dot_f16_gates(const rnnse_f16_t *w, size_t stride, int gates, const rnnse_f16_t *x,
                                       int nx, const rnnse_f16_t *h, int nh, float *ax, float *ah)
{
    if (gates == 4) {
        rnnse_xpulp_f16x4(w, w + stride, w + 2 * stride, w + 3 * stride, x, nx, ax);
        rnnse_xpulp_f16x4(w + nx, w + stride + nx, w + 2 * stride + nx, w + 3 * stride + nx, h, nh, ah);
    } else {
        rnnse_xpulp_f16x3(w, w + stride, w + 2 * stride, x, nx, ax);
        rnnse_xpulp_f16x3(w + nx, w + stride + nx, w + 2 * stride + nx, h, nh, ah);
    }
}

/* ---- FP32 activations on the FPU (Zfinx: operands in integer registers) ---------------------- */

#define RNNSE_ZF_BINOP(name, funct7)                                                              \
    static inline float name(float a, float b)                                                    \
    {                                                                                             \
        uint32_t r;                                                                               \
        __asm__(".insn r 0x53, 7, " #funct7 ", %0, %1, %2"                                        \
                : "=r"(r)                                                                         \
                : "r"(rnnse_f32_bits(a)), "r"(rnnse_f32_bits(b)));                                \
        return rnnse_bits_f32(r);                                                                 \
    }
RNNSE_ZF_BINOP(rnnse_zf_add, 0x00)
RNNSE_ZF_BINOP(rnnse_zf_sub, 0x04)
RNNSE_ZF_BINOP(rnnse_zf_mul, 0x08)
RNNSE_ZF_BINOP(rnnse_zf_div, 0x0C)

static inline float rnnse_zf_fma(float a, float b, float c)   /* a * b + c, one rounding */
{
    uint32_t r;
    __asm__(".insn r4 0x43, 7, 0, %0, %1, %2, %3"
            : "=r"(r)
            : "r"(rnnse_f32_bits(a)), "r"(rnnse_f32_bits(b)), "r"(rnnse_f32_bits(c)));
    return rnnse_bits_f32(r);
}

static inline int rnnse_zf_lt(float a, float b)
{
    int r;
    __asm__(".insn r 0x53, 1, 0x50, %0, %1, %2" : "=r"(r) : "r"(rnnse_f32_bits(a)), "r"(rnnse_f32_bits(b)));
    return r;
}

static inline int32_t rnnse_zf_to_int(float a)   /* truncation, as a C cast */
{
    int32_t r;
    __asm__(".insn r 0x53, 1, 0x60, %0, %1, x0" : "=r"(r) : "r"(rnnse_f32_bits(a)));
    return r;
}

static inline float rnnse_zf_neg(float a) { return rnnse_bits_f32(rnnse_f32_bits(a) ^ 0x80000000u); }

/* rnnse_exp_f32, operation for operation */
static inline float rnnse_xpulp_exp(float x)
{
    float t, n, r, p;
    if (rnnse_zf_lt(x, RNNSE_EXP_LO)) x = RNNSE_EXP_LO;
    if (rnnse_zf_lt(RNNSE_EXP_HI, x)) x = RNNSE_EXP_HI;
    t = rnnse_zf_mul(x, RNNSE_LOG2E);
    n = rnnse_zf_sub(rnnse_zf_add(t, RNNSE_ROUND_MAGIC), RNNSE_ROUND_MAGIC);
    r = rnnse_zf_fma(rnnse_zf_neg(n), RNNSE_LN2_HI, x);
    r = rnnse_zf_fma(rnnse_zf_neg(n), RNNSE_LN2_LO, r);
    p = rnnse_zf_fma(RNNSE_EXP_C7, r, RNNSE_EXP_C6);
    p = rnnse_zf_fma(p, r, RNNSE_EXP_C5);
    p = rnnse_zf_fma(p, r, RNNSE_EXP_C4);
    p = rnnse_zf_fma(p, r, RNNSE_EXP_C3);
    p = rnnse_zf_fma(p, r, RNNSE_EXP_C2);
    p = rnnse_zf_fma(p, r, 1.0f);
    p = rnnse_zf_fma(p, r, 1.0f);
    return rnnse_zf_mul(p, rnnse_bits_f32((uint32_t)(rnnse_zf_to_int(n) + 127) << 23));
}

static inline float rnnse_xpulp_sigmoid(float v)
{
    return rnnse_zf_div(1.0f, rnnse_zf_add(1.0f, rnnse_xpulp_exp(rnnse_zf_neg(v))));
}

static inline float rnnse_xpulp_tanh(float v)
{
    uint32_t sign = rnnse_f32_bits(v) & 0x80000000u;
    float a = rnnse_bits_f32(rnnse_f32_bits(v) & 0x7fffffffu), r;
    if (rnnse_zf_lt(a, RNNSE_TANH_SMALL)) {
        float z = rnnse_zf_mul(a, a), p;
        p = rnnse_zf_fma(RNNSE_TANH_P5, z, RNNSE_TANH_P4);
        p = rnnse_zf_fma(p, z, RNNSE_TANH_P3);
        p = rnnse_zf_fma(p, z, RNNSE_TANH_P2);
        p = rnnse_zf_fma(p, z, RNNSE_TANH_P1);
        p = rnnse_zf_fma(p, z, RNNSE_TANH_P0);
        r = rnnse_zf_fma(rnnse_zf_mul(a, z), p, a);
    } else {
        r = rnnse_zf_sub(1.0f, rnnse_zf_div(2.0f, rnnse_zf_add(rnnse_xpulp_exp(rnnse_zf_add(a, a)), 1.0f)));
    }
    return rnnse_bits_f32(rnnse_f32_bits(r) | sign);
}

static inline void rnnse_sigmoid_f32x8(float *v)
{
    int i;
    for (i = 0; i < 8; i++) v[i] = rnnse_xpulp_sigmoid(v[i]);
}

static inline void rnnse_tanh_f32x8(float *v)
{
    int i;
    for (i = 0; i < 8; i++) v[i] = rnnse_xpulp_tanh(v[i]);
}

#define RNNSE_SIMD_NAME "xpulp"

#endif /* RNNSE_SIMD_XPULP_H */
