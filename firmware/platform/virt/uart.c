/*
 * ns16550a at VIRT_UART0, set up for throughput:
 *   - FIFOs on, receive trigger at 14 bytes (FCR = 0xC7). QEMU moves at most up to the trigger
 *     level from the host socket into the receive FIFO per turn of its I/O loop, so a high trigger
 *     means few turns per frame (FIFO off or trigger 1: about 4x slower).
 *   - Transmit in bursts of 16 bytes: THRE means the whole transmit FIFO is empty.
 *   - With nothing to read, hart 0 sleeps in WFI until the receive interrupt (trigger level or
 *     character time-out, routed through the PLIC) or the CLINT timer wakes it. Polling the line
 *     status register instead would cost instructions under -icount and would contend with QEMU's
 *     I/O thread for the device lock on every poll, which slows the transfer itself down.
 * Interrupts stay globally disabled (mstatus.MIE = 0): an enabled, pending interrupt ends WFI
 * without trapping, and the PLIC claim/complete pair clears it.
 */
#include "virt.h"

#define UART_REG(r) (*(volatile uint8_t *)(uintptr_t)(VIRT_UART0 + (r)))
#define PLIC_REG(off) (*(volatile uint32_t *)(uintptr_t)(VIRT_PLIC + (off)))
enum { RBR = 0, THR = 0, IER = 1, FCR = 2, LCR = 3, MCR = 4, LSR = 5, DLL = 0, DLM = 1 };
enum { LSR_DR = 0x01, LSR_THRE = 0x20, IER_ERBFI = 0x01, TX_FIFO = 16 };
/* PLIC context 0 = hart 0, machine mode */
enum { PLIC_PRIORITY = 0x0, PLIC_ENABLE0 = 0x2000, PLIC_THRESHOLD0 = 0x200000, PLIC_CLAIM0 = 0x200004 };
enum { MIE_MTIE = 1u << 7, MIE_MEIE = 1u << 11 };
/* longest sleep between two looks at the line status (covers a lost wake-up), mtime ticks */
#define RX_MAX_SLEEP (VIRT_MTIME_HZ / 100u)

void virt_uart_init(void)
{
    UART_REG(IER) = 0x00;
    UART_REG(LCR) = 0x80;   /* divisor latch: divisor 1, the fastest rate */
    UART_REG(DLL) = 0x01;
    UART_REG(DLM) = 0x00;
    UART_REG(LCR) = 0x03;   /* 8N1 */
    UART_REG(FCR) = 0xC7;   /* FIFOs on and cleared, receive trigger 14 */
    UART_REG(MCR) = 0x0B;   /* DTR, RTS, OUT2 (interrupt output enable) */
    PLIC_REG(PLIC_PRIORITY + 4u * VIRT_UART0_IRQ) = 1;
    PLIC_REG(PLIC_ENABLE0 + 4u * (VIRT_UART0_IRQ / 32)) = 1u << (VIRT_UART0_IRQ % 32);
    PLIC_REG(PLIC_THRESHOLD0) = 0;
    UART_REG(IER) = IER_ERBFI;
    virt_timer_at(UINT64_MAX);
    __asm__ volatile("csrs mie, %0" ::"r"(MIE_MEIE | MIE_MTIE));
}

void plat_uart_write(const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        while (!(UART_REG(LSR) & LSR_THRE))
            ;
        size_t burst = n < TX_FIFO ? n : TX_FIFO;
        for (size_t i = 0; i < burst; i++)
            UART_REG(THR) = p[i];
        p += burst;
        n -= burst;
    }
}

/* Sleep until the UART or the timer (at most RX_MAX_SLEEP, at most until deadline) wakes us. */
static void rx_sleep(uint64_t deadline)
{
    uint64_t now = virt_mtime(), wake = now + RX_MAX_SLEEP;
    if (deadline < wake)
        wake = deadline;
    virt_timer_at(wake);
    virt_clear_wake();  /* a team wake-up that came after the team was seen done */
    if (!(UART_REG(LSR) & LSR_DR) && virt_mtime() < wake)
        __asm__ volatile("wfi");
    uint32_t irq = PLIC_REG(PLIC_CLAIM0);
    if (irq)
        PLIC_REG(PLIC_CLAIM0) = irq;
    virt_timer_at(UINT64_MAX);
}

size_t plat_uart_read(void *buf, size_t n, int timeout_ms)
{
    uint8_t *p = buf;
    size_t got = 0;
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX
                                       : virt_mtime() + (uint64_t)timeout_ms * (VIRT_MTIME_HZ / 1000u);
    while (got < n) {
        if (UART_REG(LSR) & LSR_DR) {
            p[got++] = UART_REG(RBR);
            continue;
        }
        if (got > 0 || virt_mtime() >= deadline)
            break;
        rx_sleep(deadline);
    }
    return got;
}
