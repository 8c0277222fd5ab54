/*
 * PULP `pulp-open` (GVSoC) port of platform.h: memory map, devices and the pieces of the port
 * that other files of the port and the pulp application entries share.
 *
 * Roles: the fabric controller (FC) boots, runs main() (application, protocol, DSP) and hands the
 * network steps to the cluster; the 8 cluster cores are the team of plat_team_fork. Cluster cores
 * sleep in the event unit between forks (clock-gated, no polling), synchronise through its
 * hardware barriers (the cluster has no atomics) and stream weights with the cluster DMA (mchan),
 * one command queue per core.
 *
 * The PMSIS port (platform/pmsis) implements, over PMSIS, the services below that the files it
 * shares with this port call (dsp_cluster.c, io.c, targets/pulp/batch_pulp.c): fork_unrecorded,
 * phases, core_busy, dma_out_start, dma_set_enabled, stack_peak, printf and the host files.
 *
 * Floating point: the cores keep FP values in the integer registers (Zfinx). The C code is built
 * for rv32imc/ilp32 (soft-float ABI); zfinx.S supplies the soft-float entry points GCC calls
 * (__addsf3, __mulsf3, ...) and a few libm functions as single Zfinx instructions, so plain C
 * float code runs on the FPU at a few cycles per operation. Hot paths use inline .insn code.
 */
#ifndef RNNSE_PULP_H
#define RNNSE_PULP_H

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

#include "platform.h"
#endif
#include "pulp_regs.h"

/* ---- stacks and the L1 arena --------------------------------------------------------------- */
#ifndef PULP_CLUSTER_STACK_BYTES
#define PULP_CLUSTER_STACK_BYTES 1024        /* per cluster core, in L1 */
#endif
#ifndef PULP_FC_STACK_BYTES
#define PULP_FC_STACK_BYTES 8192             /* in L2 */
#endif

#ifndef __ASSEMBLER__
/* End the simulation with a status (0: success); GVSoC exits with it. */
void pulp_exit(int status) __attribute__((noreturn));

/* Debug output: one line per call on GVSoC's standard output (the stdout device). */
void pulp_puts(const char *s);
/* printf-like, %d %u %x %s %c and %ld/%lu/%lx/%lld/%llu (no floats), at most 200 characters */
void pulp_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Semihosting (GVSoC handles it in the simulator; it costs no simulated cycles). */
long pulp_semihost(long op, const void *arg);
int pulp_host_open(const char *path, int mode);        /* mode: 0 "rb", 4 "wb"; < 0 on error */
int pulp_host_close(int fd);
long pulp_host_read(int fd, void *buf, size_t n);      /* bytes read, < 0 on error */
long pulp_host_write(int fd, const void *buf, size_t n);   /* bytes written, < 0 on error */
/* Pause the simulation (GVSoC's syscall_stop): the host, connected through the proxy socket,
 * reads and writes memory and resumes it. */
void pulp_host_stop(void);

/* Measurements only: 0 turns every plat_dma transfer into a no-op, 1 (default) restores them. */
void pulp_dma_set_enabled(int on);
/* Copy L1 -> L2 with the cluster DMA (a cluster core; on the FC a plain copy), finished by
 * plat_dma_wait. */
void pulp_dma_out_start(plat_dma_t *t, void *l2_dst, const void *l1_src, size_t bytes);

/* The cluster cores' entry (platform start-up) and their dispatcher loop. */
void pulp_cluster_start(void);
void pulp_cluster_loop(int core) __attribute__((noreturn));

/* Cycles the FC spent waiting for the last fork to finish (for the application's statistics)
 * and per-core busy cycles (cumulative; outside the event-unit sleeps). */
uint64_t pulp_core_busy(int core);
/* plat_team_fork for work outside the network (the signal chain): its phases are not recorded,
 * so pulp_phases keeps describing the last plat_team_fork. */
void pulp_team_fork_unrecorded(int n, void (*fn)(void *arg), void *arg);
/* L1 area the signal chain (dsp_cluster.c) may use between network steps, and its team size;
 * without one (NULL, or less than it needs) dsp_analyze / dsp_synthesize run on the FC. */
void pulp_dsp_set_scratch(void *l1, size_t bytes, int ncores);
#define PULP_DSP_SCRATCH_BYTES 12464    /* what it needs */
/* Phases (code between team barriers) of the last fork: total cycles and busiest core. */
int pulp_phases(uint32_t *total, uint32_t *busiest, int max);

#endif /* __ASSEMBLER__ */
#endif /* RNNSE_PULP_H */
