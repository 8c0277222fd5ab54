/*
 * Controller (hart 0) entry on the QEMU virt target: the protocol on the 16550 UART, the team
 * of worker harts (as many as QEMU -smp gives beyond hart 0, at most PLAT_MAX_CORES) for the
 * network. Per-frame costs are instructions with the boot argument "icount" (QEMU -icount
 * shift=0 -append icount), else nanoseconds of host time. main's return value ends QEMU through
 * the test device: 0 after BYE, VIRT_EXIT_NET when the network cannot start (after an ERROR
 * message).
 */
#include "app.h"
#include "app_net.h"
#include "platform.h"
#include "virt.h"

static app_t app;

static int uart_read(void *ctx, uint8_t *buf, int n, int timeout_ms)
{
    (void)ctx;
    return (int)plat_uart_read(buf, (size_t)n, timeout_ms);
}

static int uart_write(void *ctx, const uint8_t *buf, int n)
{
    (void)ctx;
    plat_uart_write(buf, (size_t)n);
    return n;
}

int app_target_worker_busy(uint64_t *busy, int max)
{
    int n = max < virt_workers() ? max : virt_workers();
    for (int i = 0; i < n; i++)
        busy[i] = virt_busy(i + 1);
    return n;
}

int app_target_phases(uint32_t *total, uint32_t *busiest, int max)
{
    return virt_phases(total, busiest, max);
}

int main(void)
{
    static const app_io_t io = {0, uart_read, uart_write};
    virt_uart_init();
    int cores = virt_workers() < 1 ? 1 : virt_workers();   /* no worker: hart 0 runs the team */
    int rc = app_init(&app, &io, "virt", cores, virt_boot.icount ? APP_COUNTER_INSTRUCTIONS : APP_COUNTER_NS);
    if (rc != 0) {
        app_send_error(&app, PROTO_SEQ_NONE, PROTO_E_NET, 0, app_net_strerror(rc));
        return VIRT_EXIT_NET;
    }
    return app_serve(&app) == APP_BYE ? 0 : VIRT_EXIT_CLOSED;
}
