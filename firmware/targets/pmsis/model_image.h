/*
 * The flash image of an exported model (`rnnse flash` writes it, host/rnnse/flash.py; the PMSIS
 * firmware reads it into L2 at boot): the model descriptor of firmware/kernels/rnnse_model.h and
 * its weight records, in one file of the flash's read-only file system (readfs), RNNSE_IMAGE_FILE.
 * All integers little-endian; offsets from the start of the payload.
 *
 *   header (RNNSE_IMAGE_HEADER_BYTES):
 *     0  u32 RNNSE_IMAGE_MAGIC          "RNSI"
 *     4  u32 RNNSE_IMAGE_VERSION
 *     8  u32 payload bytes
 *     12 u32 CRC-32 (zlib's) of the payload
 *     16 u32 model checksum (rnnse_model_checksum of the descriptor: what INFO reports)
 *     20 u32[3] 0
 *   payload:
 *     0  u32 model format magic (RNNSE_FORMAT_MAGIC), 4 u32 model format version (RNNSE_FORMAT_VERSION)
 *     8  u32 n_layers (1..RNNSE_MAX_LAYERS), 12 u32 input_roots
 *     16 u32 tables present: bit 0 sigmoid, bit 1 tanh; 20 u32 offset of the tables (257 int16
 *        each, sigmoid first, only those present)
 *     24 u32 the bits of mask_floor (FP32)
 *     28 char name[RNNSE_IMAGE_NAME] and 96 char scheme[RNNSE_IMAGE_SCHEME], NUL-terminated
 *     112 per layer RNNSE_IMAGE_LAYER_BYTES: the 15 words of the checksum's layer header (kind,
 *        prec, in_type, out_type, n_in, n_out, act, table_mode, c_mult, c_shift, ct_mult,
 *        ct_shift, c_bits, the bits of scale, rec_bytes), then u32 offset of its n_out records
 *        (16-byte aligned; 0 when it has none)
 *     then the tables and the records.
 *
 * rnnse_image_header checks the header, rnnse_image_model the payload (its CRC-32, then bounds and
 * alignment): every failure gives a code and one line saying what is wrong. The descriptor built
 * carries the header's model checksum, which rnnse_net_init checks against the descriptor and its
 * records (rnnse_model_checksum) before the network runs, as on every target.
 */
#ifndef RNNSE_MODEL_IMAGE_H
#define RNNSE_MODEL_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "rnnse_model.h"

#define RNNSE_IMAGE_MAGIC 0x49534E52u        /* "RNSI" */
#define RNNSE_IMAGE_VERSION 2u   /* 2: mask_floor */
#define RNNSE_IMAGE_HEADER_BYTES 32u
#define RNNSE_IMAGE_FILE "rnnse_model.bin"
#define RNNSE_IMAGE_NAME 68u
#define RNNSE_IMAGE_SCHEME 16u
#define RNNSE_IMAGE_FIXED_BYTES 112u
#define RNNSE_IMAGE_LAYER_BYTES 64u

enum {
    RNNSE_IMAGE_OK = 0,
    RNNSE_IMAGE_E_MISSING = -20,     /* no readfs file system or no model file in it */
    RNNSE_IMAGE_E_READ = -21,        /* the flash could not be read */
    RNNSE_IMAGE_E_MAGIC = -22,       /* not an rnnse flash image */
    RNNSE_IMAGE_E_VERSION = -23,     /* image or model format version this firmware does not read */
    RNNSE_IMAGE_E_SIZE = -24,        /* size inconsistent, or larger than the memory left */
    RNNSE_IMAGE_E_CRC = -25,         /* the payload does not match its CRC-32: corrupt image */
    RNNSE_IMAGE_E_FORMAT = -26,      /* inconsistent descriptor */
};

typedef struct rnnse_image_header {
    uint32_t magic, version, payload_bytes, payload_crc, model_checksum;
} rnnse_image_header_t;

/* Decode and check the RNNSE_IMAGE_HEADER_BYTES of an image. */
int rnnse_image_header(const uint8_t *bytes, rnnse_image_header_t *h, const char **why);

/* Check the payload against the header and fill *m with pointers into it (which must stay where
 * it is, 16-byte aligned). */
int rnnse_image_model(const rnnse_image_header_t *h, const uint8_t *payload, rnnse_model_t *m, const char **why);

/* CRC-32 (zlib's) of n bytes, continuing from crc (0 to start). */
uint32_t rnnse_image_crc32(uint32_t crc, const uint8_t *p, size_t n);

#endif /* RNNSE_MODEL_IMAGE_H */
