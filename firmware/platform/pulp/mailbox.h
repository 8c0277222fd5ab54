/*
 * Byte stream between the firmware and a host driving GVSoC through its proxy socket (the
 * pulp-open model has no UART that reaches the host). A mailbox in L2 holds one buffer each way;
 * when the firmware needs input and has none, or its output buffer is full, it records why in
 * `reason` and pauses the simulation (semihosting stop). The host then reads `out` (and clears
 * out_len), writes input into `in` (setting in_len) and resumes the simulation. The host finds
 * the mailbox through the ELF symbol `pulp_mailbox` and checks `magic` and `version`.
 * host/rnnse/stream/gvsoc.py is the host side.
 */
#ifndef RNNSE_PULP_MAILBOX_H
#define RNNSE_PULP_MAILBOX_H

#include <stdint.h>

#define PULP_MB_MAGIC 0x424D5352u        /* "RSMB" */
#define PULP_MB_VERSION 1u
#ifndef PULP_MB_BYTES
#define PULP_MB_BYTES 4608u              /* one maximal protocol frame (4096 + overhead) fits */
#endif

enum {
    PULP_MB_READ = 1,                    /* the firmware waits for input (timeout_ms; < 0: forever) */
    PULP_MB_FLUSH = 2,                   /* the output buffer is full */
};

typedef struct pulp_mailbox {
    volatile uint32_t magic, version, in_cap, out_cap;   /* set by the firmware at boot */
    volatile uint32_t in_len;            /* host: bytes put into in[] (the firmware clears it) */
    volatile uint32_t out_len;           /* firmware: bytes in out[] (the host clears it) */
    volatile uint32_t reason;            /* firmware: why it stopped (PULP_MB_*) */
    volatile int32_t timeout_ms;         /* firmware: with PULP_MB_READ */
    volatile uint32_t closed;            /* host: the stream is closed; reads fail from now on */
    volatile uint32_t cores;             /* host, before the first resume: team size (0: default) */
    volatile uint32_t stops;             /* firmware: number of stops so far */
    uint32_t reserved;
    uint8_t in[PULP_MB_BYTES];
    uint8_t out[PULP_MB_BYTES];
} pulp_mailbox_t;

extern pulp_mailbox_t pulp_mailbox;

/* Set the firmware's fields (boot, before main). */
void pulp_mailbox_init(void);
/* 1 once the host closed the stream */
int pulp_mailbox_closed(void);
/* Hand what is in the output buffer to the host now (pauses the simulation when there is any). */
void pulp_mailbox_flush(void);

#endif /* RNNSE_PULP_MAILBOX_H */
