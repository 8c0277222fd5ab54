#include <string.h>

#include "app.h"
#include "app_net.h"

static void handle_hello(app_t *app, const proto_frame_t *f)
{
    if (f->length != 2) {
        app_send_error(app, f->seq, PROTO_E_LENGTH, f->length, "HELLO takes a 2-byte protocol version");
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
    if (f->flags & ~PROTO_FLAG_DEBUG) {
        app_send_error(app, f->seq, PROTO_E_FLAGS, f->flags, "unknown AUDIO flags");
        return;
    }
    if (!audio_length_ok(f)) {
        app_send_error(app, f->seq, PROTO_E_LENGTH, f->length,
                       "AUDIO takes 1..8 hops of 100 int16 samples (1 with the DEBUG flag)");
        return;
    }
    if (f->seq != PROTO_SEQ_NONE && f->seq == app->expected_seq) {
        app_process_audio(app, f);
        return;
    }
    uint32_t behind = proto_seq_behind(f->seq, app->expected_seq);
    if (f->seq != PROTO_SEQ_NONE && behind >= 1 && behind <= APP_REPLAY_DEPTH) {
        for (int i = 0; i < APP_REPLAY_DEPTH; i++) {
            const app_reply_t *r = &app->replay[i];
            if (r->valid && r->seq == f->seq) {
                app->stats.duplicates++;    /* our reply was lost: send it again, do not process twice */
                app_write(app, r->frame, r->len);
                return;
            }
        }
    }
    app->stats.seq_errors++;
    app_send_error(app, f->seq, PROTO_E_SEQ, app->expected_seq, "AUDIO out of sequence");
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
