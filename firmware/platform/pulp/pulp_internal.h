/* Internals shared by the files of the pulp-open port. */
#ifndef RNNSE_PULP_INTERNAL_H
#define RNNSE_PULP_INTERNAL_H

#include <stdint.h>

#define PULP_MAX_PHASES 24

/* FC: start the cluster cores and wait until they are ready for forks. */
void pulp_cluster_boot(void);
/* Bytes of its L1 stack cluster core `core` has used so far (stacks are filled at boot). */
size_t pulp_stack_peak(int core);

/* One cluster core's private bookkeeping (in L1; written by that core only). */
typedef struct pulp_core_state {
    uint32_t cyc_last, cyc_hi;    /* 64-bit extension of mcycle */
    uint32_t awake_since;         /* mcycle when the core last left an event-unit sleep */
    uint32_t phase_start;         /* mcycle when its current phase started */
    uint32_t n_phases;            /* phases finished in the current fork */
    uint64_t busy;                /* cycles outside event-unit sleeps, cumulative */
    uint32_t worked[PULP_MAX_PHASES];   /* cycles worked in each phase of the current fork */
    uint32_t end[PULP_MAX_PHASES];      /* mcycle at the end of each phase */
} pulp_core_state_t;

extern pulp_core_state_t pulp_cores[8];

#endif /* RNNSE_PULP_INTERNAL_H */
