/* GRU step in FP16 storage with FP32 arithmetic (docs/numerics.md "FP16 layers"). Units are
 * processed in groups of 8: dot products unit by unit, activations 8 at a time. */
#include "rnnse_kernels.h"
#include "rnnse_scalar.h"

#define GROUP 8

void rnnse_gru_fp16(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const rnnse_f16_t *x,
                    const rnnse_f16_t *h, rnnse_f16_t *h_out)
{
    int first, count, n, r, j, u;
    uint32_t k4 = rnnse_round4(L->n_in), h4 = rnnse_round4(L->n_out);
    size_t row = k4 + h4, stride = L->rec_bytes / sizeof(rnnse_f16_t);
    rnnse_stream_t s;
    const uint8_t *tile;
    float rg[GROUP], zg[GROUP], xn[GROUP], hn[GROUP];

    count = rnnse_slice((int)L->n_out, plat_core_id(), plat_num_cores(), &first);
    rnnse_stream_open(&s, &ctx->tiles, L->rec, L->rec_bytes, first, count);
    j = first;
    while ((tile = rnnse_stream_next(&s, &n)) != NULL) {
        for (r = 0; r < n; r += GROUP) {
            int m = n - r < GROUP ? n - r : GROUP;
            for (u = 0; u < GROUP; u++) {
                float ax[3], ah[3];
                const rnnse_f16_t *rec = (const rnnse_f16_t *)(const void *)tile + (size_t)(r + u) * stride;
                const rnnse_f16_t *b = rec + 3 * row;   /* b_r, b_z, b_in, b_hn */
                if (u >= m) {
                    rg[u] = zg[u] = xn[u] = hn[u] = 0.0f;
                    continue;
                }
                rnnse_dot_f16_gates(rec, row, 3, x, (int)k4, h, (int)h4, ax, ah);
                rg[u] = rnnse_fp_add(rnnse_fp_add(rnnse_fp_f16_to_f32(b[0]), ax[0]), ah[0]);
                zg[u] = rnnse_fp_add(rnnse_fp_add(rnnse_fp_f16_to_f32(b[1]), ax[1]), ah[1]);
                xn[u] = rnnse_fp_add(rnnse_fp_f16_to_f32(b[2]), ax[2]);
                hn[u] = rnnse_fp_add(rnnse_fp_f16_to_f32(b[3]), ah[2]);
            }
            rnnse_sigmoid_f32x8(rg);
            rnnse_sigmoid_f32x8(zg);
            for (u = 0; u < GROUP; u++) xn[u] = rnnse_fp_add(xn[u], rnnse_fp_mul(rg[u], hn[u]));
            rnnse_tanh_f32x8(xn);
            for (u = 0; u < m; u++) {
                float a = rnnse_fp_mul(rnnse_fp_sub(1.0f, zg[u]), xn[u]);
                float b = rnnse_fp_mul(zg[u], rnnse_fp_f16_to_f32(h[j + u]));
                h_out[j + u] = rnnse_fp_f16_sat(rnnse_fp_add(a, b));
            }
            j += m;
        }
    }
}
