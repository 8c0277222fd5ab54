/*
 * Whole-network frame step: runs an exported model (rnnse_model.h) one STFT frame at a time,
 * carrying the recurrent states from frame to frame, on a team of cores.
 *
 *   rnnse_net_t net;
 *   int rc = rnnse_net_init(&net, &rnnse_model, 8);       // allocates L1 (plat_l1_alloc)
 *   if (rc < 0) printf("%s\n", rnnse_strerror(rc));
 *   for each frame: rnnse_net_step(&net, mag, mask);       // 257 FP32 in, 257 FP32 out
 *   rnnse_net_reset(&net);                                 // zero the states (new stream)
 *
 * rnnse_net_init and rnnse_net_step are called from one core (outside a team); the step forks
 * the team itself. The L1 memory stays allocated until plat_l1_reset().
 *
 * Tensor promotion: rnnse_net_init copies the records of every layer that fits into the L1 left
 * after the states, activations, tables and the weight tiles the other layers need (largest
 * layers first); such a layer's kernel then reads its records in place in L1, frame after frame,
 * with no DMA. The others stream from L2 through the tiles. Results are identical either way.
 */
#ifndef RNNSE_NET_H
#define RNNSE_NET_H

#include <stddef.h>
#include <stdint.h>

#include "platform.h"
#include "rnnse_ctx.h"
#include "rnnse_model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RNNSE_NET_IO 257          /* input and output size of the speech-enhancement network */

/* Network instance (fields are private to rnnse_net.c). */
typedef struct rnnse_net {
    const rnnse_model_t *model;
    int ncores;
    int parity;                               /* which h buffer holds the current state */
    rnnse_ctx_t ctx;
    void *h[RNNSE_MAX_LAYERS][2];             /* recurrent layers: h state, double-buffered */
    void *c[RNNSE_MAX_LAYERS];                /* lstm: c state */
    uint32_t state_bytes[RNNSE_MAX_LAYERS];   /* bytes of one h buffer / of c */
    uint32_t c_bytes[RNNSE_MAX_LAYERS];
    void *act[2];                             /* activation ping-pong buffers */
    rnnse_layer_t res[RNNSE_MAX_LAYERS];      /* promoted layers: copies whose records are in L1 */
    uint8_t resident[RNNSE_MAX_LAYERS];       /* 1: layer i runs from res[i] (its records stay in L1) */
    uint32_t resident_bytes;                  /* L1 bytes of the promoted records */
    rnnse_ctx_t ctx_res;                      /* ctx for promoted layers: records read in place */
    int stream_all;                           /* 1: promoted layers stream too (rnnse_net_set_max_tile) */
    uint32_t act_bytes;
    const float *io_in;                       /* current step's FP32 input and output */
    float *io_out;
    uint64_t step_cycles;                     /* plat_cycles() spent in the last step */
    uint64_t phase_cycles[RNNSE_MAX_LAYERS + 2]; /* last step, per phase (code between barriers,
                                                  * seen by core 0): [input conversion,] one per
                                                  * layer, output conversion */
    int n_phases;
} rnnse_net_t;

int rnnse_net_init(rnnse_net_t *net, const rnnse_model_t *model, int ncores);
int rnnse_net_step(rnnse_net_t *net, const float *mag, float *mask);
void rnnse_net_reset(rnnse_net_t *net);
const char *rnnse_strerror(int code);

/* The network's weight tiles as one L1 area: used only inside rnnse_net_step, so free for other
 * work (the signal chain, for instance) between steps; NULL (and *bytes = 0) before a successful
 * rnnse_net_init, or when the L1 allocator did not place the tiles in one area. Its contents do
 * not survive a step. */
void *rnnse_net_scratch(const rnnse_net_t *net, size_t *bytes);

/* Number of promoted layers (their records resident in L1), and their bytes in *bytes. */
int rnnse_net_resident(const rnnse_net_t *net, uint32_t *bytes);

/* Cap on records per weight tile (tests force many DMA rounds with it); 0 removes the cap. A cap
 * also makes promoted layers stream again (through the tiles), 0 brings them back. */
void rnnse_net_set_max_tile(rnnse_net_t *net, uint32_t records);

/* 1: the kernels read the weights in place (L2, or any memory the cores can read) instead of
 * streaming them through the L1 tiles; for targets where that is faster (a host CPU with
 * caches). 0 (default): DMA ping-pong through L1, as on the MCU. Results are identical. */
void rnnse_net_set_weights_in_place(rnnse_net_t *net, int on);

#ifdef __cplusplus
}
#endif
#endif /* RNNSE_NET_H */
