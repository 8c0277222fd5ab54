/* int8/int16 -> FP16/FP32 at a precision boundary (docs/numerics.md "dequant"). */
#include "rnnse_kernels.h"
#include "rnnse_scalar.h"

void rnnse_dequant(const rnnse_layer_t *L, const void *x, void *y)
{
    int first, i;
    int count = rnnse_slice((int)L->n_out, plat_core_id(), plat_num_cores(), &first);
    for (i = first; i < first + count; i++) {
        int32_t q = L->in_type == RNNSE_INT16 ? ((const int16_t *)x)[i] : ((const int8_t *)x)[i];
        float v = rnnse_fp_mul(rnnse_fp_from_int(q), L->scale);
        if (L->out_type == RNNSE_FP16) ((rnnse_f16_t *)y)[i] = rnnse_fp_f16_sat(v);   /* saturating */
        else ((float *)y)[i] = v;
    }
}
