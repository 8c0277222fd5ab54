"""Post-training quantization (fp16, mixed, mixed+, int8, int8+) and the bit-exact golden model.

The arithmetic is specified in docs/numerics.md; ``GoldenModel`` executes it in numpy and is the
reference the firmware kernels are tested against.
"""
from __future__ import annotations

import os

from .calibrate import METHODS, load_calib_clips
from .golden import GoldenModel
from .qmodel import SCHEMES, Layer, QModelError, QuantizedModel
from .quantize import SCHEME_OPTIONS, quantize

__all__ = ["GoldenModel", "Layer", "METHODS", "QModelError", "QuantizedModel", "SCHEMES",
           "SCHEME_OPTIONS", "enhance_fn", "load_calib_clips", "load_or_quantize", "quantize",
           "qmodel_path"]

DEFAULT_CALIB = os.path.join("data", "corpus", "train")


def qmodel_path(checkpoint: str, scheme: str) -> str:
    """Where a model directory keeps its quantized model of a scheme: DIR/quant-SCHEME.npz."""
    return os.path.join(os.path.dirname(os.path.abspath(checkpoint)), f"quant-{scheme}.npz")


def load_or_quantize(checkpoint: str, model, scheme: str, calib=None, n_calib: int = 16):
    """The saved quantized model next to the checkpoint if there is one (and no other
    calibration data is asked for), else a fresh quantization calibrated on ``calib``
    (default: mixtures from data/corpus/train)."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}: expected one of {', '.join(SCHEMES)}")
    path = qmodel_path(checkpoint, scheme)
    if calib is None and os.path.exists(path) and os.path.getmtime(path) >= os.path.getmtime(checkpoint):
        return QuantizedModel.load(path)
    if scheme != "fp16" and calib is None:
        if not os.path.isdir(DEFAULT_CALIB):
            raise FileNotFoundError(f"scheme {scheme} needs calibration clips: give --calib "
                                    f"(no {DEFAULT_CALIB} to default to)")
        calib = DEFAULT_CALIB
    return quantize(model, scheme, calib, n_calib=n_calib)


def enhance_fn(qmodel):
    """noisy signal -> enhanced signal through the golden model (for evaluation)."""
    from ..stft import apply_mask

    golden = GoldenModel(qmodel)
    return lambda x: apply_mask(x, golden.run)
