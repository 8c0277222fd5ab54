/*
 * rnnse streaming protocol: framing, CRCs and the incremental frame parser (see docs/protocol.md).
 *
 * Frame (all integers little-endian):
 *   0  u8[2] sync 0xA5 0x5A
 *   2  u8    type
 *   3  u8    flags
 *   4  u16   seq
 *   6  u16   payload length (<= PROTO_MAX_PAYLOAD)
 *   8  u16   header CRC-16/CCITT-FALSE over bytes 0..7
 *  10  u8[n] payload
 * 10+n u32   CRC-32 (ISO-HDLC, as zlib.crc32) over bytes 0..9+n
 */
#ifndef RNNSE_PROTO_H
#define RNNSE_PROTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PROTO_VERSION 2
#define PROTO_SYNC0 0xA5
#define PROTO_SYNC1 0x5A
#define PROTO_HEADER_BYTES 10
#define PROTO_TRAILER_BYTES 4
#define PROTO_OVERHEAD (PROTO_HEADER_BYTES + PROTO_TRAILER_BYTES)
#define PROTO_MAX_PAYLOAD 4096
#define PROTO_MAX_FRAME (PROTO_MAX_PAYLOAD + PROTO_OVERHEAD)
#define PROTO_MAX_HOPS 8          /* hops per AUDIO message */
#define PROTO_SEQ_NONE 0xFFFF     /* seq of unsolicited device messages; never an AUDIO seq */
#define PROTO_SEQ_MOD 0xFFFF      /* AUDIO seqs count 0, 1, .., 0xFFFE, 0, .. */
/* ENHANCED payload head: u8 hops, u8 cost entries, u8 flags, u8 0, u32 CRC-32 of the AUDIO payload */
#define PROTO_ENHANCED_HEAD 8

/* message types */
enum {
    PROTO_HELLO = 0x01,     /* host -> device: u16 protocol version */
    PROTO_INFO = 0x02,      /* device -> host: see docs/protocol.md */
    PROTO_AUDIO = 0x03,     /* host -> device: 1..PROTO_MAX_HOPS hops of int16 */
    PROTO_ENHANCED = 0x04,  /* device -> host: enhanced hops + per-frame costs */
    PROTO_ERROR = 0x05,     /* device -> host: u16 code, u16 detail, text */
    PROTO_RESET = 0x06,     /* host -> device: clear state; answered by INFO */
    PROTO_BYE = 0x07,       /* host -> device: answered by INFO, then the device ends the session */
};

/* flags */
#define PROTO_FLAG_DEBUG 0x01   /* AUDIO: also return magnitudes and masks (one hop per message) */
/* AUDIO: the host's recovery round (its go-back count, modulo 16); echoed in the flags of the
 * ENHANCED or ERROR that answers the AUDIO, so that the host tells a fault of its latest resend
 * from the consequences of an older one */
#define PROTO_FLAG_TAG_MASK 0xF0

/* error codes carried by ERROR messages */
enum {
    PROTO_E_CRC = 1,        /* damaged bytes were discarded; detail, flags: seq, tag of the last AUDIO before */
    PROTO_E_TIMEOUT = 2,    /* an incomplete frame was discarded after the inter-byte time-out (same) */
    PROTO_E_LENGTH = 3,     /* payload length not valid for the message type */
    PROTO_E_TYPE = 4,       /* unknown message type */
    PROTO_E_SEQ = 5,        /* AUDIO out of sequence; detail = expected seq */
    PROTO_E_VERSION = 6,    /* HELLO with an unsupported protocol version */
    PROTO_E_NET = 7,        /* the network failed; text says why */
    PROTO_E_FLAGS = 8,      /* unknown flag bits */
};

/* parser results */
enum {
    PROTO_NEED_MORE = 0,    /* no complete frame yet */
    PROTO_FRAME = 1,        /* a valid frame was found */
    PROTO_JUNK = 2,         /* bytes before a sync marker were skipped */
    PROTO_BAD_HEADER = 3,   /* sync found but the header CRC or length is wrong; 1 byte skipped */
    PROTO_BAD_CRC = 4,      /* header fine but the frame CRC is wrong; 1 byte skipped */
};

typedef struct proto_frame {
    uint8_t type;
    uint8_t flags;
    uint16_t seq;
    uint16_t length;
    const uint8_t *payload;  /* points into the parsed buffer */
} proto_frame_t;

uint16_t proto_crc16(const uint8_t *data, size_t n);
uint32_t proto_crc32(uint32_t crc, const uint8_t *data, size_t n);

/* Write a complete frame into out (room for length + PROTO_OVERHEAD bytes); returns its size,
 * or 0 when length > PROTO_MAX_PAYLOAD. */
size_t proto_encode(uint8_t *out, uint8_t type, uint8_t flags, uint16_t seq,
                    const uint8_t *payload, uint16_t length);

/* Give an encoded frame of len bytes other flags (header and frame CRCs recomputed). */
void proto_restamp(uint8_t *frame, size_t len, uint8_t flags);

/* Look at the first n bytes of buf. Sets *consumed to the bytes the caller must drop from the
 * front of buf (0 only with PROTO_NEED_MORE) and returns one of the parser results above.
 * With PROTO_FRAME, *frame describes the frame (payload points into buf); with PROTO_BAD_CRC, the
 * damaged frame's header (intact: its CRC-16 held), so that damage can be attributed to a message.
 * Never reads past n. */
int proto_parse(const uint8_t *buf, size_t n, proto_frame_t *frame, size_t *consumed);

/* AUDIO sequence arithmetic (modulo PROTO_SEQ_MOD) */
static inline uint16_t proto_seq_next(uint16_t s) { return (uint16_t)(s + 1u >= PROTO_SEQ_MOD ? 0u : s + 1u); }
/* how far a lies behind b: (b - a) mod PROTO_SEQ_MOD */
static inline uint32_t proto_seq_behind(uint16_t a, uint16_t b)
{
    return ((uint32_t)b + PROTO_SEQ_MOD - (uint32_t)a) % PROTO_SEQ_MOD;
}

/* little-endian helpers */
static inline void proto_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void proto_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline uint16_t proto_get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t proto_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

#ifdef __cplusplus
}
#endif
#endif /* RNNSE_PROTO_H */
