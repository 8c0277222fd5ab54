/*
 * PMSIS port of platform.h (firmware/platform/pmsis): the firmware on the PMSIS API of PULP's and
 * GreenWaves' SDKs, built and verified with the public runtime for pulp-open (pulp-sdk's PULP OS)
 * on GVSoC; the same calls exist on GAP9's SDK (firmware/targets/gap9).
 *
 *   plat_team_fork      from the fabric controller (FC): one cluster task (pi_cluster_send_task_to_cl)
 *                       whose entry, on the cluster's master core, forks the team (pi_cl_team_fork);
 *                       from a cluster core: the function runs inline (no nested teams)
 *   plat_team_barrier   pi_cl_team_barrier
 *   plat_core_id        pi_core_id; plat_num_cores: pi_cl_team_nb_cores (1 on the FC)
 *   plat_dma_start/wait pi_cl_dma_cmd / pi_cl_dma_cmd_wait (plat_dma_inline.h); on the FC a copy
 *   plat_l1_alloc       a bump arena inside one pi_cl_l1_malloc block taken when the cluster opens
 *   plat_cycles         the core's cycle counter (mcycle), as the bare-metal pulp port
 *   plat_uart_*         the byte stream of the pulp port: the L2 mailbox the host reaches through
 *                       GVSoC's proxy (firmware/platform/pulp/io.c and mailbox.h, shared)
 *
 * The PULP-family services of firmware/platform/pulp/pulp.h that the files shared with the pulp
 * port call (the signal chain on the cluster, dsp_cluster.c; the batch program, batch_pulp.c; the
 * mailbox, io.c) are implemented here over PMSIS too: pulp_team_fork_unrecorded, pulp_phases,
 * pulp_core_busy, pulp_dma_out_start, pulp_dma_set_enabled, pulp_stack_peak, pulp_printf,
 * pulp_host_open/close/read/write (the PMSIS host file system, semihosting) and pulp_host_stop.
 */
#ifndef RNNSE_PMSIS_PORT_H
#define RNNSE_PMSIS_PORT_H

#include <stddef.h>
#include <stdint.h>

#ifndef PMSIS_CLUSTER_STACK_BYTES
#define PMSIS_CLUSTER_STACK_BYTES 1024      /* per cluster core (the master's too), in L1 */
#endif
#ifndef PMSIS_FC_STACK_BYTES
#define PMSIS_FC_STACK_BYTES 4096           /* the FC's stack while the firmware runs, in L2 */
#endif
#define PMSIS_MAX_PHASES 24

/* Run a target's main on a stack of PMSIS_FC_STACK_BYTES and return its status. pulp-sdk's
 * linker script gives the FC 2 kB of stack; the application's deepest path (a hop of audio with
 * its costs, then its reply) takes about 1.7 kB, so every main of the target runs on this one.
 * (4 kB, not the pulp port's 8: on pulp-open the largest model, LSTM-256 mixed, takes all of L2
 * but 150 kB, which the runtime and the application share.) */
int pmsis_run_main(int (*fn)(void));
/* Bytes of that stack used so far (it is filled with a pattern first). */
size_t pmsis_fc_stack_peak(void);

/* FC, once: open the cluster, take the cluster stacks and the L1 arena, mount the host file
 * system. Returns 0, or a negative value when the cluster could not be opened or L1 is too small
 * for the stacks. */
int pmsis_port_open(void);

/* One cluster core's private bookkeeping (in L1, taken from the runtime's L1 heap when the
 * cluster opens; written by that core only). */
typedef struct pmsis_core_state {
    uint32_t cyc_last, cyc_hi;          /* 64-bit extension of mcycle */
    uint32_t phase_start;               /* mcycle when its current phase started */
    uint32_t n_phases;                  /* phases finished in the current fork */
    uint64_t busy;                      /* cycles worked inside forks (barrier waits excluded) */
    uint32_t worked[PMSIS_MAX_PHASES];  /* cycles worked in each phase of the current fork */
    uint32_t end[PMSIS_MAX_PHASES];     /* mcycle when each phase ended (its barrier released) */
} pmsis_core_state_t;

#endif /* RNNSE_PMSIS_PORT_H */
