#include "proto.h"

/* Index of the first possible sync marker (a SYNC0 followed by SYNC1 or by the end of the data). */
static size_t find_sync(const uint8_t *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (buf[i] == PROTO_SYNC0 && (i + 1 == n || buf[i + 1] == PROTO_SYNC1))
            return i;
    return n;
}

int proto_parse(const uint8_t *buf, size_t n, proto_frame_t *frame, size_t *consumed)
{
    *consumed = 0;
    size_t skip = find_sync(buf, n);
    if (skip > 0) {
        *consumed = skip;
        return PROTO_JUNK;
    }
    if (n < PROTO_HEADER_BYTES)
        return PROTO_NEED_MORE;
    uint16_t length = proto_get16(buf + 6);
    if (proto_crc16(buf, 8) != proto_get16(buf + 8) || length > PROTO_MAX_PAYLOAD) {
        *consumed = 1;
        return PROTO_BAD_HEADER;
    }
    size_t body = PROTO_HEADER_BYTES + (size_t)length;
    if (n < body + PROTO_TRAILER_BYTES)
        return PROTO_NEED_MORE;
    frame->type = buf[2];
    frame->flags = buf[3];
    frame->seq = proto_get16(buf + 4);
    frame->length = length;
    frame->payload = buf + PROTO_HEADER_BYTES;
    if (proto_crc32(0, buf, body) != proto_get32(buf + body)) {
        *consumed = 1;      /* *frame: the damaged frame's header, intact (its CRC-16 held) */
        return PROTO_BAD_CRC;
    }
    *consumed = body + PROTO_TRAILER_BYTES;
    return PROTO_FRAME;
}
