/* 512-point real FFT through a 256-point complex FFT of z[n] = x[2n] + i x[2n+1]:
 *   X[k] = E[k] + W^k O[k],  E[k] = (Z[k] + conj Z[256-k]) / 2,  O[k] = (Z[k] - conj Z[256-k]) / 2i,
 * W = e^{-2 pi i / 512}; bins k and 256-k are computed together, X[256-k] = conj(E[k] - W^k O[k]). */
#include <string.h>

#include "dsp.h"

void dsp_rfft512(const float *x, float *spec)
{
    const float *w = dsp_tables.split_tw;
    memcpy(spec, x, DSP_NFFT * sizeof(float));
    dsp_cfft256(spec, 0);
    float z0r = spec[0], z0i = spec[1];
    spec[0] = z0r + z0i;
    spec[1] = 0.0f;
    spec[2 * DSP_HALF] = z0r - z0i;
    spec[2 * DSP_HALF + 1] = 0.0f;
    for (int k = 1; k <= DSP_HALF / 2; k++) {
        float *a = spec + 2 * k, *b = spec + 2 * (DSP_HALF - k);
        float er = 0.5f * (a[0] + b[0]), ei = 0.5f * (a[1] - b[1]);   /* E[k] */
        float or_ = 0.5f * (a[1] + b[1]), oi = 0.5f * (b[0] - a[0]);  /* O[k] */
        float wr = w[2 * k], wi = w[2 * k + 1];
        float tr = wr * or_ - wi * oi, ti = wr * oi + wi * or_;       /* W^k O[k] */
        a[0] = er + tr;
        a[1] = ei + ti;
        b[0] = er - tr;
        b[1] = ti - ei;
    }
}
