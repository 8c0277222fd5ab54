/* L1 arena (a static buffer with GAP9's budget) and DMA (copy at wait time). */
#include <string.h>

#include "virt.h"

#ifndef PLAT_L1_BUDGET
#define PLAT_L1_BUDGET (128 * 1024 - 8 * 1024)
#endif

static uint8_t l1_arena[PLAT_L1_BUDGET] __attribute__((aligned(16)));
static size_t l1_used, l1_budget = PLAT_L1_BUDGET;

void *plat_l1_alloc(size_t bytes)
{
    size_t size = (bytes + 15u) & ~(size_t)15u;
    size_t start = __atomic_fetch_add(&l1_used, size, __ATOMIC_SEQ_CST);
    if (start + size > l1_budget) {
        __atomic_fetch_sub(&l1_used, size, __ATOMIC_SEQ_CST);
        return NULL;
    }
    return l1_arena + start;
}

void plat_l1_reset(void) { l1_used = 0; }
size_t plat_l1_budget(void) { return l1_budget; }
size_t plat_l1_used(void) { return l1_used; }

size_t plat_l1_set_budget(size_t bytes)
{
    size_t old = l1_budget;
    l1_budget = bytes > PLAT_L1_BUDGET ? PLAT_L1_BUDGET : bytes;
    return old;
}

void plat_dma_start(plat_dma_t *t, void *dst, const void *src, size_t bytes)
{
    t->dst = dst;
    t->src = src;
    t->bytes = bytes;
    t->pending = 1;
}

void plat_dma_wait(plat_dma_t *t)
{
    if (t->pending)
        memcpy(t->dst, t->src, t->bytes);
    t->pending = 0;
}
