"""Audio file I/O with clear errors.

Every waveform inside rnnse is mono float32 in [-1, 1] at ``SAMPLE_RATE``.
Anything else is either converted explicitly (resampling, with ``resample=True``)
or refused with an :class:`AudioError` that names the problem.
"""
from __future__ import annotations

import io
import os
import sys
from fractions import Fraction

import numpy as np

from .config import SAMPLE_RATE, WIN_LENGTH


STDIO = "-"        # a file name that means standard input (reading) or standard output (writing)


def report_stream(output):
    """Where a command prints its report: standard error when its audio goes to standard output."""
    return sys.stderr if os.fspath(output) == STDIO else sys.stdout


class AudioError(ValueError):
    """Raised for audio input that rnnse cannot use as it is."""


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling (scipy) from ``sr_in`` to ``sr_out``."""
    if sr_in == sr_out:
        return np.asarray(x, dtype=np.float32)
    from scipy.signal import resample_poly

    ratio = Fraction(sr_out, sr_in)
    y = resample_poly(np.asarray(x, dtype=np.float64), ratio.numerator, ratio.denominator)
    return y.astype(np.float32)


def load_wav(path, sr: int = SAMPLE_RATE, resample_ok: bool = False, mono_ok: bool = False,
             min_samples: int = WIN_LENGTH) -> np.ndarray:
    """Read an audio file (``-``: a wav on standard input) as mono float32 at ``sr``.

    * ``resample_ok``: resample other rates to ``sr`` instead of refusing them.
    * ``mono_ok``: average multi-channel files to mono instead of refusing them.
    * ``min_samples``: shorter clips are refused (default: one analysis window).
    """
    import soundfile as sf

    path = os.fspath(path)
    source = path
    if path == STDIO:
        path = "stdin"
        source = io.BytesIO(sys.stdin.buffer.read())
        if not source.getbuffer().nbytes:
            raise AudioError("stdin: no audio (empty input)")
    elif not os.path.exists(path):
        raise AudioError(f"{path}: no such file")
    elif os.path.isdir(path):
        raise AudioError(f"{path}: is a directory, not an audio file")
    elif os.path.getsize(path) == 0:
        raise AudioError(f"{path}: empty file")
    try:
        data, file_sr = sf.read(source, dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises several types for corrupt data
        raise AudioError(f"{path}: unreadable or corrupt audio file ({exc})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: contains no samples")
    if data.shape[1] > 1:
        if not mono_ok:
            raise AudioError(f"{path}: has {data.shape[1]} channels; rnnse needs mono audio "
                             "(mix it down first, or pass --mono to average the channels)")
        data = data.mean(axis=1, keepdims=True)
    x = data[:, 0]
    if file_sr != sr:
        if not resample_ok:
            raise AudioError(f"{path}: sample rate is {file_sr} Hz, expected {sr} Hz "
                             "(pass --resample to convert it)")
        x = resample(x, file_sr, sr)
    if not np.all(np.isfinite(x)):
        raise AudioError(f"{path}: contains NaN or infinite samples")
    if x.shape[0] < min_samples:
        raise AudioError(f"{path}: {x.shape[0]} samples is shorter than one analysis window "
                         f"({min_samples} samples = {1000 * min_samples / sr:.1f} ms)")
    return np.ascontiguousarray(x, dtype=np.float32)


def save_wav(path, x: np.ndarray, sr: int = SAMPLE_RATE) -> None:
    """Write mono float audio as 16-bit PCM (clipped to [-1, 1]); ``-``: a wav on standard output."""
    import soundfile as sf

    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 1:
        raise AudioError(f"save_wav expects a mono 1-D signal, got shape {x.shape}")
    if os.fspath(path) == STDIO:
        buf = io.BytesIO()         # libsndfile seeks back to finish the header: not on a pipe
        sf.write(buf, to_pcm16(x), sr, format="WAV", subtype="PCM_16")
        sys.stdout.buffer.write(buf.getvalue())
        sys.stdout.buffer.flush()
        return
    d = os.path.dirname(os.fspath(path))
    if d:
        os.makedirs(d, exist_ok=True)
    # through to_pcm16 so that the file holds exactly what the rest of rnnse calls the int16
    # version of x (libsndfile would scale by 32767)
    sf.write(os.fspath(path), to_pcm16(x), sr, subtype="PCM_16")


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """Float [-1, 1] to int16 with rounding to nearest and saturation."""
    return np.clip(np.round(np.asarray(x, dtype=np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def from_pcm16(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32) / 32768.0


def speech_like_pcm16(n: int, seed: int = 0) -> np.ndarray:
    """A deterministic speech-like int16 test signal of n samples at 16 kHz: the harmonics of a
    gliding 90-150 Hz pitch shaped by one formant near 700 Hz, amplitude-modulated at 3 Hz, plus
    white noise (seeded), peaking at 12000. For tests and benchmarks that need voiced input
    without the corpus."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / float(SAMPLE_RATE)
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / float(SAMPLE_RATE)
    x = sum(np.sin(k * phase) / k * np.exp(-((k * f0 - 700) / 400) ** 2 * 0.5) for k in range(1, 30))
    x = x * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2) + 0.3 * rng.standard_normal(n)
    return np.clip(x / np.abs(x).max() * 12000, -32768, 32767).astype(np.int16)
