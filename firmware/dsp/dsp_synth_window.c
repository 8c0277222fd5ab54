#include "dsp.h"

void dsp_synth_window(const float *x, float *frame)
{
    const float *w = dsp_tables.synth_window;
    for (int i = 0; i < DSP_WIN; i++)
        frame[i] = x[i] * w[i];
}
