/*
 * QEMU RISC-V `virt` machine port of platform.h: hart 0 is the controller (I/O, DSP), harts
 * 1..PLAT_MAX_CORES are the team workers (team core id = hart id - 1). Idle harts sleep in WFI
 * and are woken by CLINT software interrupts, so a waiting hart costs no instructions under
 * -icount and no host CPU otherwise.
 */
#ifndef RNNSE_VIRT_H
#define RNNSE_VIRT_H

#include <stdint.h>

#define VIRT_HARTS (1 + PLAT_MAX_CORES)
#define VIRT_UART0 0x10000000u
#define VIRT_TEST_DEVICE 0x00100000u
#define VIRT_CLINT 0x02000000u
#define VIRT_CLINT_MTIME (VIRT_CLINT + 0xBFF8u)
#define VIRT_MTIME_HZ 10000000u
#define VIRT_STACK_BYTES 0x8000    /* per hart; must match __stack_size = VIRT_HARTS * this */
#define VIRT_TLS_BYTES 256
#define VIRT_MAX_PHASES 24

int virt_hart_id(void);
/* wake hart h from WFI (CLINT software interrupt) / clear the calling hart's wake-up */
void virt_wake(int hart);
void virt_clear_wake(void);
/* sleep until *word != old; accounts the calling hart's busy time */
void virt_wait_change(volatile uint32_t *word, uint32_t old);
/* instructions (or cycles) each hart spent outside virt_wait_change, cumulative */
uint64_t virt_busy(int hart);
/* total instructions and busiest core of each phase (code between team barriers) of the last
 * plat_team_fork; returns the number of phases */
int virt_phases(uint32_t *total, uint32_t *busiest, int max);
/* CLINT mtime (10 MHz; virtual time under -icount) */
uint64_t virt_mtime(void);
void virt_uart_init(void);
/* end the emulation through the SiFive test device: 0 = pass, otherwise fail with code */
void virt_exit(int code) __attribute__((noreturn));
/* the worker harts' job loop (never returns) */
void virt_worker_loop(int hart) __attribute__((noreturn));

#endif /* RNNSE_VIRT_H */
