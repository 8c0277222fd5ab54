/* PMSIS port: the L1 arena of plat_l1_alloc, a bump allocator inside the one block of cluster L1
 * that pmsis_port_open takes with pi_cl_l1_malloc (all of L1 the runtime leaves after the
 * cluster stacks), capped by the build parameter PLAT_L1_BUDGET. Allocation is done by the FC
 * (network set-up) or by one core at a time. */
#include "../platform.h"

#ifndef PLAT_L1_BUDGET
#define PLAT_L1_BUDGET (64u * 1024u)
#endif

static uint8_t *arena;
static size_t arena_bytes, l1_used, l1_budget = (size_t)-1;

void pmsis_l1_set_arena(void *base, size_t bytes)
{
    arena = (uint8_t *)base;
    arena_bytes = base ? bytes : 0;
    l1_used = 0;
    l1_budget = (size_t)-1;
}

size_t plat_l1_budget(void)
{
    if (l1_budget == (size_t)-1) l1_budget = PLAT_L1_BUDGET < arena_bytes ? PLAT_L1_BUDGET : arena_bytes;
    return l1_budget;
}

void *plat_l1_alloc(size_t bytes)
{
    size_t size = (bytes + 15u) & ~(size_t)15u;
    if (size < bytes || l1_used + size > plat_l1_budget() || l1_used + size < l1_used) return NULL;
    l1_used += size;
    return arena + (l1_used - size);
}

void plat_l1_reset(void) { l1_used = 0; }
size_t plat_l1_used(void) { return l1_used; }

size_t plat_l1_set_budget(size_t bytes)
{
    size_t old = plat_l1_budget();
    l1_budget = bytes < arena_bytes ? bytes : arena_bytes;
    return old;
}
