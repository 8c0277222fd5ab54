/*
 * pulp-open memory map, device registers and the one-instruction helpers (hart id, cycle counter)
 * of the PULP port: shared by pulp.h and by the port's inline DMA (plat_dma_inline.h), which
 * platform.h includes before pulp.h's declarations exist.
 */
#ifndef RNNSE_PULP_REGS_H
#define RNNSE_PULP_REGS_H

#ifndef __ASSEMBLER__
#include <stdint.h>
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
#endif /* __ASSEMBLER__ */

#endif /* RNNSE_PULP_REGS_H */
