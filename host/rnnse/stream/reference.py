"""What the firmware's stream should produce, computed on the host (tests, verification).

The firmware takes int16 hops, runs the FP32 signal chain and the network, and returns int16 hops
delayed by the chain's latency. Its reference is :class:`rnnse.stft.StreamingChain` with the golden
model (:class:`rnnse.quant.GoldenModel`) in between, fed with int16 / 32768. docs/numerics.md,
"On-device signal chain", gives the bound between the two.
"""
from __future__ import annotations

import numpy as np

from ..config import HOP_LENGTH, LATENCY, N_BINS
from ..stft import StreamingChain

PCM_SCALE = 32768.0


def pcm16_hops(pcm: np.ndarray) -> np.ndarray:
    """int16 samples -> (hops, HOP) float32 in [-1, 1), zero-padded to whole hops."""
    pcm = np.asarray(pcm, dtype=np.int16)
    n = -(-len(pcm) // HOP_LENGTH)
    x = np.zeros(n * HOP_LENGTH, np.float32)
    x[:len(pcm)] = pcm.astype(np.float32) / np.float32(PCM_SCALE)
    return x.reshape(n, HOP_LENGTH)


def chain_stream(pcm: np.ndarray, masks=None):
    """The signal chain alone, hop by hop: returns (output float32 (hops*HOP,), magnitudes (hops, 257)).
    ``masks``: (hops, 257) mask per hop, None for all ones."""
    chain = StreamingChain()
    hops = pcm16_hops(pcm)
    out = np.zeros(hops.shape, np.float32)
    mags = np.zeros((len(hops), N_BINS), np.float32)
    for k, hop in enumerate(hops):
        mag, spec = chain.push(hop)
        mags[k] = mag
        out[k] = chain.pop(spec if masks is None else spec * np.asarray(masks[k], np.float32))
    return out.reshape(-1), mags


def golden_stream(qmodel, pcm: np.ndarray, mags=None):
    """The golden model in the signal chain, hop by hop, from a fresh state.

    ``mags``: magnitudes to feed the network instead of the chain's own (e.g. the firmware's,
    returned by a DEBUG stream), so that the network sees exactly what the firmware's network saw.
    Returns (output float32 (hops*HOP,), masks (hops, 257) float32)."""
    from ..quant import GoldenModel

    golden = qmodel if isinstance(qmodel, GoldenModel) else GoldenModel(qmodel)
    hops = pcm16_hops(pcm)
    if mags is None:
        _, mags = chain_stream(pcm)
    mags = np.asarray(mags, np.float32)
    if mags.shape != (len(hops), N_BINS):
        raise ValueError(f"magnitudes of shape {mags.shape}, expected {(len(hops), N_BINS)}")
    # one sequence call carries the states from frame to frame like the firmware's steps (the same
    # integers on INT8 paths; FP16 sums may be ordered otherwise, within the spec's tolerance)
    masks = np.asarray(golden.run(mags), np.float32)
    out, _ = chain_stream(pcm, masks)
    return out, masks


def to_pcm16(y: np.ndarray) -> np.ndarray:
    """Float output -> int16 as the firmware converts it (x32768, round half to even, saturate)."""
    return np.clip(np.rint(np.asarray(y, np.float64) * PCM_SCALE), -32768, 32767).astype(np.int16)


def aligned(out: np.ndarray, n: int) -> np.ndarray:
    """Remove the chain's latency: the output samples that belong to input samples 0..n-1."""
    return np.asarray(out)[LATENCY:LATENCY + n]
