#include "dsp.h"

void dsp_synthesize(dsp_chain_t *c, const float *mask, int16_t *out)
{
    float hop[DSP_HOP];
    dsp_apply_mask(c->spec, mask, DSP_NBINS);
    dsp_irfft512(c->spec, c->work);
    dsp_synth_window(c->work, c->work);
    dsp_overlap_add(c->ola, c->work, hop);
    dsp_float_to_pcm16(hop, out, DSP_HOP);
}
