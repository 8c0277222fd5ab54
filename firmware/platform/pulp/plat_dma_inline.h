/*
 * The PULP port's plat_dma_start / plat_dma_wait, inline (platform.h includes this file when the
 * build defines PLAT_DMA_INLINE). The kernels start and wait for one weight tile per call; on
 * 8 cores an LSTM-256 tile is a single 2.1 kB record, so a call per unit: out of line, the calls
 * and their distant code (instruction-cache refills) cost about 30 cycles per unit on GVSoC.
 *
 * A tile of at most the 17-bit length, started by a cluster core with transfers enabled, is one
 * mchan command here: read a transfer id from the core's command queue, push length and flags,
 * L1 address, L2 address. With transfers turned off (measurements) it returns at once; longer
 * copies and copies by the FC go to pulp_dma_start_general in dma.c.
 */
#ifndef RNNSE_PLAT_DMA_INLINE_H
#define RNNSE_PLAT_DMA_INLINE_H

#include "pulp_regs.h"

extern volatile int pulp_dma_off;     /* pulp_dma_set_enabled(0): every transfer is a no-op */
void pulp_dma_start_general(plat_dma_t *t, void *dst, const void *src, size_t bytes);

static inline void plat_dma_start(plat_dma_t *t, void *dst, const void *src, size_t bytes)
{
    uint32_t id;
    t->pending = 0;
    if (pulp_dma_off) return;
    if (bytes > PULP_DMA_MAX_BYTES || pulp_is_fc()) {
        pulp_dma_start_general(t, dst, src, bytes);
        return;
    }
    t->dst = dst;
    t->src = src;
    t->bytes = bytes;
    id = PULP_REG32(PULP_DMA_CMD);
    PULP_REG32(PULP_DMA_CMD) = (uint32_t)bytes | PULP_DMA_EXT2LOC | PULP_DMA_INC;
    PULP_REG32(PULP_DMA_CMD) = (uint32_t)(uintptr_t)dst;
    PULP_REG32(PULP_DMA_CMD) = (uint32_t)(uintptr_t)src;
    t->pending = (int)(1u << id);
}

/* Wait until the transfer's ids are done and free them (nothing to do when none is pending). */
static inline void plat_dma_wait(plat_dma_t *t)
{
    uint32_t ids = (uint32_t)t->pending;
    if (!ids) return;
    t->pending = 0;
    while (PULP_REG32(PULP_DMA_STATUS) & ids)
        ;
    PULP_REG32(PULP_DMA_STATUS) = ids;
}

#endif /* RNNSE_PLAT_DMA_INLINE_H */
