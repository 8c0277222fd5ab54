/* Core slices and double-buffered (ping-pong) weight streaming from L2 into L1. */
#include "rnnse_kernels.h"

int rnnse_slice(int n, int core, int ncores, int *first)
{
    int lo = (int)(((long)n * core) / ncores);
    int hi = (int)(((long)n * (core + 1)) / ncores);
    *first = lo;
    return hi - lo;
}

int rnnse_tile_records(const rnnse_tiles_t *tiles, uint32_t rec_bytes)
{
    uint32_t n = rec_bytes ? tiles->buf_bytes / rec_bytes : 0;
    if (n > 4) n &= ~3u;   /* whole passes of the 4-row dot products (rnnse_dot_*_rows) */
    if (tiles->max_tile_rec && n > tiles->max_tile_rec) n = tiles->max_tile_rec;
    return (int)n;
}

/* Start the DMA of the next tile (if any records are left to start) into buffer b. */
static void stream_start(rnnse_stream_t *s, int b)
{
    int n = s->to_start;
    uint32_t bytes;
    if (n <= 0) return;
    if (n > s->tile_rec) n = s->tile_rec;
    bytes = (uint32_t)n * s->rec_bytes;
    s->cnt[b] = n;
    plat_dma_start(&s->dma[b], s->buf[b], s->next, bytes);
    s->next += bytes;
    s->to_start -= n;
}

void rnnse_stream_open(rnnse_stream_t *s, const rnnse_tiles_t *tiles, const void *rec, uint32_t rec_bytes,
                       int first, int count)
{
    int core = plat_core_id();
    s->src = (const uint8_t *)rec + (size_t)first * rec_bytes;
    s->next = s->src;
    s->rec_bytes = rec_bytes;
    s->n_rec = count;
    s->tile_rec = rnnse_tile_records(tiles, rec_bytes);
    s->cur = 0;
    s->buf[0] = tiles->buf[core][0];
    s->buf[1] = tiles->buf[core][1];
    s->dma[0].pending = 0;
    s->dma[1].pending = 0;
    s->in_place = tiles->in_place != 0;
    if (!s->in_place && s->tile_rec < 1) s->n_rec = 0;   /* caller checked the budget; never overrun a buffer */
    s->left = s->n_rec;
    s->to_start = s->in_place ? 0 : s->n_rec;
    stream_start(s, 0);
}

const uint8_t *rnnse_stream_next(rnnse_stream_t *s, int *count)
{
    int b = s->cur;
    int n = s->left;
    if (n <= 0) return NULL;
    if (s->in_place) {               /* the whole slice as one tile, read where it is */
        s->left = 0;
        *count = n;
        return s->src;
    }
    n = s->cnt[b];
    stream_start(s, b ^ 1);          /* next tile into the other buffer, overlapping this one */
    plat_dma_wait(&s->dma[b]);
    s->left -= n;
    s->cur = b ^ 1;
    *count = n;
    return s->buf[b];
}
