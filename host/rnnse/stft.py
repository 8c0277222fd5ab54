"""The analysis / synthesis chain shared by training, evaluation and the golden model.

Framing (see docs/numerics.md, "Signal chain"):
  * the signal is preceded by LATENCY = 300 zeros; frame k holds padded samples
    [k*HOP, k*HOP + WIN) = input samples [k*HOP - 300, k*HOP + 100), i.e. frame k is complete
    as soon as hop k (input samples k*HOP .. k*HOP+99) has arrived;
  * each frame is multiplied by a periodic Hann window of 400 samples, zero-padded to 512 at
    the end and transformed with a real FFT (257 bins);
  * synthesis: inverse real FFT, keep the first 400 samples, multiply by the same window, divide
    by the window's squared-overlap sum (1.5) and overlap-add. Output hop k is final after frame k,
    so output sample n equals input sample n - LATENCY for an all-ones mask.
"""
from __future__ import annotations

import numpy as np

from .config import HOP_LENGTH, LATENCY, N_FFT, WIN_LENGTH


def hann_window(n: int = WIN_LENGTH) -> np.ndarray:
    """Periodic Hann window (the one whose squared overlap-sum is flat at hop n/4)."""
    k = np.arange(n, dtype=np.float64)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * k / n)).astype(np.float32)


WINDOW = hann_window()
# sum over shifts of w^2 at hop WIN/4: 4 * 3/8 = 1.5 exactly for the periodic Hann window
OLA_GAIN = float(np.sum(hann_window().astype(np.float64) ** 2) / HOP_LENGTH)


def num_frames(n_samples: int) -> int:
    """Frames needed so that every input sample has passed through all its frames."""
    return -(-(n_samples + LATENCY) // HOP_LENGTH)


def frame_signal(x: np.ndarray, n_frames: int | None = None) -> np.ndarray:
    """(n_frames, WIN_LENGTH) frames of ``x`` preceded by LATENCY zeros (see module doc)."""
    x = np.asarray(x, dtype=np.float32)
    if n_frames is None:
        n_frames = num_frames(len(x))
    total = (n_frames - 1) * HOP_LENGTH + WIN_LENGTH
    xp = np.zeros(total, dtype=np.float32)
    n = min(len(x), total - LATENCY)
    xp[LATENCY:LATENCY + n] = x[:n]
    idx = np.arange(WIN_LENGTH)[None, :] + HOP_LENGTH * np.arange(n_frames)[:, None]
    return xp[idx]


def stft(x: np.ndarray, n_frames: int | None = None) -> np.ndarray:
    """Complex spectrum (n_frames, 257), complex64."""
    frames = frame_signal(x, n_frames) * WINDOW
    return np.fft.rfft(frames, n=N_FFT, axis=-1).astype(np.complex64)


def istft(spec: np.ndarray, length: int | None = None) -> np.ndarray:
    """Overlap-add synthesis; returns the signal aligned with the input (latency removed)."""
    spec = np.asarray(spec)
    n_frames = spec.shape[0]
    frames = np.fft.irfft(spec, n=N_FFT, axis=-1)[:, :WIN_LENGTH] * (WINDOW / OLA_GAIN)
    out = np.zeros((n_frames - 1) * HOP_LENGTH + WIN_LENGTH, dtype=np.float64)
    for k in range(n_frames):
        out[k * HOP_LENGTH:k * HOP_LENGTH + WIN_LENGTH] += frames[k]
    y = out[LATENCY:]
    if length is not None:
        y = y[:length]
    return y.astype(np.float32)


def input_feature(mag, roots: int):
    """The network input of models with ``input_roots`` = k: |X|^(1/2^k) as k successive square
    roots (torch tensors or numpy arrays; numpy float32 stays float32, and IEEE square roots are
    correctly rounded, so this equals the firmware's sqrtf chain bit for bit). k = 0: |X|."""
    for _ in range(int(roots)):
        mag = mag.sqrt() if hasattr(mag, "sqrt") else np.sqrt(mag)
    return mag


def apply_mask(x: np.ndarray, mask_fn) -> np.ndarray:
    """Enhance a whole signal: ``mask_fn`` maps magnitudes (T, 257) to a mask (T, 257)."""
    spec = stft(x)
    mask = np.asarray(mask_fn(np.abs(spec)), dtype=np.float32)
    if mask.shape != spec.shape:
        raise ValueError(f"mask shape {mask.shape} does not match spectrum shape {spec.shape}")
    return istft(spec * mask, length=len(x))


class StreamingChain:
    """Hop-by-hop version of :func:`stft` / :func:`istft`: 100 samples in, 100 samples out.

    ``push(hop)`` returns (magnitude, spectrum) of the newest frame; ``pop(masked_spectrum)``
    overlap-adds it and returns the 100 finished output samples (delayed by LATENCY).
    """

    def __init__(self):
        self.inbuf = np.zeros(WIN_LENGTH, dtype=np.float32)
        self.olabuf = np.zeros(WIN_LENGTH, dtype=np.float64)

    def push(self, hop: np.ndarray):
        hop = np.asarray(hop, dtype=np.float32)
        if hop.shape != (HOP_LENGTH,):
            raise ValueError(f"expected a hop of {HOP_LENGTH} samples, got shape {hop.shape}")
        self.inbuf[:-HOP_LENGTH] = self.inbuf[HOP_LENGTH:]
        self.inbuf[-HOP_LENGTH:] = hop
        spec = np.fft.rfft(self.inbuf * WINDOW, n=N_FFT).astype(np.complex64)
        return np.abs(spec), spec

    def pop(self, spec: np.ndarray) -> np.ndarray:
        frame = np.fft.irfft(spec, n=N_FFT)[:WIN_LENGTH] * (WINDOW / OLA_GAIN)
        self.olabuf += frame
        out = self.olabuf[:HOP_LENGTH].astype(np.float32)
        self.olabuf[:-HOP_LENGTH] = self.olabuf[HOP_LENGTH:]
        self.olabuf[-HOP_LENGTH:] = 0.0
        return out





def stft_torch(x):
    """Batched torch version of :func:`stft` for training: (B, N) float -> (B, T, 257) complex.

    Uses the same framing as :func:`frame_signal` (LATENCY zeros in front, T = num_frames(N)).
    """
    import torch

    b, n = x.shape
    t = num_frames(n)
    total = (t - 1) * HOP_LENGTH + WIN_LENGTH
    xp = torch.nn.functional.pad(x, (LATENCY, total - LATENCY - n))
    frames = xp.unfold(-1, WIN_LENGTH, HOP_LENGTH) * torch.from_numpy(WINDOW).to(x.device)
    return torch.fft.rfft(frames, n=N_FFT, dim=-1)
