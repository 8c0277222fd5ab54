/* The word-sized atomic read-modify-write GCC emits calls to on a core without the A extension
 * (__atomic_fetch_add_4 and friends), made atomic with a spin lock on L1's test-and-set alias: a
 * load through the alias returns the word and sets it to all ones in one access. The kernels and
 * the platform do not use these (barriers go through the event unit); test code may. */
#include <stdint.h>

#include "pulp.h"

#define TAS_OFFSET 0x00100000u            /* L1 test-and-set alias: 0x10100000 */

static volatile uint32_t lock_word __attribute__((section(".l1.atomic")));

static void lock(void)
{
    volatile uint32_t *tas = (volatile uint32_t *)((uintptr_t)&lock_word + TAS_OFFSET);
    while (*tas != 0u)
        ;
}

static void unlock(void) { lock_word = 0u; }

#define RMW(name, op, ret_new)                                                                     \
    unsigned name(volatile void *ptr, unsigned val, int order)                                     \
    {                                                                                              \
        volatile unsigned *p = (volatile unsigned *)ptr;                                           \
        unsigned old, new_value;                                                                   \
        (void)order;                                                                               \
        lock();                                                                                    \
        old = *p;                                                                                  \
        new_value = op;                                                                            \
        *p = new_value;                                                                            \
        unlock();                                                                                  \
        return ret_new ? new_value : old;                                                          \
    }

RMW(__atomic_fetch_add_4, old + val, 0)
RMW(__atomic_fetch_sub_4, old - val, 0)
RMW(__atomic_fetch_and_4, old & val, 0)
RMW(__atomic_fetch_or_4, old | val, 0)
RMW(__atomic_exchange_4, val, 0)
RMW(__atomic_add_fetch_4, old + val, 1)
RMW(__atomic_sub_fetch_4, old - val, 1)
