/*
 * IEEE 754 binary16 storage helpers: conversions by integer bit manipulation (portable C99; the
 * RISC-V GCC has no _Float16). FP16 values are stored as uint16_t, arithmetic is done in FP32.
 * Rounding float -> half is round-to-nearest-even, identical to numpy's astype(np.float16) from
 * float32; NaN becomes a quiet NaN with the sign kept.
 */
#ifndef RNNSE_FP16_H
#define RNNSE_FP16_H

#include <stdint.h>
#include <string.h>

typedef uint16_t rnnse_f16_t;

static inline uint32_t rnnse_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float rnnse_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline rnnse_f16_t rnnse_f32_to_f16(float f)
{
    uint32_t x = rnnse_f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    uint32_t r, rem, halfway;
    if (ax >= 0x7f800000u)                       /* Inf or NaN */
        return (rnnse_f16_t)(sign | (ax > 0x7f800000u ? 0x7e00u : 0x7c00u));
    if (ax >= 0x47800000u)                       /* >= 65536: overflows to Inf */
        return (rnnse_f16_t)(sign | 0x7c00u);
    if (ax < 0x38800000u) {                      /* below 2^-14: half subnormal or zero */
        uint32_t e = ax >> 23, m, shift;
        if (ax < 0x33000000u) return (rnnse_f16_t)sign;   /* < 2^-25 (incl. 2^-25 tie): zero */
        m = (ax & 0x7fffffu) | 0x800000u;
        shift = 126u - e;                        /* value in units of 2^-24 = m >> shift */
        r = m >> shift;
        rem = m & ((1u << shift) - 1u);
        halfway = 1u << (shift - 1u);
        if (rem > halfway || (rem == halfway && (r & 1u))) r++;
        return (rnnse_f16_t)(sign | r);
    }
    r = (ax - 0x38000000u) >> 13;                /* rebias exponent 127 -> 15 */
    rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) r++;   /* carry may reach Inf: correct */
    return (rnnse_f16_t)(sign | r);
}

static inline float rnnse_f16_to_f32(rnnse_f16_t h)
{
    uint32_t sign = ((uint32_t)h & 0x8000u) << 16;
    uint32_t e = ((uint32_t)h >> 10) & 0x1fu;
    uint32_t m = (uint32_t)h & 0x3ffu;
    if (e == 0x1fu) return rnnse_bits_f32(sign | 0x7f800000u | (m << 13));
    if (e != 0) return rnnse_bits_f32(sign | ((e + 112u) << 23) | (m << 13));
    if (m == 0) return rnnse_bits_f32(sign);
    return rnnse_bits_f32(sign | rnnse_f32_bits((float)m * 5.9604644775390625e-8f));  /* m * 2^-24 */
}

/* Array conversions (n elements). */
void rnnse_f32_to_f16_array(const float *src, rnnse_f16_t *dst, int n);
void rnnse_f16_to_f32_array(const rnnse_f16_t *src, float *dst, int n);

#endif /* RNNSE_FP16_H */
