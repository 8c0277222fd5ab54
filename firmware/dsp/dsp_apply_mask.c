#include "dsp.h"

void dsp_apply_mask(float *spec, const float *mask, int n)
{
    for (int k = 0; k < n; k++) {
        spec[2 * k] *= mask[k];
        spec[2 * k + 1] *= mask[k];
    }
}
