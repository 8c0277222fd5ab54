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

/* ---- memory map ------------------------------------------------------------------------- */
#define PULP_L2_BASE 0x1C000000u
#define PULP_L2_SIZE 0x00190000u            /* two 32 kB private banks + 1.5 MB shared */
#define PULP_L1_BASE 0x10000000u
#define PULP_L1_SIZE 0x00010000u            /* cluster TCDM of pulp-open: 64 kB */

/* cluster peripherals */
#define PULP_CLUSTER_CTRL 0x10200000u
#define PULP_CLUSTER_FETCH_EN (PULP_CLUSTER_CTRL + 0x08u)
#define PULP_CLUSTER_BOOTADDR(core) (PULP_CLUSTER_CTRL + 0x40u + 4u * (core))
#define PULP_CLUSTER_ICACHE_ENABLE 0x10201400u
#define PULP_EU_BASE 0x10200800u             /* event unit, global view */
#define PULP_EU_SW_EVENT_TRIGGER(e) (PULP_EU_BASE + 0x600u + 4u * (e))   /* write: core mask */
#define PULP_EU_DEMUX 0x10204000u            /* event unit, per-core view */
#define PULP_EU_MASK (PULP_EU_DEMUX + 0x00u)
#define PULP_EU_MASK_OR (PULP_EU_DEMUX + 0x08u)
#define PULP_EU_MASK_AND (PULP_EU_DEMUX + 0x04u)
#define PULP_EU_BUFFER_CLEAR (PULP_EU_DEMUX + 0x28u)
#define PULP_EU_EVENT_WAIT_CLEAR (PULP_EU_DEMUX + 0x3Cu)
#define PULP_EU_BARRIER(i) (PULP_EU_DEMUX + 0x200u + 0x20u * (i))
#define PULP_EU_BARRIER_TRIGGER_MASK 0x00u
#define PULP_EU_BARRIER_TARGET_MASK 0x0Cu
#define PULP_EU_BARRIER_TRIGGER_WAIT_CLEAR 0x1Cu
#define PULP_EVT_SW0 0                       /* software event 0: fork */
#define PULP_EVT_BARRIER 16                  /* every hardware barrier raises event 16 */
#define PULP_DMA_DEMUX 0x10204400u           /* mchan, per-core command queue */
#define PULP_DMA_CMD (PULP_DMA_DEMUX + 0x0u)
#define PULP_DMA_STATUS (PULP_DMA_DEMUX + 0x4u)
#define PULP_DMA_EXT2LOC (1u << 17)
#define PULP_DMA_INC (1u << 18)
#define PULP_DMA_MAX_BYTES 0x1FFFFu          /* 17-bit length field */

/* SoC */
#define PULP_FC_ICACHE_ENABLE 0x1A108800u    /* write 1: enable the FC's instruction cache */
#define PULP_SOC_CORESTATUS 0x1A1040A0u      /* write 0x80000000 | status: end of simulation */
#define PULP_STDOUT 0x1A10F000u              /* one 32-bit store per character */

/* FC: mhartid = 31 << 5; cluster cores: (cluster 0) << 5 | core */
#define PULP_FC_CLUSTER_ID 31

/* hardware barrier n (1..8) is set up at boot for cores 0..n-1: the team barrier of a fork of n
 * cores; barrier 8 is also the join of every fork */

#define PULP_CLUSTER_CORES 8

/* ---- stacks and the L1 arena --------------------------------------------------------------- */
#ifndef PULP_CLUSTER_STACK_BYTES
#define PULP_CLUSTER_STACK_BYTES 1024        /* per cluster core, in L1 */
#endif
#ifndef PULP_FC_STACK_BYTES
#define PULP_FC_STACK_BYTES 8192             /* in L2 */
#endif

#ifndef __ASSEMBLER__
#define PULP_REG32(a) (*(volatile uint32_t *)(uintptr_t)(a))

static inline uint32_t pulp_hartid(void)
{
    uint32_t h;
    __asm__ volatile("csrr %0, mhartid" : "=r"(h));
    return h;
}

static inline int pulp_is_fc(void) { return (pulp_hartid() >> 5) == PULP_FC_CLUSTER_ID; }
static inline int pulp_cluster_core(void) { return (int)(pulp_hartid() & 0x1Fu); }

static inline uint32_t pulp_mcycle(void)
{
    uint32_t c;
    __asm__ volatile("csrr %0, mcycle" : "=r"(c));
    return c;
}

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
