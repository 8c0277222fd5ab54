"""The stream on a damaged link: ``rnnse bench faults [--model PATH] [--seconds S]``.

The host application (``scons target=host``) is started on a loopback port and a clip is streamed
through the fault proxy (``rnnse.stream.faults``: seeded random bit errors, dropped bytes,
duplicated, reordered and truncated frames, garbage between frames), with 1 and with 8 hops per
AUDIO message. Each row says whether the output is bit for bit that of the fault-free run (the same
proxy, no faults), or the clear error the stream ended with, and the time relative to the
fault-free run. Targets (docs/protocol.md): BER 1e-3 in each direction, identical output within 3x
the fault-free time; byte drops, duplicated / reordered / truncated frames and garbage, identical
output; BER 1e-2, identical output or a clear error within 10 s.

Bit error rates are per bit: at BER 1e-3 a one-hop AUDIO frame (214 bytes) arrives intact with
probability 0.18 and an 8-hop one (1614 bytes) with probability 2.5e-6, whatever the protocol does
short of forward error correction; the table reports what the stream achieves, it does not fit the
faults to the targets.
"""
from __future__ import annotations

import os
import time

import numpy as np

from . import cpu_name, write_results

# (name, up faults, down faults, target): Noise arguments per direction; target "fast" (identical
# within 3x), "same" (identical), "bounded" (identical or an error within 10 s)
CASES = [
    ("BER 1e-3 up", dict(ber=1e-3), None, "fast"),
    ("BER 1e-3 down", None, dict(ber=1e-3), "fast"),
    ("1% byte drops", dict(drop=0.01), dict(drop=0.01), "same"),
    ("5% duplicated frames", dict(dup=0.05), dict(dup=0.05), "same"),
    ("5% reordered frames", dict(reorder=0.05), dict(reorder=0.05), "same"),
    ("5% truncated frames", dict(truncate=0.05), dict(truncate=0.05), "same"),
    ("garbage before 5% of frames", dict(garbage=0.05), dict(garbage=0.05), "same"),
    ("BER 1e-2 both ways", dict(ber=1e-2), dict(ber=1e-2), "bounded"),
]
FAST_RATIO = 3.0
BOUND_S = 10.0


def _default_model():
    for m in ("lstm256", "gru256"):
        q = os.path.join("models", m, "quant-mixed.npz")
        if os.path.exists(q):
            return q
    return None


def _run(port: int, pcm, per: int, up, down, seed: int, timeout: float, retries: int) -> dict:
    """One stream through the proxy: output, wall time (until the result or the error), link figures."""
    import serial

    from ..stream.client import StreamClient, StreamError
    from ..stream.faults import FaultProxy, Noise

    ups = [Noise(**up, seed=seed)] if up else []
    downs = [Noise(**down, seed=seed + 1)] if down else []
    with FaultProxy(port, up=ups or [Noise()], down=downs or [Noise()]) as proxy:
        ser = serial.serial_for_url(proxy.url, timeout=0)
        try:
            client = StreamClient(ser, hops_per_message=per, reply_timeout=timeout, max_retries=retries)
            t0 = time.monotonic()
            try:
                r = client.stream(pcm)
                out = {"audio": r.audio, "error": None, "stats": r.stats.as_dict()}
            except StreamError as exc:
                out = {"audio": None, "error": str(exc), "stats": None}
            out["wall_s"] = time.monotonic() - t0
        finally:
            ser.close()
        out["injected"] = {d: dict(m.counts) for d, m in proxy.manglers.items()}
    return out


def measure(qmodel, pcm, timeout: float, retries: int, hops=(1, 8)) -> list[dict]:
    from ..stream.build import build_firmware
    from ..stream.targets import start_host_app

    exe = build_firmware("host", qmodel)
    rows = []
    with start_host_app(exe) as (_, port):
        for per in hops:
            _run(port, pcm[:16000], per, None, None, 0, timeout, retries)          # warm-up
            clean = [_run(port, pcm, per, None, None, 0, timeout, retries) for _ in range(3)]
            if any(c["error"] for c in clean):
                raise RuntimeError(f"the fault-free stream failed: {clean[0]['error']}")
            ref = clean[0]["audio"]
            base = float(np.median([c["wall_s"] for c in clean]))
            rows.append({"case": "fault-free", "hops_per_message": per, "identical": True, "error": None,
                         "wall_s": base, "ratio": 1.0, "target": None, "met": None,
                         "stats": clean[0]["stats"], "injected": clean[0]["injected"]})
            for k, (name, up, down, target) in enumerate(CASES):
                r = _run(port, pcm, per, up, down, 100 * k + per, timeout, retries)
                same = r["audio"] is not None and np.array_equal(r["audio"], ref)
                ratio = r["wall_s"] / base
                met = {"fast": same and ratio <= FAST_RATIO, "same": same,
                       "bounded": same or (r["error"] is not None and r["wall_s"] <= BOUND_S)}[target]
                rows.append({"case": name, "hops_per_message": per, "identical": same, "error": r["error"],
                             "wall_s": r["wall_s"], "ratio": ratio, "target": target, "met": met,
                             "stats": r["stats"], "injected": r["injected"]})
    return rows


TARGET_TEXT = {"fast": f"identical, <= {FAST_RATIO:g}x", "same": "identical",
               "bounded": f"identical or error <= {BOUND_S:g} s", None: ""}


def table(rows: list[dict]) -> str:
    head = (f"{'case':28s} {'hops/msg':>8s} {'output':>9s} {'time s':>7s} {'x free':>8s} {'resent':>7s} "
            f"{'t-outs':>6s}  {'target':26s} {'met':>4s}")
    out = [head, "-" * len(head)]
    for r in rows:
        st = r["stats"] or {}
        result = "identical" if r["identical"] else ("error" if r["error"] else "DIFFERS")
        met = "" if r["met"] is None else ("yes" if r["met"] else "no")
        out.append(f"{r['case']:28s} {r['hops_per_message']:8d} {result:>9s} {r['wall_s']:7.2f} {r['ratio']:7.1f}x "
                   f"{st.get('retransmitted', '-'):>7} {st.get('timeouts', '-'):>6}  {TARGET_TEXT[r['target']]:26s} "
                   f"{met:>4s}")
    return "\n".join(out)


def main(argv=None) -> int:
    from ..cli import Parser, UserError, int_within, number_within
    from . import RESULTS_DIR
    from .stream import _signal

    p = Parser(prog="rnnse bench faults", description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None,
                   help="quantized model (.npz) of the host build; default models/lstm256/quant-mixed.npz "
                        "(or gru256), the passthrough build without one")
    p.add_argument("--seconds", type=number_within(1, 600), default=5.0, help="clip length, 1..600 (default 5)")
    p.add_argument("--timeout", type=number_within(0, 60, low_included=False), default=1.0,
                   help="the client's reply time-out in s (default 1)")
    p.add_argument("--retries", type=int_within(0, 100), default=5, help="the client's retries (default 5)")
    p.add_argument("-o", "--output", default=os.path.join(RESULTS_DIR, "faults.json"))
    args = p.parse_args(argv)
    qmodel = args.model or _default_model()
    if qmodel is not None and not os.path.exists(qmodel):
        raise UserError(f"{qmodel} does not exist")
    pcm = _signal(args.seconds)
    load0 = os.getloadavg()
    t0 = time.time()
    rows = measure(qmodel, pcm, args.timeout, args.retries)
    load1 = os.getloadavg()
    print(table(rows))
    print(f"\nmodel {qmodel or 'passthrough'}, clip {args.seconds:g} s, client time-out {args.timeout:g} s x "
          f"{args.retries} retries; fault-free: median of 3 runs through the same proxy; load average "
          f"{load0[0]:.1f} -> {load1[0]:.1f} on {os.cpu_count()} CPUs ({cpu_name()})")
    for r in rows:
        if r["error"]:
            print(f"{r['case']}, {r['hops_per_message']} hop(s): {r['error']}")
    judged = [r for r in rows if r["met"] is not None]
    print(f"targets met: {sum(r['met'] for r in judged)} of {len(judged)}")
    result = {"benchmark": "faults", "target": "host", "model": qmodel, "clip_s": args.seconds,
              "client": {"reply_timeout_s": args.timeout, "retries": args.retries},
              "targets": {"fast_ratio": FAST_RATIO, "bound_s": BOUND_S},
              "machine": {"cpu": cpu_name(), "cpus": os.cpu_count(), "load_before": load0[0], "load_after": load1[0]},
              "elapsed_s": time.time() - t0, "rows": rows}
    write_results(args.output, result)
    return 0
