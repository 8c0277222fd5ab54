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

void virt_timer_at(uint64_t deadline)
{
    uint32_t cmp = VIRT_CLINT_MTIMECMP + 8u * (uint32_t)virt_hart_id();
    REG32(cmp + 4) = 0xFFFFFFFFu;   /* no spurious interrupt between the two 32-bit writes */
    REG32(cmp) = (uint32_t)deadline;
    REG32(cmp + 4) = (uint32_t)(deadline >> 32);
}

static uint64_t read_minstret(void)
{
    uint32_t hi, lo, hi2;
    do {
        __asm__ volatile("csrr %0, minstreth" : "=r"(hi));
        __asm__ volatile("csrr %0, minstret" : "=r"(lo));
        __asm__ volatile("csrr %0, minstreth" : "=r"(hi2));
    } while (hi != hi2);
    return ((uint64_t)hi << 32) | lo;
}

uint64_t plat_cycles(void)
{
    /* -icount: exact instruction count (all harts together; see virt.h); else ns of host time */
    return virt_boot.icount ? read_minstret() : virt_mtime() * (1000000000u / VIRT_MTIME_HZ);
}

void virt_exit(int code)
{
    REG32(VIRT_TEST_DEVICE) = code == 0 ? 0x5555u : (((uint32_t)code << 16) | 0x3333u);
    for (;;)
        __asm__ volatile("wfi");
}
