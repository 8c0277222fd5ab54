/* FP16 <-> FP32 array conversions (see rnnse_fp16.h). */
#include "rnnse_fp16.h"

void rnnse_f32_to_f16_array(const float *src, rnnse_f16_t *dst, int n)
{
    int i;
    for (i = 0; i < n; i++) dst[i] = rnnse_f32_to_f16(src[i]);
}

void rnnse_f16_to_f32_array(const rnnse_f16_t *src, float *dst, int n)
{
    int i;
    for (i = 0; i < n; i++) dst[i] = rnnse_f16_to_f32(src[i]);
}
