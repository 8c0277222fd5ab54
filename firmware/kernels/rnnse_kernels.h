/*
 * Layer kernels. Each runs on every core of a team (inside plat_team_fork) and computes the
 * calling core's slice of output units; the caller places a barrier between layers. Weights
 * stream from L2 (layer->rec) into the core's two L1 tile buffers (ping-pong); vectors and states
 * passed in are in L1. Arithmetic: docs/numerics.md.
 *
 * Parameters follow one pattern: the layer descriptor (rnnse_model.h) as the parameter struct,
 * the shared context (tiles, tables), input and output vectors (padded to a multiple of 4
 * elements; padding elements of inputs must be zero).
 */
#ifndef RNNSE_KERNELS_H
#define RNNSE_KERNELS_H

#include <stdint.h>

#include "platform.h"
#include "rnnse_fp16.h"
#include "rnnse_ctx.h"
#include "rnnse_model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- slices and weight streaming ------------------------------------------------------------ */

/* Units [*first, *first + return value) of n owned by core `core` of `ncores`. */
int rnnse_slice(int n, int core, int ncores, int *first);

/* Double-buffered stream of a core's records: the next tile's DMA runs while the current one
 * is used. With tiles->in_place the records are read where they are (one tile, no DMA). */
typedef struct rnnse_stream_slot {
    uint8_t *buf;             /* L1 tile buffer */
    int cnt;                  /* records of the tile in it */
    plat_dma_t dma;
} rnnse_stream_slot_t;

typedef struct rnnse_stream {
    const uint8_t *src;       /* L2 address of the core's first record */
    const uint8_t *next;      /* L2 address of the next record to start */
    uint32_t rec_bytes;
    int n_rec;                /* records in the core's slice */
    int tile_rec;             /* records per tile */
    int to_start;             /* records whose DMA is still to be started */
    int left;                 /* records still to be handed out */
    int in_place;             /* records read in place (no DMA) */
    rnnse_stream_slot_t slot[2];
    rnnse_stream_slot_t *cur; /* the slot of the next tile to hand out */
} rnnse_stream_t;

/* Records per tile for this context and record size (0: a record does not fit a buffer). */
int rnnse_tile_records(const rnnse_tiles_t *tiles, uint32_t rec_bytes);
/* Open the stream of records [first, first+count) of `rec` and start the first DMA. */
void rnnse_stream_open(rnnse_stream_t *s, const rnnse_tiles_t *tiles, const void *rec, uint32_t rec_bytes,
                       int first, int count);

/* Start the DMA of the next tile (if any records are left to start) into `slot`. */
static inline void rnnse_stream_start(rnnse_stream_t *s, rnnse_stream_slot_t *slot)
{
    int n = s->to_start;
    uint32_t bytes;
    if (n <= 0) return;
    if (n > s->tile_rec) n = s->tile_rec;
    bytes = (uint32_t)n * s->rec_bytes;
    slot->cnt = n;
    plat_dma_start(&slot->dma, slot->buf, s->next, bytes);
    s->next += bytes;
    s->to_start -= n;
}

/* Start the next tile's DMA, wait for the current tile and return it (L1), with its record
 * count in *count; NULL when the slice is finished. Inline, as is the port's DMA where it can
 * be (PLAT_DMA_INLINE): on 8 cores an LSTM-256 tile is one record, so this runs once per unit. */
static inline const uint8_t *rnnse_stream_next(rnnse_stream_t *s, int *count)
{
    rnnse_stream_slot_t *slot = s->cur, *other;
    int n = s->left;
    if (n <= 0) return NULL;
    if (s->in_place) {               /* the whole slice as one tile, read where it is */
        s->left = 0;
        *count = n;
        return s->src;
    }
    other = slot == &s->slot[0] ? &s->slot[1] : &s->slot[0];
    n = slot->cnt;
    rnnse_stream_start(s, other);    /* next tile into the other buffer, overlapping this one */
    plat_dma_wait(&slot->dma);
    s->left -= n;
    s->cur = other;
    *count = n;
    return slot->buf;
}

/* FP16 layer output rounding: nearest even, overflow saturates to +-65504. */
static inline rnnse_f16_t rnnse_f16_out(float v)
{
    if (v > 65504.0f) v = 65504.0f;
    if (v < -65504.0f) v = -65504.0f;
    return rnnse_f32_to_f16(v);
}

/* ---- kernels (one per file) ---------------------------------------------------------------- */

void rnnse_fc_fp16(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const rnnse_f16_t *x, rnnse_f16_t *y);
/* y: int8 (relu/none) or int16 Q15 (sigmoid) */
void rnnse_fc_int8(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const int8_t *x, void *y);
/* h: state before the step, h_out: state after (distinct buffers), c: updated in place */
void rnnse_lstm_fp16(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const rnnse_f16_t *x,
                     const rnnse_f16_t *h, rnnse_f16_t *h_out, rnnse_f16_t *c);
void rnnse_lstm_int8(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const int8_t *x, const int8_t *h,
                     int8_t *h_out, void *c /* int8 or int16 per c_bits */);
void rnnse_gru_fp16(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const rnnse_f16_t *x,
                    const rnnse_f16_t *h, rnnse_f16_t *h_out);
void rnnse_gru_int8(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const int8_t *x, const int8_t *h,
                    int8_t *h_out);
/* FP32/FP16 -> int8 (in_type says which) */
void rnnse_quant(const rnnse_layer_t *L, const void *x, int8_t *y);
/* int8/int16 -> FP16/FP32 (in_type, out_type say which) */
void rnnse_dequant(const rnnse_layer_t *L, const void *x, void *y);

/* Bytes of one element of a vector type (0 for an unknown type). */
int rnnse_type_bytes(uint32_t type);

/* Run layer L on the calling core's slice: x input; recurrent layers: h state before, h_out after
 * (the layer's output), c cell state in place; other layers: output y. */
void rnnse_layer_run(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const void *x, const void *h, void *h_out,
                     void *c, void *y);

/* Allocate two L1 tile buffers per core from what is left of the L1 budget, each at most
 * max_bytes; RNNSE_ERR_L1 when a buffer cannot hold min_bytes (one record). */
int rnnse_tiles_alloc(rnnse_tiles_t *tiles, int ncores, uint32_t min_bytes, uint32_t max_bytes);

#ifdef __cplusplus
}
#endif
#endif /* RNNSE_KERNELS_H */
