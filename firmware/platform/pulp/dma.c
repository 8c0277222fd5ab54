/* plat_dma on the cluster DMA (mchan): each cluster core has its own command queue. A command is
 * a transfer id (read from the command register), then three words: length and flags, L1
 * address, L2 address. The status register holds one busy bit per id; writing 1 << id frees it.
 * Each core remembers which id belongs to which plat_dma_t (at most a few in flight: the kernels
 * keep two, ping and pong). Transfers longer than the 17-bit length field are split. Outside the
 * cluster (on the FC) the copy is done by the core at start time. For measurements,
 * pulp_dma_set_enabled(0) turns every transfer into a no-op (the kernels then compute on what
 * the tiles hold: the cost of the computation alone). */
#include <string.h>

#include "../platform.h"
#include "pulp.h"

#define SLOTS 4

typedef struct {
    const plat_dma_t *t[SLOTS];
    uint32_t ids[SLOTS];          /* bit mask of the mchan ids of each transfer */
} dma_slots_t;

static dma_slots_t slots[PULP_CLUSTER_CORES] __attribute__((section(".l1.dma")));
static volatile int dma_disabled;

void pulp_dma_set_enabled(int on) { dma_disabled = !on; }

static uint32_t dma_push(void *dst, const void *src, uint32_t bytes)
{
    uint32_t id = PULP_REG32(PULP_DMA_CMD);
    PULP_REG32(PULP_DMA_CMD) = bytes | PULP_DMA_EXT2LOC | PULP_DMA_INC;
    PULP_REG32(PULP_DMA_CMD) = (uint32_t)(uintptr_t)dst;
    PULP_REG32(PULP_DMA_CMD) = (uint32_t)(uintptr_t)src;
    return 1u << id;
}

static void dma_wait_ids(uint32_t ids)
{
    while (PULP_REG32(PULP_DMA_STATUS) & ids)
        ;
    PULP_REG32(PULP_DMA_STATUS) = ids;
}

void plat_dma_start(plat_dma_t *t, void *dst, const void *src, size_t bytes)
{
    dma_slots_t *s;
    uint32_t ids = 0;
    int k;
    t->dst = dst;
    t->src = src;
    t->bytes = bytes;
    t->pending = 1;
    if (dma_disabled) return;
    if (pulp_is_fc()) {
        memcpy(dst, src, bytes);
        return;
    }
    s = &slots[pulp_cluster_core()];
    for (k = 0; k < SLOTS && s->t[k]; k++)
        ;
    if (k == SLOTS) {                     /* more transfers in flight than slots: finish one */
        dma_wait_ids(s->ids[0]);
        s->t[0] = NULL;
        k = 0;
    }
    while (bytes > 0) {
        uint32_t n = bytes > PULP_DMA_MAX_BYTES ? (PULP_DMA_MAX_BYTES & ~7u) : (uint32_t)bytes;
        ids |= dma_push(dst, src, n);
        dst = (uint8_t *)dst + n;
        src = (const uint8_t *)src + n;
        bytes -= n;
    }
    s->t[k] = t;
    s->ids[k] = ids;
}

void plat_dma_wait(plat_dma_t *t)
{
    dma_slots_t *s;
    int k;
    if (!t->pending) return;
    t->pending = 0;
    if (pulp_is_fc()) return;
    s = &slots[pulp_cluster_core()];
    for (k = 0; k < SLOTS; k++)
        if (s->t[k] == t) {
            dma_wait_ids(s->ids[k]);
            s->t[k] = NULL;
            return;
        }
}
