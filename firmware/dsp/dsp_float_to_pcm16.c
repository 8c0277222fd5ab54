#include <math.h>

#include "dsp.h"

void dsp_float_to_pcm16(const float *in, int16_t *out, int n)
{
    for (int i = 0; i < n; i++) {
        float v = in[i] * 32768.0f;
        if (v != v)
            out[i] = 0;
        else if (v >= 32767.0f)
            out[i] = 32767;
        else if (v <= -32768.0f)
            out[i] = -32768;
        else
            out[i] = (int16_t)lrintf(v);   /* default rounding mode: to nearest, ties to even */
    }
}
