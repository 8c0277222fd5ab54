#include <string.h>

#include "app.h"
#include "app_net.h"

static void handle_hello(app_t *app, const proto_frame_t *f)
{
    if (f->length < 2) {
        app_send_error(app, f->seq, PROTO_E_LENGTH, f->length, "HELLO needs a 2-byte version");
        return;
    }
    uint16_t version = proto_get16(f->payload);
    if (version != PROTO_VERSION) {
        app_send_error(app, f->seq, PROTO_E_VERSION, PROTO_VERSION, "unsupported protocol version");
        return;
    }
    app_send_info(app, f->seq);
}

static int audio_length_ok(const proto_frame_t *f)
{
    const int hop_bytes = 2 * DSP_HOP;
    int max_hops = (f->flags & PROTO_FLAG_DEBUG) ? 1 : PROTO_MAX_HOPS;
    return f->length > 0 && f->length % hop_bytes == 0 && f->length / hop_bytes <= max_hops;
}

static void handle_audio(app_t *app, const proto_frame_t *f)
{
    if (!audio_length_ok(f)) {
        app_send_error(app, f->seq, PROTO_E_LENGTH, f->length, "AUDIO length is not 1..8 hops of 200 bytes");
        return;
    }
    if (app->have_cached && f->seq == (uint16_t)(app->expected_seq - 1)) {
        app->stats.duplicates++;    /* our reply was lost: send it again, do not process twice */
        app->io->write(app->io->ctx, app->cached, (int)app->cached_len);
        return;
    }
    if (f->seq != app->expected_seq) {
        app->stats.seq_errors++;
        app_send_error(app, f->seq, PROTO_E_SEQ, app->expected_seq, "AUDIO out of sequence");
        return;
    }
    app_process_audio(app, f);
}

void app_handle_frame(app_t *app, const proto_frame_t *f)
{
    switch (f->type) {
    case PROTO_HELLO:
        handle_hello(app, f);
        break;
    case PROTO_RESET:
        app_reset(app);
        app_send_info(app, f->seq);
        break;
    case PROTO_BYE:
        app_send_info(app, f->seq);
        app->quit = 1;
        break;
    case PROTO_AUDIO:
        handle_audio(app, f);
        break;
    default:
        app_send_error(app, f->seq, PROTO_E_TYPE, f->type, "unknown message type");
        break;
    }
}
