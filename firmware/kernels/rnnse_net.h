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
#include "rnnse_model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* error codes (negative); 0 is success */
#define RNNSE_OK 0
#define RNNSE_ERR_ARG (-1)        /* NULL pointer or bad core count */
#define RNNSE_ERR_MAGIC (-2)      /* not a model descriptor */
#define RNNSE_ERR_VERSION (-3)    /* descriptor format version not supported */
#define RNNSE_ERR_CHECKSUM (-4)   /* descriptor contents do not match their checksum */
#define RNNSE_ERR_FORMAT (-5)     /* inconsistent layer list (kinds, types, sizes, records, an int8
                                   * weight of -128) */
#define RNNSE_ERR_L1 (-6)         /* L1 budget too small for states or for one tile */

#define RNNSE_NET_IO 257          /* input and output size of the speech-enhancement network */

/* Per-core double buffers for weight tiles (ping-pong). */
typedef struct rnnse_tiles {
    uint8_t *buf[PLAT_MAX_CORES][2];
    uint32_t buf_bytes;           /* bytes per buffer */
    uint32_t max_tile_rec;        /* records per tile cap (0 = as many as fit) */
    uint32_t in_place;            /* 1: kernels read the weights where they are, without DMA tiles */
    uint8_t *block;               /* all the buffers when they form one contiguous L1 area, else NULL */
    uint32_t block_bytes;
} rnnse_tiles_t;

/* What the kernels share besides the layer descriptor: tiles and tables in L1. */
typedef struct rnnse_ctx {
    rnnse_tiles_t tiles;
    const int16_t *sigmoid_table;
    const int16_t *tanh_table;
} rnnse_ctx_t;

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
