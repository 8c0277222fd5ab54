/*
 * Scalar primitives of the kernels:
 *   - the integer ones of the INT8 paths (docs/numerics.md "Notation and integer primitives",
 *     "Activation tables"), written for 32-bit cores: no 64-bit shifts or compares on hot paths;
 *   - the FP32 / FP16 scalar steps of the FP16 paths and of the precision conversions (quant,
 *     dequant, the network's input and output).
 *
 * A SIMD path (rnnse_simd_*.h, included first) may define RNNSE_SIMD_HAS_FX and provide single-
 * instruction forms of the small integer building blocks (rnnse_fx_*), and RNNSE_SIMD_HAS_FP for
 * the FP32 ones (rnnse_fp_*), e.g. a core whose C compiler cannot use its FPU (pulp-open: Zfinx).
 * Every form gives the same bits as the portable one, under the preconditions stated with it.
 */
#ifndef RNNSE_SCALAR_H
#define RNNSE_SCALAR_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "rnnse_fp16.h"
#include "rnnse_model.h"
#include "rnnse_simd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Force inlining where a kernel instantiates a function for constant arguments (table mode, cell
 * width), or where a call would cost more than the body. */
#if defined(__GNUC__)
#define RNNSE_ALWAYS_INLINE static inline __attribute__((always_inline))
#define RNNSE_LIKELY(x) __builtin_expect(!!(x), 1)
#else
#define RNNSE_ALWAYS_INLINE static inline
#define RNNSE_LIKELY(x) (x)
#endif

/* ---- building blocks (portable forms) -------------------------------------------------------- */
#ifndef RNNSE_SIMD_HAS_FX
/* High 32 bits of the 64-bit product: floor(a * b / 2^32). */
static inline int32_t rnnse_fx_mulh(int32_t a, int32_t b) { return (int32_t)(((int64_t)a * b) >> 32); }
/* High 32 bits of the product of a signed and an unsigned value: floor(a * b / 2^32). */
static inline int32_t rnnse_fx_mulhsu(int32_t a, uint32_t b) { return (int32_t)(((int64_t)a * (int64_t)b) >> 32); }
/* (x + 2^(t-1)) >> t for 1 <= t <= 31, when x + 2^(t-1) does not overflow int32. */
static inline int32_t rnnse_fx_rshr(int32_t x, int t) { return (x + (1 << (t - 1))) >> t; }
/* rshr(a * b, 15) and rshr(a * b, 23) for a and b in the int16 range, |a * b| < 2^30. */
static inline int32_t rnnse_fx_mul_rshr15(int32_t a, int32_t b) { return (a * b + (1 << 14)) >> 15; }
static inline int32_t rnnse_fx_mul_rshr23(int32_t a, int32_t b) { return (a * b + (1 << 22)) >> 23; }
/* saturation to [-2^(n-1), 2^(n-1) - 1] (n = 8, 15, 16) and to [0, 127] */
static inline int32_t rnnse_fx_clip8(int32_t x) { return x < -128 ? -128 : (x > 127 ? 127 : x); }
static inline int32_t rnnse_fx_clip15(int32_t x) { return x < -16384 ? -16384 : (x > 16383 ? 16383 : x); }
static inline int32_t rnnse_fx_clip16(int32_t x) { return x < -32768 ? -32768 : (x > 32767 ? 32767 : x); }
static inline int32_t rnnse_fx_clipu8(int32_t x) { return x < 0 ? 0 : (x > 127 ? 127 : x); }
#endif

/* ---- FP32 steps (portable forms: plain C, IEEE single precision, nearest even) ---------------- *
 * rnnse_fp_f16_sat: FP32 -> FP16 with overflow saturated to +-65504 (the FP16 layers' output
 * rounding, rnnse_f16_out); rnnse_fp_relu: v > 0 ? v : +0; rnnse_fp_lrint: lrintf; rnnse_fp_sqrt:
 * sqrtf (correctly rounded in every form). Inputs finite (NaN handling may differ between forms). */
#ifndef RNNSE_SIMD_HAS_FP
static inline float rnnse_fp_add(float a, float b) { return a + b; }
static inline float rnnse_fp_sub(float a, float b) { return a - b; }
static inline float rnnse_fp_mul(float a, float b) { return a * b; }
static inline float rnnse_fp_relu(float v) { return v > 0.0f ? v : 0.0f; }
static inline float rnnse_fp_clamp(float v, float lo, float hi) { return v > hi ? hi : (v < lo ? lo : v); }
static inline float rnnse_fp_from_int(int32_t q) { return (float)q; }
static inline int32_t rnnse_fp_lrint(float v) { return (int32_t)lrintf(v); }
static inline float rnnse_fp_f16_to_f32(rnnse_f16_t h) { return rnnse_f16_to_f32(h); }
static inline rnnse_f16_t rnnse_fp_f16_sat(float v) { return rnnse_f32_to_f16(rnnse_fp_clamp(v, -65504.0f, 65504.0f)); }
static inline float rnnse_fp_sqrt(float v) { return sqrtf(v); }
#endif

/* ---- primitives of docs/numerics.md ----------------------------------------------------------- */

static inline int32_t rnnse_sat(int64_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : (int32_t)x);
}

/* rnnse_sat of an int32 value (no 64-bit compares). */
static inline int32_t rnnse_clamp(int32_t x, int32_t lo, int32_t hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* sat(a + b, lo, hi) of the exact (int64) sum of two int32 values, in 32-bit arithmetic: the
 * wrapped sum s is the exact sum unless a and b have the same sign and s has the other one; then
 * the exact sum lies beyond the int32 range on the side of a's sign, beyond [lo, hi]. */
static inline int32_t rnnse_add_sat(int32_t a, int32_t b, int32_t lo, int32_t hi)
{
    int32_t s = (int32_t)((uint32_t)a + (uint32_t)b);
    if ((int32_t)(((uint32_t)a ^ (uint32_t)s) & ((uint32_t)b ^ (uint32_t)s)) < 0) return a < 0 ? lo : hi;
    return rnnse_clamp(s, lo, hi);
}

static inline int32_t rnnse_rshr(int32_t x, int s) { return (x + (1 << (s - 1))) >> s; }

/*
 * requant(acc, M, S) = sat32((acc * M + 2^(S-1)) >> S) (0 <= M < 2^31, 1 <= S <= 62), from the
 * 32-bit halves of the product, equal to the 64-bit form (rnnse_requant_wide) for every input:
 *
 *   p = acc * M = hi * 2^32 + lo, hi = floor(p / 2^32) (signed), 0 <= lo < 2^32. |acc| <= 2^31 and
 *   0 <= M < 2^31 give |p| < 2^62, so -2^30 <= hi < 2^30.
 *   Lemma: for an integer n, a real 0 <= f < 1 and an integer d >= 1, floor((n + f) / d) = floor(n / d).
 *
 *   S >= 33: p + 2^(S-1) = (hi + 2^(S-33)) * 2^32 + lo; with n = hi + 2^(S-33), f = lo / 2^32,
 *     d = 2^(S-32) the lemma gives r = floor(n / 2^(S-32)) = (hi + 2^(S-33)) >> (S-32) =
 *     rnnse_fx_rshr(hi, S - 32). hi + 2^(S-33) < 2^30 + 2^29 does not overflow, and
 *     |r| <= 2^29 + 1: no saturation. Only the high half of the product is needed (mulh).
 *   S == 32: p + 2^31 = (hi + c) * 2^32 + (lo + 2^31 - c * 2^32) with c = lo >> 31 (1 when
 *     lo >= 2^31); the second term is in [0, 2^32), so r = hi + (lo >> 31), |r| <= 2^30.
 *   S <= 31: u = p + 2^(S-1) = h2 * 2^32 + l2, where l2 = lo + 2^(S-1) mod 2^32 and h2 = hi + the
 *     carry of that addition (|h2| <= 2^30). r = floor(u / 2^S) has the low 32 bits
 *     (l2 >> S) | (h2 << (32 - S)) (bits S .. S+31 of u), and r is an int32 exactly when
 *     -2^(31+S) <= u < 2^(31+S), i.e. when floor(u / 2^(31+S)) = h2 >> (S-1) (lemma) is 0 or -1;
 *     otherwise r saturates to the side of h2's sign.
 *   Scaling: requant(acc, M, S) = requant(acc * 2^k, M, S + k) whenever acc * 2^k fits int32 (both
 *     the product and the rounding constant gain the factor 2^k), which lets a kernel whose
 *     accumulator is known to be small move a shift S <= 32 to 33 (rnnse_requant_small), or one
 *     that checks the accumulator as it goes (rnnse_requant_le33).
 *
 *   32 <= S <= 62 in one form (rnnse_requant_ge32): with e = 1 when S == 32, else 0, and
 *     q = floor(acc * (M * 2^e) / 2^32) (M * 2^e < 2^32: a signed-by-unsigned high product),
 *     r = rnnse_fx_rshr(q, S - 32 + e). For S >= 33 that is the case above. For S == 32,
 *     q = floor(p / 2^31), p = q * 2^31 + f with 0 <= f < 2^31, and floor((p + 2^31) / 2^32) =
 *     floor((q + 1) / 2 + f / 2^32) = floor((q + 1) / 2) (when q + 1 is odd, (q + 1) / 2 has the
 *     fraction 1/2 and f / 2^32 < 1/2) = (q + 1) >> 1. q <= floor((2^31 - 1)^2 / 2^31) = 2^31 - 2,
 *     so q + 1 does not overflow. The result is in [-2^30, 2^30 - 1] (p > -2^62 and
 *     p <= (2^31 - 1)^2 = 2^62 - 2^32 + 1), so the int32 sum of two such results is exact.
 *
 * rnnse_requant: S >= 33 inline, S <= 32 out of line (rnnse_requant_le32, scalar.c).
 * tests/test_kernels_fixed.py checks every form against Python integers on their corners (S = 1, 31,
 * 32, 33, 62, rounding ties, M = 0 and 2^31 - 1, acc = -2^31 and 2^31 - 1) on the host, and
 * firmware/targets/pulp/tests/platform_test.c against rnnse_requant_wide on the target.
 */
int32_t rnnse_requant_le32(int32_t acc, int32_t mult, int shift);

RNNSE_ALWAYS_INLINE int32_t rnnse_requant(int32_t acc, int32_t mult, int shift)
{
    if (RNNSE_LIKELY(shift > 32)) return rnnse_fx_rshr(rnnse_fx_mulh(acc, mult), shift - 32);
    return rnnse_requant_le32(acc, mult, shift);
}

/* requant for any shift, fast also for shifts below 33 when the accumulator is small: with
 * k = 33 - S (2 <= S <= 32), requant(acc, M, S) = requant(acc * 2^k, M, 33) (the scaling above)
 * whenever -2^(31-k) <= acc < 2^(31-k); otherwise the out-of-line form. For the general paths of
 * the recurrent kernels (units that none of their inline forms takes). */
RNNSE_ALWAYS_INLINE int32_t rnnse_requant_bounded(int32_t acc, int32_t mult, int shift)
{
    if (shift > 32) return rnnse_fx_rshr(rnnse_fx_mulh(acc, mult), shift - 32);
    if (shift >= 2 && (uint32_t)((acc >> (shift - 2)) + 1) <= 1u)
        return rnnse_fx_rshr(rnnse_fx_mulh((int32_t)((uint32_t)acc << (33 - shift)), mult), 1);
    return rnnse_requant_le32(acc, mult, shift);
}

/* sat16(requant(a) + requant(b)) through rnnse_requant_bounded (the sum taken exactly). */
RNNSE_ALWAYS_INLINE int32_t rnnse_requant2_sat16_bounded(int32_t a, int32_t ma, int sa, int32_t b, int32_t mb, int sb)
{
    return rnnse_add_sat(rnnse_requant_bounded(a, ma, sa), rnnse_requant_bounded(b, mb, sb), -32768, 32767);
}

/* requant for 32 <= shift <= 62, branch-free (see above). */
RNNSE_ALWAYS_INLINE int32_t rnnse_requant_ge32(int32_t acc, int32_t mult, int shift)
{
    int e = shift == 32;
    return rnnse_fx_rshr(rnnse_fx_mulhsu(acc, (uint32_t)mult << e), shift - 32 + e);
}

/* Whether the shift bytes of w selected by mask (0x80 in each byte to test) are all >= 32
 * (rnnse_shifts_ge32), or all >= 33 (rnnse_shifts_gt32), at once: a byte b < 128 gives b + 96
 * (b + 95) < 256, so no carry reaches the next byte, with bit 7 set exactly when b >= 32 (33); a
 * byte b >= 128 fails through ~w (a carry it passes on does not matter then). */
static inline int rnnse_shifts_ge32(uint32_t w, uint32_t mask) { return ((w + 0x60606060u) & ~w & mask) == mask; }
static inline int rnnse_shifts_gt32(uint32_t w, uint32_t mask) { return ((w + 0x5F5F5F5Fu) & ~w & mask) == mask; }

/* sat16(requant(a, ma, sa) + requant(b, mb, sb)) with the sum taken exactly (docs/numerics.md:
 * gate pre-activations), for any shifts (out of line), for shifts >= 33 and for shifts >= 32 (inline). */
int32_t rnnse_requant2_sat16(int32_t a, int32_t ma, int sa, int32_t b, int32_t mb, int sb);

RNNSE_ALWAYS_INLINE int32_t rnnse_requant2_sat16_gt32(int32_t a, int32_t ma, int sa, int32_t b, int32_t mb, int sb)
{
    return rnnse_fx_clip16(rnnse_fx_rshr(rnnse_fx_mulh(a, ma), sa - 32) + rnnse_fx_rshr(rnnse_fx_mulh(b, mb), sb - 32));
}

RNNSE_ALWAYS_INLINE int32_t rnnse_requant2_sat16_ge32(int32_t a, int32_t ma, int sa, int32_t b, int32_t mb, int sb)
{
    return rnnse_fx_clip16(rnnse_requant_ge32(a, ma, sa) + rnnse_requant_ge32(b, mb, sb));
}

/* Left shift k >= 0 such that requant(acc, mult, shift) = requant(acc * 2^k, mult, 33) for every
 * |acc| < 2^bits, or -1 when there is none (shift > 33, or acc * 2^k could leave the int32 range).
 * For per-layer constants: computed once per slice. */
static inline int rnnse_requant_small_k(int shift, int bits)
{
    int k = 33 - shift;
    return k >= 0 && bits + k <= 31 ? k : -1;
}

/* requant(acc, mult, 33 - k) for |acc| < 2^bits, k = rnnse_requant_small_k(33 - k, bits) >= 0:
 * |acc * 2^k| < 2^(bits+k) <= 2^31, so the shifted accumulator is exact. */
RNNSE_ALWAYS_INLINE int32_t rnnse_requant_small(int32_t acc, int32_t mult, int k)
{
    return rnnse_fx_rshr(rnnse_fx_mulh((int32_t)((uint32_t)acc << k), mult), 1);
}

/*
 * requant for 2 <= S <= 33 without a branch, for the recurrent kernels' small input shifts (a first
 * layer fed by an FC layer: its x steps are coarse, so its shifts are about 28-33):
 *
 *   With k = 33 - S (0 <= k <= 31) and a = (int32)(acc << k) (the low 32 bits of acc * 2^k):
 *   - if acc * 2^k fits int32, a = acc * 2^k and requant(acc, M, S) = requant(a, M, 33) (the scaling
 *     above) = rnnse_fx_rshr(mulh(a, M), 1) (the S >= 33 case), within [-2^29, 2^29];
 *   - a >> k == acc exactly when acc * 2^k fits int32: if it fits, a >> k = floor(acc * 2^k / 2^k) =
 *     acc; conversely a >> k lies in [-2^(31-k), 2^(31-k)) for every int32 a, so an acc equal to it
 *     has |acc * 2^k| within the int32 range.
 *   So *miss |= (a >> k) ^ acc leaves *miss at 0 exactly when the result is requant(acc, M, S).
 *   A kernel runs all gates of a unit this way, ORing their misses into one flag, tests the flag
 *   once per unit and recomputes the unit by the general form when it is set. The x accumulators
 *   of a layer are at most |b| + 127 * 128 * K4 in magnitude (weights within [-127, 127], inputs
 *   within [-128, 127]): about 2^22 + |b| for K4 = 256, against the 2^(S-2) = 2^26 that S = 28
 *   allows, so with the shipped models' shifts and biases the flag stays 0.
 * Over the S >= 33 form this costs the left shift (and its count) and a three-instruction check,
 * and no branch.
 * Tested against Python integers (tests/test_kernels_fixed.py); on pulp-open its building blocks
 * are rnnse_requant_small's, and the network tests check the first layers that use it.
 */
RNNSE_ALWAYS_INLINE int32_t rnnse_requant_le33(int32_t acc, int32_t mult, int shift, uint32_t *miss)
{
    int k = 33 - shift;
    int32_t a = (int32_t)((uint32_t)acc << k);
    *miss |= (uint32_t)((a >> k) ^ acc);
    return rnnse_fx_rshr(rnnse_fx_mulh(a, mult), 1);
}

/* sat16(requant(a, ma, sa) + requant(b, mb, sb)) for 2 <= sa <= 33 <= sb (the input part through
 * rnnse_requant_le33, *miss as there): both results lie within [-2^29 - 1, 2^29 + 1], so the int32
 * sum is exact. */
RNNSE_ALWAYS_INLINE int32_t rnnse_requant2_sat16_le33(int32_t a, int32_t ma, int sa, int32_t b, int32_t mb, int sb,
                                                      uint32_t *miss)
{
    return rnnse_fx_clip16(rnnse_requant_le33(a, ma, sa, miss) + rnnse_fx_rshr(rnnse_fx_mulh(b, mb), sb - 32));
}

/* Whether the shift bytes of w selected by mask (0x80 in each byte to test, the low bytes of the
 * word) all lie in [2, 33] (rnnse_requant_le33's range), at once: a byte b <= 129 gives
 * b + 126 <= 255 (no carry), whose top three bits are 100 exactly when 2 <= b <= 33 (b + 126 in
 * [128, 159]); a byte b >= 130 leaves b - 130 < 128 (top bit clear: it fails) and a carry that
 * changes only the bytes above it (which does not matter then). m3: the top three bits of each
 * selected byte. */
static inline int rnnse_shifts_le33(uint32_t w, uint32_t mask)
{
    uint32_t m3 = mask | mask >> 1 | mask >> 2;
    return ((w + 0x7E7E7E7Eu) & m3) == mask;
}

/* The gate form two units can share in a SIMD path (rnnse_lstm_gates2, rnnse_gru_gates2), from
 * their shift words (mask as above): 0 when all input and recurrent shifts are >= 33, 1 when the
 * recurrent ones are and the input ones lie in [2, 33], -1 otherwise. */
static inline int rnnse_pair_form(uint32_t sx0, uint32_t sh0, uint32_t sx1, uint32_t sh1, uint32_t mask)
{
    if (!rnnse_shifts_gt32(sh0, mask) || !rnnse_shifts_gt32(sh1, mask)) return -1;
    if (rnnse_shifts_gt32(sx0, mask) && rnnse_shifts_gt32(sx1, mask)) return 0;
    if (rnnse_shifts_le33(sx0, mask) && rnnse_shifts_le33(sx1, mask)) return 1;
    return -1;
}

/* The 64-bit form of requant, as docs/numerics.md writes it (reference of the tests). */
static inline int32_t rnnse_requant_wide(int32_t acc, int32_t mult, int shift)
{
    int64_t p = (int64_t)acc * mult;
    int64_t r = (p + ((int64_t)1 << (shift - 1))) >> shift;
    return rnnse_sat(r, INT32_MIN, INT32_MAX);
}

/* An int32 field of a record: records start 4-byte aligned and keep their int32 fields aligned
 * (rnnse_model.h), so one word load reads it. */
static inline int32_t rnnse_rec_i32(const uint8_t *p)
{
    int32_t v;
#if defined(__GNUC__)
    p = (const uint8_t *)__builtin_assume_aligned(p, 4);
#endif
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint32_t rnnse_rec_u32(const uint8_t *p) { return (uint32_t)rnnse_rec_i32(p); }

/* Q3.12 -> Q15 lookups (257-entry tables). */
static inline int32_t rnnse_sig_lookup(int32_t p, const int16_t *t, int mode)
{
    int32_t u = p + 32768;
    if (mode == RNNSE_TABLE_NEAREST) return t[(u + 128) >> 8];
    return t[u >> 8] + rnnse_rshr((t[(u >> 8) + 1] - t[u >> 8]) * (u & 255), 8);
}

static inline int32_t rnnse_tanh_lookup(int32_t p, const int16_t *t, int mode)
{
    int32_t u = rnnse_fx_clip15(p) + 16384;
    if (mode == RNNSE_TABLE_NEAREST) return t[(u + 64) >> 7];
    return t[u >> 7] + rnnse_rshr((t[(u >> 7) + 1] - t[u >> 7]) * (u & 127), 7);
}

#ifdef __cplusplus
}
#endif
#endif /* RNNSE_SCALAR_H */
