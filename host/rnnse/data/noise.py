"""Synthetic noise families, all seeded by a ``numpy.random.Generator``.

Each generator returns ``n`` float32 samples at 16 kHz with unit RMS; the caller sets the level.
Spectral shapes are imposed in the frequency domain on white Gaussian noise (one long FFT), which
gives exact slopes and is fast enough for minute-long clips.
"""
from __future__ import annotations

import numpy as np

from ..config import SAMPLE_RATE


def unit_rms(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean()
    r = np.sqrt(np.mean(x * x))
    return (x / r if r > 0 else x).astype(np.float32)


def shaped(n: int, rng: np.random.Generator, gain_fn) -> np.ndarray:
    """White noise filtered by the magnitude response ``gain_fn(freqs_hz)``."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    f[0] = f[1] if n > 1 else 1.0
    return unit_rms(np.fft.irfft(spec * gain_fn(f), n))


def slow_envelope(n: int, rng: np.random.Generator, rate_hz: float, depth_db: float) -> np.ndarray:
    """A smooth random gain curve: interpolated random points every 1/rate_hz seconds."""
    step = max(1, int(SAMPLE_RATE / rate_hz))
    pts = rng.uniform(-depth_db / 2, depth_db / 2, n // step + 2)
    env_db = np.interp(np.arange(n), np.arange(len(pts)) * step, pts)
    return (10.0 ** (env_db / 20.0)).astype(np.float32)


def white(n, rng):
    return unit_rms(rng.standard_normal(n))


def pink(n, rng):
    return shaped(n, rng, lambda f: 1.0 / np.sqrt(np.maximum(f, 20.0)))


def brown(n, rng):
    return shaped(n, rng, lambda f: 1.0 / np.maximum(f, 20.0))


def lowfreq(n, rng, fc_range=(60.0, 300.0), order_range=(1.5, 3.5), floor_db=(-60.0, -35.0)):
    """Steep low-frequency noise, slowly modulated: the spectra of DEMAND's cars, buses, parks.

    A low-pass of random corner ``fc_range`` Hz and slope ``order_range`` (x 6 dB/octave) over a
    flat floor ``floor_db`` dB down.
    """
    fc = rng.uniform(*fc_range)
    order = rng.uniform(*order_range)
    floor = 10 ** (rng.uniform(*floor_db) / 20)
    x = shaped(n, rng, lambda f: 1.0 / (1.0 + (f / fc) ** order) + floor)
    return unit_rms(x * slow_envelope(n, rng, rng.uniform(0.3, 2.0), rng.uniform(3, 10)))


def speech_shaped(n, rng):
    """Long-term average speech spectrum: flat to about 500 Hz, then falling about 9 dB/octave."""
    knee = rng.uniform(350.0, 700.0)
    x = shaped(n, rng, lambda f: (1.0 + (f / knee) ** 2) ** -0.75 * (f / (f + 80.0)))
    return unit_rms(x * slow_envelope(n, rng, 1.0, rng.uniform(0, 4)))


def hum(n, rng):
    """Mains hum with decaying harmonics and slight frequency drift, over a pink floor."""
    f0 = rng.choice([50.0, 60.0]) * rng.uniform(0.995, 1.005)
    t = np.arange(n) / SAMPLE_RATE
    drift = np.cumsum(rng.standard_normal(n)) * 1e-6
    x = np.zeros(n)
    for k in range(1, int(rng.integers(6, 30))):
        amp = rng.uniform(0.2, 1.0) / k ** rng.uniform(0.5, 1.5)
        x += amp * np.sin(2 * np.pi * k * f0 * (t + drift) + rng.uniform(0, 2 * np.pi))
    return unit_rms(unit_rms(x) + 10 ** (rng.uniform(-30, -10) / 20) * pink(n, rng))


def gated(n, rng):
    """Bursty noise: coloured noise switched on and off with random durations and soft edges."""
    base = [white, pink, brown, speech_shaped][int(rng.integers(0, 4))](n, rng)
    gate = np.zeros(n, dtype=np.float32)
    pos = 0
    while pos < n:
        on = int(rng.uniform(0.05, 0.6) * SAMPLE_RATE)
        off = int(rng.uniform(0.05, 0.8) * SAMPLE_RATE)
        gate[pos:pos + on] = rng.uniform(0.3, 1.0)
        pos += on + off
    k = int(0.01 * SAMPLE_RATE)
    gate = np.convolve(gate, np.ones(k) / k, mode="same")
    return unit_rms(base * (gate + 10 ** (rng.uniform(-40, -20) / 20)))


def vehicle(n, rng):
    """Engine rumble: brown noise plus a slowly varying low engine tone and its harmonics."""
    t = np.arange(n) / SAMPLE_RATE
    rpm = rng.uniform(20.0, 45.0) * slow_envelope(n, rng, 0.2, 6)
    phase = 2 * np.pi * np.cumsum(rpm) / SAMPLE_RATE
    tone = sum(np.sin(k * phase + rng.uniform(0, 6.3)) / k for k in range(1, 8))
    rumble = shaped(n, rng, lambda f: 1.0 / (1.0 + (f / rng.uniform(80, 200)) ** 2.5) + 1e-3)
    road = 0.1 * pink(n, rng) * slow_envelope(n, rng, 0.5, 6)
    del t
    return unit_rms(rumble + rng.uniform(0.2, 0.6) * unit_rms(tone) + road)


def loop_to(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Repeat a recording (with a random start and short crossfades) to ``n`` samples."""
    x = np.asarray(x, dtype=np.float32)
    fade = min(len(x) // 4, int(0.02 * SAMPLE_RATE))
    start = int(rng.integers(0, len(x)))
    x = np.concatenate([x[start:], x[:start]]) if start else x
    if len(x) >= n:
        return x[:n].copy()
    out = np.zeros(n + len(x), dtype=np.float32)
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32) if fade > 0 else None
    pos = 0
    while pos < n:
        seg = x.copy()
        if ramp is not None:
            seg[:fade] *= ramp
            seg[-fade:] *= ramp[::-1]
        out[pos:pos + len(seg)] += seg
        pos += len(seg) - fade
    return out[:n]


SYNTHETIC = {"white": white, "pink": pink, "brown": brown, "lowfreq": lowfreq,
             "speech_shaped": speech_shaped, "hum": hum, "gated": gated, "vehicle": vehicle}
