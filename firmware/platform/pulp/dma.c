/* plat_dma on the cluster DMA (mchan): each cluster core has its own command queue. A command is
 * a transfer id (read from the command register), then three words: length and flags, L1
 * address, L2 address. The status register holds one busy bit per id; writing 1 << id frees it.
 * A transfer keeps the bit mask of its ids in plat_dma_t.pending (nonzero while in flight), so
 * start and wait are a few instructions: inline, in plat_dma_inline.h (the kernels call them once
 * per weight tile); this file has the other cases. Transfers longer than the 17-bit length field
 * are split. Outside the cluster (on the FC) the copy is done
 * by the core at start time. pulp_dma_out_start copies the other way (L1 -> L2), finished by
 * plat_dma_wait too; pulp_dma_set_enabled does not affect it. For measurements, pulp_dma_set_enabled(0) turns every transfer into
 * a no-op (the kernels then compute on what the tiles hold: the cost of the computation alone). */
#include <string.h>

#include "../platform.h"
#include "pulp.h"

volatile int pulp_dma_off;

void pulp_dma_set_enabled(int on) { pulp_dma_off = !on; }

/* One mchan command: `loc` is the L1 address, `ext` the L2 one, dir PULP_DMA_EXT2LOC or 0. */
static uint32_t dma_push(void *loc, const void *ext, uint32_t bytes, uint32_t dir)
{
    uint32_t id = PULP_REG32(PULP_DMA_CMD);
    PULP_REG32(PULP_DMA_CMD) = bytes | dir | PULP_DMA_INC;
    PULP_REG32(PULP_DMA_CMD) = (uint32_t)(uintptr_t)loc;
    PULP_REG32(PULP_DMA_CMD) = (uint32_t)(uintptr_t)ext;
    return 1u << id;
}

/* Split into commands of at most the 17-bit length; returns their ids. */
static uint32_t dma_issue(uint8_t *loc, const uint8_t *ext, size_t bytes, uint32_t dir)
{
    uint32_t ids = 0;
    while (bytes > 0) {
        uint32_t n = bytes > PULP_DMA_MAX_BYTES ? (PULP_DMA_MAX_BYTES & ~7u) : (uint32_t)bytes;
        ids |= dma_push(loc, ext, n, dir);
        loc += n;
        ext += n;
        bytes -= n;
    }
    return ids;
}

/* plat_dma_start's cases that plat_dma_inline.h does not handle itself. */
void pulp_dma_start_general(plat_dma_t *t, void *dst, const void *src, size_t bytes)
{
    t->dst = dst;
    t->src = src;
    t->bytes = bytes;
    t->pending = 0;
    if (pulp_dma_off) return;
    if (pulp_is_fc()) {
        memcpy(dst, src, bytes);
        return;
    }
    t->pending = (int)dma_issue((uint8_t *)dst, (const uint8_t *)src, bytes, PULP_DMA_EXT2LOC);
}

void pulp_dma_out_start(plat_dma_t *t, void *l2_dst, const void *l1_src, size_t bytes)
{
    t->dst = l2_dst;
    t->src = l1_src;
    t->bytes = bytes;
    t->pending = 0;
    if (pulp_is_fc()) {
        memcpy(l2_dst, l1_src, bytes);
        return;
    }
    t->pending = (int)dma_issue((uint8_t *)(uintptr_t)l1_src, (const uint8_t *)l2_dst, bytes, 0u);
}
