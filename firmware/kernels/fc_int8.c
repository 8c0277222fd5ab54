/* FC layer in INT8: int32 accumulation, per-row requantization, ReLU / none / table sigmoid. */
#include "rnnse_kernels.h"
#include "rnnse_simd.h"

#define ROWS 4   /* rows per pass (share the loads of x) */

static void fc_int8_out(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, int32_t acc, const uint8_t *tail, void *y,
                        int j)
{
    int32_t t[3];   /* b, mult, shift */
    int32_t v;
    memcpy(t, tail, sizeof t);
    v = rnnse_requant(acc + t[0], t[1], t[2]);
    if (L->act == RNNSE_ACT_SIGMOID)
        ((int16_t *)y)[j] = (int16_t)rnnse_sig_lookup(rnnse_sat(v, -32768, 32767), ctx->sigmoid_table,
                                                      (int)L->table_mode);
    else
        ((int8_t *)y)[j] = (int8_t)rnnse_sat(v, L->act == RNNSE_ACT_RELU ? 0 : -128, 127);
}

void rnnse_fc_int8(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const int8_t *x, void *y)
{
    int first, count, n, r, j, q;
    uint32_t k4 = rnnse_round4(L->n_in);
    size_t stride = L->rec_bytes;
    rnnse_stream_t s;
    const uint8_t *tile;
    int32_t acc[ROWS];

    count = rnnse_slice((int)L->n_out, plat_core_id(), plat_num_cores(), &first);
    rnnse_stream_open(&s, &ctx->tiles, L->rec, L->rec_bytes, first, count);
    j = first;
    while ((tile = rnnse_stream_next(&s, &n)) != NULL) {
        for (r = 0; r < n; r += ROWS) {
            int nr = n - r < ROWS ? n - r : ROWS;
            rnnse_dot_s8_rows((const int8_t *)tile + (size_t)r * stride, stride, nr, x, (int)k4, acc);
            for (q = 0; q < nr; q++) fc_int8_out(L, ctx, acc[q], tile + (size_t)(r + q) * stride + k4, y, j + r + q);
        }
        j += n;
    }
}
