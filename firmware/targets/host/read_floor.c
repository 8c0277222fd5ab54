/*
 * Host target: the memory floor of a network step. rnnse_host_read reads n bytes `passes` times,
 * every byte once per pass, as fast as this core streams memory (AVX2 loads into four
 * independent sums, software prefetch 2 kB ahead as the kernels do; plain 64-bit loads in the
 * portable library), and returns a checksum so that nothing is optimised away: the sum modulo
 * 2^64, over the passes, of the buffer's little-endian 64-bit words and of the bytes after the
 * last whole word (a host is little-endian; the tests compare it with numpy). A network step
 * reads each weight byte once per frame, so one pass over a buffer of the model's weight size
 * is what no implementation of the step on one core can beat (`rnnse bench kernels`).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

uint64_t rnnse_host_read(const void *p, size_t n, int passes);

/* The words and bytes after the vector loop. */
static uint64_t read_tail(const uint8_t *b, size_t n)
{
    uint64_t s = 0, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, b + i, sizeof w);
        s += w;
    }
    for (; i < n; i++) s += b[i];
    return s;
}

uint64_t rnnse_host_read(const void *p, size_t n, int passes)
{
    const uint8_t *b = (const uint8_t *)p;
    uint64_t sum = 0;
    int r;
    for (r = 0; r < passes; r++) {
        size_t i = 0;
#if defined(__AVX2__)
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
        uint64_t lanes[4];
        for (; i + 128 <= n; i += 128) {
            _mm_prefetch((const char *)b + i + 2048, _MM_HINT_T0);
            _mm_prefetch((const char *)b + i + 2048 + 64, _MM_HINT_T0);
            a0 = _mm256_add_epi64(a0, _mm256_loadu_si256((const __m256i *)(b + i)));
            a1 = _mm256_add_epi64(a1, _mm256_loadu_si256((const __m256i *)(b + i + 32)));
            a2 = _mm256_add_epi64(a2, _mm256_loadu_si256((const __m256i *)(b + i + 64)));
            a3 = _mm256_add_epi64(a3, _mm256_loadu_si256((const __m256i *)(b + i + 96)));
        }
        _mm256_storeu_si256((__m256i *)lanes, _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)));
        sum += lanes[0] + lanes[1] + lanes[2] + lanes[3];
#else
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, w[4];
        for (; i + 32 <= n; i += 32) {
            memcpy(w, b + i, sizeof w);
            s0 += w[0];
            s1 += w[1];
            s2 += w[2];
            s3 += w[3];
        }
        sum += s0 + s1 + s2 + s3;
#endif
        sum += read_tail(b + i, n - i);
    }
    return sum;
}
