/* LSTM step in INT8 (docs/numerics.md "LSTM (int8)"): each core updates its slice of units. */
#include "rnnse_kernels.h"
#include "rnnse_simd.h"

typedef struct {
    int32_t b[4], mult_x[4], mult_h[4];
    uint8_t shift_x[4], shift_h[4];
} lstm_int8_tail_t;   /* per-unit constants after the gate rows of a record (rnnse_model.h) */

/* One unit: gate pre-activations in Q3.12 from the int32 accumulators, then cell and output.
 * *c is the cell state (int32 view); returns h'. */
static int8_t lstm_int8_unit(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const int32_t *ax,
                             const int32_t *ah, const lstm_int8_tail_t *t, int32_t *c)
{
    int mode = (int)L->table_mode, g;
    int32_t p[4], i, f, gg, o, cmax = L->c_bits == 16 ? 32767 : 127, tc;
    int64_t cs;
    for (g = 0; g < 4; g++) {
        int64_t sx = rnnse_requant(ax[g] + t->b[g], t->mult_x[g], t->shift_x[g]);
        int64_t sh = rnnse_requant(ah[g], t->mult_h[g], t->shift_h[g]);
        p[g] = rnnse_sat(sx + sh, -32768, 32767);
    }
    i = rnnse_sig_lookup(p[0], ctx->sigmoid_table, mode);
    f = rnnse_sig_lookup(p[1], ctx->sigmoid_table, mode);
    gg = rnnse_tanh_lookup(p[2], ctx->tanh_table, mode);
    o = rnnse_sig_lookup(p[3], ctx->sigmoid_table, mode);
    cs = (int64_t)rnnse_rshr(f * *c, 15) + rnnse_requant(i * gg, L->c_mult, L->c_shift);
    *c = rnnse_sat(cs, -cmax - 1, cmax);
    tc = rnnse_tanh_lookup(rnnse_sat(rnnse_requant(*c, L->ct_mult, L->ct_shift), -32768, 32767), ctx->tanh_table,
                           mode);
    return (int8_t)rnnse_sat(rnnse_rshr(o * tc, 23), -128, 127);
}

void rnnse_lstm_int8(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const int8_t *x, const int8_t *h,
                     int8_t *h_out, void *c)
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
            int32_t ax[4], ah[4], cj;
            lstm_int8_tail_t t;
            memcpy(&t, rec + 4 * row, sizeof t);
            rnnse_dot_s8_gates(rec, row, 4, x, (int)k4, h, (int)h4, ax, ah);
            cj = L->c_bits == 16 ? ((int16_t *)c)[j] : ((int8_t *)c)[j];
            h_out[j] = lstm_int8_unit(L, ctx, ax, ah, &t, &cj);
            if (L->c_bits == 16) ((int16_t *)c)[j] = (int16_t)cj;
            else ((int8_t *)c)[j] = (int8_t)cj;
        }
    }
}
