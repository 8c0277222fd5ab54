/*
 * QEMU RISC-V `virt` machine port of platform.h: hart 0 is the controller (I/O, DSP), harts
 * 1..N are the team workers (team core id = hart id - 1), N = harts - 1 <= PLAT_MAX_CORES as
 * the device tree says (QEMU -smp N+1). Idle harts sleep in WFI and are woken by CLINT software
 * interrupts, so a waiting hart costs no instructions under -icount and no host CPU otherwise.
 *
 * Boot arguments (QEMU -append, read from the device tree's /chosen/bootargs):
 *   icount   QEMU runs with -icount shift=0: plat_cycles() reads the retired-instruction counter
 *            (exact and deterministic), and the team's cores take turns between barriers so
 *            that every core's own instructions can be told apart (QEMU counts instructions for
 *            all harts together, and runs one hart at a time in this mode anyway). The team
 *            computes exactly what it computes in parallel: the work split is static.
 *   without it, plat_cycles() is the CLINT time in nanoseconds (host time) and the team's
 *            harts run in parallel (one host thread each).
 * The file is also included by start.S (constants only).
 */
#ifndef RNNSE_VIRT_H
#define RNNSE_VIRT_H

#ifdef __ASSEMBLER__
#ifndef PLAT_MAX_CORES
#define PLAT_MAX_CORES 8    /* platform.h's default */
#endif
#else
#include <stdint.h>

#include "../platform.h"
#endif

#define VIRT_HARTS (1 + PLAT_MAX_CORES)
#define VIRT_UART0 0x10000000
#define VIRT_TEST_DEVICE 0x00100000
#define VIRT_CLINT 0x02000000
#define VIRT_CLINT_MTIMECMP (VIRT_CLINT + 0x4000)   /* + 8 * hart */
#define VIRT_CLINT_MTIME (VIRT_CLINT + 0xBFF8)
#define VIRT_MTIME_HZ 10000000u
#define VIRT_PLIC 0x0C000000
#define VIRT_UART0_IRQ 10
#define VIRT_STACK_BYTES 0x8000    /* per hart; the image reserves VIRT_HARTS * this at the top of RAM */
#define VIRT_TLS_BYTES 256
#define VIRT_MAX_PHASES 24

/* QEMU's exit status (the test device's fail code; 0 = pass) */
#define VIRT_EXIT_NET 3         /* main: the network could not start (an ERROR message says why) */
#define VIRT_EXIT_CLOSED 4      /* main: the stream ended without BYE */
#define VIRT_EXIT_TRAP 64       /* + mcause (0..15): an exception */
#define VIRT_EXIT_FDT 126       /* no usable device tree in a1 */
#define VIRT_EXIT_TLS 127       /* thread-local storage larger than VIRT_TLS_BYTES */

#ifndef __ASSEMBLER__
/* what the device tree told the controller at boot */
typedef struct virt_boot {
    int harts;          /* harts the firmware uses: min(device tree's cpus, VIRT_HARTS) */
    int icount;         /* boot argument "icount" */
} virt_boot_t;
extern virt_boot_t virt_boot;

/* read the flattened device tree QEMU hands to every hart in a1; 0, or -1 when it is not one */
int virt_fdt_scan(const void *fdt, virt_boot_t *out);

int virt_hart_id(void);
/* number of team workers (harts - 1) */
int virt_workers(void);
/* wake hart h from WFI (CLINT software interrupt) / clear the calling hart's wake-up */
void virt_wake(int hart);
void virt_clear_wake(void);
/* sleep until *word != old (virt_wait_change) or *word == want (virt_wait_value); both account
 * the calling hart's busy time */
void virt_wait_change(volatile uint32_t *word, uint32_t old);
void virt_wait_value(volatile uint32_t *word, uint32_t want);
/* plat_cycles() units each hart spent outside the waits above, cumulative; in serial mode
 * (icount) the instructions it executed inside team phases, which are exactly its own */
uint64_t virt_busy(int hart);
/* total and busiest core of each phase (code between team barriers) of the last
 * plat_team_fork; returns the number of phases */
int virt_phases(uint32_t *total, uint32_t *busiest, int max);
/* CLINT mtime (10 MHz; virtual time under -icount) */
uint64_t virt_mtime(void);
/* raise the calling hart's timer interrupt line when mtime reaches deadline (UINT64_MAX: never) */
void virt_timer_at(uint64_t deadline);
void virt_uart_init(void);
/* end the emulation through the SiFive test device: 0 = pass, otherwise fail with code */
void virt_exit(int code) __attribute__((noreturn));
/* the worker harts' job loop (never returns) */
void virt_worker_loop(int hart) __attribute__((noreturn));
#endif

#endif /* RNNSE_VIRT_H */
