/* FP32/FP16 -> int8 quantization at a precision boundary (docs/numerics.md "quant"). */
#include <math.h>

#include "rnnse_kernels.h"

static int8_t quant_one(float x, float inv_scale)
{
    float t = x * inv_scale;
    if (t > 127.0f) t = 127.0f;
    if (t < -128.0f) t = -128.0f;
    return (int8_t)lrintf(t);
}

void rnnse_quant(const rnnse_layer_t *L, const void *x, int8_t *y)
{
    int first, i;
    int count = rnnse_slice((int)L->n_out, plat_core_id(), plat_num_cores(), &first);
    for (i = first; i < first + count; i++) {
        float v = L->in_type == RNNSE_FP16 ? rnnse_f16_to_f32(((const rnnse_f16_t *)x)[i]) : ((const float *)x)[i];
        y[i] = quant_one(v, L->scale);
    }
}
