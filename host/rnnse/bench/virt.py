"""Instructions per frame on the QEMU virt target (deterministic, -icount) and the UART path's throughput.

``rnnse bench virt [--models lstm256 gru256] [--schemes fp16 mixed mixed+ int8] [--seconds 3]``.

For each model and scheme the virt firmware (``scons target=virt``) is built with
``models/<model>/quant-<scheme>.npz`` and run on QEMU with ``-icount shift=0``: one controller hart
(UART protocol and DSP) and 8 worker harts (the network). A clip (the demo clip
samples/demo_noisy.wav, repeated to ``--seconds``) is streamed through it, and the firmware's own
per-hop counts, exact and deterministic (firmware/platform/virt/virt.h), are averaged over the
clip's hops:

* the DSP (analysis + synthesis, on the controller hart) and each layer, both for the busiest
  worker hart of each phase and summed over every hart;
* the busiest worker hart per hop, the critical path (DSP, then each phase's busiest worker, as
  the controller waits for the team), and the total over all harts;
* the FP16/INT8 instruction ratio of the recurrent layers (fp16 scheme over int8 scheme);
* the target: the busiest hart of ``mixed`` LSTM-256 below 1.5 M instructions per hop, the
  paper's cycle budget (6.25 ms at 240 MHz) at one instruction per cycle.

Then the UART path's throughput: the passthrough firmware (protocol and DSP, mask = 1) on QEMU
without icount (the harts run in parallel on host threads), hops per second of wall-clock time
with 1 and with 8 hops per AUDIO message. That is the emulator's speed on this machine, not the
MCU's; it says how fast the emulated link can be driven.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time

import numpy as np

from . import cpu_name, write_results

HOP_S = 100 / 16000
TARGET_MODEL, TARGET_SCHEME = "lstm256", "mixed"
DEFAULT_SCHEMES = ["fp16", "mixed", "mixed+", "int8"]


def _qemu_version() -> str:
    from ..stream.virt import QEMU

    try:
        out = subprocess.run([QEMU, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.splitlines()[0].strip() if out else "unknown"


def _machine() -> dict:
    return {"cpu": cpu_name(), "cpus": os.cpu_count(), "system": platform.platform(),
            "python": platform.python_version(), "qemu": _qemu_version(), "load": os.getloadavg()[0]}


def measure_icount(qmodel: str, pcm: np.ndarray, cores: int) -> dict:
    """Stream ``pcm`` through the firmware for ``qmodel`` under -icount; the cost summary."""
    from ..stream import virt
    from ..stream.client import StreamClient
    from ..stream.costs import summarize

    elf = virt.build(qmodel)
    with virt.start(elf, cores=cores, icount=True) as m:
        client = StreamClient(m.port, reply_timeout=60.0, hops_per_message=8)
        info = client.hello()
        r = client.stream(pcm)
        client.bye()
    if info.counter != "instructions":
        raise RuntimeError(f"the firmware reports costs in {info.counter}, expected instructions")
    s = summarize(r.costs, info)
    s.update(model=info.model, scheme=info.scheme, checksum=f"0x{info.checksum:08x}", phases=info.phases,
             emulation_wall_s=r.wall_s, emulation_hops_per_s=len(r.costs) / r.wall_s,
             retransmitted=r.stats.retransmitted)
    return s


def measure_link(pcm: np.ndarray, cores: int, repeats: int) -> list[dict]:
    """Wall-clock hops per second of the UART path (passthrough firmware, no icount)."""
    from ..stream import virt
    from ..stream.client import StreamClient

    elf = virt.build(None)
    rows = []
    with virt.start(elf, cores=cores, icount=False) as m:
        for per in (1, 8):
            client = StreamClient(m.port, reply_timeout=20.0, hops_per_message=per)
            info = client.hello()
            client.stream(pcm[:8000])           # warm-up (QEMU translates the code once)
            walls = []
            for _ in range(repeats):
                r = client.stream(pcm)
                walls.append(r.wall_s)
            wall = float(np.median(walls))
            hops = len(r.costs)
            rows.append({"hops_per_message": per, "window": info.replay_depth, "hops": hops,
                         "wall_s": walls, "fps": hops / wall, "rtf": hops * HOP_S / wall,
                         "up_bytes_per_s": r.stats.sent * (14 + 4 + 200 * per) / wall,
                         "retransmitted": r.stats.retransmitted})
    return rows


def _fmt(v, scale=1e-6, width=7):
    return f"{v * scale:{width}.3f}" if v is not None else f"{'-':>{width}s}"


def _generic(name: str) -> str:
    """lstm_0 / gru_0 -> rnn_0: one column for both cells."""
    for cell in ("lstm", "gru"):
        if name.startswith(cell + "_"):
            return "rnn" + name[len(cell):]
    return name


def layer_columns(rows: list[dict]) -> list[str]:
    """The layer columns of the table: fc_in, rnn_0, rnn_1, ..., fc_mid, fc_out (conversions are
    folded into one column)."""
    from ..stream.costs import CONVERSIONS

    names = []
    for r in rows:
        for L in r["layers"]:
            n = _generic(L["name"])
            if L["kind"] not in CONVERSIONS and n not in names:
                names.append(n)
    rank = {"fc_in": (0, 0), "fc_mid": (2, 0), "fc_out": (3, 0)}
    return sorted(names, key=lambda n: rank.get(n, (1, int(n.rsplit("_", 1)[1]) if n.rsplit("_", 1)[-1].isdigit()
                                                    else 0)))


def table(rows: list[dict], budget: float) -> str:
    """Two blocks: per busiest worker hart and summed over all harts, in M instructions per hop;
    then the budget check."""
    cols = layer_columns(rows)
    head = (f"{'model':8s} {'scheme':7s} {'dsp':>7s} " + " ".join(f"{c:>7s}" for c in cols)
            + f" {'conv':>7s} {'network':>7s} {'hop':>7s}")
    out = []
    for key, title in (("busiest", "busiest hart, M instructions per hop (dsp: the controller hart; each layer: "
                                    "its busiest worker; network: the busiest worker hart over the hop; "
                                    "hop: max(dsp, network))"),
                       ("total", "all harts, M instructions per hop")):
        out += [title, head, "-" * len(head)]
        for r in rows:
            by = {_generic(L["name"]): L[key] for L in r["layers"]}
            if key == "busiest":
                net, hop = r["busiest_worker"], max(r["busiest_worker"], r["dsp"])
            else:
                net, hop = r["network"], r["total"]
            out.append(f"{r['model']:8s} {r['scheme']:7s} {_fmt(r['dsp'])} "
                       + " ".join(_fmt(by.get(c)) for c in cols)
                       + f" {_fmt(r['conversions'][key])} {_fmt(net)} {_fmt(hop)}")
        out.append("")
    head2 = (f"{'model':8s} {'scheme':7s} {'busiest hart':>12s} {'worst hop':>9s} {'of budget':>9s} "
             f"{'critical path':>13s} {'target':>6s} {'emulated hops/s':>15s}")
    out += [f"against the budget of {budget * 1e-6:.3g} M instructions per hop (6.25 ms at 240 MHz, "
            f"one instruction per cycle); critical path = dsp + each layer's busiest worker", head2,
            "-" * len(head2)]
    for r in rows:
        b = max(r["busiest_worker"], r["dsp"])
        w = max(r["busiest_worker_max"], r["dsp_max"])
        goal = (("pass" if w < budget else "FAIL") if (r["model"], r["scheme"]) == (TARGET_MODEL, TARGET_SCHEME)
                else "")
        out.append(f"{r['model']:8s} {r['scheme']:7s} {b * 1e-6:12.3f} {w * 1e-6:9.3f} {100 * b / budget:8.1f}% "
                   f"{r['critical_path'] * 1e-6:13.3f} {goal:>6s} {r['emulation_hops_per_s']:15.1f}")
    return "\n".join(out)


def ratios(rows: list[dict]) -> list[dict]:
    """FP16/INT8 instruction ratio of the recurrent layers per model (fp16 over int8 scheme)."""
    out = []
    by = {(r["model"], r["scheme"]): r for r in rows}
    for model in dict.fromkeys(r["model"] for r in rows):
        fp, i8 = by.get((model, "fp16")), by.get((model, "int8"))
        if not fp or not i8 or not i8["recurrent"]["total"]:
            continue
        out.append({"model": model,
                    "busiest": fp["recurrent"]["busiest"] / i8["recurrent"]["busiest"],
                    "total": fp["recurrent"]["total"] / i8["recurrent"]["total"],
                    "fp16": fp["recurrent"], "int8": i8["recurrent"]})
    return out


def main(argv=None) -> int:
    from ..cli import UserError
    from ..stream.costs import BUDGET_INSTRUCTIONS
    from ..stream.virt import MAX_CORES, VirtError, check_qemu, check_toolchain
    from . import RESULTS_DIR
    from .stream import _signal

    p = argparse.ArgumentParser(prog="rnnse bench virt", description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["lstm256", "gru256"],
                   help="model directories under models/ (or paths) holding quant-SCHEME.npz")
    p.add_argument("--schemes", nargs="+", default=DEFAULT_SCHEMES)
    p.add_argument("--cores", type=int, default=MAX_CORES, help=f"worker harts (default {MAX_CORES})")
    p.add_argument("--seconds", type=float, default=3.0,
                   help="clip streamed per model under icount (default 3: 480 hops + 3 of latency)")
    p.add_argument("--link-seconds", type=float, default=5.0,
                   help="clip streamed for the UART-path throughput (default 5; 0: skip)")
    p.add_argument("--repeats", type=int, default=3, help="UART-path runs per row (median wall time)")
    p.add_argument("-o", "--output", default=os.path.join(RESULTS_DIR, "virt.json"))
    args = p.parse_args(argv)
    if args.seconds <= 0 or args.link_seconds < 0 or args.repeats < 1 or not 1 <= args.cores <= MAX_CORES:
        raise UserError(f"--seconds must be > 0, --link-seconds >= 0, --repeats >= 1 and --cores within "
                        f"1..{MAX_CORES}")
    try:
        check_qemu()
        check_toolchain()
    except VirtError as exc:
        raise UserError(str(exc)) from None
    from ..config import LATENCY

    pcm = np.concatenate([_signal(args.seconds), np.zeros(LATENCY, np.int16)])
    clip = ("samples/demo_noisy.wav repeated" if os.path.exists(os.path.join("samples", "demo_noisy.wav"))
            else "white noise") + f" to {args.seconds:g} s + {LATENCY} zeros"
    jobs, skipped = [], []
    for m in args.models:
        d = m if os.path.isdir(m) else os.path.join("models", m)
        for s in args.schemes:
            q = os.path.join(d, f"quant-{s}.npz")
            if os.path.exists(q):
                jobs.append(q)
            else:
                msg = f"{q} does not exist: skipped (rnnse quantize {d} --scheme {s} --calib data/corpus -o {q})"
                print(msg, file=sys.stderr)
                skipped.append({"model": os.path.basename(os.path.normpath(d)), "scheme": s, "reason": msg})
    load0 = os.getloadavg()
    t0 = time.time()
    rows = []
    for q in jobs:
        print(f"{q}: streaming {len(pcm) / 16000:.2f} s under -icount shift=0 ...", file=sys.stderr, flush=True)
        try:
            rows.append(measure_icount(q, pcm, args.cores))
        except Exception as exc:   # noqa: BLE001 - report the row and go on with the others
            print(f"{q}: failed: {exc}", file=sys.stderr)
            skipped.append({"path": q, "reason": str(exc)})
    link = []
    if args.link_seconds > 0:
        print("UART path: passthrough firmware without icount ...", file=sys.stderr, flush=True)
        link = measure_link(_signal(args.link_seconds, seed=1), args.cores, args.repeats)
    load1 = os.getloadavg()

    budget = BUDGET_INSTRUCTIONS
    if rows:
        print(table(rows, budget))
    else:
        print("no model measured (see the messages above)")
    rat = ratios(rows)
    if rat:
        print("\nFP16/INT8 instruction ratio of the recurrent layers (fp16 scheme / int8 scheme):")
        for r in rat:
            print(f"  {r['model']}: busiest hart {r['busiest']:.2f}x, all harts {r['total']:.2f}x")
    target = next((r for r in rows if r["model"] == TARGET_MODEL and r["scheme"] == TARGET_SCHEME), None)
    verdict = None
    if target is not None:
        b = max(target["busiest_worker"], target["dsp"])
        worst = max(target["busiest_worker_max"], target["dsp_max"])
        verdict = "pass" if b < budget and worst < budget else "fail"
        print(f"\ntarget: {TARGET_MODEL} {TARGET_SCHEME}, busiest hart {b * 1e-6:.3f} M instructions per hop "
              f"(worst hop {worst * 1e-6:.3f} M) < {budget * 1e-6:.3g} M: {verdict.upper()}")
    if link:
        print("\nUART path (passthrough firmware, QEMU without icount, wall clock on this machine):")
        for r in link:
            print(f"  {r['hops_per_message']} hop(s) per message, {r['window']} in flight: {r['fps']:.0f} "
                  f"frames/s ({r['rtf']:.1f}x real time), {r['retransmitted']} retransmitted")
    print(f"\nclip: {clip}; {args.cores} worker harts; load average {load0[0]:.1f} -> {load1[0]:.1f} on "
          f"{os.cpu_count()} CPUs ({_machine()['cpu']}); {_qemu_version()}")
    result = {"benchmark": "virt", "target": "virt", "clip": clip, "clip_s": len(pcm) / 16000,
              "cores": args.cores, "counter": "instructions (QEMU -icount shift=0)",
              "budget_instructions": budget, "budget_basis": "6.25 ms hop at 240 MHz, one instruction per cycle",
              "goal": {"model": TARGET_MODEL, "scheme": TARGET_SCHEME, "metric": "busiest hart",
                         "verdict": verdict,
                         "busiest": None if target is None else max(target["busiest_worker"], target["dsp"])},
              "rows": rows, "fp16_int8_ratio": rat, "uart_link": link, "skipped": skipped,
              "machine": {**_machine(), "load_before": load0[0], "load_after": load1[0]},
              "elapsed_s": time.time() - t0}
    write_results(args.output, result)
    return 0
