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
    app->idle_timeout_ms = -1;
    int rc = app_net_init(ncores);
    app_reset(app);
    return rc;
}

void app_reset(app_t *app)
{
    app_net_reset();
    dsp_chain_reset(&app->chain);
    app->expected_seq = 0;
    app->hit_seq = PROTO_SEQ_NONE;
    app->last_seq = PROTO_SEQ_NONE;
    app->last_tag = 0;
    for (int i = 0; i < APP_REPLAY_DEPTH; i++)
        app->replay[i].valid = 0;
    app->replay_next = 0;
}

void app_write(app_t *app, const uint8_t *buf, size_t n)
{
    if (!app->closed && app->io->write(app->io->ctx, buf, (int)n) < 0)
        app->closed = 1;
}

static void drop_rx(app_t *app, size_t n)
{
    memmove(app->rx, app->rx + n, app->rx_len - n);
    app->rx_len -= n;
}

/* One ERROR for the damage seen since the last valid frame (app->nak_pending: its code), naming the
 * last AUDIO received before it in detail (the host tells from it whether the damage hit its latest
 * resend) and, where a damaged AUDIO's header was intact, the last such AUDIO as seq and flags (its tag);
 * otherwise seq PROTO_SEQ_NONE and flags the tag of the AUDIO named in detail. */
static void report_damage(app_t *app)
{
    int code = app->nak_pending;
    app->nak_pending = 0;
    if (!code)
        return;
    app_error_t e = {PROTO_SEQ_NONE, PROTO_E_CRC, app->last_seq, app->last_tag, "damaged bytes discarded"};
    if (app->hit_seq != PROTO_SEQ_NONE) {
        e.seq = app->hit_seq;
        e.flags = app->hit_tag;
        app->hit_seq = PROTO_SEQ_NONE;
    }
    if (code == PROTO_E_TIMEOUT) {
        e.code = PROTO_E_TIMEOUT;
        e.text = "incomplete frame discarded after the inter-byte time-out";
    }
    app_send_error_frame(app, &e);
}

/* Parse and handle every complete frame in the receive buffer; one ERROR per batch of damage.
 * stale: nothing arrived for the inter-byte time-out, so a frame still incomplete at the front
 * never will be: drop its first byte and look for frames behind it. */
static void parse_rx(app_t *app, int stale)
{
    while (app->rx_len > 0 && !app->quit && !app->closed) {
        proto_frame_t f;
        size_t used;
        int r = proto_parse(app->rx, app->rx_len, &f, &used);
        if (r == PROTO_NEED_MORE) {
            if (!stale)
                break;
            if (app->nak_pending != PROTO_E_TIMEOUT)
                app->stats.timeouts++;
            app->nak_pending = PROTO_E_TIMEOUT;
            drop_rx(app, 1);
            continue;
        }
        if (r == PROTO_FRAME) {
            report_damage(app);     /* before answering what follows the damage */
            app->stats.frames++;
            app_handle_frame(app, &f);
        } else if (r == PROTO_JUNK) {
            app->stats.junk_bytes += (uint32_t)used;
            if (!app->nak_pending)
                app->nak_pending = PROTO_E_CRC;
        } else {
            if (r == PROTO_BAD_HEADER) {
                app->stats.bad_header++;
            } else {
                app->stats.bad_crc++;
                if (f.type == PROTO_AUDIO && f.seq != PROTO_SEQ_NONE) {    /* the latest one is named */
                    app->hit_seq = f.seq;
                    app->hit_tag = (uint8_t)(f.flags & PROTO_FLAG_TAG_MASK);
                }
            }
            if (!app->nak_pending)
                app->nak_pending = PROTO_E_CRC;
        }
        drop_rx(app, used);
    }
    report_damage(app);
}

int app_serve(app_t *app)
{
    app->quit = 0;
    app->closed = 0;
    app->rx_len = 0;
    app->nak_pending = 0;
    app->hit_seq = PROTO_SEQ_NONE;
    app_send_info(app, PROTO_SEQ_NONE);
    while (!app->quit && !app->closed) {
        int idle = app->rx_len == 0;
        int timeout = idle ? app->idle_timeout_ms : app->frame_timeout_ms;
        int n = app->io->read(app->io->ctx, app->rx + app->rx_len,
                              (int)(sizeof(app->rx) - app->rx_len), timeout);
        if (n < 0)
            return APP_CLOSED;
        if (n == 0) {
            if (idle)               /* nothing at all for the idle time-out */
                return APP_IDLE;
            parse_rx(app, 1);       /* a frame started but the rest never came */
            continue;
        }
        app->rx_len += (size_t)n;
        parse_rx(app, 0);
    }
    return app->quit ? APP_BYE : APP_CLOSED;
}
