"""The firmware's FP32 signal chain (firmware/dsp) against numpy and rnnse.stft.StreamingChain.

Bounds are those of docs/numerics.md, "On-device signal chain": with u = 2^-24,
  * FFT outputs (any bin) within 4 u ||X||_2 of the exact transform (||X||_2 of the full spectrum);
  * stream output within 0.5 + 1/16 LSB of 32768 x StreamingChain's output for the same masks.
"""
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnse import stft
from rnnse.stream import reference

U = 2.0 ** -24
OUT_BOUND = 0.5 + 1.0 / 16      # LSB, see the module doc
FFT_BOUND = 4.0                 # x u ||X||_2
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "samples", "demo_noisy.wav")


@pytest.fixture(scope="module")
def dsp():
    from rnnse.stream.capi import load

    ffi, lib = load()
    lib.dsp_tables_init()
    return ffi, lib


def fbuf(ffi, a):
    return ffi.from_buffer("float[]", a)


def c_rfft(dsp, x):
    ffi, lib = dsp
    x = np.ascontiguousarray(x, np.float32)
    spec = np.zeros(514, np.float32)
    lib.dsp_rfft512(fbuf(ffi, x), fbuf(ffi, spec))
    return spec


def c_chain(dsp, pcm, masks=None):
    """The C chain hop by hop: (int16 output, magnitudes)."""
    ffi, lib = dsp
    hops = np.zeros(-(-len(pcm) // 100) * 100, np.int16)
    hops[:len(pcm)] = pcm
    hops = hops.reshape(-1, 100)
    chain = ffi.new("dsp_chain_t *")
    lib.dsp_chain_reset(chain)
    out = np.zeros(hops.shape, np.int16)
    mags = np.zeros((len(hops), 257), np.float32)
    ones = np.ones(257, np.float32)
    for k, h in enumerate(hops):
        h = np.ascontiguousarray(h)
        lib.dsp_analyze(chain, ffi.from_buffer("int16_t[]", h), fbuf(ffi, mags[k]))
        m = ones if masks is None else np.ascontiguousarray(masks[k], np.float32)
        o = np.zeros(100, np.int16)
        lib.dsp_synthesize(chain, fbuf(ffi, m), ffi.from_buffer("int16_t[]", o))
        out[k] = o
    return out.reshape(-1), mags


def frame_norms(pcm):
    """||x_k||_2 of every windowed analysis frame of the stream (float64)."""
    x = reference.pcm16_hops(pcm).reshape(-1).astype(np.float64)
    xp = np.concatenate([np.zeros(300), x])
    n = len(x) // 100
    idx = np.arange(400)[None, :] + 100 * np.arange(n)[:, None]
    return np.linalg.norm(xp[idx] * stft.WINDOW.astype(np.float64), axis=1)


def speech_like(n, rng):
    """Voiced harmonics under formant-like envelopes, syllable amplitude modulation, noise bursts."""
    t = np.arange(n) / 16000.0
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16000.0
    x = sum(np.sin(k * phase) / k * np.exp(-((k * f0 - 700) / 400) ** 2 * 0.5) for k in range(1, 30))
    x = x * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2) + 0.05 * rng.standard_normal(n)
    return np.clip(x / np.abs(x).max() * 20000, -32768, 32767).astype(np.int16)


# ---- tables and primitives -------------------------------------------------------------------

def test_tables_match_the_python_chain(dsp):
    ffi, lib = dsp
    t = lib.dsp_tables
    window = np.frombuffer(ffi.buffer(t.window), np.float32)
    synth = np.frombuffer(ffi.buffer(t.synth_window), np.float32)
    np.testing.assert_array_equal(window, stft.WINDOW)                       # bit for bit
    np.testing.assert_array_equal(synth, stft.WINDOW / np.float32(stft.OLA_GAIN))
    tw = np.frombuffer(ffi.buffer(t.tw), np.float32)
    np.testing.assert_allclose(tw[0::2] + 1j * tw[1::2], np.exp(-2j * np.pi * np.arange(128) / 256), atol=1e-7)
    stw = np.frombuffer(ffi.buffer(t.split_tw), np.float32)
    np.testing.assert_allclose(stw[0::2] + 1j * stw[1::2], np.exp(-2j * np.pi * np.arange(256) / 512), atol=1e-7)
    rev = np.frombuffer(ffi.buffer(t.bitrev), np.uint8)
    assert sorted(rev) == list(range(256))
    assert all(int(f"{i:08b}"[::-1], 2) == rev[i] for i in range(256))


@pytest.mark.parametrize("inverse", [0, 1])
def test_cfft256_against_numpy(dsp, inverse):
    ffi, lib = dsp
    rng = np.random.default_rng(1 + inverse)
    cases = [rng.standard_normal(512) * s for s in (1e-6, 1.0, 300.0)]
    cases += [np.eye(512)[3], np.ones(512), np.zeros(512)]
    for z in cases:
        z = z.astype(np.float32)
        zc = z[0::2].astype(np.float64) + 1j * z[1::2]
        ref = np.fft.ifft(zc) * 256 if inverse else np.fft.fft(zc)
        out = z.copy()
        lib.dsp_cfft256(fbuf(ffi, out), inverse)
        err = np.abs(out[0::2] + 1j * out[1::2] - ref).max()
        assert err <= FFT_BOUND * U * np.linalg.norm(ref) + 1e-30, err


def test_rfft512_against_numpy(dsp):
    rng = np.random.default_rng(2)
    worst = 0.0
    for i in range(60):
        x = (rng.standard_normal(512) * 10.0 ** rng.uniform(-4, 2)).astype(np.float32)
        if i % 2:
            x[400:] = 0.0        # the chain's zero padding
        spec = c_rfft(dsp, x)
        ref = np.fft.rfft(x.astype(np.float64))
        full_norm = np.sqrt(512) * np.linalg.norm(x.astype(np.float64))   # ||X||_2, Parseval
        err = np.abs(spec[0::2] + 1j * spec[1::2] - ref).max() / (U * full_norm)
        worst = max(worst, err)
        assert spec[1] == 0.0 and spec[513] == 0.0      # DC and Nyquist are real
    assert worst <= FFT_BOUND, worst


def test_irfft512_against_numpy_and_round_trip(dsp):
    ffi, lib = dsp
    rng = np.random.default_rng(3)
    for i in range(40):
        X = (rng.standard_normal(257) + 1j * rng.standard_normal(257)) * 10.0 ** rng.uniform(-3, 3)
        spec = np.zeros(514, np.float32)
        spec[0::2], spec[1::2] = X.real, X.imag
        Xf = spec[0::2].astype(np.float64) + 1j * spec[1::2]
        ref = np.fft.irfft(Xf, 512)          # ignores the imaginary parts of bins 0 and 256, as the C does
        y = np.zeros(512, np.float32)
        lib.dsp_irfft512(fbuf(ffi, spec), fbuf(ffi, y))
        full = np.concatenate([Xf.real[:1], Xf[1:256], Xf.real[256:], np.conj(Xf[255:0:-1])])
        bound = FFT_BOUND * U * np.linalg.norm(full) / 512 * np.sqrt(512)   # ||y||_2 = ||X||_2 / sqrt(512)
        assert np.abs(y - ref).max() <= bound
    x = rng.standard_normal(512).astype(np.float32)
    y = np.zeros(512, np.float32)
    lib.dsp_irfft512(fbuf(ffi, c_rfft(dsp, x)), fbuf(ffi, y))
    assert np.abs(y - x).max() <= 8 * U * np.linalg.norm(x)


def test_magnitude_and_mask(dsp):
    ffi, lib = dsp
    rng = np.random.default_rng(4)
    spec = (rng.standard_normal(514) * 10.0 ** rng.uniform(-3, 3, 514)).astype(np.float32)
    mag = np.zeros(257, np.float32)
    lib.dsp_magnitude(fbuf(ffi, spec), fbuf(ffi, mag), 257)
    ref = np.hypot(spec[0::2].astype(np.float64), spec[1::2])
    np.testing.assert_allclose(mag, ref, rtol=3 * U, atol=0)
    mask = rng.random(257).astype(np.float32)
    s2 = spec.copy()
    lib.dsp_apply_mask(fbuf(ffi, s2), fbuf(ffi, mask), 257)
    np.testing.assert_array_equal(s2[0::2], spec[0::2] * mask)
    np.testing.assert_array_equal(s2[1::2], spec[1::2] * mask)


def test_pcm16_conversions(dsp):
    ffi, lib = dsp
    allv = np.arange(-32768, 32768, dtype=np.int16)
    f = np.zeros(len(allv), np.float32)
    lib.dsp_pcm16_to_float(ffi.from_buffer("int16_t[]", allv), fbuf(ffi, f), len(allv))
    np.testing.assert_array_equal(f, allv.astype(np.float32) / np.float32(32768))
    vals = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 0.49999, 32766.5, 32767.0, 32767.4, 32768.0, 1e9,
                     -32768.0, -32768.6, -1e9, np.nan, np.inf, -np.inf], np.float64)
    x = (vals / 32768.0).astype(np.float32)
    out = np.zeros(len(x), np.int16)
    lib.dsp_float_to_pcm16(fbuf(ffi, x), ffi.from_buffer("int16_t[]", out), len(x))
    expect = [0, 2, 2, 0, -2, 0, 32766, 32767, 32767, 32767, 32767, -32768, -32768, -32768, 0, 32767, -32768]
    assert out.tolist() == expect          # round half to even, saturation, NaN -> 0
    fin = np.isfinite(vals)
    np.testing.assert_array_equal(out[fin], reference.to_pcm16(x[fin]))


def test_overlap_add(dsp):
    ffi, lib = dsp
    rng = np.random.default_rng(5)
    ola = rng.standard_normal(400).astype(np.float32)
    frame = rng.standard_normal(400).astype(np.float32)
    out = np.zeros(100, np.float32)
    ola0 = ola.copy()
    lib.dsp_overlap_add(fbuf(ffi, ola), fbuf(ffi, frame), fbuf(ffi, out))
    s = ola0 + frame
    np.testing.assert_array_equal(out, s[:100])
    np.testing.assert_array_equal(ola, np.concatenate([s[100:], np.zeros(100, np.float32)]))


# ---- the chain ---------------------------------------------------------------------------------

def test_all_ones_mask_reconstructs_the_input_exactly(dsp):
    """Mask 1: output = input delayed by LATENCY, every sample (the FP32 error is far below 1/2 LSB)."""
    rng = np.random.default_rng(6)
    full_scale = rng.integers(-32768, 32768, 8000).astype(np.int16)
    square = np.where((np.arange(4000) // 37) % 2, 32767, -32768).astype(np.int16)
    for pcm in (full_scale, square, speech_like(8000, rng)):
        padded = np.concatenate([pcm, np.zeros(300, np.int16)])
        out, _ = c_chain(dsp, padded)
        np.testing.assert_array_equal(reference.aligned(out, len(pcm)), pcm)
        assert not out[:300].any()          # nothing before the latency


def check_chain(dsp, pcm, masks):
    out, mags = c_chain(dsp, pcm, masks)
    ref, ref_mags = reference.chain_stream(pcm, masks)
    # magnitudes: per bin within FFT_BOUND u ||X||_2 of the Python chain's
    norms = np.sqrt(512) * frame_norms(pcm)
    assert np.all(np.abs(mags - ref_mags) <= FFT_BOUND * U * norms[:, None] + 1e-30)
    # audio: int16 output within 1/2 LSB (rounding) + 1/16 LSB of the float reference
    diff = np.abs(out.astype(np.float64) - np.clip(ref.astype(np.float64) * 32768.0, -32768, 32767))
    assert diff.max() <= OUT_BOUND, diff.max()
    return diff


def test_chain_matches_streaming_chain_random_masks(dsp):
    rng = np.random.default_rng(7)
    pcm = rng.integers(-32768, 32768, 6000).astype(np.int16)
    n = -(-len(pcm) // 100)
    diff = check_chain(dsp, pcm, rng.random((n, 257)).astype(np.float32))
    assert diff.mean() < 0.3         # rounding error alone averages 1/4 LSB
    pcm = speech_like(12000, rng)
    n = -(-len(pcm) // 100)
    masks = np.clip(rng.random((n, 257)) * 1.2 - 0.1, 0, 1).astype(np.float32)   # with exact 0 and 1
    check_chain(dsp, pcm, masks)


@pytest.mark.skipif(not os.path.exists(DEMO), reason="samples/demo_noisy.wav not in this checkout")
def test_chain_on_the_demo_clip(dsp):
    from rnnse.audio import load_wav, to_pcm16

    pcm = to_pcm16(load_wav(DEMO))
    rng = np.random.default_rng(8)
    n = -(-len(pcm) // 100)
    check_chain(dsp, pcm, rng.random((n, 257)).astype(np.float32))
    padded = np.concatenate([pcm, np.zeros(300, np.int16)])
    np.testing.assert_array_equal(reference.aligned(c_chain(dsp, padded)[0], len(pcm)), pcm)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), hops=st.integers(1, 12), level=st.floats(-4.5, 0.0))
def test_chain_property(dsp, seed, hops, level):
    rng = np.random.default_rng(seed)
    pcm = np.clip(rng.standard_normal(hops * 100) * 32768 * 10 ** level, -32768, 32767).astype(np.int16)
    check_chain(dsp, pcm, rng.random((hops, 257)).astype(np.float32))
