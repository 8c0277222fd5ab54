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

void rnnse_stream_open(rnnse_stream_t *s, const rnnse_tiles_t *tiles, const void *rec, uint32_t rec_bytes,
                       int first, int count)
{
    int core = plat_core_id();
    s->src = (const uint8_t *)rec + (size_t)first * rec_bytes;
    s->next = s->src;
    s->rec_bytes = rec_bytes;
    s->n_rec = count;
    s->tile_rec = rnnse_tile_records(tiles, rec_bytes);
    s->slot[0].buf = tiles->buf[core][0];
    s->slot[1].buf = tiles->buf[core][1];
    s->slot[0].cnt = s->slot[1].cnt = 0;
    s->slot[0].dma.pending = 0;
    s->slot[1].dma.pending = 0;
    s->cur = &s->slot[0];
    s->in_place = tiles->in_place != 0;
    if (!s->in_place && s->tile_rec < 1) s->n_rec = 0;   /* caller checked the budget; never overrun a buffer */
    s->left = s->n_rec;
    s->to_start = s->in_place ? 0 : s->n_rec;
    rnnse_stream_start(s, &s->slot[0]);
}
