#include "../platform.h"
#include "virt.h"

#define REG32(a) (*(volatile uint32_t *)(uintptr_t)(a))

int virt_hart_id(void)
{
    uint32_t h;
    __asm__ volatile("csrr %0, mhartid" : "=r"(h));
    return (int)h;
}

void virt_wake(int hart)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    REG32(VIRT_CLINT + 4u * (uint32_t)hart) = 1;
}

void virt_clear_wake(void)
{
    REG32(VIRT_CLINT + 4u * (uint32_t)virt_hart_id()) = 0;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

uint64_t virt_mtime(void)
{
    uint32_t hi, lo;
    do {
        hi = REG32(VIRT_CLINT_MTIME + 4);
        lo = REG32(VIRT_CLINT_MTIME);
    } while (hi != REG32(VIRT_CLINT_MTIME + 4));
    return ((uint64_t)hi << 32) | lo;
}

uint64_t plat_cycles(void)
{
    uint32_t hi, lo;
    do {
        __asm__ volatile("csrr %0, minstreth" : "=r"(hi));
        __asm__ volatile("csrr %0, minstret" : "=r"(lo));
    } while (hi != ({ uint32_t h2; __asm__ volatile("csrr %0, minstreth" : "=r"(h2)); h2; }));
    return ((uint64_t)hi << 32) | lo;
}

void virt_exit(int code)
{
    REG32(VIRT_TEST_DEVICE) = code == 0 ? 0x5555u : (((uint32_t)code << 16) | 0x3333u);
    for (;;)
        __asm__ volatile("wfi");
}
