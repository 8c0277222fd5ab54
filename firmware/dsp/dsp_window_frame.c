#include "dsp.h"

void dsp_window_frame(const float *in, float *frame)
{
    const float *w = dsp_tables.window;
    for (int i = 0; i < DSP_WIN; i++)
        frame[i] = in[i] * w[i];
    for (int i = DSP_WIN; i < DSP_NFFT; i++)
        frame[i] = 0.0f;
}
