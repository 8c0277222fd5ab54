/* LSTM step in INT8 (docs/numerics.md "LSTM (int8)"): each core updates its slice of units. */
#include "rnnse_scalar.h"
#include "rnnse_kernels.h"

/* Per-unit constants after the gate rows of a record (rnnse_model.h), read in place:
 * b int32[4] | mult_x int32[4] | mult_h int32[4] | shift_x uint8[4] | shift_h uint8[4]. */
#define T_B 0
#define T_MX 16
#define T_MH 32
#define T_SX 48
#define T_SH 52

/* What the units of a layer share. */
typedef struct {
    const int16_t *sig, *tnh;
    int32_t c_mult, c_shift, ct_mult, ct_shift;
    int ct_k;        /* >= 0: c -> Q3.12 by rnnse_requant_small (|c| < 2^8 or 2^16), else requant */
    int mode, c16;
    int cells8;      /* the SIMD path's 8-unit cells take these constants (shifts in [1, 62]) */
} lstm_consts_t;

/* The gate arguments of rnnse_requant2_sat16[_gt32, _ge32, _le33]: x part (with the bias) and h
 * part of gate g. */
#define GATE(fn, ax, ah, t, g)                                                                                  \
    fn((ax)[g] + rnnse_rec_i32((t) + T_B + 4 * (g)), rnnse_rec_i32((t) + T_MX + 4 * (g)), (t)[T_SX + (g)], (ah)[g], \
       rnnse_rec_i32((t) + T_MH + 4 * (g)), (t)[T_SH + (g)])

/* Cell and output of one unit from its four gate pre-activations (Q3.12): updates *c, returns h'. */
RNNSE_ALWAYS_INLINE int32_t lstm_cell(const lstm_consts_t *k, const int32_t *p, int32_t *c, const int mode,
                                      const int c16)
{
    int32_t i = rnnse_sig_lookup(p[0], k->sig, mode), f = rnnse_sig_lookup(p[1], k->sig, mode);
    int32_t g = rnnse_tanh_lookup(p[2], k->tnh, mode), o = rnnse_sig_lookup(p[3], k->sig, mode), cq;
    /* f and c in the int16 range: rshr(f * c, 15) in one step; the requantized i * g may be any int32 */
    *c = rnnse_add_sat(rnnse_fx_mul_rshr15(f, *c), rnnse_requant(i * g, k->c_mult, k->c_shift), c16 ? -32768 : -128,
                       c16 ? 32767 : 127);
    cq = k->ct_k >= 0 ? rnnse_requant_small(*c, k->ct_mult, k->ct_k) : rnnse_requant(*c, k->ct_mult, k->ct_shift);
    return rnnse_fx_clip8(rnnse_fx_mul_rshr23(o, rnnse_tanh_lookup(rnnse_fx_clip16(cq), k->tnh, mode)));
}

/* sat16(requant(a) + requant(b)) for an input shift in [2, 33] and a recurrent one of 33 or more,
 * ORing into the caller's `miss` (rnnse_requant_le33). */
#define PAIR_LE33(a, ma, sa, b, mb, sb) rnnse_requant2_sat16_le33(a, ma, sa, b, mb, sb, &miss)

/* Gate pre-activations of a unit whose shifts none of the inline forms takes, or whose input
 * accumulators turned out too wide for rnnse_requant_le33 (then its dot products are computed
 * again): out of line, off the hot path. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void lstm_gates_any(const int8_t *rec, size_t row, const int8_t *x, int k4, const int8_t *h, int h4, int32_t *p)
{
    const uint8_t *t = (const uint8_t *)rec + 4 * row;
    int32_t ax[4], ah[4];
    int g;
    rnnse_dot_s8_gates(rec, row, 4, x, k4, h, h4, ax, ah);
    for (g = 0; g < 4; g++) p[g] = GATE(rnnse_requant2_sat16_bounded, ax, ah, t, g);
}

#ifdef RNNSE_SIMD_HAS_LSTM_GATES2
/* Gate pre-activations of the unit of rec and of the next record, two at a time through the SIMD
 * path (rnnse_lstm_gates2), when both units' shifts suit one of its forms; 0: none computed. */
RNNSE_ALWAYS_INLINE int lstm_pair(const int8_t *rec, uint32_t rec_bytes, const uint8_t *t, uint32_t sx, uint32_t sh,
                                  size_t row, const int8_t *x, uint32_t k4, const int8_t *h, uint32_t h4, int32_t *p0,
                                  int32_t *p1)
{
    const int8_t *rec1 = rec + rec_bytes;
    const uint8_t *t1 = t + rec_bytes;
    uint32_t sx1 = rnnse_rec_u32(t1 + T_SX), sh1 = rnnse_rec_u32(t1 + T_SH);
    int32_t ax0[4], ah0[4], ax1[4], ah1[4];
    int le33 = rnnse_pair_form(sx, sh, sx1, sh1, 0x80808080u);
    if (le33 < 0) return 0;
    rnnse_dot_s8_gates(rec, row, 4, x, (int)k4, h, (int)h4, ax0, ah0);
    rnnse_dot_s8_gates(rec1, row, 4, x, (int)k4, h, (int)h4, ax1, ah1);
    if (rnnse_lstm_gates2(ax0, ah0, t, ax1, ah1, t1, T_B, T_MX, T_MH, T_SX, T_SH, le33, p0, p1)) {
        lstm_gates_any(rec, row, x, (int)k4, h, (int)h4, p0);      /* an input accumulator too wide */
        lstm_gates_any(rec1, row, x, (int)k4, h, (int)h4, p1);
    }
    return 1;
}
#endif

/* Cell updates of units [j, j + n) from their gate pre-activations. */
RNNSE_ALWAYS_INLINE void lstm_cells(const lstm_consts_t *k, const int32_t (*p)[4], int j, int n, int8_t *h_out,
                                    void *c, const int mode, const int c16)
{
    int u = 0;
#ifdef RNNSE_SIMD_HAS_LSTM_CELLS8
    if (k->cells8)
        for (; u + 8 <= n; u += 8)
            rnnse_lstm_cells8(p + u, j + u, h_out, c, k->sig, k->tnh, mode == RNNSE_TABLE_NEAREST, c16, k->c_mult,
                              k->c_shift, k->ct_mult, k->ct_shift);
#endif
    for (j += u; u < n; u++, j++) {
        int32_t cj = c16 ? ((int16_t *)c)[j] : ((int8_t *)c)[j];
        h_out[j] = (int8_t)lstm_cell(k, p[u], &cj, mode, c16);
        if (c16) ((int16_t *)c)[j] = (int16_t)cj;
        else ((int8_t *)c)[j] = (int8_t)cj;
    }
}

/* The slice in two alternating phases, each a loop small enough for a core's 512-byte L0
 * instruction cache: gate pre-activations (dot products and requantization, while the records
 * stream through the tiles) of up to CHUNK units, then their cell updates. */
#define CHUNK 16

RNNSE_ALWAYS_INLINE void lstm_int8_slice(const rnnse_layer_t *L, const lstm_consts_t *k, const rnnse_tiles_t *tiles,
                                         const int8_t *x, const int8_t *h, int8_t *h_out, void *c, const int mode,
                                         const int c16)
{
    int first, count, n, r, j, u = 0;
    uint32_t k4 = rnnse_round4(L->n_in), h4 = rnnse_round4(L->n_out), rec_bytes = L->rec_bytes;
    size_t row = k4 + h4;
    int32_t p[CHUNK][4];
    rnnse_stream_t s;
    const uint8_t *tile;

    count = rnnse_slice((int)L->n_out, plat_core_id(), plat_num_cores(), &first);
    rnnse_stream_open(&s, tiles, L->rec, rec_bytes, first, count);
    j = first;
    while ((tile = rnnse_stream_next(&s, &n)) != NULL) {
        for (r = 0; r < n; r++) {
            const int8_t *rec = (const int8_t *)tile + (size_t)r * rec_bytes;
            const uint8_t *t = (const uint8_t *)rec + 4 * row;
            uint32_t sx = rnnse_rec_u32(t + T_SX), sh = rnnse_rec_u32(t + T_SH);
#ifdef RNNSE_SIMD_HAS_LSTM_GATES2
            if (r + 1 < n && u + 2 <= CHUNK && lstm_pair(rec, rec_bytes, t, sx, sh, row, x, k4, h, h4, p[u], p[u + 1])) {
                r++;                    /* two units at once in the SIMD path's gate form: the */
                u++;                    /* second counted here, the first with the others below */
            } else
#endif
            if (RNNSE_LIKELY(rnnse_shifts_gt32(sx, 0x80808080u) && rnnse_shifts_gt32(sh, 0x80808080u))) {
                int32_t ax[4], ah[4];
                rnnse_dot_s8_gates(rec, row, 4, x, (int)k4, h, (int)h4, ax, ah);
                p[u][0] = GATE(rnnse_requant2_sat16_gt32, ax, ah, t, 0);
                p[u][1] = GATE(rnnse_requant2_sat16_gt32, ax, ah, t, 1);
                p[u][2] = GATE(rnnse_requant2_sat16_gt32, ax, ah, t, 2);
                p[u][3] = GATE(rnnse_requant2_sat16_gt32, ax, ah, t, 3);
            } else if (rnnse_shifts_le33(sx, 0x80808080u) && rnnse_shifts_gt32(sh, 0x80808080u)) {
                /* small input shifts (a first layer): one flag for the four gates, no branch per gate */
                int32_t ax[4], ah[4];
                uint32_t miss = 0;
                rnnse_dot_s8_gates(rec, row, 4, x, (int)k4, h, (int)h4, ax, ah);
                p[u][0] = GATE(PAIR_LE33, ax, ah, t, 0);
                p[u][1] = GATE(PAIR_LE33, ax, ah, t, 1);
                p[u][2] = GATE(PAIR_LE33, ax, ah, t, 2);
                p[u][3] = GATE(PAIR_LE33, ax, ah, t, 3);
                if (miss) lstm_gates_any(rec, row, x, (int)k4, h, (int)h4, p[u]);
            } else if (rnnse_shifts_ge32(sx, 0x80808080u) && rnnse_shifts_ge32(sh, 0x80808080u)) {
                int32_t ax[4], ah[4];
                rnnse_dot_s8_gates(rec, row, 4, x, (int)k4, h, (int)h4, ax, ah);
                p[u][0] = GATE(rnnse_requant2_sat16_ge32, ax, ah, t, 0);
                p[u][1] = GATE(rnnse_requant2_sat16_ge32, ax, ah, t, 1);
                p[u][2] = GATE(rnnse_requant2_sat16_ge32, ax, ah, t, 2);
                p[u][3] = GATE(rnnse_requant2_sat16_ge32, ax, ah, t, 3);
            } else {
                lstm_gates_any(rec, row, x, (int)k4, h, (int)h4, p[u]);
            }
            if (++u == CHUNK) {
                lstm_cells(k, (const int32_t(*)[4])p, j, u, h_out, c, mode, c16);
                j += u;
                u = 0;
            }
        }
    }
    lstm_cells(k, (const int32_t(*)[4])p, j, u, h_out, c, mode, c16);
}

/* One instantiation per table mode and cell width: no per-unit tests of either. */
void rnnse_lstm_int8(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const int8_t *x, const int8_t *h,
                     int8_t *h_out, void *c)
{
    lstm_consts_t k;
    k.sig = ctx->sigmoid_table;
    k.tnh = ctx->tanh_table;
    k.c_mult = L->c_mult;
    k.c_shift = L->c_shift;
    k.ct_mult = L->ct_mult;
    k.ct_shift = L->ct_shift;
    k.mode = (int)L->table_mode;
    k.c16 = L->c_bits == 16;
    k.ct_k = rnnse_requant_small_k(L->ct_shift, k.c16 ? 16 : 8);
    k.cells8 = k.c_shift >= 1 && k.c_shift <= 62 && k.ct_shift >= 1 && k.ct_shift <= 62 && k.c_mult >= 0 &&
               k.ct_mult >= 0;
    if (k.mode == RNNSE_TABLE_NEAREST) {
        if (k.c16) lstm_int8_slice(L, &k, &ctx->tiles, x, h, h_out, c, RNNSE_TABLE_NEAREST, 1);
        else lstm_int8_slice(L, &k, &ctx->tiles, x, h, h_out, c, RNNSE_TABLE_NEAREST, 0);
    } else {
        if (k.c16) lstm_int8_slice(L, &k, &ctx->tiles, x, h, h_out, c, RNNSE_TABLE_LINEAR, 1);
        else lstm_int8_slice(L, &k, &ctx->tiles, x, h, h_out, c, RNNSE_TABLE_LINEAR, 0);
    }
}
