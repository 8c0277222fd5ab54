/* plat_uart_read/write on the proxy mailbox (mailbox.h): the pulp-open port's host byte stream. */
#include <string.h>

#include "../platform.h"
#include "mailbox.h"
#include "pulp.h"

/* Not loaded and not cleared at boot (section .mailbox): the host may write its fields (cores,
 * closed, in_len) before the simulation starts; the firmware sets its own in pulp_mailbox_init. */
pulp_mailbox_t pulp_mailbox __attribute__((aligned(16), section(".mailbox")));
static uint32_t in_pos;

void pulp_mailbox_init(void)
{
    pulp_mailbox.out_len = 0;
    pulp_mailbox.reason = 0;
    pulp_mailbox.timeout_ms = 0;
    pulp_mailbox.stops = 0;
    pulp_mailbox.in_cap = PULP_MB_BYTES;
    pulp_mailbox.out_cap = PULP_MB_BYTES;
    pulp_mailbox.version = PULP_MB_VERSION;
    pulp_mailbox.magic = PULP_MB_MAGIC;
    in_pos = 0;
}

int pulp_mailbox_closed(void) { return pulp_mailbox.closed != 0; }

static void stop(uint32_t reason, int timeout_ms)
{
    pulp_mailbox.reason = reason;
    pulp_mailbox.timeout_ms = timeout_ms;
    pulp_mailbox.stops = pulp_mailbox.stops + 1u;
    pulp_host_stop();
    pulp_mailbox.reason = 0;
}

void pulp_mailbox_flush(void)
{
    if (pulp_mailbox.out_len > 0 && !pulp_mailbox.closed) stop(PULP_MB_FLUSH, 0);
}

void plat_uart_write(const void *buf, size_t n)
{
    const uint8_t *p = (const uint8_t *)buf;
    while (n > 0 && !pulp_mailbox.closed) {
        uint32_t len = pulp_mailbox.out_len, room = PULP_MB_BYTES - len;
        size_t k = n < room ? n : room;
        if (k == 0) {
            stop(PULP_MB_FLUSH, 0);
            continue;
        }
        memcpy(pulp_mailbox.out + len, p, k);
        pulp_mailbox.out_len = len + (uint32_t)k;
        p += k;
        n -= k;
    }
}

size_t plat_uart_read(void *buf, size_t n, int timeout_ms)
{
    uint32_t avail;
    if (n == 0) return 0;
    if (in_pos >= pulp_mailbox.in_len) {
        pulp_mailbox.in_len = 0;
        in_pos = 0;
        if (pulp_mailbox.closed) return 0;
        stop(PULP_MB_READ, timeout_ms);   /* the host flushes out[], puts what it has into in[] */
        if (pulp_mailbox.in_len > PULP_MB_BYTES) pulp_mailbox.in_len = 0;
    }
    avail = pulp_mailbox.in_len - in_pos;
    if (n > avail) n = avail;
    memcpy(buf, pulp_mailbox.in + in_pos, n);
    in_pos += (uint32_t)n;
    return n;
}
