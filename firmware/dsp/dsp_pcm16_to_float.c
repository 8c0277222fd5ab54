#include "dsp.h"

void dsp_pcm16_to_float(const int16_t *in, float *out, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = (float)in[i] * (1.0f / 32768.0f);
}
