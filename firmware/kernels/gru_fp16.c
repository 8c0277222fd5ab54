/* GRU step in FP16 storage with FP32 arithmetic (docs/numerics.md "FP16 layers"). */
#include <math.h>

#include "rnnse_kernels.h"
#include "rnnse_simd.h"

static rnnse_f16_t gru_fp16_unit(const float *ax, const float *ah, const rnnse_f16_t *bias, rnnse_f16_t hj)
{
    float r = rnnse_sigmoidf((rnnse_f16_to_f32(bias[0]) + ax[0]) + ah[0]);
    float z = rnnse_sigmoidf((rnnse_f16_to_f32(bias[1]) + ax[1]) + ah[1]);
    float hn = rnnse_f16_to_f32(bias[3]) + ah[2];
    float n = tanhf((rnnse_f16_to_f32(bias[2]) + ax[2]) + r * hn);
    float a = (1.0f - z) * n;
    float b = z * rnnse_f16_to_f32(hj);
    return rnnse_f16_out(a + b);
}

void rnnse_gru_fp16(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const rnnse_f16_t *x,
                    const rnnse_f16_t *h, rnnse_f16_t *h_out)
{
    int first, count, n, r, j;
    uint32_t k4 = rnnse_round4(L->n_in), h4 = rnnse_round4(L->n_out);
    size_t row = k4 + h4, stride = L->rec_bytes / sizeof(rnnse_f16_t);
    rnnse_stream_t s;
    const uint8_t *tile;

    count = rnnse_slice((int)L->n_out, plat_core_id(), plat_num_cores(), &first);
    rnnse_stream_open(&s, &ctx->tiles, L->rec, L->rec_bytes, first, count);
    j = first;
    while ((tile = rnnse_stream_next(&s, &n)) != NULL) {
        for (r = 0; r < n; r++, j++) {
            const rnnse_f16_t *rec = (const rnnse_f16_t *)(const void *)tile + (size_t)r * stride;
            float ax[3], ah[3];
            rnnse_dot_f16_rows(rec, row, 3, x, (int)k4, ax);
            rnnse_dot_f16_rows(rec + k4, row, 3, h, (int)h4, ah);
            h_out[j] = gru_fp16_unit(ax, ah, rec + 3 * row, h[j]);
        }
    }
}
