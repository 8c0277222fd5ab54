/* FC layer in INT8: int32 accumulation, per-row requantization, ReLU / none / table sigmoid. */
#include "rnnse_scalar.h"
#include "rnnse_kernels.h"

#define ROWS 4   /* rows per pass (share the loads of x) */

/* Per-row constants after the weights of a record (rnnse_model.h): b, mult, shift (int32 each). */
#define T_B 0
#define T_M 4
#define T_S 8

/* Output j from its accumulator; the activation and the table mode are constants of each
 * instantiation (see rnnse_fc_int8). */
RNNSE_ALWAYS_INLINE void fc_int8_out(const int16_t *sig, int32_t acc, const uint8_t *t, void *y, int j, const int act,
                                     const int mode)
{
    int32_t shift = rnnse_rec_i32(t + T_S), v;
    acc += rnnse_rec_i32(t + T_B);
    if (RNNSE_LIKELY(shift > 32)) v = rnnse_fx_rshr(rnnse_fx_mulh(acc, rnnse_rec_i32(t + T_M)), shift - 32);
    else v = rnnse_requant_le32(acc, rnnse_rec_i32(t + T_M), shift);
    if (act == RNNSE_ACT_SIGMOID) ((int16_t *)y)[j] = (int16_t)rnnse_sig_lookup(rnnse_clamp(v, -32768, 32767), sig, mode);
    else if (act == RNNSE_ACT_RELU) ((int8_t *)y)[j] = (int8_t)rnnse_clamp(v, 0, 127);
    else ((int8_t *)y)[j] = (int8_t)rnnse_clamp(v, -128, 127);
}

RNNSE_ALWAYS_INLINE void fc_int8_slice(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const int8_t *x, void *y,
                                       const int act, const int mode)
{
    int first, count, n, r, j, q;
    uint32_t k4 = rnnse_round4(L->n_in);
    size_t stride = L->rec_bytes;
    const int16_t *sig = ctx->sigmoid_table;
    rnnse_stream_t s;
    const uint8_t *tile;
    int32_t acc[ROWS];

    count = rnnse_slice((int)L->n_out, plat_core_id(), plat_num_cores(), &first);
    rnnse_stream_open(&s, &ctx->tiles, L->rec, L->rec_bytes, first, count);
    j = first;
    while ((tile = rnnse_stream_next(&s, &n)) != NULL) {
        for (r = 0; r < n; r += ROWS) {
            const uint8_t *w = tile + (size_t)r * stride;
            int nr = n - r < ROWS ? n - r : ROWS;
            rnnse_dot_s8_rows((const int8_t *)w, stride, nr, x, (int)k4, acc);
            for (q = 0; q < nr; q++, w += stride) fc_int8_out(sig, acc[q], w + k4, y, j + r + q, act, mode);
        }
        j += n;
    }
}

/* One instantiation per activation and table mode: no per-row tests of either. */
void rnnse_fc_int8(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const int8_t *x, void *y)
{
    if (L->act == RNNSE_ACT_SIGMOID) {
        if (L->table_mode == RNNSE_TABLE_NEAREST) fc_int8_slice(L, ctx, x, y, RNNSE_ACT_SIGMOID, RNNSE_TABLE_NEAREST);
        else fc_int8_slice(L, ctx, x, y, RNNSE_ACT_SIGMOID, RNNSE_TABLE_LINEAR);
    } else if (L->act == RNNSE_ACT_RELU) {
        fc_int8_slice(L, ctx, x, y, RNNSE_ACT_RELU, RNNSE_TABLE_NEAREST);
    } else {
        fc_int8_slice(L, ctx, x, y, RNNSE_ACT_NONE, RNNSE_TABLE_NEAREST);
    }
}
