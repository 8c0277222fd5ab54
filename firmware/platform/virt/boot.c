/* Boot of every hart (entered from start.S) and the trap handler. */
#include <picolibc.h>
#include <picotls.h>
#include <stdint.h>
#include <string.h>

#include "virt.h"

extern uint8_t __data_start[], __data_source[], __data_size[];
extern uint8_t __bss_start[], __bss_size[];
extern int main(void);

virt_boot_t virt_boot;
static volatile uint32_t virt_booted;
static uint8_t tls_blocks[VIRT_HARTS][VIRT_TLS_BYTES] __attribute__((aligned(16)));

enum { MIE_MSIE = 1u << 3 };

static void setup_tls(int hart)
{
    if (_tls_size() > VIRT_TLS_BYTES)
        virt_exit(VIRT_EXIT_TLS);
    _init_tls(tls_blocks[hart]);
    _set_tls(tls_blocks[hart]);
}

int virt_workers(void)
{
    return virt_boot.harts - 1;
}

void virt_boot_controller(int hart, const void *fdt)
{
    (void)hart;
    memcpy(__data_start, __data_source, (size_t)(uintptr_t)__data_size);
    memset(__bss_start, 0, (size_t)(uintptr_t)__bss_size);
    setup_tls(0);
    if (virt_fdt_scan(fdt, &virt_boot) != 0)
        virt_exit(VIRT_EXIT_FDT);
    __asm__ volatile("csrs mie, %0" ::"r"(MIE_MSIE));   /* the team's completion wake-up ends WFI */
    __atomic_store_n(&virt_booted, 1u, __ATOMIC_SEQ_CST);
    for (int h = 1; h < virt_boot.harts; h++)
        virt_wake(h);
    virt_exit(main());
}

void virt_boot_worker(int hart)
{
    __asm__ volatile("csrs mie, %0" ::"r"(MIE_MSIE));   /* a software interrupt ends WFI */
    for (;;) {
        virt_clear_wake();
        if (__atomic_load_n(&virt_booted, __ATOMIC_SEQ_CST))
            break;
        __asm__ volatile("wfi");
    }
    if (hart >= virt_boot.harts)   /* a hart the device tree does not list: stay parked */
        for (;;)
            __asm__ volatile("wfi");
    setup_tls(hart);
    virt_worker_loop(hart);
}

void virt_trap(uint32_t cause, uint32_t epc, uint32_t tval)
{
    (void)epc;
    (void)tval;
    virt_exit(VIRT_EXIT_TRAP + (int)(cause & 0x3Fu));
}
