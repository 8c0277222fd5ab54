#include <string.h>

#include "app.h"
#include "app_net.h"

int app_cost_entries(const app_net_info_t *info)
{
    int phases = info->n_phases < APP_MAX_PHASES ? info->n_phases : APP_MAX_PHASES;
    return APP_FIXED_COSTS + 2 * phases;
}

static size_t put_string(uint8_t *p, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max)
        n = max;
    p[0] = (uint8_t)n;
    memcpy(p + 1, s, n);
    return n + 1;
}

void app_send_info(app_t *app, uint16_t seq)
{
    app_net_info_t info;
    app_net_get_info(&info);
    uint8_t *p = app->small + PROTO_HEADER_BYTES;
    proto_put16(p + 0, PROTO_VERSION);
    proto_put16(p + 2, DSP_HOP);
    proto_put32(p + 4, 16000);
    proto_put16(p + 8, DSP_NBINS);
    p[10] = (uint8_t)app->ncores;
    p[11] = PROTO_MAX_HOPS;
    p[12] = (uint8_t)app->counter_kind;
    p[13] = (uint8_t)app_cost_entries(&info);
    proto_put16(p + 14, PROTO_MAX_PAYLOAD);
    proto_put32(p + 16, info.checksum);
    proto_put16(p + 20, app->expected_seq);
    p[22] = (uint8_t)info.format_version;
    p[23] = APP_REPLAY_DEPTH;
    size_t n = 24;
    n += put_string(p + n, info.name, 40);
    n += put_string(p + n, info.scheme, 16);
    n += put_string(p + n, app->target, 16);
    n += put_string(p + n, info.phases, 120);
    n += put_string(p + n, APP_FIXED_COST_NAMES, 40);
    const uint32_t stats[7] = {app->stats.frames, app->stats.bad_header, app->stats.bad_crc,
                               app->stats.junk_bytes, app->stats.timeouts, app->stats.duplicates,
                               app->stats.seq_errors};
    for (int i = 0; i < 7; i++, n += 4)
        proto_put32(p + n, stats[i]);
    size_t len = proto_encode(app->small, PROTO_INFO, 0, seq, p, (uint16_t)n);
    app_write(app, app->small, len);
}

void app_send_error_frame(app_t *app, const app_error_t *e)
{
    uint8_t *p = app->small + PROTO_HEADER_BYTES;
    size_t n = strlen(e->text);
    if (n > 200)
        n = 200;
    proto_put16(p, e->code);
    proto_put16(p + 2, e->detail);
    memcpy(p + 4, e->text, n);
    size_t len = proto_encode(app->small, PROTO_ERROR, e->flags, e->seq, p, (uint16_t)(n + 4));
    app_write(app, app->small, len);
}

void app_send_error(app_t *app, uint16_t seq, uint16_t code, uint16_t detail, const char *text)
{
    const app_error_t e = {seq, code, detail, 0, text};
    app_send_error_frame(app, &e);
}
