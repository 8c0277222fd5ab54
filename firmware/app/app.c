#include <string.h>

#include "app.h"
#include "app_net.h"

int app_init(app_t *app, const app_io_t *io, const char *target, int ncores, int counter_kind)
{
    memset(app, 0, sizeof(*app));
    app->io = io;
    app->target = target;
    app->ncores = ncores;
    app->counter_kind = counter_kind;
    app->frame_timeout_ms = 200;
    app_reset(app);
    return app_net_init(ncores);
}

void app_reset(app_t *app)
{
    app_net_reset();
    dsp_chain_reset(&app->chain);
    app->expected_seq = 0;
    app->have_cached = 0;
    app->cached_len = 0;
}

static void drop_rx(app_t *app, size_t n)
{
    memmove(app->rx, app->rx + n, app->rx_len - n);
    app->rx_len -= n;
}

/* Parse and handle every complete frame in the receive buffer. */
static void parse_rx(app_t *app)
{
    while (app->rx_len > 0 && !app->quit) {
        proto_frame_t f;
        size_t used;
        int r = proto_parse(app->rx, app->rx_len, &f, &used);
        if (r == PROTO_NEED_MORE)
            break;
        if (r == PROTO_FRAME) {
            app->stats.frames++;
            app_handle_frame(app, &f);
        } else if (r == PROTO_JUNK) {
            app->stats.junk_bytes += (uint32_t)used;
        } else {
            if (r == PROTO_BAD_HEADER)
                app->stats.bad_header++;
            else
                app->stats.bad_crc++;
            app->nak_pending = 1;
        }
        drop_rx(app, used);
    }
    if (app->nak_pending) {
        app->nak_pending = 0;
        app_send_error(app, PROTO_SEQ_NONE, PROTO_E_CRC, 0, "damaged frame discarded");
    }
}

int app_serve(app_t *app)
{
    app_send_info(app, PROTO_SEQ_NONE);
    while (!app->quit) {
        int timeout = app->rx_len ? app->frame_timeout_ms : -1;
        int n = app->io->read(app->io->ctx, app->rx + app->rx_len,
                              (int)(sizeof(app->rx) - app->rx_len), timeout);
        if (n < 0)
            return 0;
        if (n == 0 && app->rx_len > 0) {
            app->stats.timeouts++;
            app->rx_len = 0;
            app_send_error(app, PROTO_SEQ_NONE, PROTO_E_TIMEOUT, 0, "incomplete frame discarded");
            continue;
        }
        app->rx_len += (size_t)n;
        parse_rx(app);
    }
    return 1;
}
