/*
 * memcpy, memmove and memset for the virt image, replacing picolibc's RISC-V versions, which are
 * size-optimised byte loops (memcpy: 6 instructions per byte). These move 32-bit words, 8 per
 * loop turn, when the addresses allow (about 0.6 instructions per byte), else bytes. They matter
 * for the instruction counts: the virt port's DMA is a copy by the waiting core (memory.c), and
 * the kernels and the signal chain copy vectors and records.
 *
 * Built with loop-pattern detection off, so that the compiler does not turn the loops back into
 * calls of these very functions.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef uint32_t __attribute__((may_alias)) word_t;
#define NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))

static int words_ok(const void *a, const void *b, size_t n)
{
    return (((uintptr_t)a | (uintptr_t)b | n) & 3u) == 0;
}

/* forward copy; also right for overlapping ranges with dst below src (every block is loaded
 * before it is stored, and later blocks lie above it) */
NO_LIBCALLS static void copy_forward(uint8_t *d, const uint8_t *s, size_t n)
{
    if (words_ok(d, s, n)) {
        word_t *dw = (word_t *)(void *)d;
        const word_t *sw = (const word_t *)(const void *)s;
        size_t w = n / 4;
        for (; w >= 8; w -= 8, dw += 8, sw += 8) {
            uint32_t a = sw[0], b = sw[1], c = sw[2], e = sw[3], f = sw[4], g = sw[5], h = sw[6], i = sw[7];
            dw[0] = a;
            dw[1] = b;
            dw[2] = c;
            dw[3] = e;
            dw[4] = f;
            dw[5] = g;
            dw[6] = h;
            dw[7] = i;
        }
        for (; w > 0; w--)
            *dw++ = *sw++;
        return;
    }
    while (n--)
        *d++ = *s++;
}

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    copy_forward(dst, src, n);
    return dst;
}

NO_LIBCALLS void *memmove(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    if (d <= s || d >= s + n) {
        copy_forward(d, s, n);
        return dst;
    }
    /* overlapping, destination above the source: copy backwards */
    if (words_ok(d, s, n)) {
        word_t *dw = (word_t *)(void *)(d + n);
        const word_t *sw = (const word_t *)(const void *)(s + n);
        for (size_t w = n / 4; w > 0; w--)
            *--dw = *--sw;
        return dst;
    }
    while (n--)
        d[n] = s[n];
    return dst;
}

NO_LIBCALLS void *memset(void *dst, int value, size_t n)
{
    uint8_t *d = dst;
    uint8_t v = (uint8_t)value;
    while (n > 0 && ((uintptr_t)d & 3u)) {
        *d++ = v;
        n--;
    }
    word_t *dw = (word_t *)(void *)d;
    uint32_t vw = v * 0x01010101u;
    for (; n >= 16; n -= 16, dw += 4) {
        dw[0] = vw;
        dw[1] = vw;
        dw[2] = vw;
        dw[3] = vw;
    }
    for (; n >= 4; n -= 4)
        *dw++ = vw;
    d = (uint8_t *)dw;
    while (n--)
        *d++ = v;
    return dst;
}
