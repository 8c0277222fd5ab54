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

/* G (3 or 4) gate rows of a recurrent unit: ax[g] = w_g[0..nx) . x, ah[g] = w_g[nx..nx+nh) . h.
 * One asm block, two hardware loops: after the x part the row pointers point at the h part of
 * their rows (a row is w_ih | w_hh), so the second loop continues with them (nx, nh >= 4). */
#define RNNSE_XP_GATES_BODY4(acc0, acc1, acc2, acc3, pv)                                             \
    RNNSE_XP_LW(vx, pv) RNNSE_XP_LW(v0, p0) RNNSE_XP_LW(v1, p1) RNNSE_XP_LW(v2, p2) RNNSE_XP_LW(v3, p3) \
        RNNSE_XP_SDOT(acc0, vx, v0) RNNSE_XP_SDOT(acc1, vx, v1) RNNSE_XP_SDOT(acc2, vx, v2)              \
            RNNSE_XP_SDOT(acc3, vx, v3)
#define RNNSE_XP_GATES_BODY3(acc0, acc1, acc2, pv)                                                   \
    RNNSE_XP_LW(vx, pv) RNNSE_XP_LW(v0, p0) RNNSE_XP_LW(v1, p1) RNNSE_XP_LW(v2, p2)                  \
        RNNSE_XP_SDOT(acc0, vx, v0) RNNSE_XP_SDOT(acc1, vx, v1) RNNSE_XP_SDOT(acc2, vx, v2)

static inline void rnnse_dot_s8_gates(const int8_t *w, size_t stride, int gates, const int8_t *x, int nx,
                                      const int8_t *h, int nh, int32_t *ax, int32_t *ah)
{
    const int8_t *p0 = w, *p1, *p2, *p3, *px = x, *ph = h;
    int32_t a0, a1, a2, a3, b0, b1, b2, b3;
    uint32_t vx, v0, v1, v2, v3;
    int wx = nx >> 2, wh = nh >> 2;
    if (gates == 4) {
        __asm__ volatile(".option push\n\t.option norvc\n\t"
                         "add %[p1], %[p0], %[st]\n\tadd %[p2], %[p1], %[st]\n\tadd %[p3], %[p2], %[st]\n\t"
                         "li %[a0], 0\n\tli %[a1], 0\n\tli %[a2], 0\n\tli %[a3], 0\n\t"
                         "li %[b0], 0\n\tli %[b1], 0\n\tli %[b2], 0\n\tli %[b3], 0\n\t"
                         ".insn i 0x7b, 4, x0, %[cx], 18\n\t" RNNSE_XP_GATES_BODY4(a0, a1, a2, a3, px)
                         ".insn i 0x7b, 4, x0, %[ch], 18\n\t" RNNSE_XP_GATES_BODY4(b0, b1, b2, b3, ph)
                         ".option pop"
                         : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [b0] "=&r"(b0),
                           [b1] "=&r"(b1), [b2] "=&r"(b2), [b3] "=&r"(b3), [p1] "=&r"(p1), [p2] "=&r"(p2),
                           [p3] "=&r"(p3), [vx] "=&r"(vx), [v0] "=&r"(v0), [v1] "=&r"(v1), [v2] "=&r"(v2),
                           [v3] "=&r"(v3), [p0] "+r"(p0), [px] "+r"(px), [ph] "+r"(ph)
                         : [st] "r"(stride), [cx] "r"(wx), [ch] "r"(wh)
                         : "memory");
        ax[3] = a3;
        ah[3] = b3;
    } else {
        __asm__ volatile(".option push\n\t.option norvc\n\t"
                         "add %[p1], %[p0], %[st]\n\tadd %[p2], %[p1], %[st]\n\t"
                         "li %[a0], 0\n\tli %[a1], 0\n\tli %[a2], 0\n\t"
                         "li %[b0], 0\n\tli %[b1], 0\n\tli %[b2], 0\n\t"
                         ".insn i 0x7b, 4, x0, %[cx], 14\n\t" RNNSE_XP_GATES_BODY3(a0, a1, a2, px)
                         ".insn i 0x7b, 4, x0, %[ch], 14\n\t" RNNSE_XP_GATES_BODY3(b0, b1, b2, ph)
                         ".option pop"
                         : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [b0] "=&r"(b0), [b1] "=&r"(b1),
                           [b2] "=&r"(b2), [p1] "=&r"(p1), [p2] "=&r"(p2), [vx] "=&r"(vx), [v0] "=&r"(v0),
                           [v1] "=&r"(v1), [v2] "=&r"(v2), [p0] "+r"(p0), [px] "+r"(px), [ph] "+r"(ph)
                         : [st] "r"(stride), [cx] "r"(wx), [ch] "r"(wh)
                         : "memory");
    }
    ax[0] = a0;
    ax[1] = a1;
    ax[2] = a2;
    ah[0] = b0;
    ah[1] = b1;
    ah[2] = b2;
}

/* ---- scalar fixed point (the building blocks of rnnse_scalar.h) ------------------------------
 * mulh, mulhsu (RV32M, 5-cycle latency on these cores); p.addRN rD, x0, rs2: (rD + 2^(rs2-1)) >>> rs2 in
 * 32 bits (exact under rnnse_fx_rshr's precondition: the sum does not overflow); p.mulsRN rD, rs1,
 * rs2, I: (int16 rs1 * int16 rs2 + 2^(I-1)) >>> I (operands in the int16 range, as the callers
 * guarantee); p.clipi rD, rs1, n: clamp to [-2^(n-1), 2^(n-1) - 1]; p.clipui rD, rs1, n: clamp to
 * [0, 2^(n-1) - 1]. The immediate of p.clipi sits in the rs2 field, hence the x-register names. */
#define RNNSE_SIMD_HAS_FX 1

static inline int32_t rnnse_fx_mulh(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("mulh %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static inline int32_t rnnse_fx_mulhsu(int32_t a, uint32_t b)
{
    int32_t r;
    __asm__("mulhsu %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

static inline int32_t rnnse_fx_rshr(int32_t x, int t)
{
    __asm__(".insn r 0x5B, 6, 0x20, %0, x0, %1" : "+r"(x) : "r"(t));
    return x;
}

#define RNNSE_XP_FX2(name, insn)                                                                  \
    static inline int32_t name(int32_t a, int32_t b)                                              \
    {                                                                                             \
        int32_t r;                                                                                \
        __asm__(insn : "=r"(r) : "r"(a), "r"(b));                                                 \
        return r;                                                                                 \
    }
RNNSE_XP_FX2(rnnse_fx_mul_rshr15, ".insn r 0x5B, 4, 0x4F, %0, %1, %2")   /* p.mulsRN ..., 15 */
RNNSE_XP_FX2(rnnse_fx_mul_rshr23, ".insn r 0x5B, 4, 0x57, %0, %1, %2")   /* p.mulsRN ..., 23 */

#define RNNSE_XP_CLIP(name, insn)                                                                 \
    static inline int32_t name(int32_t x)                                                         \
    {                                                                                             \
        int32_t r;                                                                                \
        __asm__(insn : "=r"(r) : "r"(x));                                                         \
        return r;                                                                                 \
    }
RNNSE_XP_CLIP(rnnse_fx_clip8, ".insn r 0x33, 1, 0x0A, %0, %1, x8")     /* p.clipi 8 */
RNNSE_XP_CLIP(rnnse_fx_clip15, ".insn r 0x33, 1, 0x0A, %0, %1, x15")   /* p.clipi 15 */
RNNSE_XP_CLIP(rnnse_fx_clip16, ".insn r 0x33, 1, 0x0A, %0, %1, x16")   /* p.clipi 16 */
RNNSE_XP_CLIP(rnnse_fx_clipu8, ".insn r 0x33, 2, 0x0A, %0, %1, x8")    /* p.clipui 8 */

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

/* ---- FP32 scalar steps of rnnse_scalar.h on the FPU ------------------------------------------
 * fmin.s / fmax.s (a -0.0 counts below +0.0, as the portable compares give for these uses),
 * fcvt.s.w / fcvt.w.s (nearest even: the dynamic rounding mode), and the smallFloat FP16
 * conversions fcvt.s.h (exact) / fcvt.h.s (nearest even). Same bits as the portable forms for
 * finite inputs; the platform test checks every FP16 value and a sweep of FP32 ones. */
#define RNNSE_SIMD_HAS_FP 1

#define RNNSE_ZF_INSN1(name, insn, tin, tout, from, to)                                               \
    static inline tout name(tin a)                                                                \
    {                                                                                             \
        uint32_t r;                                                                               \
        __asm__(insn : "=r"(r) : "r"(from(a)));                                                   \
        return to(r);                                                                             \
    }
#define RNNSE_ZF_ID(x) ((uint32_t)(x))
#define RNNSE_ZF_TOI(x) ((int32_t)(x))
#define RNNSE_ZF_TOH(x) ((rnnse_f16_t)(x))
RNNSE_ZF_INSN1(rnnse_fp_from_int, ".insn r 0x53, 7, 0x68, %0, %1, x0", int32_t, float, RNNSE_ZF_ID, rnnse_bits_f32)
RNNSE_ZF_INSN1(rnnse_fp_lrint, ".insn r 0x53, 7, 0x60, %0, %1, x0", float, int32_t, rnnse_f32_bits, RNNSE_ZF_TOI)
RNNSE_ZF_INSN1(rnnse_fp_f16_to_f32, ".insn r 0x53, 0, 0x20, %0, %1, x2", rnnse_f16_t, float, RNNSE_ZF_ID,
               rnnse_bits_f32)
RNNSE_ZF_INSN1(rnnse_fp_f32_to_f16, ".insn r 0x53, 7, 0x22, %0, %1, x0", float, rnnse_f16_t, rnnse_f32_bits,
               RNNSE_ZF_TOH)

static inline float rnnse_zf_minmax(float a, float b, int max)
{
    uint32_t r;
    if (max) __asm__(".insn r 0x53, 1, 0x14, %0, %1, %2" : "=r"(r) : "r"(rnnse_f32_bits(a)), "r"(rnnse_f32_bits(b)));
    else __asm__(".insn r 0x53, 0, 0x14, %0, %1, %2" : "=r"(r) : "r"(rnnse_f32_bits(a)), "r"(rnnse_f32_bits(b)));
    return rnnse_bits_f32(r);
}

static inline float rnnse_fp_add(float a, float b) { return rnnse_zf_add(a, b); }
static inline float rnnse_fp_sub(float a, float b) { return rnnse_zf_sub(a, b); }
static inline float rnnse_fp_mul(float a, float b) { return rnnse_zf_mul(a, b); }
static inline float rnnse_fp_relu(float v) { return rnnse_zf_minmax(v, 0.0f, 1); }
static inline float rnnse_fp_clamp(float v, float lo, float hi) { return rnnse_zf_minmax(rnnse_zf_minmax(v, lo, 1), hi, 0); }
static inline rnnse_f16_t rnnse_fp_f16_sat(float v) { return rnnse_fp_f32_to_f16(rnnse_fp_clamp(v, -65504.0f, 65504.0f)); }
RNNSE_ZF_INSN1(rnnse_fp_sqrt, ".insn r 0x53, 7, 0x2C, %0, %1, x0", float, float, rnnse_f32_bits, rnnse_bits_f32)

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
