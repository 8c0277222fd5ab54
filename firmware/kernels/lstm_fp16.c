/* LSTM step in FP16 storage with FP32 arithmetic (docs/numerics.md "FP16 layers"). */
#include <math.h>

#include "rnnse_kernels.h"
#include "rnnse_simd.h"

static void lstm_fp16_cell(const float *p, const rnnse_f16_t *hc_in, rnnse_f16_t *h_out, rnnse_f16_t *c)
{
    float i = rnnse_sigmoidf(p[0]);
    float f = rnnse_sigmoidf(p[1]);
    float g = tanhf(p[2]);
    float o = rnnse_sigmoidf(p[3]);
    float fc = f * rnnse_f16_to_f32(*hc_in);
    float ig = i * g;
    float c32 = fc + ig;
    float t = tanhf(c32);
    *h_out = rnnse_f16_out(o * t);
    *c = rnnse_f16_out(c32);
}

void rnnse_lstm_fp16(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const rnnse_f16_t *x,
                     const rnnse_f16_t *h, rnnse_f16_t *h_out, rnnse_f16_t *c)
{
    int first, count, n, r, j, g;
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
            float ax[4], ah[4], p[4];
            rnnse_dot_f16_rows(rec, row, 4, x, (int)k4, ax);
            rnnse_dot_f16_rows(rec + k4, row, 4, h, (int)h4, ah);
            for (g = 0; g < 4; g++) p[g] = (rnnse_f16_to_f32(rec[4 * row + g]) + ax[g]) + ah[g];
            lstm_fp16_cell(p, &c[j], &h_out[j], &c[j]);
        }
    }
}
