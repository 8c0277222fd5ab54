#include "dsp.h"

void dsp_overlap_add(float *ola, const float *frame, float *out)
{
    for (int i = 0; i < DSP_HOP; i++)
        out[i] = ola[i] + frame[i];
    for (int i = DSP_HOP; i < DSP_WIN; i++)
        ola[i - DSP_HOP] = ola[i] + frame[i];
    for (int i = DSP_WIN - DSP_HOP; i < DSP_WIN; i++)
        ola[i] = 0.0f;
}
