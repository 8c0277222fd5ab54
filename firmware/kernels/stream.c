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
    if (tiles->max_tile_rec && n > tiles->max_tile_rec) n = tiles->max_tile_rec;
    return (int)n;
}

static void stream_start_next(rnnse_stream_t *s)
{
    int n = s->n_rec - s->started;
    int b = (s->cur + (s->started - s->done) / s->tile_rec) & 1;
    if (n <= 0) return;
    if (n > s->tile_rec) n = s->tile_rec;
    plat_dma_start(&s->dma[b], s->buf[b], s->src + (size_t)s->started * s->rec_bytes, (size_t)n * s->rec_bytes);
    s->started += n;
}

void rnnse_stream_open(rnnse_stream_t *s, const rnnse_tiles_t *tiles, const void *rec, uint32_t rec_bytes,
                       int first, int count)
{
    int core = plat_core_id();
    s->src = (const uint8_t *)rec + (size_t)first * rec_bytes;
    s->rec_bytes = rec_bytes;
    s->n_rec = count;
    s->tile_rec = rnnse_tile_records(tiles, rec_bytes);
    s->started = 0;
    s->done = 0;
    s->cur = 0;
    s->buf[0] = tiles->buf[core][0];
    s->buf[1] = tiles->buf[core][1];
    s->dma[0].pending = 0;
    s->dma[1].pending = 0;
    s->in_place = tiles->in_place != 0;
    if (s->in_place) return;
    if (s->tile_rec < 1) s->n_rec = 0;   /* caller checked the budget; never overrun a buffer */
    stream_start_next(s);
}

const uint8_t *rnnse_stream_next(rnnse_stream_t *s, int *count)
{
    int b = s->cur;
    int n = s->n_rec - s->done;
    if (n <= 0) return NULL;
    if (s->in_place) {               /* the whole slice as one tile, read where it is */
        s->done = s->n_rec;
        *count = n;
        return s->src;
    }
    if (n > s->tile_rec) n = s->tile_rec;
    stream_start_next(s);            /* next tile into the other buffer, overlapping this one */
    plat_dma_wait(&s->dma[b]);
    s->done += n;
    s->cur = b ^ 1;
    *count = n;
    return s->buf[b];
}
