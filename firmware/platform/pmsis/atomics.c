/* The word-sized atomic read-modify-write GCC calls on a core without the A extension
 * (__atomic_fetch_add_4 and friends), made atomic with the PMSIS team's critical section (the
 * event unit's mutex) on a cluster core; the FC runs alone. The kernels and the platform do not
 * use these (barriers go through PMSIS); test code may (firmware/harness). */
#include "pmsis.h"

#define RMW(name, op, ret_new)                                                                     \
    unsigned name(volatile void *ptr, unsigned val, int order)                                     \
    {                                                                                              \
        volatile unsigned *p = (volatile unsigned *)ptr;                                           \
        unsigned old, new_value;                                                                   \
        int cluster = !pi_is_fc();                                                                 \
        (void)order;                                                                               \
        if (cluster) pi_cl_team_critical_enter();                                                  \
        old = *p;                                                                                  \
        new_value = op;                                                                            \
        *p = new_value;                                                                            \
        if (cluster) pi_cl_team_critical_exit();                                                   \
        return ret_new ? new_value : old;                                                          \
    }

RMW(__atomic_fetch_add_4, old + val, 0)
RMW(__atomic_fetch_sub_4, old - val, 0)
RMW(__atomic_fetch_and_4, old & val, 0)
RMW(__atomic_fetch_or_4, old | val, 0)
RMW(__atomic_exchange_4, val, 0)
RMW(__atomic_add_fetch_4, old + val, 1)
RMW(__atomic_sub_fetch_4, old - val, 1)
