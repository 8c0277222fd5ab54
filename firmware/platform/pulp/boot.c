/* Start-up of the pulp-open port: the FC initialises memory, starts the cluster and calls main();
 * the cluster cores enter the dispatcher loop of team.c. Also: end of simulation, debug output
 * and semihosting. */
#include <stdarg.h>
#include <string.h>

#include "../platform.h"
#include "pulp.h"
#include "pulp_internal.h"
#include "mailbox.h"

extern uint8_t __bss_start[], __bss_end[], __l1_start[], __l1_stacks_bottom[], __l1_stacks_top[];
extern uint8_t __tls_base[], __tdata_end[], __tls_end[];
extern int main(void);

#define STACK_FILL 0x5A5A5A5Au

void pulp_exit(int status)
{
    PULP_REG32(PULP_SOC_CORESTATUS) = 0x80000000u | ((uint32_t)status & 0x7FFFFFFFu);
    for (;;)
        __asm__ volatile("wfi");
}

static void fill_stacks(void)
{
    uint32_t *p = (uint32_t *)(void *)__l1_stacks_bottom, *end = (uint32_t *)(void *)__l1_stacks_top;
    while (p < end) *p++ = STACK_FILL;
}

size_t pulp_stack_peak(int core)
{
    const uint32_t *lo = (const uint32_t *)(const void *)(__l1_stacks_top - (size_t)(core + 1) * PULP_CLUSTER_STACK_BYTES);
    const uint32_t *hi = (const uint32_t *)(const void *)(__l1_stacks_top - (size_t)core * PULP_CLUSTER_STACK_BYTES);
    while (lo < hi && *lo == STACK_FILL) lo++;
    return (size_t)(hi - lo) * 4u;
}

void pulp_fc_boot(void)
{
    PULP_REG32(PULP_FC_ICACHE_ENABLE) = 1u;   /* off at reset: every fetch would go to L2 */
    memset(__bss_start, 0, (size_t)(__bss_end - __bss_start));
    memset(__tdata_end, 0, (size_t)(__tls_end - __tdata_end));
    memset(__l1_start, 0, (size_t)(__l1_stacks_bottom - __l1_start));
    fill_stacks();
    __asm__ volatile("mv tp, %0" ::"r"(__tls_base));
    pulp_mailbox_init();
    pulp_cluster_boot();
    pulp_exit(main());
}

void pulp_trap(uint32_t cause, uint32_t epc, uint32_t tval)
{
    uint32_t h = pulp_hartid();
    pulp_printf("rnnse: trap on hart %u:%u: mcause 0x%x mepc 0x%x mtval 0x%x\n", (unsigned)(h >> 5),
                (unsigned)(h & 31u), (unsigned)cause, (unsigned)epc, (unsigned)tval);
    pulp_exit(0x100 | (int)(cause & 0xFFu));
}

/* ---- debug output ------------------------------------------------------------------------ */

static volatile uint32_t *stdout_channel(void)
{
    uint32_t h = pulp_hartid(), cluster = h >> 5, core = h & 31u;
    if (cluster == PULP_FC_CLUSTER_ID) cluster = 0, core = 0;   /* the FC prints on channel 0:0 */
    return (volatile uint32_t *)(uintptr_t)(PULP_STDOUT + (cluster << 7) + (core << 3));
}

void pulp_puts(const char *s)
{
    volatile uint32_t *ch = stdout_channel();
    while (*s) *ch = (uint8_t)*s++;
}

static char *put_unsigned(char *p, char *end, unsigned long long v, unsigned base)
{
    char tmp[24];
    int n = 0;
    do {
        unsigned d = (unsigned)(v % base);
        tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        v /= base;
    } while (v && n < (int)sizeof tmp);
    while (n > 0 && p < end) *p++ = tmp[--n];
    return p;
}

void pulp_printf(const char *fmt, ...)
{
    char buf[208], *p = buf, *end = buf + 200;
    va_list ap;
    va_start(ap, fmt);
    for (; *fmt && p < end; fmt++) {
        int lng = 0;
        if (*fmt != '%') {
            *p++ = *fmt;
            continue;
        }
        fmt++;
        while (*fmt == 'l') lng++, fmt++;
        switch (*fmt) {
        case 'd': {
            long long v = lng >= 2 ? va_arg(ap, long long) : lng ? va_arg(ap, long) : va_arg(ap, int);
            if (v < 0 && p < end) *p++ = '-', v = -v;
            p = put_unsigned(p, end, (unsigned long long)v, 10);
            break;
        }
        case 'u':
        case 'x': {
            unsigned long long v = lng >= 2 ? va_arg(ap, unsigned long long)
                                   : lng   ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
            p = put_unsigned(p, end, v, *fmt == 'x' ? 16u : 10u);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            while (s && *s && p < end) *p++ = *s++;
            break;
        }
        case 'c': *p++ = (char)va_arg(ap, int); break;
        case '%': *p++ = '%'; break;
        default: *p++ = '?'; break;
        }
        if (!*fmt) break;
    }
    va_end(ap);
    *p = 0;
    pulp_puts(buf);
}

/* ---- semihosting --------------------------------------------------------------------------- */

enum { SH_OPEN = 0x01, SH_CLOSE = 0x02, SH_WRITE = 0x05, SH_READ = 0x06, SH_STOP = 0x10D };

int pulp_host_open(const char *path, int mode)
{
    long args[3] = {(long)(uintptr_t)path, mode, (long)strlen(path)};
    return (int)pulp_semihost(SH_OPEN, args);
}

int pulp_host_close(int fd)
{
    long args[1] = {fd};
    return (int)pulp_semihost(SH_CLOSE, args);
}

long pulp_host_read(int fd, void *buf, size_t n)
{
    long args[3] = {fd, (long)(uintptr_t)buf, (long)n};
    long left = pulp_semihost(SH_READ, args);
    return left < 0 ? -1 : (long)n - left;
}

long pulp_host_write(int fd, const void *buf, size_t n)
{
    long args[3] = {fd, (long)(uintptr_t)buf, (long)n};
    long left = pulp_semihost(SH_WRITE, args);
    return left < 0 ? -1 : (long)n - left;
}

void pulp_host_stop(void) { pulp_semihost(SH_STOP, NULL); }
