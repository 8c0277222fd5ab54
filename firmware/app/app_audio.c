#include <string.h>

#include "../platform/platform.h"
#include "app.h"
#include "app_net.h"

static uint32_t sat32(uint64_t v)
{
    return v > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)v;
}

static uint32_t busiest_worker(const uint64_t *before, const uint64_t *after, int n)
{
    uint64_t most = 0;
    for (int i = 0; i < n; i++)
        if (after[i] - before[i] > most)
            most = after[i] - before[i];
    return sat32(most);
}

static void put_floats(uint8_t *p, const float *v, int n)
{
    for (int i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &v[i], 4);
        proto_put32(p + 4 * i, bits);
    }
}

/* Run one hop through analysis, network and synthesis; fills out[] and costs[]; returns the
 * network's status. */
static int run_hop(app_t *app, const uint8_t *in_bytes, int16_t *out, uint32_t *costs, int ncost)
{
    int16_t in[DSP_HOP];
    uint64_t busy0[PLAT_MAX_CORES] = {0}, busy1[PLAT_MAX_CORES] = {0};
    for (int i = 0; i < DSP_HOP; i++)
        in[i] = (int16_t)proto_get16(in_bytes + 2 * i);
    int nw = app_target_worker_busy(busy0, PLAT_MAX_CORES);
    uint64_t t0 = plat_cycles();
    dsp_analyze(&app->chain, in, app->mag);
    uint64_t t1 = plat_cycles();
    int rc = app_net_step(app->mag, app->mask);
    uint64_t t2 = plat_cycles();
    if (rc != 0)
        return rc;
    dsp_synthesize(&app->chain, app->mask, out);
    uint64_t t3 = plat_cycles();
    app_target_worker_busy(busy1, PLAT_MAX_CORES);
    costs[0] = sat32(t3 - t0);
    costs[1] = sat32((t1 - t0) + (t3 - t2));
    costs[2] = sat32(t2 - t1);
    costs[3] = busiest_worker(busy0, busy1, nw);
    int nph = (ncost - APP_FIXED_COSTS) / 2;
    uint32_t total[APP_MAX_PHASES], busiest[APP_MAX_PHASES];
    int got = app_target_phases(total, busiest, nph);
    for (int i = 0; i < got && i < nph; i++) {
        costs[APP_FIXED_COSTS + i] = total[i];
        costs[APP_FIXED_COSTS + nph + i] = busiest[i];
    }
    return 0;
}

void app_process_audio(app_t *app, const proto_frame_t *f)
{
    app_net_info_t info;
    app_net_get_info(&info);
    int debug = (f->flags & PROTO_FLAG_DEBUG) != 0;
    int nhops = f->length / (2 * DSP_HOP);
    int ncost = app_cost_entries(&info);
    app_reply_t *r = &app->replay[app->replay_next];
    uint8_t *p = r->frame + PROTO_HEADER_BYTES;
    uint8_t *audio = p + PROTO_ENHANCED_HEAD, *cost_bytes = audio + nhops * 2 * DSP_HOP;
    uint8_t *dbg = cost_bytes + nhops * ncost * 4;
    p[0] = (uint8_t)nhops;
    p[1] = (uint8_t)ncost;
    p[2] = (uint8_t)(debug ? PROTO_FLAG_DEBUG : 0);
    p[3] = 0;
    /* binds the reply to the exact input it answers: the host checks it against what it sent */
    proto_put32(p + 4, proto_crc32(0, f->payload, f->length));
    r->valid = 0;   /* the slot is being overwritten */
    for (int h = 0; h < nhops; h++) {
        int16_t out[DSP_HOP];
        uint32_t costs[APP_MAX_COSTS] = {0};
        int rc = run_hop(app, f->payload + h * 2 * DSP_HOP, out, costs, ncost);
        if (rc != 0) {
            /* the stream state is now undefined: the host has to reset it */
            const app_error_t e = {f->seq, PROTO_E_NET, (uint16_t)h, (uint8_t)(f->flags & PROTO_FLAG_TAG_MASK),
                                   app_net_strerror(rc)};
            app_send_error_frame(app, &e);
            return;
        }
        for (int i = 0; i < DSP_HOP; i++)
            proto_put16(audio + 2 * (h * DSP_HOP + i), (uint16_t)out[i]);
        for (int c = 0; c < ncost; c++)
            proto_put32(cost_bytes + 4 * (h * ncost + c), costs[c]);
    }
    size_t plen = (size_t)(dbg - p);
    if (debug) {
        put_floats(dbg, app->mag, DSP_NBINS);
        put_floats(dbg + 4 * DSP_NBINS, app->mask, DSP_NBINS);
        plen += 8 * DSP_NBINS;
    }
    uint8_t tag = (uint8_t)(f->flags & PROTO_FLAG_TAG_MASK);
    r->len = (uint32_t)proto_encode(r->frame, PROTO_ENHANCED, tag, f->seq, p, (uint16_t)plen);
    r->seq = f->seq;
    r->valid = 1;
    app->replay_next = (app->replay_next + 1) % APP_REPLAY_DEPTH;
    app->expected_seq = proto_seq_next(f->seq);
    app_write(app, r->frame, r->len);
}
