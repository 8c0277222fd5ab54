"""Evaluation of a model (any scheme) and of the peers on paired test sets: PESQ-WB, STOI,
SI-SDR against the clean reference, and DNSMOS P.835 (SIG, BAK, OVRL), which needs none.

``rnnse eval MODEL_DIR --test-set speakers --test-set real [--scheme fp32]`` enhances every noisy
clip with the model and (for FP32, by default) with RNNoise, DeepFilterNet3 and noisereduce
(``rnnse.peers``), scores noisy and enhanced audio in parallel, prints a table (overall, per SNR,
per noise type, per kind of speech) and merges the means into ``MODEL_DIR/eval.json``:

    {"speakers": {"noisy": {"pesq_wb": .., "stoi": .., "si_sdr": .., "dnsmos_ovrl": .., "n": ..},
                  "fp32": {..., "per_snr": {..}, "per_noise": {..}, "per_speech": {..}},
                  "rnnoise": {...}, ...}, ...}

``rnnse dnsmos FOLDER`` is the unpaired mode: real noisy recordings with no clean reference,
scored with DNSMOS before and after each model and peer.
"""
from __future__ import annotations

import json
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from .config import DEFAULT_MODEL, SAMPLE_RATE
from .stft import apply_mask

DEFAULT_CORPUS = os.path.join("data", "corpus")
NAMED_TEST_SETS = {"speakers": "test_speakers", "real": "test_real", "synthetic": "test_synthetic",
                   "valid": "valid"}
DEFAULT_TEST_SETS = ["speakers", "real", "synthetic"]
METRICS = ("pesq_wb", "stoi", "si_sdr")
DNSMOS_METRICS = ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl")
# metadata of a test item that results are broken down by (besides its SNR)
BREAKDOWNS = {"per_noise": "noise_type", "per_speech": "speech"}


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

def score_signal(clean, signal, use_dnsmos: bool = True) -> dict:
    """PESQ-WB, STOI, SI-SDR against ``clean`` and (if available) DNSMOS of ``signal`` alone."""
    from .metrics import all_metrics

    row = all_metrics(clean, signal)
    if use_dnsmos:
        from . import dnsmos

        row.update({f"dnsmos_{k}": v for k, v in dnsmos.score(signal).items()})
    return row


def _score(args):
    clean, signal, use_dnsmos = args
    return score_signal(clean, signal, use_dnsmos)


def _peer_job(args):
    from . import peers

    name, clean, noisy, use_dnsmos = args
    return score_signal(clean, peers.enhancer(name)(noisy), use_dnsmos)


def _mean(rows, key):
    vals = [r[key] for r in rows if key in r and not math.isnan(r[key])]
    return float(np.mean(vals)) if vals else math.nan


def summarise(rows: list[dict]) -> dict:
    keys = [k for k in METRICS + DNSMOS_METRICS if rows and k in rows[0]]
    return {**{k: _mean(rows, k) for k in keys}, "n": len(rows)}


def breakdown(items, rows: list[dict]) -> dict:
    """Means per SNR and per value of each ``BREAKDOWNS`` metadata key."""
    out = {"per_snr": {}}
    for snr in sorted({it.snr_db for it in items if it.snr_db is not None}):
        out["per_snr"][f"{snr:g}"] = summarise([r for it, r in zip(items, rows)
                                                if it.snr_db == snr])
    for name, key in BREAKDOWNS.items():
        values = sorted({str(it.meta[key]) for it in items if it.meta.get(key) is not None})
        if values:
            out[name] = {v: summarise([r for it, r in zip(items, rows)
                                       if str(it.meta.get(key)) == v]) for v in values}
    return out


def _pool_map(fn, work, jobs, desc, progress):
    from tqdm import tqdm

    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            return list(tqdm(pool.map(fn, work, chunksize=2), total=len(work), desc=desc,
                             unit="clip", disable=not progress, leave=False))
    return [fn(w) for w in tqdm(work, desc=desc, unit="clip", disable=not progress, leave=False)]


def evaluate(enhance, items, jobs: int = 2, progress: bool = True, peers=(),
             use_dnsmos: bool | None = None, noisy_rows=None) -> dict:
    """Enhance and score every item with the model (``enhance``; None: peers only) and each
    named peer. Returns {'noisy': summary, 'enhanced': summary, 'per_snr': {snr: {'noisy',
    'enhanced'}}, 'noisy_rows', 'rows': {system: per-item rows}, 'systems': {system: summary
    with per_snr/per_noise/per_speech}}; 'enhanced' is the model's."""
    from tqdm import tqdm

    from . import dnsmos

    if use_dnsmos is None:
        use_dnsmos = dnsmos.available()
    if noisy_rows is None:
        noisy_rows = _pool_map(_score, [(it.clean, it.noisy, use_dnsmos) for it in items], jobs,
                               "score noisy", progress)
    rows = {}
    if enhance is not None:
        work = []
        for it in tqdm(items, desc="enhance", unit="clip", disable=not progress, leave=False):
            work.append((it.clean, enhance(it.noisy), use_dnsmos))
        rows["model"] = _pool_map(_score, work, jobs, "score", progress)
    for name in peers:
        rows[name] = _pool_map(_peer_job, [(name, it.clean, it.noisy, use_dnsmos) for it in items],
                               jobs, name, progress)
    out = {"noisy": summarise(noisy_rows), "noisy_rows": noisy_rows, "rows": rows,
           "noisy_breakdown": breakdown(items, noisy_rows), "systems": {}}
    for system, r in rows.items():
        out["systems"][system] = {**summarise(r), **breakdown(items, r)}
    if "model" in rows:
        out["enhanced"] = summarise(rows["model"])
        out["per_snr"] = {snr: {"noisy": out["noisy_breakdown"]["per_snr"][snr],
                                "enhanced": out["systems"]["model"]["per_snr"][snr]}
                          for snr in out["noisy_breakdown"]["per_snr"]}
    return out


def _label(system: str, scheme: str) -> str:
    return scheme if system == "model" else system


def format_table(title: str, result: dict, scheme: str) -> str:
    """Overall means of the noisy input, the model and every peer; then PESQ-WB and STOI per SNR,
    per noise type and per kind of speech."""
    systems = list(result["systems"])
    dn = "dnsmos_ovrl" in result["noisy"]
    head = f"{'':>16} {'n':>5} {'PESQ-WB':>8} {'STOI':>7} {'SI-SDR':>8}"
    if dn:
        head += f" {'SIG':>5} {'BAK':>5} {'OVRL':>5}"
    lines = [title, head]

    def row(label, r):
        line = f"{label:>16} {r['n']:>5} {r['pesq_wb']:>8.3f} {r['stoi']:>7.3f} {r['si_sdr']:>8.2f}"
        if dn:
            line += f" {r['dnsmos_sig']:>5.2f} {r['dnsmos_bak']:>5.2f} {r['dnsmos_ovrl']:>5.2f}"
        return line

    lines.append(row("noisy", result["noisy"]))
    for system in systems:
        lines.append(row(_label(system, scheme), result["systems"][system]))
    for group, title_ in (("per_snr", "SNR {} dB"), ("per_noise", "{}"), ("per_speech", "{}")):
        values = list(result["noisy_breakdown"].get(group, {}))
        if not values:
            continue
        lines.append(f"{'PESQ-WB / STOI':>16} {'n':>5} {'noisy':>13} " +
                     " ".join(f"{_label(s, scheme)[:13]:>13}" for s in systems))
        for v in values:
            nz = result["noisy_breakdown"][group][v]
            cells = [f"{nz['pesq_wb']:.2f} / {nz['stoi']:.3f}"]
            for system in systems:
                r = result["systems"][system][group][v]
                cells.append(f"{r['pesq_wb']:.2f} / {r['stoi']:.3f}")
            lines.append(f"{title_.format(v)[:16]:>16} {nz['n']:>5} " +
                         " ".join(f"{c:>13}" for c in cells))
    return "\n".join(lines)


def _entry(summary_with_breakdowns: dict, extra: dict | None = None) -> dict:
    return {**summary_with_breakdowns, **(extra or {})}


def merge_eval_json(path: str, test_set: str, result: dict, scheme: str | None = None,
                    extra: dict | None = None):
    """Merge one evaluation into eval.json (atomic write): the noisy figures once per test set,
    the model's under its scheme, each peer's under its name."""
    data = {}
    if os.path.exists(path):
        with open(path) as f:
            data = json.load(f)
    entry = data.setdefault(test_set, {})
    entry["noisy"] = result["noisy"]
    for k, v in result["noisy_breakdown"].items():
        entry[f"noisy_{k}"] = v
    for system, summary in result["systems"].items():
        if system == "model":
            entry[scheme] = _entry(summary, extra)
        else:
            entry[system] = _entry(summary)
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

def peer_names(spec: str | None, scheme: str) -> list[str]:
    """--peers: 'auto' (all three for fp32, none for quantized schemes), 'none', or a list."""
    from . import peers

    if spec in (None, "auto"):
        return list(peers.PEERS) if scheme == "fp32" else []
    if spec == "none":
        return []
    return peers.check_names([n.strip() for n in spec.split(",") if n.strip()])


def cmd_eval(args) -> int:
    from . import dnsmos, peers

    names = peer_names(args.peers, args.scheme)
    missing = peers.missing_peers(names)
    for n, req in missing.items():
        print(f"note: peer {n} skipped: its package is not installed (pip install {req})")
    names = [n for n in names if n not in missing]
    use_dnsmos = not args.no_dnsmos and dnsmos.available()
    if not args.no_dnsmos and not use_dnsmos:
        print(f"note: DNSMOS skipped: its model is not installed (pip install {dnsmos.PACKAGE})")
    enhance, info = make_enhancer(args.model, args.scheme, calib=args.calib)
    model_dir = args.model if os.path.isdir(args.model) else os.path.dirname(args.model)
    report = {}
    for spec in args.test_set:
        name, path = resolve_test_set(spec, args.corpus)
        items = load_items(path, args.limit)
        t0 = time.time()
        result = evaluate(enhance, items, jobs=args.jobs, progress=not args.quiet, peers=names,
                          use_dnsmos=use_dnsmos)
        print(format_table(f"{name} ({path}), {len(items)} clips, {time.time() - t0:.0f} s",
                           result, args.scheme))
        report[name] = {k: v for k, v in result.items() if k not in ("rows", "noisy_rows")}
        if not args.no_save and not args.limit:
            extra = {"weight_bytes": info["weight_bytes"]}
            merge_eval_json(os.path.join(model_dir, "eval.json"), name, result, args.scheme, extra)
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


def list_wavs(folder: str) -> list[str]:
    """The audio files of a folder (wav, flac, ogg), sorted; a clear error when there are none."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder}: no such folder")
    names = sorted(f for f in os.listdir(folder)
                   if os.path.splitext(f)[1].lower() in (".wav", ".flac", ".ogg"))
    if not names:
        raise ValueError(f"{folder}: holds no .wav, .flac or .ogg file")
    return [os.path.join(folder, f) for f in names]


def _dnsmos_job(args):
    from . import dnsmos, peers

    system, x = args
    if system != "noisy":
        x = peers.enhancer(system)(x)
    return dnsmos.score(x)


def cmd_dnsmos(args) -> int:
    """Unpaired mode: DNSMOS of real recordings before and after each model and peer."""
    from tqdm import tqdm

    from . import dnsmos, peers
    from .audio import load_wav, save_wav

    if not dnsmos.available():
        raise ValueError(f"DNSMOS needs the ONNX model of {dnsmos.PACKAGE} "
                         f"(pip install {dnsmos.PACKAGE})")
    files = list_wavs(args.folder)[:args.limit]
    clips = [load_wav(f, resample_ok=True, mono_ok=True) for f in files]
    names = peer_names(args.peers, "fp32")
    missing = peers.missing_peers(names)
    for n, req in missing.items():
        print(f"note: peer {n} skipped: its package is not installed (pip install {req})")
    names = [n for n in names if n not in missing]
    systems = {"noisy": _pool_map(_dnsmos_job, [("noisy", x) for x in clips], args.jobs,
                                  "noisy", not args.quiet)}
    for m in args.model or []:
        enhance, _info = make_enhancer(m, args.scheme)
        label = f"{os.path.basename(os.path.normpath(m))} {args.scheme}"
        outs = [enhance(x) for x in tqdm(clips, desc=label, unit="clip", disable=args.quiet,
                                         leave=False)]
        if args.out:
            d = os.path.join(args.out, label.replace(" ", "_"))
            os.makedirs(d, exist_ok=True)
            for f, y in zip(files, outs):
                save_wav(os.path.join(d, os.path.splitext(os.path.basename(f))[0] + ".wav"), y)
        systems[label] = [dnsmos.score(y) for y in outs]
    for n in names:
        systems[n] = _pool_map(_dnsmos_job, [(n, x) for x in clips], args.jobs, n, not args.quiet)
    print(f"DNSMOS P.835 of {len(files)} recordings in {args.folder} (no clean reference)")
    print(f"{'':>22} {'SIG':>6} {'BAK':>6} {'OVRL':>6}")
    table = {}
    for label, rows in systems.items():
        table[label] = {k: float(np.mean([r[k] for r in rows])) for k in dnsmos.KEYS}
        print(f"{label:>22} " + " ".join(f"{table[label][k]:>6.3f}" for k in dnsmos.KEYS))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"folder": args.folder, "files": [os.path.basename(f) for f in files],
                       "means": table, "per_file": systems}, f, indent=1)
    return 0


def cmd_enhance_ref(args) -> int:
    from .audio import check_output_wav, load_wav, open_output_wav, report_stream, to_pcm16
    from .metrics import all_metrics

    check_output_wav(args.output, [args.input, args.clean])
    out = report_stream(args.output)
    with open_output_wav(args.output) as wav:       # an unwritable place fails before the work
        x = load_wav(args.input, resample_ok=args.resample, mono_ok=args.mono)
        enhance, info = make_enhancer(args.model, args.scheme, calib=args.calib)
        t0 = time.time()
        y = enhance(x)
        dt = time.time() - t0
        wav.write(to_pcm16(y))
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
    p = sub.add_parser("eval", help="score a model (any scheme) and the peers on test sets: "
                       "PESQ-WB, STOI, SI-SDR, DNSMOS")
    p.add_argument("model", help="model directory (with model.pt) or checkpoint file")
    p.add_argument("--test-set", action="append", default=None,
                   help="'speakers' (held-out real speakers), 'real', 'synthetic', 'valid', a "
                        "VoiceBank-DEMAND root or a test folder; repeatable (default: speakers, "
                        "real and synthetic)")
    p.add_argument("--peers", default="auto",
                   help="peers run on the same clips: 'auto' (rnnoise, deepfilternet3, "
                        "noisereduce for fp32; none for quantized schemes), 'none', or a comma list")
    p.add_argument("--no-dnsmos", action="store_true", help="skip DNSMOS (faster)")
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

    p = sub.add_parser("dnsmos", help="DNSMOS of real recordings (no clean reference) before and "
                       "after our models and the peers",
                       description="Unpaired evaluation: every audio file of FOLDER (any rate, "
                       "resampled to 16 kHz; multi-channel averaged) scored with DNSMOS P.835 as "
                       "it is and after each --model and each peer.")
    p.add_argument("folder")
    p.add_argument("--model", action="append", default=None,
                   help="model directory or checkpoint; repeatable")
    p.add_argument("--scheme", default="fp32")
    p.add_argument("--peers", default="auto", help="'auto' (all three), 'none' or a comma list")
    p.add_argument("--out", default=None, help="also write each model's enhanced files here")
    p.add_argument("--limit", type=int, default=None, help="only the first N files")
    p.add_argument("--jobs", type=int, default=max(1, min(2, os.cpu_count() or 1)))
    p.add_argument("--json", default=None, help="write means and per-file scores here")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_dnsmos)

    p = sub.add_parser("enhance-ref", help="enhance a wav on the host with the PyTorch or golden model")
    p.add_argument("input", help="noisy wav (- reads it from standard input)")
    p.add_argument("-o", "--output", required=True, help="enhanced wav (- writes it to standard output)")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--scheme", default="fp32")
    p.add_argument("--calib", default=None)
    p.add_argument("--clean", default=None, help="clean reference: print PESQ-WB/STOI/SI-SDR before/after")
    p.add_argument("--resample", action="store_true", help="resample input of another rate to 16 kHz")
    p.add_argument("--mono", action="store_true", help="average multi-channel input to mono")
    p.set_defaults(func=cmd_enhance_ref)


def _default_sets(args):
    if not args.test_set:
        args.test_set = list(DEFAULT_TEST_SETS)
    return args
