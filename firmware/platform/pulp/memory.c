/* L1 arena: what the linker left of the 64 kB TCDM after the port's state and the cluster
 * stacks, capped by the build parameter PLAT_L1_BUDGET. Allocation is done by the FC (network
 * set-up) or by one core at a time; the cluster has no atomics and needs none here. */
#include "../platform.h"
#include "pulp.h"

extern uint8_t __l1_arena_start[], __l1_arena_end[];

#ifndef PLAT_L1_BUDGET
#define PLAT_L1_BUDGET (64u * 1024u)
#endif

static size_t l1_used, l1_budget = (size_t)-1;

static size_t arena_bytes(void) { return (size_t)(__l1_arena_end - __l1_arena_start); }

size_t plat_l1_budget(void)
{
    if (l1_budget == (size_t)-1) l1_budget = PLAT_L1_BUDGET < arena_bytes() ? PLAT_L1_BUDGET : arena_bytes();
    return l1_budget;
}

void *plat_l1_alloc(size_t bytes)
{
    size_t size = (bytes + 15u) & ~(size_t)15u;
    if (size < bytes || l1_used + size > plat_l1_budget() || l1_used + size < l1_used) return NULL;
    l1_used += size;
    return __l1_arena_start + (l1_used - size);
}

void plat_l1_reset(void) { l1_used = 0; }
size_t plat_l1_used(void) { return l1_used; }

size_t plat_l1_set_budget(size_t bytes)
{
    size_t old = plat_l1_budget();
    l1_budget = bytes < arena_bytes() ? bytes : arena_bytes();
    return old;
}
