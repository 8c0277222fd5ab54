"""DNSMOS P.835: a non-intrusive estimate of speech quality (SIG), background quality (BAK)
and overall quality (OVRL) on the 1-5 MOS scale, with no clean reference.

The predictor is the DNS Challenge's ONNX network ``sig_bak_ovr.onnx``, bundled by PyPI
``speechmos`` 0.0.1.1 (only its model file is used; the package's own code needs librosa). The
network scores 9.01 s windows of 16 kHz audio; a clip is repeated until it is that long, scored
on windows every second, the raw scores mapped to MOS by the challenge's third-order polynomials
and averaged over the windows.
"""
from __future__ import annotations

import importlib.util
import os

import numpy as np

from .config import SAMPLE_RATE

PACKAGE = "speechmos==0.0.1.1"
WINDOW_SECONDS = 9.01
HOP_SECONDS = 1.0
# raw network output -> MOS (the DNS Challenge's non-personalised P.835 mapping), highest power
# first
POLY_SIG = (-0.08397278, 1.22083953, 0.0052439)
POLY_BAK = (-0.13166888, 1.60915514, -0.39604546)
POLY_OVRL = (-0.06766283, 1.11546468, 0.04602535)
KEYS = ("sig", "bak", "ovrl")

_SESSION = None


def model_path() -> str | None:
    spec = importlib.util.find_spec("speechmos")
    if spec is None or not spec.submodule_search_locations:
        return None
    p = os.path.join(list(spec.submodule_search_locations)[0], "dnsmos_models", "sig_bak_ovr.onnx")
    return p if os.path.isfile(p) else None


def available() -> bool:
    return model_path() is not None


def _session():
    global _SESSION
    if _SESSION is None:
        path = model_path()
        if path is None:
            raise RuntimeError(f"DNSMOS needs the ONNX model of the PyPI package {PACKAGE} "
                               f"(pip install {PACKAGE})")
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        _SESSION = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    return _SESSION


def windows(x: np.ndarray) -> list[np.ndarray]:
    """The 9.01 s windows DNSMOS scores: the clip repeated to at least that length, a window
    every second."""
    x = np.asarray(x, dtype=np.float32)
    if x.size == 0:
        raise ValueError("DNSMOS: empty signal")
    n = int(WINDOW_SECONDS * SAMPLE_RATE)
    while len(x) < n:
        x = np.concatenate([x, x])
    count = int(np.floor(len(x) / SAMPLE_RATE) - WINDOW_SECONDS) + 1
    hop = int(HOP_SECONDS * SAMPLE_RATE)
    return [x[k * hop:k * hop + n] for k in range(max(1, count)) if len(x[k * hop:k * hop + n]) == n]


def score(x: np.ndarray) -> dict:
    """{"sig", "bak", "ovrl"} of a 16 kHz mono signal in [-1, 1]."""
    x = np.asarray(x, dtype=np.float32)
    if not np.all(np.isfinite(x)):
        raise ValueError("DNSMOS: the signal holds non-finite samples")
    x = np.clip(x, -1.0, 1.0)
    sess = _session()
    name = sess.get_inputs()[0].name
    raw = np.array([sess.run(None, {name: w[None, :]})[0][0] for w in windows(x)], np.float64)
    out = {}
    for k, poly, col in zip(KEYS, (POLY_SIG, POLY_BAK, POLY_OVRL), range(3)):
        out[k] = float(np.mean(np.polyval(poly, raw[:, col])))
    return out
