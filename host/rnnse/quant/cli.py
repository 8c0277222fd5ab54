"""``rnnse quantize``: post-training quantization of a checkpoint into a quantized-model file."""
from __future__ import annotations

import os
import time

from ..cli import UserError
from .calibrate import METHODS
from .qmodel import SCHEMES


def register(sub) -> None:
    from . import ablation

    _register_quantize(sub)
    ablation.register(sub)


def _register_quantize(sub) -> None:
    p = sub.add_parser("quantize", help="quantize a checkpoint (fp16, mixed, mixed+, int8, int8+) "
                                        "into a golden-model file")
    p.add_argument("checkpoint", help="model directory (with model.pt) or checkpoint file")
    p.add_argument("--scheme", required=True, help=f"one of: {', '.join(SCHEMES)}")
    p.add_argument("--calib", nargs="+", default=None,
                   help="calibration data: a corpus root or its train/ folder (speech+noise "
                        "mixtures), a folder of wavs (or with a noisy/ subfolder), or wav files")
    p.add_argument("--n-calib", type=int, default=16, help="number of calibration clips (default 16)")
    p.add_argument("--calib-method", default=None,
                   help=f"activation range estimator: {', '.join(METHODS)} (default: the scheme's)")
    p.add_argument("-o", "--output", required=True, help="output file (.npz)")
    p.set_defaults(func=cmd_quantize)


def cmd_quantize(args) -> int:
    from ..evaluate import resolve_checkpoint
    from ..models import load_checkpoint
    from .quantize import quantize

    if args.scheme not in SCHEMES:
        raise UserError(f"unknown scheme {args.scheme!r}: expected one of {', '.join(SCHEMES)}")
    if args.calib_method is not None and args.calib_method not in METHODS:
        raise UserError(f"unknown calibration method {args.calib_method!r}: expected one of "
                        f"{', '.join(METHODS)}")
    if args.n_calib < 1:
        raise UserError(f"--n-calib must be at least 1, got {args.n_calib}")
    if args.scheme != "fp16" and not args.calib:
        raise UserError(f"scheme {args.scheme} needs calibration data: give --calib")
    ck = resolve_checkpoint(args.checkpoint)
    model, _ = load_checkpoint(ck)
    calib = None
    if args.calib:
        calib = args.calib[0] if len(args.calib) == 1 else args.calib
    t0 = time.time()
    q = quantize(model, args.scheme, calib, n_calib=args.n_calib, method=args.calib_method)
    q.info["checkpoint"] = os.path.basename(os.path.dirname(os.path.abspath(ck))) + "/" + os.path.basename(ck)
    q.save(args.output)
    print(q.summary())
    print(f"wrote {args.output} ({time.time() - t0:.1f} s)")
    return 0
