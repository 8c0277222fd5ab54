"""Speech-quality metrics: PESQ wide-band (ITU-T P.862.2), STOI and SI-SDR.

PESQ and STOI come from the `pesq` and `pystoi` packages; SI-SDR is computed here.
All functions take (reference clean, degraded) mono float signals at 16 kHz.
"""
from __future__ import annotations

import math

import numpy as np

from .config import SAMPLE_RATE


def si_sdr(clean: np.ndarray, est: np.ndarray, eps: float = 1e-12) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (zero-mean, optimal scaling)."""
    s = np.asarray(clean, dtype=np.float64)
    e = np.asarray(est, dtype=np.float64)
    n = min(len(s), len(e))
    s = s[:n] - s[:n].mean()
    e = e[:n] - e[:n].mean()
    alpha = np.dot(e, s) / (np.dot(s, s) + eps)
    target = alpha * s
    noise = e - target
    return float(10.0 * np.log10((np.dot(target, target) + eps) / (np.dot(noise, noise) + eps)))


def pesq_wb(clean: np.ndarray, est: np.ndarray) -> float:
    """PESQ-WB (MOS-LQO, 1.04 .. 4.64); NaN when PESQ finds no utterance in the reference."""
    from pesq import pesq
    from pesq.cypesq import NoUtterancesError

    n = min(len(clean), len(est))
    try:
        return float(pesq(SAMPLE_RATE, np.asarray(clean[:n], dtype=np.float64),
                          np.asarray(est[:n], dtype=np.float64), "wb"))
    except NoUtterancesError:
        return math.nan


def stoi(clean: np.ndarray, est: np.ndarray) -> float:
    from pystoi import stoi as _stoi

    n = min(len(clean), len(est))
    return float(_stoi(np.asarray(clean[:n], dtype=np.float64), np.asarray(est[:n], dtype=np.float64),
                       SAMPLE_RATE, extended=False))


def all_metrics(clean: np.ndarray, est: np.ndarray) -> dict:
    return {"pesq_wb": pesq_wb(clean, est), "stoi": stoi(clean, est), "si_sdr": si_sdr(clean, est)}
