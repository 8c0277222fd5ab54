/* Iterative radix-2 decimation-in-time complex FFT of 256 points, in place. */
#include "dsp.h"

static void bit_reverse(float *z)
{
    for (int i = 0; i < DSP_HALF; i++) {
        int j = dsp_tables.bitrev[i];
        if (j > i) {
            float re = z[2 * i], im = z[2 * i + 1];
            z[2 * i] = z[2 * j];
            z[2 * i + 1] = z[2 * j + 1];
            z[2 * j] = re;
            z[2 * j + 1] = im;
        }
    }
}

void dsp_cfft256(float *z, int inverse)
{
    const float *tw = dsp_tables.tw;
    const float sign = inverse ? -1.0f : 1.0f;
    bit_reverse(z);
    for (int half = 1; half < DSP_HALF; half *= 2) {
        int stride = DSP_HALF / (2 * half);   /* twiddle step for this stage */
        for (int start = 0; start < DSP_HALF; start += 2 * half) {
            for (int j = 0; j < half; j++) {
                float wr = tw[2 * j * stride], wi = sign * tw[2 * j * stride + 1];
                float *a = z + 2 * (start + j), *b = a + 2 * half;
                float tr = b[0] * wr - b[1] * wi;
                float ti = b[0] * wi + b[1] * wr;
                b[0] = a[0] - tr;
                b[1] = a[1] - ti;
                a[0] += tr;
                a[1] += ti;
            }
        }
    }
}
