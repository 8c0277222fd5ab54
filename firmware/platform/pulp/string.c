/*
 * memcpy, memmove and memset of the pulp-open image. picolibc's RISC-V versions copy one byte per
 * loop turn (about 6 cycles a byte on these cores), which the kernels pay for every record tail
 * they copy and the signal chain for every vector. These move 32-bit words, four per loop turn,
 * once source and destination share their alignment (bytes for the head and the tail), else
 * bytes. The loops are compiled without loop-pattern detection, so that the compiler does not
 * turn them back into calls of these functions.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef uint32_t __attribute__((may_alias)) pulp_word_t;
#define PLAIN_LOOPS __attribute__((optimize("no-tree-loop-distribute-patterns")))

/* ascending copy: right for any non-overlapping ranges and for overlaps with d below s */
PLAIN_LOOPS static void copy_up(uint8_t *d, const uint8_t *s, size_t n)
{
    if ((((uintptr_t)d ^ (uintptr_t)s) & 3u) == 0 && n >= 8) {
        while ((uintptr_t)d & 3u) {
            *d++ = *s++;
            n--;
        }
        pulp_word_t *dw = (pulp_word_t *)(void *)d;
        const pulp_word_t *sw = (const pulp_word_t *)(const void *)s;
        for (; n >= 16; n -= 16, dw += 4, sw += 4) {
            uint32_t a = sw[0], b = sw[1], c = sw[2], e = sw[3];
            dw[0] = a;
            dw[1] = b;
            dw[2] = c;
            dw[3] = e;
        }
        for (; n >= 4; n -= 4) *dw++ = *sw++;
        d = (uint8_t *)dw;
        s = (const uint8_t *)sw;
    }
    while (n--) *d++ = *s++;
}

/* descending copy: for overlaps with d above s */
PLAIN_LOOPS static void copy_down(uint8_t *d, const uint8_t *s, size_t n)
{
    d += n;
    s += n;
    if ((((uintptr_t)d ^ (uintptr_t)s) & 3u) == 0 && n >= 8) {
        while ((uintptr_t)d & 3u) {
            *--d = *--s;
            n--;
        }
        pulp_word_t *dw = (pulp_word_t *)(void *)d;
        const pulp_word_t *sw = (const pulp_word_t *)(const void *)s;
        for (; n >= 4; n -= 4) *--dw = *--sw;
        d = (uint8_t *)dw;
        s = (const uint8_t *)sw;
    }
    while (n--) *--d = *--s;
}

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    copy_up((uint8_t *)dst, (const uint8_t *)src, n);
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    uint8_t *d = (uint8_t *)dst;
    const uint8_t *s = (const uint8_t *)src;
    if (d <= s || d >= s + n) copy_up(d, s, n);
    else copy_down(d, s, n);
    return dst;
}

PLAIN_LOOPS void *memset(void *dst, int c, size_t n)
{
    uint8_t *d = (uint8_t *)dst, v = (uint8_t)c;
    if (n >= 8) {
        uint32_t w = v * 0x01010101u;
        while ((uintptr_t)d & 3u) {
            *d++ = v;
            n--;
        }
        pulp_word_t *dw = (pulp_word_t *)(void *)d;
        for (; n >= 16; n -= 16, dw += 4) {
            dw[0] = w;
            dw[1] = w;
            dw[2] = w;
            dw[3] = w;
        }
        for (; n >= 4; n -= 4) *dw++ = w;
        d = (uint8_t *)dw;
    }
    while (n--) *d++ = v;
    return dst;
}
