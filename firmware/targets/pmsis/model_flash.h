/* The model read from the flash at boot (PMSIS: the board's flash through the read-only file
 * system, readfs, of the PMSIS BSP; GVSoC's hyperflash preloaded with the image by the host). */
#ifndef RNNSE_MODEL_FLASH_H
#define RNNSE_MODEL_FLASH_H

#include "model_image.h"

/* Read RNNSE_IMAGE_FILE from the flash into L2, check it (model_image.h) and make it the model
 * the application and the batch program run (`rnnse_model`). Returns RNNSE_IMAGE_OK or an
 * RNNSE_IMAGE_E_* code; *why: one line saying what is wrong. */
int model_flash_load(const char **why);

#endif /* RNNSE_MODEL_FLASH_H */
