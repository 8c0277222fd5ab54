/*
 * The rnnse firmware application: serves the streaming protocol (docs/protocol.md) over a byte
 * stream and runs the signal chain + network per hop. Target independent; a target supplies the
 * byte stream (app_io_t) and the hook app_target_worker_busy().
 */
#ifndef RNNSE_APP_H
#define RNNSE_APP_H

#include <stdint.h>

#include "../dsp/dsp.h"
#include "proto.h"

#define APP_MAX_PHASES 18
/* cost entries per hop: the fixed ones (total, dsp, network, busiest worker: their names go to
 * the host in INFO), then per network phase its total and its busiest worker (docs/protocol.md) */
#define APP_FIXED_COST_NAMES "total,dsp,network,busiest"
#define APP_FIXED_COSTS 4
#define APP_MAX_COSTS (APP_FIXED_COSTS + 2 * APP_MAX_PHASES)

enum { APP_COUNTER_NS = 0, APP_COUNTER_INSTRUCTIONS = 1, APP_COUNTER_CYCLES = 2 };

typedef struct app_io {
    void *ctx;
    /* read up to n bytes, waiting at most timeout_ms (< 0: forever); bytes read (0 on time-out),
     * or < 0 when the stream is closed */
    int (*read)(void *ctx, uint8_t *buf, int n, int timeout_ms);
    /* write all n bytes; < 0 when the stream is closed */
    int (*write)(void *ctx, const uint8_t *buf, int n);
} app_io_t;

typedef struct app_stats {
    uint32_t frames;        /* valid frames received */
    uint32_t bad_header;    /* sync found but the header CRC or length was wrong */
    uint32_t bad_crc;       /* header fine but the frame CRC was wrong */
    uint32_t junk_bytes;    /* bytes skipped while looking for a sync marker */
    uint32_t timeouts;      /* incomplete frames dropped after the inter-byte time-out */
    uint32_t duplicates;    /* AUDIO received again: the cached reply was sent again */
    uint32_t seq_errors;    /* AUDIO out of sequence */
} app_stats_t;

/* Replies to the last APP_REPLAY_DEPTH AUDIO messages are kept, so that the host may have up to
 * that many AUDIO messages in flight and still recover any lost reply by sending the AUDIO again. */
#define APP_REPLAY_DEPTH 8

typedef struct app_reply {
    uint16_t seq;
    uint16_t valid;
    uint32_t len;
    uint8_t frame[PROTO_MAX_FRAME];
} app_reply_t;

typedef struct app {
    const app_io_t *io;
    const char *target;         /* "host", "virt", "pulp" */
    int ncores;
    int counter_kind;
    int frame_timeout_ms;       /* an incomplete frame is dropped after this much silence */
    int idle_timeout_ms;        /* app_serve returns APP_IDLE after this much silence (< 0: never) */
    uint16_t expected_seq;      /* next AUDIO seq to process */
    uint16_t last_seq;          /* seq and tag of the last AUDIO received (PROTO_SEQ_NONE: none since */
    uint8_t last_tag;           /* the reset), named by damage reports */
    uint16_t hit_seq;           /* seq and tag of the last damaged AUDIO whose header was intact, */
    uint8_t hit_tag;            /* PROTO_SEQ_NONE: none in the damage not yet reported */
    int quit;                   /* BYE received */
    int closed;                 /* the byte stream failed (a write did not go through) */
    int nak_pending;
    size_t rx_len;
    dsp_chain_t chain;
    app_stats_t stats;
    uint8_t rx[2 * PROTO_MAX_FRAME];
    app_reply_t replay[APP_REPLAY_DEPTH];   /* the last replies, filled round robin */
    int replay_next;                        /* slot the next reply goes to */
    uint8_t small[320 + PROTO_OVERHEAD];    /* INFO and ERROR frames */
    float mag[DSP_NBINS], mask[DSP_NBINS];
} app_t;

/* returns 0 or the network's error code */
int app_init(app_t *app, const app_io_t *io, const char *target, int ncores, int counter_kind);
/* clear network, signal chain, sequence state and cached replies (not the statistics) */
void app_reset(app_t *app);
enum { APP_CLOSED = 0, APP_BYE = 1, APP_IDLE = 2 };
/* announce readiness (unsolicited INFO) and serve: returns APP_CLOSED when the stream closed,
 * APP_BYE after BYE, APP_IDLE when nothing arrived for idle_timeout_ms */
int app_serve(app_t *app);
/* handle one parsed frame */
void app_handle_frame(app_t *app, const proto_frame_t *f);
/* process an AUDIO frame (already checked for length and sequence), cache and send the reply */
void app_process_audio(app_t *app, const proto_frame_t *f);
/* write bytes to the stream; a failed write marks the stream closed */
void app_write(app_t *app, const uint8_t *buf, size_t n);
void app_send_info(app_t *app, uint16_t seq);
struct app_net_info;
/* cost entries per hop for this network */
int app_cost_entries(const struct app_net_info *info);
void app_send_error(app_t *app, uint16_t seq, uint16_t code, uint16_t detail, const char *text);

/* an ERROR frame's fields; flags: the tag of the AUDIO it answers (0 for other messages) */
typedef struct app_error {
    uint16_t seq, code, detail;
    uint8_t flags;
    const char *text;
} app_error_t;
void app_send_error_frame(app_t *app, const app_error_t *e);

/* target hook: cumulative busy counter (plat_cycles units) of each worker core, 0 where the
 * target cannot tell; returns the number of entries written */
int app_target_worker_busy(uint64_t *busy, int max);
/* target hook: total and busiest-worker cost of each phase (code between team barriers) of the
 * last network step; returns the number of phases measured (0 where the target cannot tell) */
int app_target_phases(uint32_t *total, uint32_t *busiest, int max);

#endif /* RNNSE_APP_H */
