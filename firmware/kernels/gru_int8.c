/* GRU step in INT8 (docs/numerics.md "GRU (int8)"): each core updates its slice of units. */
#include "rnnse_scalar.h"
#include "rnnse_kernels.h"

/* Per-unit constants after the gate rows of a record (rnnse_model.h), read in place:
 * b int32[3] | b_hn int32 | mult_x int32[3] | 0 | mult_h int32[3] | 0 | shift_x uint8[3] 0 |
 * shift_h uint8[3] 0. */
#define T_B 0
#define T_BHN 12
#define T_MX 16
#define T_MH 32
#define T_SX 48
#define T_SH 52
#define SHIFT_MASK 0x00808080u   /* the three shift bytes of a word */

/* Phase 1 of a unit (see gru_int8_slice): from the accumulators, q[0] = sat16(xr_r + hr_r),
 * q[1] = sat16(xr_z + hr_z), q[2] = xr_n, q[3] = hn = sat16(hr_n). RX and RH are the requant
 * forms the input and recurrent shifts allow (shift bytes >= 33, >= 32, or [2, 33] for RX:
 * results within [-2^30, 2^30 - 1]). */
#define GRU_GATES(RX, RH, ax, ah, t, q)                                                                    \
    do {                                                                                                   \
        (q)[0] = rnnse_fx_clip16(RX((ax)[0] + rnnse_rec_i32((t) + T_B), rnnse_rec_i32((t) + T_MX), (t)[T_SX]) + \
                                 RH((ah)[0], rnnse_rec_i32((t) + T_MH), (t)[T_SH]));                       \
        (q)[1] = rnnse_fx_clip16(RX((ax)[1] + rnnse_rec_i32((t) + T_B + 4), rnnse_rec_i32((t) + T_MX + 4),     \
                                    (t)[T_SX + 1]) +                                                       \
                                 RH((ah)[1], rnnse_rec_i32((t) + T_MH + 4), (t)[T_SH + 1]));               \
        (q)[2] = RX((ax)[2] + rnnse_rec_i32((t) + T_B + 8), rnnse_rec_i32((t) + T_MX + 8), (t)[T_SX + 2]);   \
        (q)[3] = rnnse_fx_clip16(RH((ah)[2] + rnnse_rec_i32((t) + T_BHN), rnnse_rec_i32((t) + T_MH + 8),     \
                                    (t)[T_SH + 2]));                                                       \
    } while (0)

/* requant with a shift > 32 (inline form of rnnse_requant), and with a shift in [2, 33] ORing into
 * the caller's `miss` (rnnse_requant_le33) */
#define RQ_GT32(a, m, s) rnnse_fx_rshr(rnnse_fx_mulh((a), (m)), (s) - 32)
#define RQ_LE33(a, m, s) rnnse_requant_le33((a), (m), (s), &miss)

/* Phase 1 of a unit whose shifts none of the inline forms takes, or whose input accumulators
 * turned out too wide for rnnse_requant_le33 (then its dot products are computed again): out of
 * line, off the hot path. xr_n may then be any int32: it is clamped to [-2^20, 2^20], which leaves
 * sat16(xr_n + d) unchanged for |d| <= 2^15 (both sides saturate alike beyond) and keeps phase 2's
 * int32 sum exact. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void gru_gates_any(const int8_t *rec, size_t row, const int8_t *x, int k4, const int8_t *h, int h4, int32_t *q)
{
    const uint8_t *t = (const uint8_t *)rec + 3 * row;
    int32_t ax[3], ah[3];
    rnnse_dot_s8_gates(rec, row, 3, x, k4, h, h4, ax, ah);
    q[0] = rnnse_requant2_sat16_bounded(ax[0] + rnnse_rec_i32(t + T_B), rnnse_rec_i32(t + T_MX), t[T_SX], ah[0],
                                        rnnse_rec_i32(t + T_MH), t[T_SH]);
    q[1] = rnnse_requant2_sat16_bounded(ax[1] + rnnse_rec_i32(t + T_B + 4), rnnse_rec_i32(t + T_MX + 4),
                                        t[T_SX + 1], ah[1], rnnse_rec_i32(t + T_MH + 4), t[T_SH + 1]);
    q[2] = rnnse_clamp(rnnse_requant_bounded(ax[2] + rnnse_rec_i32(t + T_B + 8), rnnse_rec_i32(t + T_MX + 8),
                                             t[T_SX + 2]), -(1 << 20), 1 << 20);
    q[3] = rnnse_clamp(rnnse_requant_bounded(ah[2] + rnnse_rec_i32(t + T_BHN), rnnse_rec_i32(t + T_MH + 8),
                                             t[T_SH + 2]), -32768, 32767);
}

#ifdef RNNSE_SIMD_HAS_GRU_UNITS
/* Phase 1 of the unit of rec and of the next record, two at a time through the SIMD path
 * (rnnse_gru_gates2), when both units' shifts suit one of its forms; 0: none computed. */
RNNSE_ALWAYS_INLINE int gru_pair(const int8_t *rec, uint32_t rec_bytes, const uint8_t *t, uint32_t sx, uint32_t sh,
                                 size_t row, const int8_t *x, uint32_t k4, const int8_t *h, uint32_t h4, int32_t *q0,
                                 int32_t *q1)
{
    const int8_t *rec1 = rec + rec_bytes;
    const uint8_t *t1 = t + rec_bytes;
    uint32_t sx1 = rnnse_rec_u32(t1 + T_SX), sh1 = rnnse_rec_u32(t1 + T_SH);
    int32_t ax0[4] = {0, 0, 0, 0}, ah0[4] = {0, 0, 0, 0}, ax1[4] = {0, 0, 0, 0}, ah1[4] = {0, 0, 0, 0};
    int le33 = rnnse_pair_form(sx, sh, sx1, sh1, SHIFT_MASK);
    if (le33 < 0) return 0;
    rnnse_dot_s8_gates(rec, row, 3, x, (int)k4, h, (int)h4, ax0, ah0);
    rnnse_dot_s8_gates(rec1, row, 3, x, (int)k4, h, (int)h4, ax1, ah1);
    if (rnnse_gru_gates2(ax0, ah0, t, ax1, ah1, t1, T_B, T_BHN, T_MX, T_MH, T_SX, T_SH, le33, q0, q1)) {
        gru_gates_any(rec, row, x, (int)k4, h, (int)h4, q0);      /* an input accumulator too wide */
        gru_gates_any(rec1, row, x, (int)k4, h, (int)h4, q1);
    }
    return 1;
}
#endif

/* Phase 2: h' of units [j, j + n) from their phase-1 values.
 * h' = sat8(rshr((32768 - z) n + z (256 h), 23)) = sat8(rshr(2^15 n + z (256 h - n), 23)) (the same
 * integer; |2^15 n + z (256 h - n)| <= 2^30). */
RNNSE_ALWAYS_INLINE void gru_outputs(const int16_t *sig, const int16_t *tnh, const int32_t (*q)[4], int j, int n,
                                     const int8_t *h, int8_t *h_out, const int mode)
{
    int u = 0;
#ifdef RNNSE_SIMD_HAS_GRU_UNITS
    for (; u + 8 <= n; u += 8) rnnse_gru_outputs8(q + u, j + u, h, h_out, sig, tnh, mode == RNNSE_TABLE_NEAREST);
#endif
    for (j += u; u < n; u++, j++) {
        int32_t rg = rnnse_sig_lookup(q[u][0], sig, mode), zg = rnnse_sig_lookup(q[u][1], sig, mode);
        int32_t nn = rnnse_tanh_lookup(rnnse_fx_clip16(q[u][2] + rnnse_fx_mul_rshr15(rg, q[u][3])), tnh, mode);
        h_out[j] = (int8_t)rnnse_fx_clip8(rnnse_rshr(nn * 32768 + zg * (h[j] * 256 - nn), 23));
    }
}

/* The slice in two alternating phases, each a loop small enough for a core's 512-byte L0
 * instruction cache: requantized gate sums (dot products while the records stream through the
 * tiles) of up to CHUNK units, then their outputs. */
#define CHUNK 16

RNNSE_ALWAYS_INLINE void gru_int8_slice(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const int8_t *x,
                                        const int8_t *h, int8_t *h_out, const int mode)
{
    int first, count, n, r, j, u = 0;
    uint32_t k4 = rnnse_round4(L->n_in), h4 = rnnse_round4(L->n_out), rec_bytes = L->rec_bytes;
    size_t row = k4 + h4;
    int32_t q[CHUNK][4];
    rnnse_stream_t s;
    const uint8_t *tile;

    count = rnnse_slice((int)L->n_out, plat_core_id(), plat_num_cores(), &first);
    rnnse_stream_open(&s, &ctx->tiles, L->rec, rec_bytes, first, count);
    j = first;
    while ((tile = rnnse_stream_next(&s, &n)) != NULL) {
        for (r = 0; r < n; r++) {
            const int8_t *rec = (const int8_t *)tile + (size_t)r * rec_bytes;
            const uint8_t *t = (const uint8_t *)rec + 3 * row;
            uint32_t sx = rnnse_rec_u32(t + T_SX), sh = rnnse_rec_u32(t + T_SH);
#ifdef RNNSE_SIMD_HAS_GRU_UNITS
            if (r + 1 < n && u + 2 <= CHUNK && gru_pair(rec, rec_bytes, t, sx, sh, row, x, k4, h, h4, q[u], q[u + 1])) {
                r++;                    /* two units at once in the SIMD path's gate form: the */
                u++;                    /* second counted here, the first with the others below */
            } else
#endif
            if (RNNSE_LIKELY(rnnse_shifts_gt32(sx, SHIFT_MASK) && rnnse_shifts_gt32(sh, SHIFT_MASK))) {
                int32_t ax[3], ah[3];
                rnnse_dot_s8_gates(rec, row, 3, x, (int)k4, h, (int)h4, ax, ah);
                GRU_GATES(RQ_GT32, RQ_GT32, ax, ah, t, q[u]);
            } else if (rnnse_shifts_le33(sx, SHIFT_MASK) && rnnse_shifts_gt32(sh, SHIFT_MASK)) {
                /* small input shifts (a first layer): one flag for the three gates, no branch per gate */
                int32_t ax[3], ah[3];
                uint32_t miss = 0;
                rnnse_dot_s8_gates(rec, row, 3, x, (int)k4, h, (int)h4, ax, ah);
                GRU_GATES(RQ_LE33, RQ_GT32, ax, ah, t, q[u]);
                if (miss) gru_gates_any(rec, row, x, (int)k4, h, (int)h4, q[u]);
            } else if (rnnse_shifts_ge32(sx, SHIFT_MASK) && rnnse_shifts_ge32(sh, SHIFT_MASK)) {
                int32_t ax[3], ah[3];
                rnnse_dot_s8_gates(rec, row, 3, x, (int)k4, h, (int)h4, ax, ah);
                GRU_GATES(rnnse_requant_ge32, rnnse_requant_ge32, ax, ah, t, q[u]);
            } else {
                gru_gates_any(rec, row, x, (int)k4, h, (int)h4, q[u]);
            }
            if (++u == CHUNK) {
                gru_outputs(ctx->sigmoid_table, ctx->tanh_table, (const int32_t(*)[4])q, j, u, h, h_out, mode);
                j += u;
                u = 0;
            }
        }
    }
    gru_outputs(ctx->sigmoid_table, ctx->tanh_table, (const int32_t(*)[4])q, j, u, h, h_out, mode);
}

/* One instantiation per table mode. */
void rnnse_gru_int8(const rnnse_layer_t *L, const rnnse_ctx_t *ctx, const int8_t *x, const int8_t *h,
                    int8_t *h_out)
{
    if (L->table_mode == RNNSE_TABLE_NEAREST) gru_int8_slice(L, ctx, x, h, h_out, RNNSE_TABLE_NEAREST);
    else gru_int8_slice(L, ctx, x, h, h_out, RNNSE_TABLE_LINEAR);
}
