"""``rnnse enhance IN.wav -o OUT.wav --target host|virt|gvsoc|pmsis|pmsis-file|serial:PORT[@BAUD]|URL``:
enhance a file on the firmware, streaming it hop by hop over the protocol of docs/protocol.md (or,
``pmsis-file``, handing the whole file to the PMSIS firmware's file mode)."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys

import numpy as np

from ..cli import UserError, int_within, number_within
from ..config import DEFAULT_MODEL

BUDGET_MS = 6.25                # one hop at 16 kHz
CLOCK_HZ = 240e6                # the paper's GAP9 cluster clock: the budget in cycles
MAX_TIMEOUT_S = 3600            # a reply time-out, in seconds
MESSAGES_PER_READ = 64          # AUDIO messages' samples read from the input at a time
WRITE_SAMPLES = 1 << 14         # output samples gathered before they are written


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
                   help=f"seconds to wait for a reply, > 0 and at most {MAX_TIMEOUT_S} (default 1 on host; 20 "
                        "for virt and serial targets)")
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


def cost_table(stats, info) -> list[str]:
    """Per-hop cost lines against the real-time budget of one hop: instructions per hart and layer
    (virt with icount), or time and the real-time factor. ``stats``: the stream's CostStats (or its
    ``(hops, entries)`` cost array)."""
    from .costs import CostStats, instruction_table, layer_labels

    if not isinstance(stats, CostStats):
        stats = CostStats(info, len(stats)).add(stats)
    unit = info.counter
    if unit == "instructions":
        return instruction_table(stats.summary())
    emulated = info.target == "virt"
    if unit == "ns":
        scale, name, budget = 1e-3, "us", BUDGET_MS * 1e3
    else:
        scale, name, budget = 1e-6, f"M {unit}", BUDGET_MS * 1e-3 * CLOCK_HZ * 1e-6
    labels = {"busiest": "busiest worker"}
    nf = len(info.fixed_costs)
    rows = [(labels.get(name, name), i) for i, name in enumerate(info.fixed_costs)]
    n_ph = (stats.entries - nf) // 2
    for i, ph in enumerate(layer_labels(info.phases[:n_ph])):
        rows.append((f"  {ph} (total)", nf + i))
        rows.append((f"  {ph} (busiest)", nf + n_ph + i))
    # entries a target cannot measure are 0: leave them out (not total, dsp and network)
    rows = [(label, col) for label, col in rows
            if info.fixed_costs[col:col + 1] in (["total"], ["dsp"], ["network"]) or stats.max(col) > 0]
    lines = [f"per-hop cost ({stats.count} hops, {name}; budget {budget:.4g} {name} = {BUDGET_MS} ms"
             + ("" if unit == "ns" else f" at {CLOCK_HZ / 1e6:.0f} MHz") + "):",
             f"  {'':22s} {'mean':>10s} {'p99':>10s} {'max':>10s} {'of budget':>10s}"]
    for label, col in rows:
        mean = stats.mean(col, scale)
        lines.append(f"  {label:22s} {mean:10.4g} {stats.p99(col, scale):10.4g} {stats.max(col) * scale:10.4g} "
                     f"{100 * mean / budget:9.2f}%")
    tot = stats.mean(info.fixed_costs.index("total"), scale)
    if emulated:
        lines.append("  (QEMU's wall-clock time on this machine, which says nothing about the MCU: drop "
                     "--no-icount for instruction counts)")
    elif tot > 0:
        rtf = budget / tot
        lines.append(f"  real-time factor {rtf:.2f}: " + (f"{rtf:.1f}x faster than real time" if rtf >= 1 else
                     f"{1 / rtf:.1f}x slower than real time") + " (mean total per hop)")
    return lines


def cmd_enhance(args) -> int:
    from ..audio import WavReader, check_output_wav, open_output_wav

    check_output_wav(args.output, [args.input, args.clean])
    with WavReader(args.input, resample_ok=args.resample, mono_ok=args.mono) as reader, \
            open_output_wav(args.output, frames=reader.frames) as out:
        return _enhance(args, reader, out)


def _enhance(args, reader, out) -> int:
    """Enhance ``reader`` (the checked input) into ``out`` (an open WavWriter, renamed into place
    when this returns), block by block: memory does not grow with the input (except with --clean,
    whose metrics need both whole signals)."""
    from ..audio import from_pcm16, load_wav, report_stream, to_pcm16
    from ..config import LATENCY, SAMPLE_RATE
    from .build import BuildError
    from .client import StreamError
    from .targets import TargetError, describe, open_target

    n = reader.frames
    x = clean = None
    if args.clean:
        clean = load_wav(args.clean, resample_ok=args.resample, mono_ok=args.mono)
        if len(clean) != n:
            raise UserError(f"--clean {args.clean} has {len(clean)} samples but {args.input} has {n}: "
                            f"they must be the same recording")
        x = reader.signal()
    local = args.target in ("host", "virt", "gvsoc", "pmsis", "pmsis-file")
    qmodel = None
    if local or args.model != DEFAULT_MODEL or os.path.exists(args.model):
        try:
            qmodel = resolve_qmodel(args.model, args.scheme)
        except UserError:
            if local:
                raise
    timeout = args.timeout or (1.0 if args.target == "host" else 20.0)
    icount = args.icount if args.icount is not None else args.target == "virt"
    if args.target == "pmsis-file":
        x = reader.signal() if x is None else x
        return _enhance_file(args, x, to_pcm16(x), clean, qmodel, out)
    progress = not args.no_progress
    print(f"rnnse enhance: {args.input} ({n / SAMPLE_RATE:.2f} s) on {describe(args.target)}", file=sys.stderr)
    try:
        with open_target(args.target, qmodel, cores=args.cores, progress=progress, icount=icount) as port:
            client = _client(port, args, timeout)
            info = client.hello()
            print(f"device: {info.target}, model {info.model} ({info.scheme}, checksum 0x{info.checksum:08x}), "
                  f"{info.cores} cores, costs in {info.counter}, protocol v{info.version}", file=sys.stderr)
            _check_model(qmodel, info)
            run = _stream(client, reader, out, progress, keep=clean is not None)
            final = client.hello()      # the device's link statistics after the stream
    except (TargetError, StreamError, BuildError) as exc:
        raise UserError(str(exc)) from None
    costs, st, wall = run.costs, run.stats, run.wall_s
    audio_s = (n + LATENCY) / SAMPLE_RATE
    lines = [f"wrote {args.output if args.output != '-' else 'the enhanced audio to standard output'}"]
    lines += cost_table(costs, info)
    dev = {k: v for k, v in final.stats.items() if v and k != "frames"}
    speed = (f"{costs.count / wall:.0f} hops/s through QEMU" if info.target == "virt" else
             f"{audio_s / wall:.1f}x real time end to end")
    lines.append(f"link: {st.messages} messages in {wall:.2f} s ({speed}), {st.retransmitted} "
                 f"retransmitted, {st.timeouts} time-outs, device errors {st.device_errors or 'none'}, "
                 f"device counters {dev or 'clean'}")
    report = {"input": args.input, "target": args.target, "model": info.model, "scheme": info.scheme,
              "checksum": f"0x{info.checksum:08x}", "cores": info.cores, "counter": info.counter,
              "phases": info.phases, "hops": costs.count,
              "cost_mean": [costs.mean(c) for c in range(costs.entries)],
              "cost_max": [costs.max(c) for c in range(costs.entries)],
              "wall_s": wall, "audio_s": audio_s, "link": st.as_dict(), "device": final.stats,
              "per_hop": costs.summary()}     # means per hop, per layer
    if clean is not None:
        from ..metrics import all_metrics

        y = from_pcm16(np.concatenate(run.kept))
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


def _client(port, args, timeout: float):
    from .client import StreamClient

    return StreamClient(port, reply_timeout=timeout, max_retries=args.retries, window=args.window,
                        hops_per_message=args.hops_per_message)


class _Run:
    """What a stream to a file leaves: cost statistics, link figures and (with --clean) the output."""

    def __init__(self, costs, stats, wall_s: float, kept: list):
        self.costs, self.stats, self.wall_s, self.kept = costs, stats, wall_s, kept


def _messages(reader, per: int, n_msgs: int):
    """The AUDIO messages' hops ((per, HOP) int16), read from ``reader`` as they are needed: the
    input, then zeros (the chain's latency and the padding of the last message)."""
    from .protocol import HOP

    size = per * HOP
    sent = 0
    for block in reader.blocks(size * MESSAGES_PER_READ):
        for at in range(0, len(block), size):
            msg = np.zeros(size, np.int16)
            part = block[at:at + size]
            msg[:len(part)] = part
            yield msg.reshape(per, HOP)
            sent += 1
    for _ in range(sent, n_msgs):
        yield np.zeros((per, HOP), np.int16)


def _stream(client, reader, out, progress: bool, keep: bool = False) -> _Run:
    """Stream ``reader`` through the device into ``out``, each reply written as it comes (the first
    LATENCY samples of the output, the chain's delay, dropped); costs gathered as statistics."""
    from ..config import LATENCY
    from .costs import CostStats
    from .protocol import HOP

    n = reader.frames
    per = client.hops_per_message
    n_msgs = client.messages_for(n + LATENCY)
    costs = CostStats(client.info, n_msgs * per)
    kept: list = []
    at = 0          # samples of device output received so far

    pending: list = []  # output not written yet: written in blocks of at least WRITE_SAMPLES

    held = 0

    def on_reply(_i, e) -> None:
        nonlocal at, held
        audio = e.audio.reshape(-1)
        lo, hi = max(LATENCY - at, 0), min(LATENCY + n - at, len(audio))
        if lo < hi:
            pending.append(audio[lo:hi])
            held += hi - lo
            if keep:
                kept.append(audio[lo:hi])
        at += len(audio)
        costs.add(e.costs)
        if held >= WRITE_SAMPLES:
            out.write(np.concatenate(pending))
            pending.clear()
            held = 0

    msgs = _messages(reader, per, n_msgs)
    with _progress(-(-(n + LATENCY) // HOP), progress) as on_progress:
        _, stats, wall = client.stream_messages(n_msgs, lambda _i: next(msgs), on_reply, on_progress)
    if pending:
        out.write(np.concatenate(pending))
    return _Run(costs, stats, wall, kept)


@contextlib.contextmanager
def _progress(hops: int, progress: bool):
    """An on_progress(hops done) callback: a progress bar on a terminal; otherwise (a log, a pipe)
    a line per quarter."""
    if progress and not _isatty(sys.stderr):
        marks = [hops * k // 4 for k in (1, 2, 3, 4)]

        def on_progress(done):
            while marks and done >= marks[0]:
                print(f"streaming: {100 * (4 - len(marks) + 1) // 4}% ({marks.pop(0)}/{hops} hops)",
                      file=sys.stderr, flush=True)
        yield on_progress
        return

    from tqdm import tqdm

    with tqdm(total=hops, unit="hop", disable=not progress, file=sys.stderr, desc="streaming") as bar:
        def on_progress(done):
            bar.update(min(done, hops) - bar.n)
        yield on_progress


def _isatty(f) -> bool:
    try:
        return f.isatty()
    except (AttributeError, ValueError):
        return False
