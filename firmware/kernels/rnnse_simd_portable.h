/*
 * Portable C path of the SIMD abstraction (included by rnnse_simd.h on every target without a
 * vector path, or with RNNSE_SIMD_PORTABLE): the reference functions of rnnse_simd.h, one row or
 * one value at a time.
 */
#ifndef RNNSE_SIMD_PORTABLE_H
#define RNNSE_SIMD_PORTABLE_H


static inline void rnnse_dot_s8_gates(const int8_t *w, size_t stride, int gates, const int8_t *x, int nx,
                                      const int8_t *h, int nh, int32_t *ax, int32_t *ah)
{
    rnnse_dot_s8_rows_portable(w, stride, gates, x, nx, ax);
    rnnse_dot_s8_rows_portable(w + nx, stride, gates, h, nh, ah);
}

static inline void rnnse_dot_f16_gates(const rnnse_f16_t *w, size_t stride, int gates, const rnnse_f16_t *x,
                                       int nx, const rnnse_f16_t *h, int nh, float *ax, float *ah)
{
    rnnse_dot_f16_rows_portable(w, stride, gates, x, nx, ax);
    rnnse_dot_f16_rows_portable(w + nx, stride, gates, h, nh, ah);
}

#define rnnse_dot_s8_rows rnnse_dot_s8_rows_portable
#define rnnse_dot_f16_rows rnnse_dot_f16_rows_portable
#define rnnse_sigmoid_f32x8 rnnse_sigmoid_f32x8_portable
#define rnnse_tanh_f32x8 rnnse_tanh_f32x8_portable
#define RNNSE_SIMD_NAME "portable"

#endif /* RNNSE_SIMD_PORTABLE_H */
