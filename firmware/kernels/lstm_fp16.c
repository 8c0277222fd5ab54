/* LSTM step in FP16 storage with FP32 arithmetic (docs/numerics.md "FP16 layers"). Units are
 * processed in groups of 8: dot products unit by unit, activations 8 at a time. */
#include "rnnse_kernels.h"
#include "rnnse_scalar.h"

#define GROUP 8

void rnnse_lstm_fp16(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const rnnse_f16_t *x,
                     const rnnse_f16_t *h, rnnse_f16_t *h_out, rnnse_f16_t *c)
{
    int first, count, n, r, j, u;
    uint32_t k4 = rnnse_round4(L->n_in), h4 = rnnse_round4(L->n_out);
    size_t row = k4 + h4, stride = L->rec_bytes / sizeof(rnnse_f16_t);
    rnnse_stream_t s;
    const uint8_t *tile;
    float gi[GROUP], gf[GROUP], gg[GROUP], go[GROUP], c32[GROUP], tc[GROUP];

    count = rnnse_slice((int)L->n_out, plat_core_id(), plat_num_cores(), &first);
    rnnse_stream_open(&s, &ctx->tiles, L->rec, L->rec_bytes, first, count);
    j = first;
    while ((tile = rnnse_stream_next(&s, &n)) != NULL) {
        for (r = 0; r < n; r += GROUP) {
            int m = n - r < GROUP ? n - r : GROUP;
            for (u = 0; u < GROUP; u++) {
                float ax[4], ah[4];
                const rnnse_f16_t *rec = (const rnnse_f16_t *)(const void *)tile + (size_t)(r + u) * stride;
                const rnnse_f16_t *b = rec + 4 * row;
                if (u >= m) {
                    gi[u] = gf[u] = gg[u] = go[u] = 0.0f;
                    continue;
                }
                rnnse_dot_f16_gates(rec, row, 4, x, (int)k4, h, (int)h4, ax, ah);
                gi[u] = rnnse_fp_add(rnnse_fp_add(rnnse_fp_f16_to_f32(b[0]), ax[0]), ah[0]);
                gf[u] = rnnse_fp_add(rnnse_fp_add(rnnse_fp_f16_to_f32(b[1]), ax[1]), ah[1]);
                gg[u] = rnnse_fp_add(rnnse_fp_add(rnnse_fp_f16_to_f32(b[2]), ax[2]), ah[2]);
                go[u] = rnnse_fp_add(rnnse_fp_add(rnnse_fp_f16_to_f32(b[3]), ax[3]), ah[3]);
            }
            rnnse_sigmoid_f32x8(gi);
            rnnse_sigmoid_f32x8(gf);
            rnnse_tanh_f32x8(gg);
            rnnse_sigmoid_f32x8(go);
            for (u = 0; u < GROUP; u++) {
                float cu = u < m ? rnnse_fp_f16_to_f32(c[j + u]) : 0.0f;
                float fc = rnnse_fp_mul(gf[u], cu), ig = rnnse_fp_mul(gi[u], gg[u]);
                c32[u] = rnnse_fp_add(fc, ig);
                tc[u] = c32[u];
            }
            rnnse_tanh_f32x8(tc);
            for (u = 0; u < m; u++) {
                h_out[j + u] = rnnse_fp_f16_sat(rnnse_fp_mul(go[u], tc[u]));
                c[j + u] = rnnse_fp_f16_sat(c32[u]);
            }
            j += m;
        }
    }
}
