#include <string.h>

#include "dsp.h"

void dsp_analyze(dsp_chain_t *c, const int16_t *hop, float *mag)
{
    memmove(c->in, c->in + DSP_HOP, (DSP_WIN - DSP_HOP) * sizeof(float));
    dsp_pcm16_to_float(hop, c->in + DSP_WIN - DSP_HOP, DSP_HOP);
    dsp_window_frame(c->in, c->work);
    dsp_rfft512(c->work, c->spec);
    dsp_magnitude(c->spec, mag, DSP_NBINS);
}
