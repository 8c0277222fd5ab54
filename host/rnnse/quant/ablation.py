"""Measure quantization design choices one by one (``rnnse quant-ablation``).

Every variant is a scheme with some of its design choices overridden (``quantize`` options),
written ``SCHEME[:option=value,...]``, e.g. ``mixed:rnn_w=row`` or ``int8+:bias_corr=false``.
All variants of a model share one calibration and are scored on the same test clips (evenly
spaced over each test set) against the FP32 model on those clips:

* ``dPESQ``: mean PESQ-WB of the variant minus that of FP32 (paired, per clip);
* ``dSI-SDR``: the same for SI-SDR (dB);
* ``SNR32``: 10 log10(sum y32^2 / sum (y - y32)^2) over all clips, y32 the FP32-enhanced signal
  (dB; a fine-grained, noise-free measure of how close the variant stays to FP32);
* ``bytes``: the exported weight bytes, and their ratio to the FP16 model.
"""
from __future__ import annotations

import json
import os
import time

import numpy as np

from .qmodel import SCHEMES

DEFAULT_VARIANTS = [
    "fp16",
    # the paper's mixed scheme, then each of our choices alone, then together
    "mixed:method=minmax,c_method=minmax", "mixed:method=minmax", "mixed", "mixed:rnn_w=row",
    "mixed:c_bits=16", "mixed:table_mode=linear", "mixed:method=mse", "mixed:percentile=99.99",
    "mixed:bias_corr=true", "mixed:w_clip=mse", "mixed:equalize=true",
    # mixed+ without one of its choices
    "mixed+:method=mse", "mixed+:percentile=99.9", "mixed+:percentile=99", "mixed+:equalize=false",
    "mixed+:bias_corr=false", "mixed+:c_bits=8", "mixed+:table_mode=nearest", "mixed+:rnn_w=gate", "mixed+",
    # the uniform int8 baseline, then the same
    "int8:c_method=minmax", "int8", "int8:rnn_w=row,fc_w=row", "int8:c_bits=16", "int8:table_mode=linear",
    "int8:method=mse", "int8:method=percentile,percentile=99.5", "int8:in_method=percentile",
    "int8:in_method=mse", "int8:in_scale=bin", "int8:bias_corr=true", "int8:equalize=true",
    "int8+:in_scale=tensor", "int8+:method=mse", "int8+:percentile=99.9", "int8+:percentile=99",
    "int8+:equalize=false",
    "int8+:bias_corr=false", "int8+:c_bits=8", "int8+:table_mode=nearest",
    "int8+:rnn_w=gate,fc_w=tensor", "int8+",
]


def parse_variant(text: str):
    """'mixed:rnn_w=row,c_bits=16' -> ('mixed', {'rnn_w': 'row', 'c_bits': 16})."""
    scheme, _, rest = text.partition(":")
    if scheme not in SCHEMES:
        raise ValueError(f"variant {text!r}: unknown scheme {scheme!r} (expected one of {', '.join(SCHEMES)})")
    opts = {}
    for part in filter(None, rest.split(",")):
        k, eq, v = part.partition("=")
        if not eq or not k:
            raise ValueError(f"variant {text!r}: expected option=value, got {part!r}")
        opts[k.strip()] = _value(v.strip())
    return scheme, opts


def _value(v: str):
    low = v.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return v


def pick_items(path: str, n: int):
    """n test pairs evenly spaced over a test set (all of them when n >= its size)."""
    from ..data.pairs import load_test_set

    items = load_test_set(path)
    if n < len(items):
        idx = np.unique(np.linspace(0, len(items) - 1, n).round().astype(int))
        items = [items[i] for i in idx]
    return items


def _pesq_sisdr(args):
    from ..metrics import pesq_wb, si_sdr

    clean, est = args
    return pesq_wb(clean, est), si_sdr(clean, est)


def _score(pool, work):
    if pool is None:
        return [_pesq_sisdr(w) for w in work]
    return list(pool.map(_pesq_sisdr, work, chunksize=2))


def ablate_model(model_dir: str, variants: list, test_sets: list, n_clips: int, calib, n_calib: int,
                 jobs: int = 2, pesq: bool = True, progress: bool = True) -> dict:
    """Score every variant of one model; returns {"model", "clips", "rows": [...]}."""
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    from ..evaluate import fp32_mask_fn, resolve_checkpoint, resolve_test_set
    from ..models import load_checkpoint
    from ..stft import istft, stft
    from .golden import GoldenModel
    from .quantize import calibrate_model, quantize

    ck = resolve_checkpoint(model_dir)
    model, meta = load_checkpoint(ck)
    items, sets = [], []
    for spec in test_sets:
        name, path = resolve_test_set(spec)
        got = pick_items(path, n_clips)
        items += got
        sets += [name] * len(got)
    specs = [stft(it.noisy) for it in items]
    mags = [np.abs(s) for s in specs]
    fp32 = fp32_mask_fn(model)
    y32 = [istft(s * fp32(m), length=len(it.noisy)) for s, m, it in zip(specs, mags, items)]
    t0 = time.time()
    calibration = calibrate_model(model, calib, n_calib)
    t_cal = time.time() - t0
    pool = ProcessPoolExecutor(jobs) if jobs > 1 and pesq else None
    try:
        base = _score(pool, [(it.clean, y) for it, y in zip(items, y32)]) if pesq else None
        rows = []
        fp16_bytes = None
        for v in tqdm(variants, desc=os.path.basename(os.path.normpath(model_dir)), unit="variant",
                      disable=not progress):
            scheme, opts = parse_variant(v)
            q = quantize(model, scheme, calibration=calibration, **opts)
            t1 = time.time()
            masks = GoldenModel(q).run_many(mags)
            ys = [istft(s * m, length=len(it.noisy)) for s, m, it in zip(specs, masks, items)]
            t_run = time.time() - t1
            num = sum(float(np.sum(a.astype(np.float64) ** 2)) for a in y32)
            den = sum(float(np.sum((a.astype(np.float64) - b) ** 2)) for a, b in zip(y32, ys))
            row = {"variant": v, "scheme": scheme, "options": opts,
                   "snr32_db": 10 * np.log10(num / den) if den > 0 else float("inf"),
                   "mask_mae": float(np.mean(np.concatenate(
                       [np.abs(m - fp32(x)).ravel() for m, x in zip(masks, mags)]))),
                   "weight_bytes": int(q.weight_bytes()), "golden_s": round(t_run, 1)}
            if scheme == "fp16":
                fp16_bytes = row["weight_bytes"]
            if pesq:
                sc = _score(pool, [(it.clean, y) for it, y in zip(items, ys)])
                for name in sorted(set(sets)) + ["all"]:
                    idx = [i for i, s in enumerate(sets) if name in (s, "all")]
                    dp = [sc[i][0] - base[i][0] for i in idx if np.isfinite(sc[i][0]) and np.isfinite(base[i][0])]
                    row[f"dpesq_{name}"] = float(np.mean(dp)) if dp else float("nan")
                row["dsisdr_all"] = float(np.mean([sc[i][1] - base[i][1] for i in range(len(items))]))
            rows.append(row)
    finally:
        if pool is not None:
            pool.shutdown()
    for r in rows:
        r["bytes_vs_fp16"] = r["weight_bytes"] / fp16_bytes if fp16_bytes else float("nan")
    out = {"model": model_dir, "checkpoint_meta": {k: meta.get(k) for k in ("step", "minutes", "val_loss")},
           "clips": {s: sets.count(s) for s in sorted(set(sets))}, "calibration_s": round(t_cal, 1),
           "rows": rows}
    if pesq:
        out["fp32_pesq"] = {name: float(np.nanmean([base[i][0] for i, s in enumerate(sets) if name in (s, "all")]))
                            for name in sorted(set(sets)) + ["all"]}
    return out


def format_result(res: dict) -> str:
    lines = [f"{res['model']} (checkpoint {res['checkpoint_meta']}), clips {res['clips']}"]
    if "fp32_pesq" in res:
        lines[0] += ", FP32 PESQ-WB " + ", ".join(f"{k} {v:.3f}" for k, v in res["fp32_pesq"].items())
    names = [k for k in res["rows"][0] if k.startswith("dpesq_")]
    head = f"{'variant':34s} {'SNR32 dB':>8s} {'mask MAE':>9s}" + "".join(f" {n[6:] + ' dPESQ':>15s}" for n in names)
    if names:
        head += f" {'dSI-SDR':>8s}"
    head += f" {'bytes':>9s} {'x FP16':>6s}"
    lines.append(head)
    for r in res["rows"]:
        s = f"{r['variant']:34s} {r['snr32_db']:8.2f} {r['mask_mae']:9.5f}"
        s += "".join(f" {r[n]:+15.3f}" for n in names)
        if names:
            s += f" {r['dsisdr_all']:+8.2f}"
        s += f" {r['weight_bytes']:9d} {r['bytes_vs_fp16']:6.3f}"
        lines.append(s)
    return "\n".join(lines)


def cmd_ablation(args) -> int:
    from ..cli import UserError

    variants = args.variant or DEFAULT_VARIANTS
    for v in variants:
        try:
            scheme, opts = parse_variant(v)
            from .quantize import scheme_options
            scheme_options(scheme, **opts)
        except ValueError as exc:
            raise UserError(str(exc)) from None
    if args.clips < 1:
        raise UserError(f"--clips must be at least 1, got {args.clips}")
    results = []
    for m in args.model:
        res = ablate_model(m, variants, args.test_set or ["valid"], args.clips, args.calib,
                           args.n_calib, jobs=args.jobs, pesq=not args.no_pesq, progress=not args.quiet)
        print(format_result(res))
        results.append(res)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


def register(sub) -> None:
    p = sub.add_parser("quant-ablation", help="measure quantization design choices one by one on test clips")
    p.add_argument("model", nargs="+", help="model directories (with model.pt)")
    p.add_argument("--variant", action="append", default=None,
                   help="SCHEME[:option=value,...]; repeatable (default: the ablation of mixed+ and int8+)")
    p.add_argument("--test-set", action="append", default=None,
                   help="default: valid (the held-out validation speakers)")
    p.add_argument("--clips", type=int, default=24, help="clips per test set, evenly spaced (default 24)")
    p.add_argument("--calib", default=os.path.join("data", "corpus"), help="calibration data (default: "
                   "fresh mixtures from the corpus training set)")
    p.add_argument("--n-calib", type=int, default=16)
    p.add_argument("--jobs", type=int, default=2, help="processes for PESQ scoring")
    p.add_argument("--no-pesq", action="store_true", help="only the SNR against FP32 (fast)")
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_ablation)
