/*
 * Host-port extras of the platform layer (tests, benchmarks and the host application only;
 * kernels never include this).
 */
#ifndef RNNSE_PLATFORM_HOST_H
#define RNNSE_PLATFORM_HOST_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Byte the DMA model writes into a destination between start and wait. */
#define PLAT_HOST_DMA_POISON 0xA5

/* Largest L1 budget plat_l1_set_budget() accepts on the host. */
size_t plat_host_l1_capacity(void);
/* 1 when [p, p+bytes) lies inside the part of the L1 arena handed out so far. */
int plat_host_in_l1(const void *p, size_t bytes);
/* Totals since start: bytes and transfers started by plat_dma_start(). */
unsigned long long plat_host_dma_bytes(void);
unsigned long long plat_host_dma_transfers(void);
/* File descriptors the UART functions use (default 0 and 1). */
void plat_host_uart_fds(int in_fd, int out_fd);

#ifdef __cplusplus
}
#endif
#endif /* RNNSE_PLATFORM_HOST_H */
