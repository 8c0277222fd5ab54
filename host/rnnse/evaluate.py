"""Evaluation of a model (any scheme) on paired test sets: PESQ-WB, STOI, SI-SDR.

``rnnse eval MODEL_DIR --test-set real --test-set synthetic [--scheme fp32]`` enhances every noisy clip,
scores noisy and enhanced audio against the clean reference in parallel, prints a table (overall and
per SNR) and merges the means into ``MODEL_DIR/eval.json``:

    {"real": {"noisy": {"pesq_wb": .., "stoi": .., "si_sdr": .., "n": ..}, "fp32": {...}, ...}, ...}
"""
from __future__ import annotations

import json
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from .config import SAMPLE_RATE
from .stft import apply_mask

DEFAULT_CORPUS = os.path.join("data", "corpus")
NAMED_TEST_SETS = {"real": "test_real", "synthetic": "test_synthetic"}
METRICS = ("pesq_wb", "stoi", "si_sdr")


# ---------------------------------------------------------------------------------------------
# enhancers: noisy float32 signal -> enhanced float32 signal of the same length

def resolve_checkpoint(model_path: str) -> str:
    """A model directory (holding model.pt) or a checkpoint file."""
    if os.path.isdir(model_path):
        ck = os.path.join(model_path, "model.pt")
        if not os.path.exists(ck):
            raise FileNotFoundError(f"{model_path}: no model.pt in this model directory")
        return ck
    if not os.path.exists(model_path):
        raise FileNotFoundError(f"{model_path}: no such model directory or checkpoint")
    return model_path


def fp32_mask_fn(model):
    """Whole-utterance float inference with PyTorch (identical to streaming, see tests)."""
    import torch

    def mask_fn(mag: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            m, _ = model(torch.from_numpy(np.ascontiguousarray(mag, dtype=np.float32))[None])
        return m[0].numpy()

    return mask_fn


def make_enhancer(model_path: str, scheme: str = "fp32", calib=None):
    """Returns (enhance(noisy) -> enhanced, info dict) for a model and a numerics scheme."""
    from .models import load_checkpoint

    ck = resolve_checkpoint(model_path)
    model, _ = load_checkpoint(ck)
    info = {"scheme": scheme, "checkpoint": ck}
    if scheme == "fp32":
        mask_fn = fp32_mask_fn(model)
        info["weight_bytes"] = 4 * model.num_parameters()
    else:
        from . import quant  # quantization package: schemes and the golden model

        qmodel = quant.load_or_quantize(ck, model, scheme, calib=calib)
        golden = quant.GoldenModel(qmodel)
        mask_fn = golden.run
        info["weight_bytes"] = int(qmodel.weight_bytes())
    return (lambda x: apply_mask(x, mask_fn)), info


# ---------------------------------------------------------------------------------------------
# test sets

def resolve_test_set(spec: str, corpus: str = DEFAULT_CORPUS) -> tuple[str, str]:
    """'real' / 'synthetic' (in the corpus), a VoiceBank-DEMAND root or a test folder -> (name, path)."""
    if spec in NAMED_TEST_SETS:
        return spec, os.path.join(corpus, NAMED_TEST_SETS[spec])
    from .data import valentini

    if valentini.is_valentini_root(spec):
        return "valentini", spec
    return os.path.basename(os.path.normpath(spec)), spec


def load_items(path: str, limit: int | None = None):
    from .data.pairs import load_test_set

    items = load_test_set(path, limit=limit)
    if not items:
        raise ValueError(f"{path}: test set is empty")
    return items


# ---------------------------------------------------------------------------------------------
# scoring

def _score(args):
    from .metrics import all_metrics

    clean, noisy, enhanced = args
    return all_metrics(clean, noisy), all_metrics(clean, enhanced)


def _mean(rows, key):
    vals = [r[key] for r in rows if not math.isnan(r[key])]
    return float(np.mean(vals)) if vals else math.nan


def summarise(rows: list[dict]) -> dict:
    return {**{k: _mean(rows, k) for k in METRICS}, "n": len(rows)}


def evaluate(enhance, items, jobs: int = 2, progress: bool = True) -> dict:
    """Enhance and score every item. Returns {'noisy': summary, 'enhanced': summary, 'per_snr': ...}."""
    from tqdm import tqdm

    work = []
    for it in tqdm(items, desc="enhance", unit="clip", disable=not progress, leave=False):
        work.append((it.clean, it.noisy, enhance(it.noisy)))
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            scored = list(tqdm(pool.map(_score, work, chunksize=4), total=len(work), desc="score",
                               unit="clip", disable=not progress, leave=False))
    else:
        scored = [_score(w) for w in tqdm(work, desc="score", unit="clip", disable=not progress,
                                          leave=False)]
    noisy_rows = [s[0] for s in scored]
    enh_rows = [s[1] for s in scored]
    out = {"noisy": summarise(noisy_rows), "enhanced": summarise(enh_rows), "per_snr": {}}
    snrs = sorted({it.snr_db for it in items if it.snr_db is not None})
    for snr in snrs:
        idx = [i for i, it in enumerate(items) if it.snr_db == snr]
        out["per_snr"][f"{snr:g}"] = {"noisy": summarise([noisy_rows[i] for i in idx]),
                                      "enhanced": summarise([enh_rows[i] for i in idx])}
    return out


def format_table(title: str, result: dict, scheme: str) -> str:
    lines = [title, f"{'':>12} {'n':>5} {'PESQ-WB':>8} {'STOI':>7} {'SI-SDR':>8}"]

    def row(label, s):
        return f"{label:>12} {s['n']:>5} {s['pesq_wb']:>8.3f} {s['stoi']:>7.3f} {s['si_sdr']:>8.2f}"

    lines.append(row("noisy", result["noisy"]))
    lines.append(row(scheme, result["enhanced"]))
    gain = {k: result["enhanced"][k] - result["noisy"][k] for k in METRICS}
    lines.append(f"{'gain':>12} {'':>5} {gain['pesq_wb']:>+8.3f} {gain['stoi']:>+7.3f} {gain['si_sdr']:>+8.2f}")
    for snr, r in result["per_snr"].items():
        d = r["enhanced"]["pesq_wb"] - r["noisy"]["pesq_wb"]
        lines.append(f"{'SNR ' + snr + ' dB':>12} {r['noisy']['n']:>5} "
                     f"{r['noisy']['pesq_wb']:>8.3f} -> {r['enhanced']['pesq_wb']:.3f} ({d:+.3f} PESQ)")
    return "\n".join(lines)


def merge_eval_json(path: str, test_set: str, scheme: str, result: dict, extra: dict | None = None):
    """Merge one result into eval.json (atomic write); noisy figures are stored once per test set."""
    data = {}
    if os.path.exists(path):
        with open(path) as f:
            data = json.load(f)
    entry = data.setdefault(test_set, {})
    entry["noisy"] = result["noisy"]
    entry[scheme] = {**result["enhanced"], **(extra or {}),
                     "per_snr": {k: v["enhanced"] for k, v in result["per_snr"].items()}}
    entry["noisy_per_snr"] = {k: v["noisy"] for k, v in result["per_snr"].items()}
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# spectrogram figure

def plot_spectrograms(path: str, signals: dict, title: str = "", seconds: float | None = 4.0) -> None:
    """Stacked log-magnitude spectrograms (e.g. noisy / enhanced / clean) saved as PNG; of the
    first ``seconds`` of each signal (None: all of it), so that the harmonics stay readable."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .stft import stft

    fig, axes = plt.subplots(len(signals), 1, figsize=(9, 2.3 * len(signals)), sharex=True)
    for ax, (name, x) in zip(np.atleast_1d(axes), signals.items()):
        if seconds is not None:
            x = np.asarray(x)[:int(seconds * SAMPLE_RATE)]
        db = 20 * np.log10(np.abs(stft(x)).T + 1e-4)
        t_end = len(x) / SAMPLE_RATE
        im = ax.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=db.max() - 80, vmax=db.max(),
                       extent=[0, t_end, 0, SAMPLE_RATE / 2000])
        ax.set_ylabel("kHz")
        ax.set_title(name, loc="left", fontsize=9)
    np.atleast_1d(axes)[-1].set_xlabel("time (s)")
    fig.colorbar(im, ax=axes, label="dB", fraction=0.03)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# CLI

def cmd_eval(args) -> int:
    enhance, info = make_enhancer(args.model, args.scheme, calib=args.calib)
    model_dir = args.model if os.path.isdir(args.model) else os.path.dirname(args.model)
    report = {}
    for spec in args.test_set:
        name, path = resolve_test_set(spec, args.corpus)
        items = load_items(path, args.limit)
        t0 = time.time()
        result = evaluate(enhance, items, jobs=args.jobs, progress=not args.quiet)
        print(format_table(f"{name} ({path}), scheme {args.scheme}, {time.time() - t0:.0f} s", result,
                           args.scheme))
        report[name] = result
        if not args.no_save and not args.limit:
            extra = {"weight_bytes": info["weight_bytes"]}
            merge_eval_json(os.path.join(model_dir, "eval.json"), name, args.scheme, result, extra)
        if args.plot and name == args.plot_set:
            it = items[args.plot_index]
            png = os.path.join(model_dir, f"spectrogram_{name}.png")
            plot_spectrograms(png, {f"noisy ({it.name})": it.noisy,
                                    f"enhanced ({args.scheme})": enhance(it.noisy), "clean": it.clean},
                              title=f"{os.path.basename(os.path.normpath(model_dir))}: {name} test clip",
                              seconds=args.plot_seconds or None)
            print(f"wrote {png}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


def cmd_enhance_ref(args) -> int:
    from .audio import load_wav, report_stream, save_wav
    from .metrics import all_metrics

    out = report_stream(args.output)
    x = load_wav(args.input, resample_ok=args.resample, mono_ok=args.mono)
    enhance, info = make_enhancer(args.model, args.scheme, calib=args.calib)
    t0 = time.time()
    y = enhance(x)
    dt = time.time() - t0
    save_wav(args.output, y)
    print(f"enhanced {len(x) / SAMPLE_RATE:.2f} s of audio with {info['checkpoint']} ({args.scheme}) "
          f"in {dt:.2f} s on the host -> {args.output}", file=out)
    if args.clean:
        from .audio import load_wav as lw

        c = lw(args.clean, resample_ok=args.resample, mono_ok=args.mono)
        before, after = all_metrics(c, x), all_metrics(c, y)
        for k in METRICS:
            print(f"  {k:>8}: noisy {before[k]:7.3f} -> enhanced {after[k]:7.3f} ({after[k] - before[k]:+.3f})",
                  file=out)
    return 0


def register(sub) -> None:
    p = sub.add_parser("eval", help="score a model (any scheme) on test sets: PESQ-WB, STOI, SI-SDR")
    p.add_argument("model", help="model directory (with model.pt) or checkpoint file")
    p.add_argument("--test-set", action="append", default=None,
                   help="'real', 'synthetic', a VoiceBank-DEMAND root or a test folder; repeatable "
                        "(default: real and synthetic)")
    p.add_argument("--scheme", default="fp32", help="fp32 (PyTorch) or a quantization scheme "
                   "(fp16, int8, mixed, mixed+, int8+) run through the golden model")
    p.add_argument("--calib", default=None, help="calibration clips for quantized schemes")
    p.add_argument("--corpus", default=DEFAULT_CORPUS, help="corpus root for named test sets")
    p.add_argument("--jobs", type=int, default=max(1, min(2, os.cpu_count() or 1)))
    p.add_argument("--limit", type=int, default=None, help="score only the first N clips (not saved)")
    p.add_argument("--json", default=None, help="also write the full result (per SNR) here")
    p.add_argument("--no-save", action="store_true", help="do not update MODEL_DIR/eval.json")
    p.add_argument("--plot", action="store_true", help="write spectrogram_<set>.png next to the model")
    p.add_argument("--plot-set", default="real")
    p.add_argument("--plot-index", type=int, default=0)
    p.add_argument("--plot-seconds", type=float, default=4.0,
                   help="seconds of the clip shown (0: all; default 4)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=lambda a: cmd_eval(_default_sets(a)))

    p = sub.add_parser("enhance-ref", help="enhance a wav on the host with the PyTorch or golden model")
    p.add_argument("input", help="noisy wav (- reads it from standard input)")
    p.add_argument("-o", "--output", required=True, help="enhanced wav (- writes it to standard output)")
    p.add_argument("--model", default=os.path.join("models", "lstm256"))
    p.add_argument("--scheme", default="fp32")
    p.add_argument("--calib", default=None)
    p.add_argument("--clean", default=None, help="clean reference: print PESQ-WB/STOI/SI-SDR before/after")
    p.add_argument("--resample", action="store_true", help="resample input of another rate to 16 kHz")
    p.add_argument("--mono", action="store_true", help="average multi-channel input to mono")
    p.set_defaults(func=cmd_enhance_ref)


def _default_sets(args):
    if not args.test_set:
        args.test_set = ["real", "synthetic"]
    return args
