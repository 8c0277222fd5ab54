/* Application entry on the PMSIS target: the fabric controller opens the cluster, reads the model
 * from the flash and serves the streaming protocol (docs/protocol.md) over the mailbox byte stream
 * the host reaches through GVSoC's proxy (firmware/platform/pulp/mailbox.h); every hop's signal
 * chain and network step go to the cluster as cluster tasks. A missing or damaged model image is
 * reported over the link (ERROR E_NET with the reason) and ends the program with status 4. */
#include "pmsis.h"

#include "app.h"
#include "app_net.h"
#include "mailbox.h"
#include "model_flash.h"
#include "platform.h"
#include "pmsis_port.h"
#include "pulp.h"

static app_t app;

static int mb_read(void *ctx, uint8_t *buf, int n, int timeout_ms)
{
    size_t got;
    (void)ctx;
    if (pulp_mailbox_closed()) return -1;
    got = plat_uart_read(buf, (size_t)n, timeout_ms);
    if (got == 0 && pulp_mailbox_closed()) return -1;
    return (int)got;
}

static int mb_write(void *ctx, const uint8_t *buf, int n)
{
    (void)ctx;
    if (pulp_mailbox_closed()) return -1;
    plat_uart_write(buf, (size_t)n);
    return n;
}

int app_target_worker_busy(uint64_t *busy, int max)
{
    int n = max < PLAT_MAX_CORES ? max : PLAT_MAX_CORES;
    for (int i = 0; i < n; i++) busy[i] = pulp_core_busy(i);
    return n;
}

int app_target_phases(uint32_t *total, uint32_t *busiest, int max) { return pulp_phases(total, busiest, max); }

static int serve(void)
{
    static const app_io_t io = {0, mb_read, mb_write};
    const char *why = "the cluster could not be opened";
    int cores, rc = pmsis_port_open() == 0 ? model_flash_load(&why) : -1;
    cores = (int)pulp_mailbox.cores;
    if (cores < 1 || cores > PLAT_MAX_CORES) cores = PLAT_MAX_CORES;
    if (rc != 0) {
        app_init(&app, &io, "pmsis", cores, APP_COUNTER_CYCLES);     /* the link, for the error */
        app_send_error(&app, PROTO_SEQ_NONE, PROTO_E_NET, 0, why);
        pulp_mailbox_flush();
        return 4;
    }
    rc = app_init(&app, &io, "pmsis", cores, APP_COUNTER_CYCLES);
    if (rc != 0) {
        app_send_error(&app, PROTO_SEQ_NONE, PROTO_E_NET, 0, app_net_strerror(rc));
        pulp_mailbox_flush();
        return 3;
    }
#if RNNSE_DSP_CLUSTER
    {   /* the signal chain runs on the cluster in the L1 the network leaves free between steps */
        size_t bytes;
        void *l1 = app_net_scratch(&bytes);
        pulp_dsp_set_scratch(l1, l1 ? bytes : 0, cores);
    }
#endif
    app_serve(&app);
    pulp_mailbox_flush();
    return 0;
}

int main(void) { return pmsis_run_main(serve); }
