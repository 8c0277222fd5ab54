/*
 * rnnse platform layer: the only target-specific API the kernels and the application use.
 *
 * Every call maps one-to-one onto PULP's PMSIS cluster API, so kernels never change between targets:
 *   plat_core_id        -> pi_core_id()
 *   plat_num_cores      -> pi_cl_team_nb_cores()
 *   plat_team_fork      -> pi_cl_team_fork(n, fn, arg)
 *   plat_team_barrier   -> pi_cl_team_barrier()
 *   plat_dma_start/wait -> pi_cl_dma_cmd(ext, loc, size, PI_CL_DMA_DIR_EXT2LOC, &cmd) / pi_cl_dma_wait(&cmd)
 *   plat_l1_alloc       -> pi_cl_l1_malloc (here: a bump arena with a fixed, configurable budget)
 *   plat_cycles         -> pi_perf_read(PI_PERF_CYCLES)
 *
 * Ports: platform/host (x86-64, pthreads, a misuse-catching DMA model), platform/virt (QEMU RISC-V virt),
 * platform/pulp (the PULP cluster of GVSoC's pulp-open: fabric controller + 8 cores, cluster DMA),
 * platform/pmsis (these calls on the PMSIS API itself: pulp-sdk's runtime on pulp-open, GAP9's SDK).
 */
#ifndef RNNSE_PLATFORM_H
#define RNNSE_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef PLAT_MAX_CORES
#define PLAT_MAX_CORES 8
#endif

/* ---- team of cores ---------------------------------------------------------------------- */
/* Id of the calling core inside the current team (0 .. plat_num_cores()-1). */
int plat_core_id(void);
/* Number of cores in the current team (1 outside a fork). */
int plat_num_cores(void);
/* Run fn(arg) on n cores (1 <= n <= PLAT_MAX_CORES) and return when all have finished. */
void plat_team_fork(int n, void (*fn)(void *arg), void *arg);
/* Wait until every core of the current team has reached the barrier. */
void plat_team_barrier(void);

/* ---- asynchronous copy from L2 (main memory) into L1 (cluster scratchpad) ---------------- */
typedef struct plat_dma {
    void *dst;          /* L1 destination */
    const void *src;    /* L2 source */
    size_t bytes;
    int pending;        /* nonzero between start and wait (a port may keep its transfer ids here) */
} plat_dma_t;
/* plat_dma_start: start copying bytes from src (L2) to dst (L1). The destination must not be
 * read before plat_dma_wait() returns: the host port poisons it to catch that.
 * plat_dma_wait: block until the transfer has completed.
 * A port whose start and wait are a few instructions defines PLAT_DMA_INLINE and gives them as
 * inline functions in its plat_dma_inline.h (the kernels call them once per weight tile). */
#ifdef PLAT_DMA_INLINE
#include "plat_dma_inline.h"
#else
void plat_dma_start(plat_dma_t *t, void *dst, const void *src, size_t bytes);
void plat_dma_wait(plat_dma_t *t);
#endif

/* ---- L1 scratch arena --------------------------------------------------------------------- */
/* Allocate from the L1 arena (16-byte aligned); NULL when the budget would be exceeded. */
void *plat_l1_alloc(size_t bytes);
/* Free everything allocated from the arena. */
void plat_l1_reset(void);
/* Bytes the arena may hand out in total (build parameter PLAT_L1_BUDGET, default GAP9's
 * 128 kB minus stacks), and bytes currently handed out. */
size_t plat_l1_budget(void);
size_t plat_l1_used(void);
/* Change the budget (tests use it to provoke "does not fit" errors); returns the old one. */
size_t plat_l1_set_budget(size_t bytes);

/* ---- time --------------------------------------------------------------------------------- */
/* Free-running counter: cycles on PULP/GAP, retired instructions on QEMU with -icount,
 * nanoseconds on the host port. */
uint64_t plat_cycles(void);

/* ---- byte stream to the host (UART) -------------------------------------------------------- */
/* Blocking write of n bytes. */
void plat_uart_write(const void *buf, size_t n);
/* Read up to n bytes, waiting at most timeout_ms (negative: forever); returns bytes read. */
size_t plat_uart_read(void *buf, size_t n, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif /* RNNSE_PLATFORM_H */
