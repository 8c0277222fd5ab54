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

static void audio_error(app_t *app, const proto_frame_t *f, uint16_t code, uint16_t detail, const char *text)
{
    const app_error_t e = {f->seq, code, detail, (uint8_t)(f->flags & PROTO_FLAG_TAG_MASK), text};
    app_send_error_frame(app, &e);
}

/* Send the cached reply to AUDIO f again (its reply was lost); 0 when it is not cached. */
static int answer_from_cache(app_t *app, const proto_frame_t *f)
{
    uint32_t behind = proto_seq_behind(f->seq, app->expected_seq);
    if (f->seq == PROTO_SEQ_NONE || behind < 1 || behind > APP_REPLAY_DEPTH)
        return 0;
    for (int i = 0; i < APP_REPLAY_DEPTH; i++) {
        app_reply_t *r = &app->replay[i];
        if (r->valid && r->seq == f->seq) {
            app->stats.duplicates++;    /* not processed twice; the reply names this repeat's tag */
            proto_restamp(r->frame, r->len, (uint8_t)(f->flags & PROTO_FLAG_TAG_MASK));
            app_write(app, r->frame, r->len);
            return 1;
        }
    }
    return 0;
}

static void handle_audio(app_t *app, const proto_frame_t *f)
{
    app->last_seq = f->seq;
    app->last_tag = (uint8_t)(f->flags & PROTO_FLAG_TAG_MASK);
    if (f->flags & ~(PROTO_FLAG_DEBUG | PROTO_FLAG_TAG_MASK)) {
        audio_error(app, f, PROTO_E_FLAGS, f->flags, "unknown AUDIO flags");
        return;
    }
    if (!audio_length_ok(f)) {
        audio_error(app, f, PROTO_E_LENGTH, f->length,
                    "AUDIO takes 1..8 hops of 100 int16 samples (1 with the DEBUG flag)");
        return;
    }
    if (f->seq != PROTO_SEQ_NONE && f->seq == app->expected_seq) {
        app_process_audio(app, f);
        return;
    }
    if (answer_from_cache(app, f))
        return;
    app->stats.seq_errors++;
    audio_error(app, f, PROTO_E_SEQ, app->expected_seq, "AUDIO out of sequence");
}

/* RESET: empty, or the u16 seq the next stream starts at (0 when empty) */
static void handle_reset(app_t *app, const proto_frame_t *f)
{
    uint16_t first = f->length == 2 ? proto_get16(f->payload) : 0;
    if ((f->length != 0 && f->length != 2) || first == PROTO_SEQ_NONE) {
        app_send_error(app, f->seq, PROTO_E_LENGTH, f->length, "RESET takes nothing or a u16 first seq < 0xFFFF");
        return;
    }
    app_reset(app);
    app->expected_seq = first;
    app_send_info(app, f->seq);
}

void app_handle_frame(app_t *app, const proto_frame_t *f)
{
    switch (f->type) {
    case PROTO_HELLO:
        handle_hello(app, f);
        break;
    case PROTO_RESET:
        handle_reset(app, f);
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
