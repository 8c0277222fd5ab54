/* Application entry on the pulp-open target (GVSoC): the streaming protocol over the proxy mailbox
 * (firmware/platform/pulp/mailbox.h); the FC runs the protocol, the cluster the signal chain
 * (firmware/platform/pulp/dsp_cluster.c) and the network. */
#include "app.h"
#include "app_net.h"
#include "mailbox.h"
#include "platform.h"
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
    int n = max < PULP_CLUSTER_CORES ? max : PULP_CLUSTER_CORES;
    for (int i = 0; i < n; i++) busy[i] = pulp_core_busy(i);
    return n;
}

int app_target_phases(uint32_t *total, uint32_t *busiest, int max) { return pulp_phases(total, busiest, max); }

int main(void)
{
    static const app_io_t io = {0, mb_read, mb_write};
    int cores = (int)pulp_mailbox.cores;
    if (cores < 1 || cores > PLAT_MAX_CORES) cores = PLAT_MAX_CORES;
    int rc = app_init(&app, &io, "pulp", cores, APP_COUNTER_CYCLES);
    if (rc != 0) {
        app_send_error(&app, PROTO_SEQ_NONE, PROTO_E_NET, 0, app_net_strerror(rc));
        pulp_mailbox_flush();
        return 3;
    }
    {   /* the signal chain runs on the cluster in the L1 the network leaves free between steps,
         * or (no network) in an area of its own */
        size_t bytes;
        void *l1 = app_net_scratch(&bytes);
        if (!l1) l1 = plat_l1_alloc(bytes = PULP_DSP_SCRATCH_BYTES);
        pulp_dsp_set_scratch(l1, l1 ? bytes : 0, cores);
    }
    app_serve(&app);
    pulp_mailbox_flush();
    return 0;
}
