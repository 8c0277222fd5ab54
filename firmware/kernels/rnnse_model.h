/*
 * Exported model descriptor: what `rnnse export` writes and the firmware runs.
 *
 * A model is an ordered list of layers (docs/numerics.md, "Exported model"): fc, lstm, gru, and the
 * conversion steps quant and dequant. Weights and per-row constants of an fc/lstm/gru layer are
 * stored as one *record* per output unit, records one after the other in L2, so that any slice of
 * units (a core's share) and any tile of it (one DMA) is one contiguous block:
 *
 *   K4 = round_up(n_in, 4), H4 = round_up(n_out, 4) (zero-padded columns), G = gates (1, 4 or 3)
 *   FC   int8 : w int8[K4] | b int32 | mult int32 | shift int32
 *   FC   fp16 : w f16[K4]  | b f16 | 0 f16
 *   LSTM int8 : G x (w_ih int8[K4] | w_hh int8[H4]) | b int32[4] | mult_x int32[4] | mult_h int32[4]
 *               | shift_x uint8[4] | shift_h uint8[4]                                   (G = 4: i f g o)
 *   GRU  int8 : G x (w_ih int8[K4] | w_hh int8[H4]) | b int32[3] | b_hn int32 | mult_x int32[3] | 0 int32
 *               | mult_h int32[3] | 0 int32 | shift_x uint8[3] 0 | shift_h uint8[3] 0  (G = 3: r z n)
 *   LSTM fp16 : G x (w_ih f16[K4] | w_hh f16[H4]) | b f16[4]
 *   GRU  fp16 : G x (w_ih f16[K4] | w_hh f16[H4]) | b f16[3] | b_hn f16
 *   quant     : no records (rec_bytes 0: one inv_scale in `scale`) or one per element
 *               (rec_bytes 4: inv_scale float32, `scale` 0)
 * All multi-byte values little-endian; rnnse_record_bytes() gives the record size.
 *
 * Network input: |X|^(1 / 2^input_roots), input_roots (0..RNNSE_MAX_INPUT_ROOTS) successive FP32
 * square roots of the magnitude (0: the linear magnitude, as the paper), before the first layer.
 * Network output: the last layer's mask raised to at least `mask_floor` (0: unchanged), in FP32
 * after the output conversion: an attenuation limit of -20 log10(mask_floor) dB.
 *
 * Integrity: `checksum` is the CRC-32 (zlib's) of a canonical little-endian serialisation: words
 * magic, version, n_layers, input_roots, the bits of mask_floor; per layer the 15 header words (kind .. rec_bytes, `scale` as its bits)
 * then its n_out * rec_bytes record bytes; per table (sigmoid, tanh) a word 0 (absent) or 1 then
 * 257 int16. rnnse_model_checksum() computes it; the exporter writes the same value.
 */
#ifndef RNNSE_MODEL_H
#define RNNSE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RNNSE_FORMAT_MAGIC 0x45534e52u   /* "RNSE" */
#define RNNSE_FORMAT_VERSION 4u   /* 2: per-element quant scales; 3: input_roots; 4: mask_floor */
#define RNNSE_MAX_INPUT_ROOTS 3u
#define RNNSE_MAX_LAYERS 16
#define RNNSE_TABLE_SIZE 257

/* error codes (negative); 0 is success */
#define RNNSE_OK 0
#define RNNSE_ERR_ARG (-1)        /* NULL pointer or bad core count */
#define RNNSE_ERR_MAGIC (-2)      /* not a model descriptor */
#define RNNSE_ERR_VERSION (-3)    /* descriptor format version not supported */
#define RNNSE_ERR_CHECKSUM (-4)   /* descriptor contents do not match their checksum */
#define RNNSE_ERR_FORMAT (-5)     /* inconsistent layer list (kinds, types, sizes, records, an int8
                                   * weight of -128) */
#define RNNSE_ERR_L1 (-6)         /* L1 budget too small for states or for one tile */

/* layer kinds */
enum { RNNSE_FC = 1, RNNSE_LSTM = 2, RNNSE_GRU = 3, RNNSE_QUANT = 4, RNNSE_DEQUANT = 5 };
/* element types of vectors and weight precisions */
enum { RNNSE_FP32 = 1, RNNSE_FP16 = 2, RNNSE_INT8 = 3, RNNSE_INT16 = 4 };
/* FC activations */
enum { RNNSE_ACT_NONE = 0, RNNSE_ACT_RELU = 1, RNNSE_ACT_SIGMOID = 2 };
/* activation table lookup */
enum { RNNSE_TABLE_NEAREST = 0, RNNSE_TABLE_LINEAR = 1 };

typedef struct rnnse_layer {
    uint32_t kind;          /* RNNSE_FC .. RNNSE_DEQUANT */
    uint32_t prec;          /* fc/lstm/gru: RNNSE_FP16 or RNNSE_INT8; quant/dequant: 0 */
    uint32_t in_type;       /* element type of the input vector */
    uint32_t out_type;      /* element type of the output vector (int16: Q15 of an int8 sigmoid FC) */
    uint32_t n_in;          /* K */
    uint32_t n_out;         /* N (H for recurrent layers; n_in for quant/dequant) */
    uint32_t act;           /* fc: RNNSE_ACT_* */
    uint32_t table_mode;    /* int8 sigmoid/tanh lookup: RNNSE_TABLE_* */
    int32_t c_mult, c_shift;    /* int8 lstm: i*g -> c scale */
    int32_t ct_mult, ct_shift;  /* int8 lstm: c -> Q3.12 */
    int32_t c_bits;             /* int8 lstm: 8 or 16 */
    float scale;            /* quant: inv_scale (0: per element, in the records); dequant: scale */
    uint32_t rec_bytes;     /* bytes per output unit record (quant: 0 or 4; dequant: 0) */
    const void *rec;        /* n_out records in L2 */
} rnnse_layer_t;

typedef struct rnnse_model {
    uint32_t magic;         /* RNNSE_FORMAT_MAGIC */
    uint32_t version;       /* RNNSE_FORMAT_VERSION */
    const char *name;
    const char *scheme;     /* fp16, mixed, mixed+, int8, int8+ */
    uint32_t n_layers;
    uint32_t input_roots;   /* the network input is |X|^(1 / 2^input_roots) (0: |X|) */
    float mask_floor;       /* the output mask is max(mask, mask_floor); 0 <= mask_floor < 1 */
    const int16_t *sigmoid_table;   /* RNNSE_TABLE_SIZE entries; NULL without INT8 layers */
    const int16_t *tanh_table;
    rnnse_layer_t layers[RNNSE_MAX_LAYERS];
    uint32_t checksum;
} rnnse_model_t;

static inline uint32_t rnnse_round4(uint32_t n) { return (n + 3u) & ~3u; }

/* Size of one record of an fc/lstm/gru layer (see the layout above); 0 for other kinds. */
uint32_t rnnse_record_bytes(uint32_t kind, uint32_t prec, uint32_t n_in, uint32_t n_out);
/* 1 when every int8 weight of an fc/lstm/gru layer is in [-127, 127] (docs/numerics.md; the
 * vector kernels rely on it), 0 when one is -128. Layers without int8 weights: 1. */
int rnnse_weights_in_range(const rnnse_layer_t *L);
/* Checksum of a descriptor as the exporter computes it. */
uint32_t rnnse_model_checksum(const rnnse_model_t *m);

#ifdef __cplusplus
}
#endif
#endif /* RNNSE_MODEL_H */
