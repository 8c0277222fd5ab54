/* Controller (hart 0) entry on the QEMU virt target: the protocol on the 16550 UART. */
#include "../platform/platform.h"
#include "../platform/virt/virt.h"
#include "app.h"
#include "app_net.h"

#ifndef RNNSE_CORES
#define RNNSE_CORES PLAT_MAX_CORES
#endif

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
    int n = max < PLAT_MAX_CORES ? max : PLAT_MAX_CORES;
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
    int rc = app_init(&app, &io, "virt", RNNSE_CORES, APP_COUNTER_INSTRUCTIONS);
    if (rc != 0) {
        app_send_error(&app, PROTO_SEQ_NONE, PROTO_E_NET, 0, app_net_strerror(rc));
        return 3;
    }
    app_serve(&app);
    return 0;
}
