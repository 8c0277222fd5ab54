/* GRU step in INT8 (docs/numerics.md "GRU (int8)"): each core updates its slice of units. */
#include "rnnse_kernels.h"
#include "rnnse_simd.h"

typedef struct {
    int32_t b[3], b_hn, mult_x[4], mult_h[4];
    uint8_t shift_x[4], shift_h[4];
} gru_int8_tail_t;   /* per-unit constants after the gate rows of a record (rnnse_model.h) */

static int8_t gru_int8_unit(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const int32_t *ax, const int32_t *ah,
                            const gru_int8_tail_t *t, int32_t hj)
{
    int mode = (int)L->table_mode, g;
    int32_t xr[3], hr[3], rg, zg, hn, n;
    for (g = 0; g < 3; g++) {
        xr[g] = rnnse_requant(ax[g] + t->b[g], t->mult_x[g], t->shift_x[g]);
        hr[g] = rnnse_requant(ah[g] + (g == 2 ? t->b_hn : 0), t->mult_h[g], t->shift_h[g]);
    }
    rg = rnnse_sig_lookup(rnnse_sat((int64_t)xr[0] + hr[0], -32768, 32767), ctx->sigmoid_table, mode);
    zg = rnnse_sig_lookup(rnnse_sat((int64_t)xr[1] + hr[1], -32768, 32767), ctx->sigmoid_table, mode);
    hn = rnnse_sat(hr[2], -32768, 32767);
    n = rnnse_tanh_lookup(rnnse_sat((int64_t)xr[2] + rnnse_rshr(rg * hn, 15), -32768, 32767), ctx->tanh_table,
                          mode);
    return (int8_t)rnnse_sat(rnnse_rshr((32768 - zg) * n + zg * (hj * 256), 23), -128, 127);
}

void rnnse_gru_int8(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const int8_t *x, const int8_t *h,
                    int8_t *h_out)
{
    int first, count, n, r, j;
    uint32_t k4 = rnnse_round4(L->n_in), h4 = rnnse_round4(L->n_out);
    size_t row = k4 + h4;
    rnnse_stream_t s;
    const uint8_t *tile;

    count = rnnse_slice((int)L->n_out, plat_core_id(), plat_num_cores(), &first);
    rnnse_stream_open(&s, &ctx->tiles, L->rec, L->rec_bytes, first, count);
    j = first;
    while ((tile = rnnse_stream_next(&s, &n)) != NULL) {
        for (r = 0; r < n; r++, j++) {
            const int8_t *rec = (const int8_t *)tile + (size_t)r * L->rec_bytes;
            int32_t ax[3], ah[3];
            gru_int8_tail_t t;
            memcpy(&t, rec + 3 * row, sizeof t);
            rnnse_dot_s8_gates(rec, row, 3, x, (int)k4, h, (int)h4, ax, ah);
            h_out[j] = gru_int8_unit(L, ctx, ax, ah, &t, h[j]);
        }
    }
}
