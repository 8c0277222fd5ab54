/* ns16550a at VIRT_UART0: FIFO on, 14-byte receive trigger (FCR = 0xC7), polled. */
#include "../platform.h"
#include "virt.h"

#define UART_REG(r) (*(volatile uint8_t *)(uintptr_t)(VIRT_UART0 + (r)))
enum { RBR = 0, THR = 0, IER = 1, FCR = 2, LCR = 3, MCR = 4, LSR = 5, DLL = 0, DLM = 1 };
enum { LSR_DR = 0x01, LSR_THRE = 0x20 };

void virt_uart_init(void)
{
    UART_REG(IER) = 0x00;
    UART_REG(LCR) = 0x80;   /* divisor latch */
    UART_REG(DLL) = 0x01;
    UART_REG(DLM) = 0x00;
    UART_REG(LCR) = 0x03;   /* 8N1 */
    UART_REG(FCR) = 0xC7;
    UART_REG(MCR) = 0x03;
}

void plat_uart_write(const void *buf, size_t n)
{
    const uint8_t *p = buf;
    for (size_t i = 0; i < n; i++) {
        while (!(UART_REG(LSR) & LSR_THRE))
            ;
        UART_REG(THR) = p[i];
    }
}

size_t plat_uart_read(void *buf, size_t n, int timeout_ms)
{
    uint8_t *p = buf;
    size_t got = 0;
    uint64_t deadline = virt_mtime() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * (VIRT_MTIME_HZ / 1000);
    while (got < n) {
        if (UART_REG(LSR) & LSR_DR) {
            p[got++] = UART_REG(RBR);
            continue;
        }
        if (got > 0)
            break;
        if (timeout_ms >= 0 && virt_mtime() >= deadline)
            break;
    }
    return got;
}
