/* FC layer in FP16: y[j] = fp16(act(b[j] + sum_k w[j,k] x[k])), FP32 accumulation. */
#include "rnnse_kernels.h"
#include "rnnse_simd.h"

#define ROWS 4   /* rows per SIMD call (shares the loads of x) */

static rnnse_f16_t fc_fp16_out(float acc, uint32_t act)
{
    if (act == RNNSE_ACT_RELU) acc = acc > 0.0f ? acc : 0.0f;
    else if (act == RNNSE_ACT_SIGMOID) acc = rnnse_sigmoidf(acc);
    return rnnse_f16_out(acc);
}

void rnnse_fc_fp16(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const rnnse_f16_t *x, rnnse_f16_t *y)
{
    int first, count, n, r, j;
    uint32_t k4 = rnnse_round4(L->n_in);
    size_t stride = L->rec_bytes / sizeof(rnnse_f16_t);
    rnnse_stream_t s;
    const uint8_t *tile;
    float acc[ROWS];

    count = rnnse_slice((int)L->n_out, plat_core_id(), plat_num_cores(), &first);
    rnnse_stream_open(&s, &ctx->tiles, L->rec, L->rec_bytes, first, count);
    j = first;
    while ((tile = rnnse_stream_next(&s, &n)) != NULL) {
        const rnnse_f16_t *rec = (const rnnse_f16_t *)(const void *)tile;
        for (r = 0; r < n; r += ROWS) {
            int nr = n - r < ROWS ? n - r : ROWS, q;
            rnnse_dot_f16_rows(rec + (size_t)r * stride, stride, nr, x, (int)k4, acc);
            for (q = 0; q < nr; q++) {
                float b = rnnse_f16_to_f32(rec[(size_t)(r + q) * stride + k4]);
                y[j + r + q] = fc_fp16_out(b + acc[q], L->act);
            }
        }
        j += n;
    }
}
