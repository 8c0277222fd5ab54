/*
 * rnnse on-device signal chain (FP32), the C twin of host/rnnse/stft.py's StreamingChain.
 *
 * Per 100-sample hop: int16 -> float (/32768), shift into the 400-sample analysis buffer, periodic
 * Hann window, zero-pad to 512 at the end, real FFT (257 bins), magnitude -> network -> mask on the
 * complex spectrum, inverse real FFT, first 400 samples * window / 1.5, overlap-add, 100 samples out
 * (x32768, round to nearest even, saturate to int16). Spectra are interleaved (re, im) float pairs.
 */
#ifndef RNNSE_DSP_H
#define RNNSE_DSP_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DSP_HOP 100
#define DSP_WIN 400
#define DSP_NFFT 512
#define DSP_NBINS 257
#define DSP_HALF 256          /* size of the complex FFT behind the 512-point real FFT */
#define DSP_OLA_GAIN 1.5f     /* squared-window overlap sum of the periodic Hann at hop WIN/4 */

typedef struct dsp_tables {
    float window[DSP_WIN];          /* periodic Hann */
    float synth_window[DSP_WIN];    /* window / DSP_OLA_GAIN */
    float tw[DSP_HALF];             /* e^{-2 pi i j / 256}, j < 128, interleaved */
    float split_tw[DSP_NFFT];       /* e^{-2 pi i k / 512}, k < 256, interleaved */
    uint8_t bitrev[DSP_HALF];       /* 8-bit bit reversal */
    int ready;
} dsp_tables_t;

extern dsp_tables_t dsp_tables;

typedef struct dsp_chain {
    float in[DSP_WIN];              /* newest 400 input samples */
    float ola[DSP_WIN];             /* overlap-add accumulator */
    float spec[2 * DSP_NBINS];      /* spectrum of the newest frame */
    float work[DSP_NFFT];
} dsp_chain_t;

/* tables (idempotent) */
void dsp_tables_init(void);
/* in-place 256-point complex FFT (inverse = 1: conjugate twiddles, no scaling) */
void dsp_cfft256(float *z, int inverse);
/* 512-point real FFT of x (512 samples) into spec (257 bins); x and spec may not overlap */
void dsp_rfft512(const float *x, float *spec);
/* inverse of dsp_rfft512 with numpy's 1/512 scaling (imaginary parts of bins 0 and 256 ignored);
 * spec is used as scratch and destroyed */
void dsp_irfft512(float *spec, float *x);
/* frame[0..399] = in * window, frame[400..511] = 0 */
void dsp_window_frame(const float *in, float *frame);
/* mag[k] = |spec[k]| for n bins */
void dsp_magnitude(const float *spec, float *mag, int n);
/* spec[k] *= mask[k] for n bins */
void dsp_apply_mask(float *spec, const float *mask, int n);
/* frame[i] = x[i] * window[i] / 1.5 for the first 400 samples */
void dsp_synth_window(const float *x, float *frame);
/* ola += frame; out = ola[0..99]; shift ola left by one hop */
void dsp_overlap_add(float *ola, const float *frame, float *out);
/* int16 -> float / 32768 */
void dsp_pcm16_to_float(const int16_t *in, float *out, int n);
/* float * 32768 -> int16, round half to even, saturate (NaN -> 0) */
void dsp_float_to_pcm16(const float *in, int16_t *out, int n);

/* the per-hop chain */
void dsp_chain_reset(dsp_chain_t *c);
/* take one hop of input, leave its spectrum in c->spec and its magnitude in mag (257) */
void dsp_analyze(dsp_chain_t *c, const int16_t *hop, float *mag);
/* mask c->spec, synthesise and overlap-add, write one finished hop of output */
void dsp_synthesize(dsp_chain_t *c, const float *mask, int16_t *out);

#ifdef __cplusplus
}
#endif
#endif /* RNNSE_DSP_H */
