/*
 * Test and benchmark entry points of the host library (called from Python through cffi): run one
 * layer or a platform check on a team of cores, with the data copied into L1 as the network does.
 */
#ifndef RNNSE_HARNESS_H
#define RNNSE_HARNESS_H

#include <stdint.h>

#include "rnnse_model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Resets the L1 arena, copies x, h, c and the tables into L1, runs layer L on ncores cores with
 * at most max_tile_rec records per DMA tile (0: as many as fit the L1 budget) or, with in_place,
 * reading the records where they are, copies back c and the output (y: h' for recurrent layers).
 * Returns 0 or an RNNSE_ERR_* code (RNNSE_ERR_FORMAT: an int8 weight of -128). */
int rnnse_harness_layer(const rnnse_layer_t *L, const int16_t *sigmoid_table, const int16_t *tanh_table,
                        int ncores, uint32_t max_tile_rec, int in_place, const void *x, const void *h, void *c,
                        void *y);

/* FP32 activations of the FP16 kernels over n values: fn 0 sigmoid, 1 tanh through the SIMD
 * path in groups of 8 (n a multiple of 8), 2 sigmoid, 3 tanh, 4 exp through the scalar code. */
int rnnse_harness_act(int fn, const float *x, float *y, int n);

/* Integer primitives of rnnse_scalar.h over n inputs (acc, mult, shift: 2n entries each; the pair
 * forms take their second operand from entry n + i): form 0 rnnse_requant, 1 rnnse_requant_wide,
 * 2 rnnse_requant_ge32, 3 rnnse_requant_le32, 4 rnnse_requant_small (k = 33 - shift), 5
 * rnnse_requant2_sat16, 6 rnnse_requant2_sat16_ge32, 7 rnnse_requant2_sat16_gt32, 8 rnnse_add_sat
 * to [-32768, 32767], 9 rnnse_shifts_ge32 (acc: shift bytes, mult: mask), 10 rnnse_shifts_gt32,
 * 11 rnnse_requant_bounded, 12 rnnse_requant2_sat16_bounded, 13 rnnse_requant_le33 and 14
 * rnnse_requant2_sat16_le33 (INT32_MIN where they report a miss), 15 rnnse_shifts_le33.
 * The caller meets each form's preconditions. Returns 0 or RNNSE_ERR_ARG. */
int rnnse_harness_requant(int form, const int32_t *acc, const int32_t *mult, const int32_t *shift, int32_t *out,
                          int n);

/* Phase times (plat_cycles) of the last network step; returns the number of phases. */
struct rnnse_net;
int rnnse_harness_net_phases(const struct rnnse_net *net, uint64_t *out, int max);

/* Team check: `rounds` rounds of every core incrementing its counter then passing a barrier, each
 * core checking all counters after the barrier. ids[i] receives plat_core_id() seen by core i,
 * sizes[i] plat_num_cores(). Returns the number of inconsistencies seen (0 when correct). */
int rnnse_harness_team(int ncores, int rounds, int *ids, int *sizes);

/* DMA model check: starts a copy of n bytes of src into L1, reads the destination before the
 * wait into before[], waits, reads it into after[]. Returns 0, or -1 when L1 is too small. */
int rnnse_harness_dma(const uint8_t *src, uint32_t n, uint8_t *before, uint8_t *after);

/* Name of the SIMD path compiled in ("avx2" or "portable"). */
const char *rnnse_simd_name(void);

/* Layout facts the Python bindings check their declarations against: writes up to n values
 * (see harness.c for the order) and returns how many there are. */
int rnnse_harness_abi(uint32_t *out, int n);

/* Runs `frames` network steps (mags: frames x n_in, masks: frames x n_out FP32, row-major) on an initialised
 * network; returns 0 or the first error code. frame_cycles (NULL or `frames` entries) receives the
 * plat_cycles() each step took (nanoseconds on the host). */
int rnnse_harness_net_run(struct rnnse_net *net, const float *mags, float *masks, int frames,
                          uint64_t *frame_cycles);

#ifdef __cplusplus
}
#endif
#endif /* RNNSE_HARNESS_H */
