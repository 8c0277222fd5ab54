#include <picotls.h>
#include <stdint.h>
#include <string.h>

#include "../platform.h"
#include "virt.h"

extern uint8_t __data_start[], __data_source[], __data_size[];
extern uint8_t __bss_start[], __bss_size[], __tls_size[];
extern int main(void);

static volatile uint32_t virt_booted;
static uint8_t tls_blocks[VIRT_HARTS][VIRT_TLS_BYTES] __attribute__((aligned(16)));

static void setup_tls(int hart)
{
    if ((uintptr_t)__tls_size > VIRT_TLS_BYTES)
        virt_exit(0x7F);
    _init_tls(tls_blocks[hart]);
    _set_tls(tls_blocks[hart]);
}

void virt_boot_controller(void)
{
    memcpy(__data_start, __data_source, (size_t)(uintptr_t)__data_size);
    memset(__bss_start, 0, (size_t)(uintptr_t)__bss_size);
    setup_tls(0);
    __atomic_store_n(&virt_booted, 1u, __ATOMIC_SEQ_CST);
    for (int h = 1; h < VIRT_HARTS; h++)
        virt_wake(h);
    virt_exit(main());
}

void virt_boot_worker(void)
{
    int hart = virt_hart_id();
    __asm__ volatile("csrs mie, %0" ::"r"(1u << 3));   /* software interrupt may end WFI */
    if (hart >= VIRT_HARTS)
        for (;;)
            __asm__ volatile("wfi");   /* more harts than the build expects: park them */
    for (;;) {
        virt_clear_wake();
        if (__atomic_load_n(&virt_booted, __ATOMIC_SEQ_CST))
            break;
        __asm__ volatile("wfi");
    }
    setup_tls(hart);
    virt_worker_loop(hart);
}

void virt_trap(uint32_t cause, uint32_t epc, uint32_t tval)
{
    (void)epc;
    (void)tval;
    virt_exit(0x100 | (int)(cause & 0xFF));
}
