/* Inverse of dsp_rfft512: Z[k] = E[k] + i O[k] with E[k] = (X[k] + conj X[256-k]) / 512 and
 * O[k] = (X[k] - conj X[256-k]) conj(W^k) / 512 (the 1/2 and numpy's 1/N folded in), then an
 * unscaled inverse 256-point complex FFT gives x[2n] = Re z[n], x[2n+1] = Im z[n].
 * Bins k and 256-k are handled together: Z[256-k] = conj E[k] + i conj O[k]. */
#include <string.h>

#include "dsp.h"

void dsp_irfft512(float *spec, float *x)
{
    const float *w = dsp_tables.split_tw;
    const float s = 1.0f / DSP_NFFT;
    float x0 = spec[0], xn = spec[2 * DSP_HALF];
    spec[0] = s * (x0 + xn);
    spec[1] = s * (x0 - xn);
    for (int k = 1; k <= DSP_HALF / 2; k++) {
        float *a = spec + 2 * k, *b = spec + 2 * (DSP_HALF - k);
        float er = s * (a[0] + b[0]), ei = s * (a[1] - b[1]);
        float dr = s * (a[0] - b[0]), di = s * (a[1] + b[1]);   /* X[k] - conj X[256-k] */
        float wr = w[2 * k], wi = -w[2 * k + 1];                  /* conj(W^k) */
        float or_ = dr * wr - di * wi, oi = dr * wi + di * wr;
        a[0] = er - oi;
        a[1] = ei + or_;
        b[0] = er + oi;
        b[1] = or_ - ei;
    }
    dsp_cfft256(spec, 1);
    memcpy(x, spec, DSP_NFFT * sizeof(float));
}
