/* Dispatch of one layer to its kernel, and L1 allocation of the per-core tile buffers. */
#include "rnnse_kernels.h"

int rnnse_type_bytes(uint32_t type)
{
    switch (type) {
    case RNNSE_FP32: return 4;
    case RNNSE_FP16: case RNNSE_INT16: return 2;
    case RNNSE_INT8: return 1;
    default: return 0;
    }
}

void rnnse_layer_run(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const void *x, const void *h, void *h_out,
                     void *c, void *y)
{
    int int8 = L->prec == RNNSE_INT8;
    switch (L->kind) {
    case RNNSE_FC:
        if (int8) rnnse_fc_int8(L, ctx, (const int8_t *)x, y);
        else rnnse_fc_fp16(L, ctx, (const rnnse_f16_t *)x, (rnnse_f16_t *)y);
        break;
    case RNNSE_LSTM:
        if (int8) rnnse_lstm_int8(L, ctx, (const int8_t *)x, (const int8_t *)h, (int8_t *)h_out, c);
        else rnnse_lstm_fp16(L, ctx, (const rnnse_f16_t *)x, (const rnnse_f16_t *)h, (rnnse_f16_t *)h_out,
                             (rnnse_f16_t *)c);
        break;
    case RNNSE_GRU:
        if (int8) rnnse_gru_int8(L, ctx, (const int8_t *)x, (const int8_t *)h, (int8_t *)h_out);
        else rnnse_gru_fp16(L, ctx, (const rnnse_f16_t *)x, (const rnnse_f16_t *)h, (rnnse_f16_t *)h_out);
        break;
    case RNNSE_QUANT: rnnse_quant(L, x, (int8_t *)y); break;
    case RNNSE_DEQUANT: rnnse_dequant(L, x, y); break;
    default: break;
    }
}

int rnnse_tiles_alloc(rnnse_tiles_t *tiles, int ncores, uint32_t min_bytes, uint32_t max_bytes)
{
    size_t free_bytes = plat_l1_budget() - plat_l1_used();
    size_t per = (free_bytes / (2u * (size_t)ncores)) & ~(size_t)15u;
    int c, b, contiguous = 1;
    memset(tiles, 0, sizeof *tiles);
    if (per > max_bytes) per = ((size_t)max_bytes + 15u) & ~(size_t)15u;
    if (per < min_bytes || per == 0) return RNNSE_ERR_L1;
    for (c = 0; c < ncores; c++)
        for (b = 0; b < 2; b++) {
            tiles->buf[c][b] = (uint8_t *)plat_l1_alloc(per);
            if (!tiles->buf[c][b]) return RNNSE_ERR_L1;
            if (tiles->buf[c][b] != tiles->buf[0][0] + (2u * (size_t)c + (size_t)b) * per) contiguous = 0;
        }
    tiles->buf_bytes = (uint32_t)per;
    if (contiguous) {   /* one area (the usual bump arena): scratch between layers (rnnse_net_scratch) */
        tiles->block = tiles->buf[0][0];
        tiles->block_bytes = (uint32_t)(2u * (size_t)ncores * per);
    }
    return RNNSE_OK;
}
