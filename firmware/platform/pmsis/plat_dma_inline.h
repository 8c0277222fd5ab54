/*
 * The PMSIS port's plat_dma_start / plat_dma_wait, inline (platform.h includes this file when the
 * build defines PLAT_DMA_INLINE): the kernels start and wait for one weight tile per call, once
 * per unit on 8 cores for an LSTM-256 layer, so a call into distant code would cost each unit.
 *
 * A tile is one PMSIS cluster DMA command (pi_cl_dma_cmd, L2 -> L1; pi_cl_dma_cmd_wait) issued by
 * a cluster core; plat_dma_t.pending keeps the bit of its DMA counter. Copies longer than one
 * command takes (its 16-bit size), copies started by the FC (a plain copy there) and transfers
 * turned off for measurements (pulp_dma_set_enabled(0)) go to pmsis_dma_start_general (dma.c).
 */
#ifndef RNNSE_PLAT_DMA_INLINE_H
#define RNNSE_PLAT_DMA_INLINE_H

#include "pmsis.h"

/* bytes per command: the API's size is 16 bits; 32 kB keeps within it and lets the port's check
 * (targets/pmsis/tests/platform_test.c) exercise the split within pulp-open's 64 kB of L1 */
#define PMSIS_DMA_MAX_BYTES 0x8000u

extern volatile int pulp_dma_off;             /* pulp_dma_set_enabled(0): every transfer is a no-op */
void pmsis_dma_start_general(plat_dma_t *t, void *dst, const void *src, size_t bytes);
void pmsis_dma_wait_general(plat_dma_t *t);

static inline void plat_dma_start(plat_dma_t *t, void *dst, const void *src, size_t bytes)
{
    pi_cl_dma_cmd_t cmd;
    t->dst = dst;
    t->src = src;
    t->bytes = bytes;
    if (pulp_dma_off || bytes > PMSIS_DMA_MAX_BYTES || pi_is_fc()) {
        pmsis_dma_start_general(t, dst, src, bytes);
        return;
    }
    pi_cl_dma_cmd((uint32_t)(uintptr_t)src, (uint32_t)(uintptr_t)dst, (uint32_t)bytes, PI_CL_DMA_DIR_EXT2LOC, &cmd);
    t->pending = 1 << cmd.id;
}

static inline void plat_dma_wait(plat_dma_t *t)
{
    int ids = t->pending;
    if (!ids) return;
    if (ids & (ids - 1)) {                    /* several commands (a long copy) */
        pmsis_dma_wait_general(t);
        return;
    }
    {
        pi_cl_dma_cmd_t cmd;
        cmd.id = __builtin_ctz((unsigned)ids);
        t->pending = 0;
        pi_cl_dma_cmd_wait(&cmd);
    }
}

#endif /* RNNSE_PLAT_DMA_INLINE_H */
