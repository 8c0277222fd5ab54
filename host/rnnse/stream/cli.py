"""``rnnse enhance IN.wav -o OUT.wav --target host|virt|gvsoc|pmsis|pmsis-file|serial:PORT[@BAUD]|URL``:
enhance a file on the firmware, streaming it hop by hop over the protocol of docs/protocol.md (or,
``pmsis-file``, handing the whole file to the PMSIS firmware's file mode)."""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from ..cli import UserError, int_within, number_within

BUDGET_MS = 6.25                # one hop at 16 kHz
CLOCK_HZ = 240e6                # the paper's GAP9 cluster clock: the budget in cycles
DEFAULT_MODEL = os.path.join("models", "lstm256")
MAX_TIMEOUT_S = 3600            # a reply time-out, in seconds


def register(sub) -> None:
    p = sub.add_parser("enhance", help="enhance a wav file on the firmware (host build, QEMU virt or a "
                                       "device on a serial port)", description=__doc__.splitlines()[0])
    p.add_argument("input", help="noisy input (16 kHz mono wav; - reads it from standard input)")
    p.add_argument("-o", "--output", required=True,
                   help="enhanced output wav (- writes it to standard output, the report to standard error)")
    p.add_argument("--target", default="host",
                   help="host (native build on a loopback port, default), virt (QEMU RISC-V), gvsoc (GVSoC pulp-open), "
                        "pmsis (the PMSIS firmware on GVSoC, the model booted from its flash), pmsis-file (its file "
                        "mode: wav in, wav out by semihosting), serial:PORT[@BAUD] or a pyserial URL "
                        "(socket://HOST:PORT, rfc2217://...)")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"model directory holding quant-SCHEME.npz, or a quantized-model file "
                        f"(default {DEFAULT_MODEL}); for host and virt the firmware is built with it")
    p.add_argument("--scheme", default="mixed", help="quantization scheme (default mixed)")
    p.add_argument("--clean", help="clean reference wav: print PESQ-WB, STOI and SI-SDR before and after")
    p.add_argument("--cores", type=int_within(1, 8),
                   help="cores of the network's team, 1..8 (host default 1, virt and gvsoc 8)")
    p.add_argument("--hops-per-message", type=int_within(1, 8), default=1,
                   help="hops per AUDIO message (1..8, default 1)")
    p.add_argument("--window", type=int_within(1),
                   help="AUDIO messages in flight (default: the device's reply cache)")
    p.add_argument("--timeout", type=number_within(0, MAX_TIMEOUT_S, low_included=False),
                   help=f"seconds to wait for a reply, > 0 and at most {MAX_TIMEOUT_S} (default 2; 20 for "
                        "virt and serial targets)")
    p.add_argument("--retries", type=int_within(0), default=5,
                   help="retries without progress before giving up (default 5)")
    p.add_argument("--icount", action=argparse.BooleanOptionalAction, default=None,
                   help="virt: count instructions deterministically (QEMU -icount shift=0; the default "
                        "on virt): per-hop costs in instructions per hart and layer against the 1.5 M "
                        "budget; --no-icount runs the harts in parallel and reports emulated time")
    p.add_argument("--resample", action="store_true", help="resample inputs of another rate to 16 kHz")
    p.add_argument("--mono", action="store_true", help="average multi-channel inputs to mono")
    p.add_argument("--json", help="also write the run's figures (costs, link, metrics) to this JSON file")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress report (when stderr is not a terminal it is a few lines anyway)")
    p.set_defaults(func=cmd_enhance)


def resolve_qmodel(model: str, scheme: str) -> str:
    """A quantized-model file, or DIR/quant-SCHEME.npz."""
    if os.path.isfile(model):
        return model
    if not os.path.isdir(model):
        raise UserError(f"--model {model}: no such model directory or quantized-model file")
    path = os.path.join(model, f"quant-{scheme}.npz")
    if not os.path.exists(path):
        raise UserError(f"{path} does not exist: quantize the model first, e.g. `rnnse quantize {model} "
                        f"--scheme {scheme} --calib data/corpus -o {path}`")
    return path


def cost_table(costs: np.ndarray, info) -> list[str]:
    """Per-hop cost lines against the real-time budget of one hop: instructions per hart and layer
    (virt with icount), or time and the real-time factor."""
    from .costs import instruction_table, layer_labels, summarize

    unit = info.counter
    if unit == "instructions":
        return instruction_table(summarize(costs, info))
    emulated = info.target == "virt"
    if unit == "ns":
        scale, name, budget = 1e-3, "us", BUDGET_MS * 1e3
    else:
        scale, name, budget = 1e-6, f"M {unit}", BUDGET_MS * 1e-3 * CLOCK_HZ * 1e-6
    labels = {"busiest": "busiest worker"}
    nf = len(info.fixed_costs)
    rows = [(labels.get(name, name), i) for i, name in enumerate(info.fixed_costs)]
    n_ph = (costs.shape[1] - nf) // 2
    for i, ph in enumerate(layer_labels(info.phases[:n_ph])):
        rows.append((f"  {ph} (total)", nf + i))
        rows.append((f"  {ph} (busiest)", nf + n_ph + i))
    # entries a target cannot measure are 0: leave them out (not total, dsp and network)
    rows = [(label, col) for label, col in rows
            if info.fixed_costs[col:col + 1] in (["total"], ["dsp"], ["network"]) or costs[:, col].any()]
    lines = [f"per-hop cost ({len(costs)} hops, {name}; budget {budget:.4g} {name} = {BUDGET_MS} ms"
             + ("" if unit == "ns" else f" at {CLOCK_HZ / 1e6:.0f} MHz") + "):",
             f"  {'':22s} {'mean':>10s} {'p99':>10s} {'max':>10s} {'of budget':>10s}"]
    for label, col in rows:
        v = costs[:, col].astype(np.float64) * scale
        lines.append(f"  {label:22s} {v.mean():10.4g} {np.percentile(v, 99):10.4g} {v.max():10.4g} "
                     f"{100 * v.mean() / budget:9.2f}%")
    tot = costs[:, info.fixed_costs.index("total")].astype(np.float64).mean() * scale
    if emulated:
        lines.append("  (QEMU's wall-clock time on this machine, which says nothing about the MCU: drop "
                     "--no-icount for instruction counts)")
    elif tot > 0:
        rtf = budget / tot
        lines.append(f"  real-time factor {rtf:.2f}: " + (f"{rtf:.1f}x faster than real time" if rtf >= 1 else
                     f"{1 / rtf:.1f}x slower than real time") + " (mean total per hop)")
    return lines


def cmd_enhance(args) -> int:
    from ..audio import check_output_wav, open_output_wav

    check_output_wav(args.output, [args.input, args.clean])
    with open_output_wav(args.output) as out:
        return _enhance(args, out)


def _enhance(args, out) -> int:
    """Enhance args.input into ``out`` (an open WavWriter: renamed into place when this returns)."""
    from ..audio import from_pcm16, load_wav, report_stream, to_pcm16
    from ..config import LATENCY, SAMPLE_RATE
    from .build import BuildError
    from .client import StreamClient, StreamError
    from .targets import TargetError, describe, open_target

    x = load_wav(args.input, resample_ok=args.resample, mono_ok=args.mono)
    clean = None
    if args.clean:
        clean = load_wav(args.clean, resample_ok=args.resample, mono_ok=args.mono)
        if abs(len(clean) - len(x)) > 0:
            raise UserError(f"--clean {args.clean} has {len(clean)} samples but {args.input} has {len(x)}: "
                            f"they must be the same recording")
    local = args.target in ("host", "virt", "gvsoc", "pmsis", "pmsis-file")
    qmodel = None
    if local or args.model != DEFAULT_MODEL or os.path.exists(args.model):
        try:
            qmodel = resolve_qmodel(args.model, args.scheme)
        except UserError:
            if local:
                raise
    timeout = args.timeout or (2.0 if args.target == "host" else 20.0)
    icount = args.icount if args.icount is not None else args.target == "virt"
    pcm = to_pcm16(x)
    if args.target == "pmsis-file":
        return _enhance_file(args, x, pcm, clean, qmodel, out)
    padded = np.concatenate([pcm, np.zeros(LATENCY, np.int16)])
    progress = not args.no_progress
    print(f"rnnse enhance: {args.input} ({len(x) / SAMPLE_RATE:.2f} s) on {describe(args.target)}", file=sys.stderr)
    try:
        with open_target(args.target, qmodel, cores=args.cores, progress=progress, icount=icount) as port:
            client = StreamClient(port, reply_timeout=timeout, max_retries=args.retries, window=args.window,
                                  hops_per_message=args.hops_per_message)
            info = client.hello()
            print(f"device: {info.target}, model {info.model} ({info.scheme}, checksum 0x{info.checksum:08x}), "
                  f"{info.cores} cores, costs in {info.counter}, protocol v{info.version}", file=sys.stderr)
            _check_model(qmodel, info)
            result = _stream(client, padded, progress)
            final = client.hello()      # the device's link statistics after the stream
    except (TargetError, StreamError, BuildError) as exc:
        raise UserError(str(exc)) from None
    y = from_pcm16(result.audio[LATENCY:LATENCY + len(x)])
    out.write(result.audio[LATENCY:LATENCY + len(x)])
    audio_s = len(padded) / SAMPLE_RATE
    lines = [f"wrote {args.output if args.output != '-' else 'the enhanced audio to standard output'}"]
    lines += cost_table(result.costs, info)
    st = result.stats
    dev = {k: v for k, v in final.stats.items() if v and k != "frames"}
    speed = (f"{len(result.costs) / result.wall_s:.0f} hops/s through QEMU" if info.target == "virt" else
             f"{audio_s / result.wall_s:.1f}x real time end to end")
    lines.append(f"link: {st.messages} messages in {result.wall_s:.2f} s ({speed}), {st.retransmitted} "
                 f"retransmitted, {st.timeouts} time-outs, device errors {st.device_errors or 'none'}, "
                 f"device counters {dev or 'clean'}")
    report = {"input": args.input, "target": args.target, "model": info.model, "scheme": info.scheme,
              "checksum": f"0x{info.checksum:08x}", "cores": info.cores, "counter": info.counter,
              "phases": info.phases, "hops": int(len(result.costs)),
              "cost_mean": [float(v) for v in result.costs.astype(np.float64).mean(axis=0)],
              "cost_max": [int(v) for v in result.costs.max(axis=0)],
              "wall_s": result.wall_s, "audio_s": audio_s, "link": st.as_dict(), "device": final.stats}
    if len(result.costs):
        from .costs import summarize

        report["per_hop"] = summarize(result.costs, info)     # means per hop, per layer
    if clean is not None:
        from ..metrics import all_metrics

        m = {"noisy": all_metrics(clean, x), "enhanced": all_metrics(clean, y)}
        report["metrics"] = m
        lines.append(f"PESQ-WB {m['noisy']['pesq_wb']:.3f} -> {m['enhanced']['pesq_wb']:.3f}, "
                     f"STOI {m['noisy']['stoi']:.3f} -> {m['enhanced']['stoi']:.3f}, "
                     f"SI-SDR {m['noisy']['si_sdr']:.2f} -> {m['enhanced']['si_sdr']:.2f} dB")
    print("\n".join(lines), file=report_stream(args.output))
    if args.json:
        d = os.path.dirname(args.json)
        if d:
            os.makedirs(d, exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


def _enhance_file(args, x, pcm, clean, qmodel, out) -> int:
    """--target pmsis-file: the PMSIS firmware's file mode on GVSoC (the model booted from its
    flash, the wav read and written through the host file system, as over JTAG semihosting)."""
    from ..audio import from_pcm16, report_stream
    from ..config import SAMPLE_RATE
    from . import pmsis
    from .build import BuildError

    if args.cores not in (None, 8):
        raise UserError("--target pmsis-file runs the network on the 8 cluster cores (no --cores)")
    reason = pmsis.unavailable()
    if reason:
        raise UserError(reason)
    print(f"rnnse enhance: {args.input} ({len(x) / SAMPLE_RATE:.2f} s) on {args.target} (PMSIS firmware's file mode "
          f"on GVSoC pulp-open)", file=sys.stderr)
    try:
        enhanced, fig = pmsis.run_wav(pmsis.image(qmodel), pmsis.wav_bytes(pcm))
    except (pmsis.G.GvsocError, BuildError) as exc:
        raise UserError(str(exc)) from None
    out.write(enhanced)
    y = from_pcm16(enhanced)
    budget = BUDGET_MS * 1e-3 * CLOCK_HZ
    lines = [f"wrote {args.output if args.output != '-' else 'the enhanced audio to standard output'}",
             f"per-hop cost ({fig['hops']} hops, cycles on the FC; budget {budget:.0f} = {BUDGET_MS} ms at "
             f"{CLOCK_HZ / 1e6:.0f} MHz): total mean {fig['mean']} ({100 * fig['mean'] / budget:.1f}%), max "
             f"{fig['max']}, dsp {fig['dsp']}, network {fig['network']}"]
    report = {"input": args.input, "target": args.target, "model": qmodel, "hops": fig["hops"], "cycles": fig}
    if clean is not None:
        from ..metrics import all_metrics

        m = {"noisy": all_metrics(clean, x), "enhanced": all_metrics(clean, y)}
        report["metrics"] = m
        lines.append(f"PESQ-WB {m['noisy']['pesq_wb']:.3f} -> {m['enhanced']['pesq_wb']:.3f}, "
                     f"STOI {m['noisy']['stoi']:.3f} -> {m['enhanced']['stoi']:.3f}, "
                     f"SI-SDR {m['noisy']['si_sdr']:.2f} -> {m['enhanced']['si_sdr']:.2f} dB")
    print("\n".join(lines), file=report_stream(args.output))
    if args.json:
        d = os.path.dirname(args.json)
        if d:
            os.makedirs(d, exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


def _check_model(qmodel, info) -> None:
    """Warn when the device runs another model than the one named on the command line."""
    if qmodel is None or info.model == "passthrough":
        return
    from ..export import pack_model
    from ..quant.qmodel import QuantizedModel

    want = pack_model(QuantizedModel.load(qmodel)).checksum()
    if want != info.checksum:
        print(f"warning: the device's model checksum 0x{info.checksum:08x} differs from {qmodel}'s "
              f"0x{want:08x}: it runs another model", file=sys.stderr)


def _stream(client, pcm, progress: bool):
    """Stream with a progress bar on a terminal; otherwise (a log, a pipe) a line per quarter."""
    hops = -(-len(pcm) // 100)
    if progress and not _isatty(sys.stderr):
        marks = [hops * k // 4 for k in (1, 2, 3, 4)]

        def on_progress(done):
            while marks and done >= marks[0]:
                print(f"streaming: {100 * (4 - len(marks) + 1) // 4}% ({marks.pop(0)}/{hops} hops)",
                      file=sys.stderr, flush=True)
        return client.stream(pcm, on_progress=on_progress)

    from tqdm import tqdm

    with tqdm(total=hops, unit="hop", disable=not progress, file=sys.stderr, desc="streaming") as bar:
        def on_progress(done):
            bar.update(min(done, hops) - bar.n)
        return client.stream(pcm, on_progress=on_progress)


def _isatty(f) -> bool:
    try:
        return f.isatty()
    except (AttributeError, ValueError):
        return False
