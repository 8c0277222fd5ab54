/*
 * What the kernels share besides the layer descriptor (rnnse_model.h): the per-core weight tiles
 * in L1 and the activation tables. The network (rnnse_net.h) owns one and hands it to every layer.
 */
#ifndef RNNSE_CTX_H
#define RNNSE_CTX_H

#include <stdint.h>

#include "platform.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per-core double buffers for weight tiles (ping-pong). */
typedef struct rnnse_tiles {
    uint8_t *buf[PLAT_MAX_CORES][2];
    uint32_t buf_bytes;           /* bytes per buffer */
    uint32_t max_tile_rec;        /* records per tile cap (0 = as many as fit) */
    uint32_t in_place;            /* 1: kernels read the weights where they are, without DMA tiles */
    uint8_t *block;               /* all the buffers when they form one contiguous L1 area, else NULL */
    uint32_t block_bytes;
} rnnse_tiles_t;

/* The context every kernel call receives: the tiles and the tables, in L1. */
typedef struct rnnse_ctx {
    rnnse_tiles_t tiles;
    const int16_t *sigmoid_table;
    const int16_t *tanh_table;
} rnnse_ctx_t;

#ifdef __cplusplus
}
#endif
#endif /* RNNSE_CTX_H */
