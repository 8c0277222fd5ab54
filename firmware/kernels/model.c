/* Descriptor helpers: record sizes and the integrity checksum (CRC-32 of a canonical serialisation). */
#include <string.h>

#include "rnnse_model.h"

#define TAIL_INT8 56u   /* per-unit constants of an int8 lstm/gru record */
#define TAIL_FP16 8u    /* 4 FP16 biases (lstm) or 3 + b_hn (gru) */

uint32_t rnnse_record_bytes(uint32_t kind, uint32_t prec, uint32_t n_in, uint32_t n_out)
{
    uint32_t k4 = rnnse_round4(n_in), h4 = rnnse_round4(n_out), gates;
    if (kind == RNNSE_FC) return prec == RNNSE_INT8 ? k4 + 12u : 2u * k4 + 4u;
    if (kind != RNNSE_LSTM && kind != RNNSE_GRU) return 0;
    gates = kind == RNNSE_LSTM ? 4u : 3u;
    if (prec == RNNSE_INT8) return gates * (k4 + h4) + TAIL_INT8;
    return 2u * gates * (k4 + h4) + TAIL_FP16;
}

int rnnse_weights_in_range(const rnnse_layer_t *L)
{
    uint32_t k4 = rnnse_round4(L->n_in), h4 = rnnse_round4(L->n_out), u, i, bytes;
    const uint8_t *rec = (const uint8_t *)L->rec;
    if (L->prec != RNNSE_INT8 || !rec) return 1;
    if (L->kind == RNNSE_FC) bytes = k4;
    else if (L->kind == RNNSE_LSTM || L->kind == RNNSE_GRU) bytes = (L->kind == RNNSE_LSTM ? 4u : 3u) * (k4 + h4);
    else return 1;
    for (u = 0; u < L->n_out; u++, rec += L->rec_bytes)
        for (i = 0; i < bytes; i++)
            if (rec[i] == 0x80u) return 0;
    return 1;
}

/* CRC-32 (IEEE 802.3, as zlib.crc32), table built on first use. */
static uint32_t crc_table[256];
static int crc_ready;

static void crc_init(void)
{
    uint32_t i, k, c;
    for (i = 0; i < 256; i++) {
        c = i;
        for (k = 0; k < 8; k++) c = (c & 1u) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    crc_ready = 1;
}

static uint32_t crc_bytes(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *b = (const uint8_t *)p;
    size_t i;
    for (i = 0; i < n; i++) crc = crc_table[(crc ^ b[i]) & 0xffu] ^ (crc >> 8);
    return crc;
}

/* A 32-bit word as 4 little-endian bytes, whatever the host byte order. */
static uint32_t crc_word(uint32_t crc, uint32_t w)
{
    uint8_t b[4];
    b[0] = (uint8_t)w;
    b[1] = (uint8_t)(w >> 8);
    b[2] = (uint8_t)(w >> 16);
    b[3] = (uint8_t)(w >> 24);
    return crc_bytes(crc, b, 4);
}

static uint32_t crc_layer(uint32_t h, const rnnse_layer_t *L)
{
    uint32_t scale_bits;
    memcpy(&scale_bits, &L->scale, sizeof scale_bits);
    h = crc_word(h, L->kind);
    h = crc_word(h, L->prec);
    h = crc_word(h, L->in_type);
    h = crc_word(h, L->out_type);
    h = crc_word(h, L->n_in);
    h = crc_word(h, L->n_out);
    h = crc_word(h, L->act);
    h = crc_word(h, L->table_mode);
    h = crc_word(h, (uint32_t)L->c_mult);
    h = crc_word(h, (uint32_t)L->c_shift);
    h = crc_word(h, (uint32_t)L->ct_mult);
    h = crc_word(h, (uint32_t)L->ct_shift);
    h = crc_word(h, (uint32_t)L->c_bits);
    h = crc_word(h, scale_bits);
    h = crc_word(h, L->rec_bytes);
    if (L->rec && L->rec_bytes) h = crc_bytes(h, L->rec, (size_t)L->rec_bytes * L->n_out);
    return h;
}

static uint32_t crc_table_words(uint32_t h, const int16_t *t)
{
    int i;
    if (!t) return crc_word(h, 0u);
    h = crc_word(h, 1u);
    for (i = 0; i < RNNSE_TABLE_SIZE; i++) {
        uint8_t b[2];
        b[0] = (uint8_t)(uint16_t)t[i];
        b[1] = (uint8_t)((uint16_t)t[i] >> 8);
        h = crc_bytes(h, b, 2);
    }
    return h;
}

uint32_t rnnse_model_checksum(const rnnse_model_t *m)
{
    uint32_t h = 0xffffffffu, i, n = m->n_layers > RNNSE_MAX_LAYERS ? RNNSE_MAX_LAYERS : m->n_layers, floor_bits;
    if (!crc_ready) crc_init();
    h = crc_word(h, m->magic);
    h = crc_word(h, m->version);
    h = crc_word(h, m->n_layers);
    h = crc_word(h, m->input_roots);
    memcpy(&floor_bits, &m->mask_floor, sizeof floor_bits);
    h = crc_word(h, floor_bits);
    for (i = 0; i < n; i++) h = crc_layer(h, &m->layers[i]);
    h = crc_table_words(h, m->sigmoid_table);
    h = crc_table_words(h, m->tanh_table);
    return h ^ 0xffffffffu;
}
