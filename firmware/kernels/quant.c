/* FP32/FP16 -> int8 quantization at a precision boundary (docs/numerics.md "quant"). */
#include <math.h>

#include "rnnse_kernels.h"
#include "rnnse_scalar.h"

static int8_t quant_one(float x, float inv_scale)
{
    return (int8_t)rnnse_fp_lrint(rnnse_fp_clamp(rnnse_fp_mul(x, inv_scale), -128.0f, 127.0f));
}

void rnnse_quant(const rnnse_layer_t *L, const void *x, int8_t *y)
{
    const float *inv = L->rec_bytes ? (const float *)L->rec : NULL;   /* per element, or one scale */
    int first, i;
    int count = rnnse_slice((int)L->n_out, plat_core_id(), plat_num_cores(), &first);
    for (i = first; i < first + count; i++) {
        float v = L->in_type == RNNSE_FP16 ? rnnse_fp_f16_to_f32(((const rnnse_f16_t *)x)[i]) : ((const float *)x)[i];
        y[i] = quant_one(v, inv ? inv[i] : L->scale);
    }
}
