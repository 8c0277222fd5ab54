"""Voice perturbation of recorded speech: new pitch and vocal-tract length, same words and timing.

The few real speakers of the offline corpus are multiplied by resynthesising each training
recording with the WORLD vocoder (PyPI ``pyworld``): the F0 contour is scaled by ``f0_factor`` and
the spectral envelope's frequency axis by ``warp`` (formants move with it, as between speakers of
different vocal-tract lengths), the aperiodicity is kept. Across speakers, formant frequencies
scale roughly as the fourth root of the F0 ratio (female/male: F0 x 1.8, formants x 1.15), which
``perturbation_for`` uses to turn a target F0 into a plausible pair.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..config import SAMPLE_RATE

FRAME_MS = 5.0
FORMANT_EXPONENT = 0.25   # formant ratio = F0 ratio ** 0.25 (about 1.15 for female / male)


def _world():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # pyworld imports the deprecated pkg_resources
        import pyworld
    return pyworld


def analyse(x: np.ndarray):
    """WORLD analysis: (f0, spectral envelope, aperiodicity) at 5 ms frames."""
    pw = _world()
    x = np.ascontiguousarray(x, dtype=np.float64)
    f0, t = pw.dio(x, SAMPLE_RATE, frame_period=FRAME_MS)
    f0 = pw.stonemask(x, f0, t, SAMPLE_RATE)
    return f0, pw.cheaptrick(x, f0, t, SAMPLE_RATE), pw.d4c(x, f0, t, SAMPLE_RATE)


def median_f0(f0: np.ndarray) -> float:
    """Median of the voiced frames' F0 in Hz (0 when nothing is voiced)."""
    v = f0[f0 > 0]
    return float(np.median(v)) if v.size else 0.0


def warp_envelope(sp: np.ndarray, warp: float) -> np.ndarray:
    """Scale the frequency axis of a spectral envelope: bin k takes the value of bin k / warp
    (warp < 1 lowers the formants); above the last source bin the top value is held."""
    n = sp.shape[1]
    src = np.arange(n) / warp
    grid = np.arange(n)
    return np.stack([np.interp(src, grid, row) for row in sp])


def perturbation_for(f0_median: float, target_f0: float, rng) -> tuple[float, float]:
    """(f0_factor, warp) that moves a voice of median F0 ``f0_median`` to ``target_f0``."""
    factor = target_f0 / f0_median
    return factor, factor ** FORMANT_EXPONENT * rng.uniform(0.97, 1.03)


def perturb(x: np.ndarray, target_f0: float, rng) -> tuple[np.ndarray, dict]:
    """Resynthesise ``x`` with median F0 ``target_f0``. Returns (signal, parameters); the
    signal is empty when the clip has no voiced frame."""
    f0, sp, ap = analyse(x)
    med = median_f0(f0)
    if med <= 0:
        return np.zeros(0, dtype=np.float32), {}
    factor, warp = perturbation_for(med, target_f0, rng)
    y = _world().synthesize(f0 * factor, warp_envelope(sp, warp), ap, SAMPLE_RATE, FRAME_MS)
    return y[:len(x)].astype(np.float32), {"f0_from": round(med, 1), "f0_factor": round(factor, 4),
                                            "warp": round(float(warp), 4)}
