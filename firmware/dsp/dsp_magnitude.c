#include <math.h>

#include "dsp.h"

void dsp_magnitude(const float *spec, float *mag, int n)
{
    for (int k = 0; k < n; k++) {
        float re = spec[2 * k], im = spec[2 * k + 1];
        mag[k] = sqrtf(re * re + im * im);
    }
}
