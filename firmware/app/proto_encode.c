#include <string.h>

#include "proto.h"

size_t proto_encode(uint8_t *out, uint8_t type, uint8_t flags, uint16_t seq,
                    const uint8_t *payload, uint16_t length)
{
    if (length > PROTO_MAX_PAYLOAD)
        return 0;
    out[0] = PROTO_SYNC0;
    out[1] = PROTO_SYNC1;
    out[2] = type;
    out[3] = flags;
    proto_put16(out + 4, seq);
    proto_put16(out + 6, length);
    proto_put16(out + 8, proto_crc16(out, 8));
    if (length && payload != out + PROTO_HEADER_BYTES)
        memmove(out + PROTO_HEADER_BYTES, payload, length);
    size_t body = PROTO_HEADER_BYTES + (size_t)length;
    proto_put32(out + body, proto_crc32(0, out, body));
    return body + PROTO_TRAILER_BYTES;
}

void proto_restamp(uint8_t *frame, size_t len, uint8_t flags)
{
    if (len < PROTO_OVERHEAD || frame[3] == flags)
        return;
    frame[3] = flags;
    proto_put16(frame + 8, proto_crc16(frame, 8));
    proto_put32(frame + len - PROTO_TRAILER_BYTES, proto_crc32(0, frame, len - PROTO_TRAILER_BYTES));
}
