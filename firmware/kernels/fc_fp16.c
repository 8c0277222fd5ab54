/* FC layer in FP16: y[j] = fp16(act(b[j] + sum_k w[j,k] x[k])), FP32 accumulation. */
#include "rnnse_kernels.h"
#include "rnnse_scalar.h"

#define GROUP 8   /* rows per pass: the dot products share the loads of x, the sigmoid is vectorised */

void rnnse_fc_fp16(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const rnnse_f16_t *x, rnnse_f16_t *y)
{
    int first, count, n, r, j, q;
    uint32_t k4 = rnnse_round4(L->n_in);
    size_t stride = L->rec_bytes / sizeof(rnnse_f16_t);
    rnnse_stream_t s;
    const uint8_t *tile;
    float v[GROUP];

    count = rnnse_slice((int)L->n_out, plat_core_id(), plat_num_cores(), &first);
    rnnse_stream_open(&s, &ctx->tiles, L->rec, L->rec_bytes, first, count);
    j = first;
    while ((tile = rnnse_stream_next(&s, &n)) != NULL) {
        const rnnse_f16_t *rec = (const rnnse_f16_t *)(const void *)tile;
        for (r = 0; r < n; r += GROUP) {
            int m = n - r < GROUP ? n - r : GROUP;
            rnnse_dot_f16_rows(rec + (size_t)r * stride, stride, m, x, (int)k4, v);
            for (q = 0; q < GROUP; q++)
                v[q] = q < m ? rnnse_fp_add(rnnse_fp_f16_to_f32(rec[(size_t)(r + q) * stride + k4]), v[q]) : 0.0f;
            if (L->act == RNNSE_ACT_SIGMOID) rnnse_sigmoid_f32x8(v);
            else if (L->act == RNNSE_ACT_RELU)
                for (q = 0; q < m; q++) v[q] = rnnse_fp_relu(v[q]);
            for (q = 0; q < m; q++) y[j + r + q] = rnnse_fp_f16_sat(v[q]);
        }
        j += n;
    }
}
