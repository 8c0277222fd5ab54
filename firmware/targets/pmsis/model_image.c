/* The model's flash image: header and payload checks, the descriptor built from the payload
 * (layout in model_image.h). Portable C: the PMSIS firmware runs it at boot, the tests on the
 * host against the image writer (tests/test_flash_image.py). */
#include <string.h>

#include "model_image.h"

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint32_t rnnse_image_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    /* four bits at a time: a 64-byte table (L2 is scarce next to the largest models) */
    static const uint32_t t[16] = {0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
                                   0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
                                   0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        crc = t[crc & 15u] ^ (crc >> 4);
        crc = t[crc & 15u] ^ (crc >> 4);
    }
    return ~crc;
}

int rnnse_image_header(const uint8_t *b, rnnse_image_header_t *h, const char **why)
{
    h->magic = le32(b);
    h->version = le32(b + 4);
    h->payload_bytes = le32(b + 8);
    h->payload_crc = le32(b + 12);
    h->model_checksum = le32(b + 16);
    if (h->magic != RNNSE_IMAGE_MAGIC) {
        *why = "the model file in flash is not an rnnse model image (bad magic): write it with `rnnse flash`";
        return RNNSE_IMAGE_E_MAGIC;
    }
    if (h->version != RNNSE_IMAGE_VERSION) {
        *why = "the model image in flash has another image version than this firmware reads: write it again "
               "with this checkout's `rnnse flash`";
        return RNNSE_IMAGE_E_VERSION;
    }
    if (h->payload_bytes < RNNSE_IMAGE_FIXED_BYTES) {
        *why = "the model image in flash is truncated (its payload is shorter than the descriptor)";
        return RNNSE_IMAGE_E_SIZE;
    }
    *why = "ok";
    return RNNSE_IMAGE_OK;
}

/* [off, off + bytes) inside the payload (no overflow) */
static int inside(const rnnse_image_header_t *h, uint32_t off, uint64_t bytes)
{
    return (uint64_t)off + bytes <= h->payload_bytes;
}

static int terminated(const uint8_t *s, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (!s[i]) return 1;
    return 0;
}

int rnnse_image_model(const rnnse_image_header_t *h, const uint8_t *p, rnnse_model_t *m, const char **why)
{
    uint32_t n, tables, toff, i, floor_bits;
    if (rnnse_image_crc32(0, p, h->payload_bytes) != h->payload_crc) {
        *why = "the model image in flash is corrupt: its payload does not match its CRC-32";
        return RNNSE_IMAGE_E_CRC;
    }
    memset(m, 0, sizeof *m);
    m->magic = le32(p);
    m->version = le32(p + 4);
    n = le32(p + 8);
    m->input_roots = le32(p + 12);
    floor_bits = le32(p + 24);
    memcpy(&m->mask_floor, &floor_bits, sizeof m->mask_floor);
    tables = le32(p + 16);
    toff = le32(p + 20);
    if (m->magic != RNNSE_FORMAT_MAGIC || m->version != RNNSE_FORMAT_VERSION) {
        *why = "the model in flash has another model format version than this firmware runs: export and "
               "write it again with this checkout (`rnnse flash`)";
        return RNNSE_IMAGE_E_VERSION;
    }
    if (n < 1 || n > RNNSE_MAX_LAYERS || m->input_roots > RNNSE_MAX_INPUT_ROOTS || (tables & ~3u) ||
        !inside(h, RNNSE_IMAGE_FIXED_BYTES, (uint64_t)n * RNNSE_IMAGE_LAYER_BYTES) ||
        !(m->mask_floor >= 0.0f && m->mask_floor < 1.0f) ||
        !terminated(p + 28, RNNSE_IMAGE_NAME) || !terminated(p + 96, RNNSE_IMAGE_SCHEME)) {
        *why = "the model image in flash has an inconsistent descriptor (layer count, input roots, mask floor, "
               "names)";
        return RNNSE_IMAGE_E_FORMAT;
    }
    m->n_layers = n;
    m->name = (const char *)(p + 28);
    m->scheme = (const char *)(p + 96);
    if (tables) {
        uint32_t count = (tables & 1u) + (tables >> 1);
        if ((toff & 1u) || !inside(h, toff, (uint64_t)count * RNNSE_TABLE_SIZE * 2u)) {
            *why = "the model image in flash has its activation tables outside the image";
            return RNNSE_IMAGE_E_FORMAT;
        }
        if (tables & 1u) m->sigmoid_table = (const int16_t *)(const void *)(p + toff);
        if (tables & 2u)
            m->tanh_table = (const int16_t *)(const void *)(p + toff + ((tables & 1u) ? RNNSE_TABLE_SIZE * 2u : 0u));
    }
    for (i = 0; i < n; i++) {
        const uint8_t *w = p + RNNSE_IMAGE_FIXED_BYTES + i * RNNSE_IMAGE_LAYER_BYTES;
        rnnse_layer_t *L = &m->layers[i];
        uint32_t scale_bits = le32(w + 52), off = le32(w + 60);
        uint64_t bytes;
        L->kind = le32(w);
        L->prec = le32(w + 4);
        L->in_type = le32(w + 8);
        L->out_type = le32(w + 12);
        L->n_in = le32(w + 16);
        L->n_out = le32(w + 20);
        L->act = le32(w + 24);
        L->table_mode = le32(w + 28);
        L->c_mult = (int32_t)le32(w + 32);
        L->c_shift = (int32_t)le32(w + 36);
        L->ct_mult = (int32_t)le32(w + 40);
        L->ct_shift = (int32_t)le32(w + 44);
        L->c_bits = (int32_t)le32(w + 48);
        memcpy(&L->scale, &scale_bits, 4);
        L->rec_bytes = le32(w + 56);
        bytes = (uint64_t)L->rec_bytes * L->n_out;
        if (bytes == 0 ? off != 0 : ((off & 15u) || off == 0 || !inside(h, off, bytes))) {
            *why = "the model image in flash has a layer whose records lie outside the image or are misaligned";
            return RNNSE_IMAGE_E_FORMAT;
        }
        L->rec = bytes ? (const void *)(p + off) : NULL;
    }
    m->checksum = h->model_checksum;     /* rnnse_net_init checks the descriptor against it */
    *why = "ok";
    return RNNSE_IMAGE_OK;
}
