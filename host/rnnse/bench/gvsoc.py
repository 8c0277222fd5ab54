"""Cycle benchmark of the pulp-open port on GVSoC: ``rnnse bench gvsoc [--models lstm256 gru256]
[--schemes fp16 mixed mixed+ int8]``.

For every model and scheme the batch program (firmware/targets/pulp/batch_pulp.c) is built and
simulated (GVSoC: $RNNSE_GVSOC, else the build of scripts/setup-gvsoc.sh, else ``gvsoc`` on PATH;
docs/gvsoc.md). About 3-4 minutes for the default models and schemes:

* per layer, on 1 and 8 cluster cores, three runs of the layer alone (warm instruction cache, the
  best of the repetitions): **streamed** (weights double-buffered from L2 by the cluster DMA, as the
  network runs), **compute** (the DMA turned off: the kernels compute on the weights the L1 tiles
  hold, i.e. the cost with the weights in L1) and **dma** (the transfers alone). Derived: MAC/cycle,
  the DMA floor (weight bytes / 8 bytes per cycle), streamed / floor, the share of the DMA time
  hidden behind compute ((compute + dma - streamed) / dma) and the 8-core scaling of compute;
* per frame, on 8 cores (fewer where the weight tiles of a layer do not fit L1 twice per core,
  FP16 LSTM-256: 4 kB records): signal chain (DSP) + network cycles per hop, both on the cluster,
  from 24 hops of speech-like audio (the first 8, which warm the caches, are left out), against
  the frame's DMA floor (all weight bytes / 8).

The `fp16` LSTM-256 and GRU-256 models (2.5 and 2.0 MB) do not fit pulp-open's 1.6 MB of L2: their
layers are measured on the same model with its second recurrent layer removed (every layer the
same shape as in the full model, so the per-layer figures are the full model's), and their frame
is that model's frame plus one more recurrent layer (marked "estimated").

* the PMSIS port (``scons target=pmsis``: the same kernels and signal chain on pulp-sdk's PMSIS
  runtime, the model read from the simulated hyperflash; docs/board.md), per frame as above for
  every model that fits L2, against the bare-metal port: the runtime's overhead in cycles and in
  percent of the frame (cluster tasks instead of the port's own fork, PMSIS barriers and DMA
  commands). Left out, with a note, when pulp-sdk is absent; ``--no-pmsis`` skips it.

Results: a table on stdout and ``benchmarks/results/gvsoc.json`` (with the GVSoC and pulp-sdk
commits used).
"""
from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile

import numpy as np

from ..audio import speech_like_pcm16
from . import write_results

KIND = {1: "fc", 2: "lstm", 3: "gru"}
PREC = {2: "fp16", 3: "int8"}
DMA_BYTES_PER_CYCLE = 8.0
HOPS, WARM = 24, 8


def _macs(r: dict) -> int:
    k4 = (r["n_in"] + 3) // 4 * 4
    h4 = (r["n_out"] + 3) // 4 * 4
    kind = KIND.get(r["kind"], "")
    if kind == "fc":
        return r["n_out"] * k4
    gates = 4 if kind == "lstm" else 3
    return r["n_out"] * gates * (k4 + h4)


def _build(qpath: str):
    """The batch program of a model, or None when the model does not fit pulp-open's L2 (the link
    reports the overflow)."""
    from ..stream import gvsoc as G
    from ..stream.build import BuildError

    try:
        return G.build(qpath)["batch"]
    except BuildError as exc:
        if "overflowed" in str(exc) or "overlaps" in str(exc):
            return None
        raise


def _one_rnn_layer(qmodel):
    """The model without its second recurrent layer (same layer shapes otherwise)."""
    import copy

    q = copy.deepcopy(qmodel)
    rnn = [i for i, L in enumerate(q.layers) if L.kind in ("lstm", "gru")]
    del q.layers[rnn[1]]
    q.config = dict(q.config, n_rnn=1) if isinstance(q.config, dict) else q.config
    return q


def _layer_rows(recs: list, model: str, scheme: str) -> list:
    """Merge the batch program's records per layer: one row per (layer, cores)."""
    by = {}
    for r in recs:
        by.setdefault((r["index"], r["cores"]), {})[r["variant"]] = r
    rows = []
    for (index, cores), v in sorted(by.items()):
        s, c, d = v.get("streamed"), v.get("compute"), v.get("dma")
        base = s or c or d
        macs = _macs(base)
        wbytes = base["rec_bytes"] * base["n_out"]
        floor = wbytes / DMA_BYTES_PER_CYCLE
        row = {"model": model, "scheme": scheme, "layer": index, "kind": KIND.get(base["kind"], "?"),
               "prec": PREC.get(base["prec"], "?"), "cores": cores, "n_in": base["n_in"], "n_out": base["n_out"],
               "macs": macs, "weight_bytes": wbytes, "dma_floor": floor, "tile_bytes": base["tile_bytes"],
               "streamed": s["cycles"] if s else None, "compute": c["cycles"] if c else None,
               "dma": d["cycles"] if d else None}
        if s and c and d:
            overlap = c["cycles"] + d["cycles"] - s["cycles"]
            row["dma_hidden"] = max(0.0, min(1.0, overlap / d["cycles"]))
            row["overlap_of_shorter"] = max(0.0, min(1.0, overlap / min(c["cycles"], d["cycles"])))
            row["streamed_over_floor"] = s["cycles"] / floor
            row["mac_per_cycle_streamed"] = macs / s["cycles"]
            row["mac_per_cycle_l1"] = macs / c["cycles"]
        rows.append(row)
    one = {(r["layer"]): r for r in rows if r["cores"] == 1}
    for r in rows:
        if r["cores"] > 1 and r["layer"] in one and r.get("compute") and one[r["layer"]].get("compute"):
            r["scaling_l1"] = one[r["layer"]]["compute"] / r["compute"]
            r["scaling_streamed"] = one[r["layer"]]["streamed"] / r["streamed"]
    return rows


def _frame(batch_elf: str, cores: int, weight_bytes: int, timeout: float, flash_files=()) -> dict:
    from ..stream import gvsoc as G

    pcm = speech_like_pcm16(HOPS * 100, 3)
    while True:     # the most cores whose weight tiles fit L1 (FP16 LSTM-256: fewer than 8)
        try:
            _, _, _, stats = G.chain_frames(batch_elf, pcm.reshape(HOPS, 100), cores=cores, timeout=timeout,
                                            flash_files=flash_files)
            break
        except G.GvsocError as exc:
            if "L1 budget" not in str(exc) or cores == 1:
                raise
            cores -= 1
    s = stats[WARM:].astype(np.float64)
    n_team = int(stats[-1, G.STAT_TEAM])
    phases = s[:, G.STAT_TEAM + 1:G.STAT_TEAM + 1 + n_team].mean(axis=0)
    return {"cores": cores, "total": float(s[:, 0].mean()), "dsp": float(s[:, 1].mean()),
            "network": float(s[:, 2].mean()), "total_max": int(stats[WARM:, 0].max()),
            "phases": [float(v) for v in phases], "dma_floor": weight_bytes / DMA_BYTES_PER_CYCLE,
            "weight_bytes": int(weight_bytes)}


def _pmsis_frame(qpath: str, frame: dict, weight_bytes: int, timeout: float) -> dict:
    """The PMSIS port's frame on the same model (read from its flash image) and cores, against the
    bare-metal port's ``frame``."""
    from ..flash import write_image
    from ..stream import pmsis

    with tempfile.TemporaryDirectory(prefix="rnnse-bench-flash-") as td:
        image = write_image(qpath, td)[0]
        pm = _frame(pmsis.build()["batch"], frame["cores"], weight_bytes, timeout, flash_files=(image,))
    over = pm["total"] - frame["total"]
    return dict(pm, overhead_cycles=over, overhead=over / frame["total"],
                overhead_dsp=pm["dsp"] - frame["dsp"], overhead_network=pm["network"] - frame["network"])


def measure(model: str, scheme: str, reps: int, timeout: float, with_pmsis: bool = False) -> dict:
    from ..export import pack_model
    from ..quant.qmodel import QuantizedModel
    from ..stream import gvsoc as G

    path = os.path.join("models", model, f"quant-{scheme}.npz")
    if not os.path.exists(path):
        return {"model": model, "scheme": scheme, "error": f"{path} not found"}
    q = QuantizedModel.load(path)
    wbytes = pack_model(q).weight_bytes()
    batch = _build(path)
    out = {"model": model, "scheme": scheme, "weight_bytes": int(wbytes), "fits_l2": batch is not None}
    with tempfile.TemporaryDirectory(prefix="rnnse-bench-") as td:
        qpath = path
        if batch is None:
            qpath = os.path.join(td, f"{model}-1rnn", f"quant-{scheme}.npz")
            os.makedirs(os.path.dirname(qpath))
            _one_rnn_layer(q).save(qpath)
            batch = G.build(qpath)["batch"]
        recs = G.layer_measurements(batch, cores=8, reps=reps, timeout=timeout)
        rows = _layer_rows(recs, model, scheme)
        frame = _frame(batch, 8, pack_model(QuantizedModel.load(qpath)).weight_bytes(), timeout)
    if with_pmsis and out["fits_l2"]:
        out["pmsis_frame"] = _pmsis_frame(path, frame, wbytes, timeout)
    if not out["fits_l2"]:
        # the removed recurrent layer (index 2 in the full model) costs what the kept one does
        rnn = [r for r in rows if r["kind"] in ("lstm", "gru")]
        extra = [dict(r, layer=r["layer"] + 1, estimated=True) for r in rnn]
        rows = [dict(r, layer=r["layer"] + 1) if r["layer"] > rnn[0]["layer"] else r for r in rows] + extra
        if not any(r["cores"] == frame["cores"] for r in rnn):       # frame and layer core counts differ
            frame = dict(frame, cores_note="recurrent layer measured on other core counts")
        rows.sort(key=lambda r: (r["layer"], r["cores"]))
        same = [r for r in rnn if r["cores"] == frame["cores"]] or sorted(rnn, key=lambda r: r["cores"])[-1:]
        add = same[0]["streamed"]
        frame = dict(frame, estimated=True, total=frame["total"] + add, network=frame["network"] + add,
                     weight_bytes=int(wbytes), dma_floor=wbytes / DMA_BYTES_PER_CYCLE)
    out["layers"] = rows
    out["frame"] = frame
    return out


def _fmt(v, spec="{:.0f}"):
    return "-" if v is None else spec.format(v)


def tables(results: list) -> list:
    lines = ["per layer (GVSoC pulp-open cycles; streamed = weights from L2 by DMA, L1 = DMA off; "
             "floor = weight bytes / 8):",
             f"{'model':8s} {'scheme':7s} {'layer':10s} {'cores':>5s} {'streamed':>9s} {'L1':>9s} {'dma':>8s} "
             f"{'floor':>8s} {'str/floor':>9s} {'MAC/c str':>9s} {'MAC/c L1':>8s} {'hidden':>6s} {'x8 L1':>6s}"]
    for res in results:
        for r in res.get("layers", []):
            name = f"{r['layer']} {r['kind']}-{r['prec']}" + ("*" if r.get("estimated") else "")
            lines.append(f"{r['model']:8s} {r['scheme']:7s} {name:10s} {r['cores']:5d} {_fmt(r['streamed']):>9s} "
                         f"{_fmt(r['compute']):>9s} {_fmt(r['dma']):>8s} {_fmt(r['dma_floor']):>8s} "
                         f"{_fmt(r.get('streamed_over_floor'), '{:.2f}'):>9s} "
                         f"{_fmt(r.get('mac_per_cycle_streamed'), '{:.2f}'):>9s} "
                         f"{_fmt(r.get('mac_per_cycle_l1'), '{:.2f}'):>8s} "
                         f"{_fmt(r.get('dma_hidden'), '{:.0%}'):>6s} {_fmt(r.get('scaling_l1'), '{:.2f}'):>6s}")
    lines.append("")
    lines.append("per frame (signal chain and network on the cluster; * estimated):")
    lines.append(f"{'model':8s} {'scheme':7s} {'cores':>5s} {'total':>9s} {'dsp':>9s} {'network':>9s} "
                 f"{'DMA floor':>9s} {'net/floor':>9s}")
    for res in results:
        f = res.get("frame")
        if not f:
            lines.append(f"{res['model']:8s} {res['scheme']:7s} {res.get('error', '')}")
            continue
        star = "*" if f.get("estimated") else " "
        lines.append(f"{res['model']:8s} {res['scheme']:7s} {f['cores']:5d} {f['total']:9.0f}{star}{f['dsp']:9.0f} "
                     f"{f['network']:9.0f} {f['dma_floor']:9.0f} {f['network'] / f['dma_floor']:9.2f}")
    pm = [res for res in results if res.get("pmsis_frame")]
    if pm:
        lines.append("")
        lines.append("PMSIS port (pulp-sdk runtime, model read from flash) against the bare-metal port, per frame "
                     "(cycles; overhead in % of the bare-metal frame):")
        lines.append(f"{'model':8s} {'scheme':7s} {'cores':>5s} {'bare':>9s} {'pmsis':>9s} {'overhead':>9s} "
                     f"{'of frame':>8s} {'dsp':>7s} {'network':>8s}")
        for res in pm:
            f, p = res["frame"], res["pmsis_frame"]
            lines.append(f"{res['model']:8s} {res['scheme']:7s} {p['cores']:5d} {f['total']:9.0f} {p['total']:9.0f} "
                         f"{p['overhead_cycles']:+9.0f} {100 * p['overhead']:7.2f}% {p['overhead_dsp']:+7.0f} "
                         f"{p['overhead_network']:+8.0f}")
    lines.append("")
    lines.append("INT8 / FP16 speed-up of the recurrent layers (most cores that fit; FP16 cycles / INT8 cycles):")
    for model in sorted({r["model"] for r in results}):
        def rnn(scheme):
            for res in results:
                if res["model"] == model and res["scheme"] == scheme:
                    rows = [r for r in res.get("layers", []) if r["kind"] in ("lstm", "gru")]
                    return max(rows, key=lambda r: r["cores"]) if rows else None
            return None
        f16, i8 = rnn("fp16"), rnn("int8") or rnn("mixed")
        if f16 and i8 and f16["cores"] != i8["cores"]:
            lines.append(f"  {model}: FP16 runs on {f16['cores']} cores (two 4 kB tiles per core fit 64 kB L1 "
                         f"only for {f16['cores']}), INT8 on {i8['cores']}; as measured, then per core-cycle:")
            lines.append(f"  {model}: streamed {f16['streamed'] / i8['streamed']:.2f}x, weights in L1 "
                         f"{f16['compute'] / i8['compute']:.2f}x")
            f16 = dict(f16, streamed=f16["streamed"] * f16["cores"], compute=f16["compute"] * f16["cores"])
            i8 = dict(i8, streamed=i8["streamed"] * i8["cores"], compute=i8["compute"] * i8["cores"])
        if f16 and i8:
            lines.append(f"  {model}: streamed {f16['streamed'] / i8['streamed']:.2f}x, weights in L1 "
                         f"{f16['compute'] / i8['compute']:.2f}x "
                         f"(weight bytes {f16['weight_bytes'] / i8['weight_bytes']:.2f}x)")
    return lines


def speedups(results: list) -> dict:
    out = {}
    for model in sorted({r["model"] for r in results}):
        def rnn(scheme):
            for res in results:
                if res["model"] == model and res["scheme"] == scheme:
                    rows = [r for r in res.get("layers", []) if r["kind"] in ("lstm", "gru")]
                    return max(rows, key=lambda r: r["cores"]) if rows else None
            return None
        f16, i8 = rnn("fp16"), rnn("int8") or rnn("mixed")
        if f16 and i8:
            out[model] = {"streamed": f16["streamed"] / i8["streamed"], "l1": f16["compute"] / i8["compute"],
                          "bytes": f16["weight_bytes"] / i8["weight_bytes"], "fp16_cores": f16["cores"],
                          "int8_cores": i8["cores"],
                          "per_core_cycle": {"streamed": f16["streamed"] * f16["cores"]
                                             / (i8["streamed"] * i8["cores"]),
                                             "l1": f16["compute"] * f16["cores"] / (i8["compute"] * i8["cores"])}}
    return out


def main(argv=None) -> int:
    from ..cli import UserError
    from ..stream import gvsoc as G
    from . import RESULTS_DIR

    p = argparse.ArgumentParser(prog="rnnse bench gvsoc", description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["lstm256", "gru256"])
    p.add_argument("--schemes", nargs="+", default=["fp16", "mixed", "mixed+", "int8"])
    p.add_argument("--reps", type=int, default=2, help="repetitions per layer measurement (best kept)")
    p.add_argument("--timeout", type=float, default=900.0, help="bound of one simulation (s)")
    p.add_argument("--no-pmsis", action="store_true", help="leave out the PMSIS port's frames")
    p.add_argument("-o", "--output", default=os.path.join(RESULTS_DIR, "gvsoc.json"))
    args = p.parse_args(argv)
    reason = G.unavailable()
    if reason:
        raise UserError(f"rnnse bench gvsoc: {reason}")
    from ..stream import pmsis

    with_pmsis = not args.no_pmsis and pmsis.sdk_unavailable() is None
    if not args.no_pmsis and not with_pmsis:
        print(f"rnnse bench gvsoc: note: no PMSIS rows: {pmsis.sdk_unavailable()}", file=sys.stderr)
    try:
        commits = G.gvsoc_commits()
    except G.GvsocError as exc:
        raise UserError(f"rnnse bench gvsoc: {exc}") from None
    if not commits:
        print(f"rnnse bench gvsoc: warning: GVSoC's commits not found (the record will carry none): set "
              f"${G.SRC_ENV_VAR} to its git checkout", file=sys.stderr)
    results = []
    for model in args.models:
        for scheme in args.schemes:
            print(f"measuring {model} {scheme} ...", file=sys.stderr, flush=True)
            try:
                results.append(measure(model, scheme, args.reps, args.timeout, with_pmsis))
            except G.GvsocError as exc:
                raise UserError(f"rnnse bench gvsoc: {model} {scheme}: {exc}") from None
    lines = tables(results)
    print("\n".join(lines))
    doc = {"benchmark": "gvsoc", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "simulator": {"target": G.TARGET, "commits": commits,
                         "notes": "cycles of GVSoC's pulp-open model: FC + 8-core cluster, 64 kB L1, 1.6 MB L2, "
                                  "cluster DMA about 8 B/cycle; FP and SIMD instructions 1 cycle, each FPU "
                                  "shared by two cores, one divide/sqrt unit (14 cycles) for the cluster"},
           "pmsis": {"runtime": "pulp-platform/pulp-sdk", "commit": pmsis.sdk_commit()} if with_pmsis else None,
           "dma_bytes_per_cycle": DMA_BYTES_PER_CYCLE, "results": results, "int8_over_fp16": speedups(results),
           "table": lines}
    write_results(args.output, doc, file=sys.stderr)
    return 0
