/* TEST BUILD ONLY: an all-ones mask instead of the network, so that the protocol and the signal
 * chain can be exercised without a model. Output = input delayed by 300 samples (within the DSP
 * bound). The INFO message names it "passthrough", so it is never mistaken for the real network. */
#include "app_net.h"

int app_net_init(int ncores)
{
    (void)ncores;
    return 0;
}

int app_net_step(const float *mag, float *mask)
{
    (void)mag;
    for (int k = 0; k < 257; k++)
        mask[k] = 1.0f;
    return 0;
}

void app_net_reset(void) {}

void *app_net_scratch(size_t *bytes)
{
    *bytes = 0;
    return 0;
}

const char *app_net_strerror(int code)
{
    return code ? "passthrough: unexpected error" : "ok";
}

void app_net_get_info(app_net_info_t *info)
{
    info->name = "passthrough";
    info->scheme = "none";
    info->checksum = 0;
    info->format_version = 0;
    info->n_phases = 0;
    info->phases = "";
}
