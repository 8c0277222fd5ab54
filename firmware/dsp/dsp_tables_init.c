#include <math.h>

#include "dsp.h"

dsp_tables_t dsp_tables;

static uint8_t reverse8(unsigned v)
{
    unsigned r = 0;
    for (int b = 0; b < 8; b++)
        r |= ((v >> b) & 1u) << (7 - b);
    return (uint8_t)r;
}

void dsp_tables_init(void)
{
    const double pi = 3.14159265358979323846;
    dsp_tables_t *t = &dsp_tables;
    if (t->ready)
        return;
    for (int i = 0; i < DSP_WIN; i++) {
        /* computed in double and rounded once, as rnnse.stft.hann_window does */
        t->window[i] = (float)(0.5 - 0.5 * cos(2.0 * pi * i / DSP_WIN));
        t->synth_window[i] = t->window[i] / DSP_OLA_GAIN;
    }
    for (int j = 0; j < DSP_HALF / 2; j++) {
        t->tw[2 * j] = (float)cos(2.0 * pi * j / DSP_HALF);
        t->tw[2 * j + 1] = (float)-sin(2.0 * pi * j / DSP_HALF);
    }
    for (int k = 0; k < DSP_HALF; k++) {
        t->split_tw[2 * k] = (float)cos(2.0 * pi * k / DSP_NFFT);
        t->split_tw[2 * k + 1] = (float)-sin(2.0 * pi * k / DSP_NFFT);
    }
    for (int i = 0; i < DSP_HALF; i++)
        t->bitrev[i] = reverse8((unsigned)i);
    t->ready = 1;
}
