/* The model read from the flash at boot: the PMSIS BSP's hyperflash and read-only file system
 * (readfs), the image read into one block of L2 (pi_l2_malloc) and checked there
 * (model_image.c). */
#include <string.h>

#include "pmsis.h"
#include "bsp/bsp.h"
#include "bsp/fs.h"
#include "bsp/fs/readfs.h"

#include "model_flash.h"

#define READ_CHUNK 32768u      /* bytes per flash read */

/* The flash holding the image: the hyperflash of pulp-open's board by default; a board with
 * another flash names its BSP header, configuration type and initialiser (firmware/targets/gap9). */
#ifndef RNNSE_FLASH_CONF
#include "bsp/flash/hyperflash.h"
#define RNNSE_FLASH_CONF struct pi_hyperflash_conf
#define RNNSE_FLASH_CONF_INIT pi_hyperflash_conf_init
#else
#include RNNSE_FLASH_HEADER
#endif

/* The descriptor the application and the batch program run: the firmware's other targets link a
 * const `rnnse_model` in from the exported sources (app/net_rnnse.c, targets/pulp/batch_pulp.c
 * declare it so); here it is filled from the flash image before either uses it, and never
 * changes afterwards. */
rnnse_model_t rnnse_model;

static struct pi_device flash, fs;

static int read_all(pi_fs_file_t *f, uint8_t *dst, uint32_t bytes)
{
    while (bytes > 0) {
        uint32_t n = bytes < READ_CHUNK ? bytes : READ_CHUNK;
        if (pi_fs_read(f, dst, n) != (int32_t)n) return -1;
        dst += n;
        bytes -= n;
    }
    return 0;
}

static int load(const char **why)
{
    static RNNSE_FLASH_CONF flash_conf;
    static struct pi_readfs_conf fs_conf;
    static uint8_t header[RNNSE_IMAGE_HEADER_BYTES] __attribute__((aligned(8)));
    rnnse_image_header_t h;
    pi_fs_file_t *f;
    uint8_t *payload;
    int rc;

    RNNSE_FLASH_CONF_INIT(&flash_conf);
    pi_open_from_conf(&flash, &flash_conf);
    if (pi_flash_open(&flash)) {
        *why = "the flash could not be opened";
        return RNNSE_IMAGE_E_READ;
    }
    pi_readfs_conf_init(&fs_conf);
    fs_conf.fs.flash = &flash;
    pi_open_from_conf(&fs, &fs_conf);
    if (pi_fs_mount(&fs)) {
        *why = "no model in flash: the flash holds no readfs file system (write the model with `rnnse flash`)";
        return RNNSE_IMAGE_E_MISSING;
    }
    f = pi_fs_open(&fs, RNNSE_IMAGE_FILE, 0);
    if (!f) {
        *why = "no model in flash: its file system has no " RNNSE_IMAGE_FILE " (write the model with `rnnse flash`)";
        return RNNSE_IMAGE_E_MISSING;
    }
    if (read_all(f, header, sizeof header)) {
        *why = "the model image in flash could not be read (shorter than its header?)";
        return RNNSE_IMAGE_E_READ;
    }
    if ((rc = rnnse_image_header(header, &h, why)) != RNNSE_IMAGE_OK) return rc;
    if (h.payload_bytes + RNNSE_IMAGE_HEADER_BYTES != f->size) {
        *why = "the model image in flash has another size than its header says (truncated or padded)";
        return RNNSE_IMAGE_E_SIZE;
    }
    payload = (uint8_t *)pi_l2_malloc((int)h.payload_bytes + 16);    /* never freed */
    if (payload) payload += -(uintptr_t)payload & 15u;                /* 16-byte aligned records */
    if (!payload) {
        *why = "the model image in flash is larger than the L2 memory left for it";
        return RNNSE_IMAGE_E_SIZE;
    }
    if (read_all(f, payload, h.payload_bytes)) {
        *why = "the model image in flash could not be read to its end";
        return RNNSE_IMAGE_E_READ;
    }
    pi_fs_close(f);
    pi_fs_unmount(&fs);           /* the file system's buffers go back to the L2 allocator */
    pi_flash_close(&flash);
    return rnnse_image_model(&h, payload, &rnnse_model, why);
}

int model_flash_load(const char **why)
{
    int rc = load(why);
    if (rc != RNNSE_IMAGE_OK) memset(&rnnse_model, 0, sizeof rnnse_model);   /* no half-filled model */
    return rc;
}
