/* PMSIS port: the cases of plat_dma_start / plat_dma_wait that plat_dma_inline.h does not handle
 * itself (copies longer than one command, copies by the FC, transfers turned off), and the
 * L1 -> L2 copies of the signal chain (pulp_dma_out_start). */
#include <string.h>

#include "pmsis.h"

#include "../platform.h"
#include "pulp.h"

volatile int pulp_dma_off;

void pulp_dma_set_enabled(int on) { pulp_dma_off = !on; }

/* Commands of at most PMSIS_DMA_MAX_BYTES each; returns the bits of their DMA counters. */
static int dma_issue(uint32_t ext, uint32_t loc, size_t bytes, pi_cl_dma_dir_e dir)
{
    int ids = 0;
    while (bytes > 0) {
        pi_cl_dma_cmd_t cmd;
        uint32_t n = bytes > PMSIS_DMA_MAX_BYTES ? PMSIS_DMA_MAX_BYTES : (uint32_t)bytes;
        pi_cl_dma_cmd(ext, loc, n, dir, &cmd);
        ids |= 1 << cmd.id;
        ext += n;
        loc += n;
        bytes -= n;
    }
    return ids;
}

void pmsis_dma_start_general(plat_dma_t *t, void *dst, const void *src, size_t bytes)
{
    t->pending = 0;
    if (pulp_dma_off) return;
    if (pi_is_fc()) {
        memcpy(dst, src, bytes);
        return;
    }
    t->pending = dma_issue((uint32_t)(uintptr_t)src, (uint32_t)(uintptr_t)dst, bytes, PI_CL_DMA_DIR_EXT2LOC);
}

void pmsis_dma_wait_general(plat_dma_t *t)
{
    int ids = t->pending;
    t->pending = 0;
    while (ids) {
        pi_cl_dma_cmd_t cmd;
        cmd.id = __builtin_ctz((unsigned)ids);
        ids &= ids - 1;
        pi_cl_dma_cmd_wait(&cmd);
    }
}

void pulp_dma_out_start(plat_dma_t *t, void *l2_dst, const void *l1_src, size_t bytes)
{
    t->dst = l2_dst;
    t->src = l1_src;
    t->bytes = bytes;
    t->pending = 0;
    if (pi_is_fc()) {
        memcpy(l2_dst, l1_src, bytes);
        return;
    }
    t->pending = dma_issue((uint32_t)(uintptr_t)l2_dst, (uint32_t)(uintptr_t)l1_src, bytes, PI_CL_DMA_DIR_LOC2EXT);
}
