"""Host-target streaming throughput: ``rnnse bench stream [--models lstm256 gru256] [--schemes mixed int8]``.

For each model, scheme and core count the host application (``scons target=host``) is built and
started on a loopback port, and a clip is streamed through it with the protocol client, with 1 and
with 8 hops per AUDIO message (8 messages in flight). Two figures per row:

* device: the firmware's own cost per hop (ns, measured on the device around DSP + network), as
  frames per second and real-time factor (6.25 ms / cost): what the application can sustain;
* cpu: CPU time of the device process per hop (protocol and I/O included; all its threads), the
  cost one dedicated core pays whatever else the machine runs;
* link: hops per second of wall-clock time for the whole path (client, TCP, protocol, device),
  and its real-time factor (audio seconds / wall seconds).

The machine's load average is recorded with the results: on a shared machine the figures move
with it, so compare rows of one run only. Target: faster than real time by at least 50x.
"""
from __future__ import annotations

import os
import time

import numpy as np

from . import cpu_name, write_results

HOP_S = 100 / 16000
TARGET_RTF = 50.0
MAX_SECONDS = 3600        # longest clip streamed per run


def _cpu_seconds(pid: int):
    """User + system CPU time of a process so far (Linux /proc), None where unknown."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _signal(seconds: float, seed: int = 0) -> np.ndarray:
    from ..audio import load_wav, to_pcm16

    demo = os.path.join("samples", "demo_noisy.wav")
    n = int(seconds * 16000)
    if os.path.exists(demo):
        x = to_pcm16(load_wav(demo))
        return np.resize(x, n)          # the demo clip, repeated
    rng = np.random.default_rng(seed)
    return np.clip(rng.standard_normal(n) * 3000, -32768, 32767).astype(np.int16)


def measure(qmodel, pcm: np.ndarray, cores: int, hops_per_message=(1, 8), repeats: int = 3) -> list[dict]:
    import serial

    from ..stream.build import build_firmware
    from ..stream.client import StreamClient
    from ..stream.targets import start_host_app

    exe = build_firmware("host", qmodel)
    rows = []
    with start_host_app(exe, cores=cores) as (proc, port):
        ser = serial.serial_for_url(f"socket://127.0.0.1:{port}", timeout=0)
        try:
            for per in hops_per_message:
                client = StreamClient(ser, hops_per_message=per, reply_timeout=10.0)
                info = client.hello()
                client.stream(pcm[:16000])                # warm-up: caches, thread pool, page faults
                walls, costs, stats = [], [], None
                cpu0 = _cpu_seconds(proc.pid)
                for _ in range(repeats):
                    r = client.stream(pcm)
                    walls.append(r.wall_s)
                    costs.append(r.costs[:, :3].astype(np.float64))
                    stats = r.stats
                cpu1 = _cpu_seconds(proc.pid)
                cpu_ns = None if cpu0 is None or cpu1 is None else (cpu1 - cpu0) * 1e9 / (repeats * len(r.costs))
                c = np.concatenate(costs)
                hops = len(r.costs)
                wall = float(np.median(walls))
                total = float(c[:, 0].mean())
                rows.append({
                    "model": info.model, "scheme": info.scheme, "cores": info.cores,
                    "hops_per_message": per, "window": info.replay_depth, "hops": hops,
                    "device_ns_per_hop": {"total": total, "dsp": float(c[:, 1].mean()),
                                          "network": float(c[:, 2].mean()),
                                          "total_p99": float(np.percentile(c[:, 0], 99))},
                    "device_fps": 1e9 / total, "device_rtf": HOP_S * 1e9 / total,
                    # CPU time of the device process per hop (protocol and I/O included): what one
                    # dedicated core sustains, independent of the machine's load
                    "device_cpu_ns_per_hop": cpu_ns,
                    "device_cpu_rtf": None if not cpu_ns else HOP_S * 1e9 / cpu_ns,
                    "link_wall_s": walls, "link_fps": hops / wall, "link_rtf": hops * HOP_S / wall,
                    "retransmitted": stats.retransmitted,
                })
        finally:
            ser.close()
    return rows


def table(rows: list[dict]) -> str:
    head = (f"{'model':11s} {'scheme':7s} {'cores':>5s} {'hops/msg':>8s} {'dsp us':>7s} {'net us':>7s} "
            f"{'total us':>8s} {'dev fps':>8s} {'dev RTF':>8s} {'cpu us':>7s} {'cpu RTF':>8s} "
            f"{'link fps':>8s} {'link RTF':>8s}")
    out = [head, "-" * len(head)]
    for r in rows:
        d = r["device_ns_per_hop"]
        cpu = r["device_cpu_ns_per_hop"]
        cpu_s = f"{cpu / 1e3:7.1f} {r['device_cpu_rtf']:7.1f}x" if cpu else f"{'-':>7s} {'-':>8s}"
        out.append(f"{r['model']:11s} {r['scheme']:7s} {r['cores']:5d} {r['hops_per_message']:8d} "
                   f"{d['dsp'] / 1e3:7.1f} {d['network'] / 1e3:7.1f} {d['total'] / 1e3:8.1f} "
                   f"{r['device_fps']:8.0f} {r['device_rtf']:7.1f}x {cpu_s} "
                   f"{r['link_fps']:8.0f} {r['link_rtf']:7.1f}x")
    return "\n".join(out)


def main(argv=None) -> int:
    from ..cli import Parser, UserError, int_within, number_within
    from . import RESULTS_DIR

    p = Parser(prog="rnnse bench stream", description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["lstm256", "gru256"],
                   help="model directories under models/ (or paths) holding quant-SCHEME.npz")
    p.add_argument("--schemes", nargs="+", default=["mixed", "int8"])
    p.add_argument("--cores", nargs="+", type=int_within(1, 8), default=[1, 2], help="team sizes, 1..8")
    p.add_argument("--seconds", type=number_within(1, MAX_SECONDS), default=20.0,
                   help=f"clip length streamed per run, 1..{MAX_SECONDS} (default 20)")
    p.add_argument("--repeats", type=int_within(1, 1000), default=3,
                   help="runs per row, 1..1000; the median wall time is used")
    p.add_argument("--no-passthrough", action="store_true", help="skip the link-only row (mask = 1 build)")
    p.add_argument("-o", "--output", default=os.path.join(RESULTS_DIR, "stream.json"))
    args = p.parse_args(argv)
    pcm = _signal(args.seconds)
    jobs = [] if args.no_passthrough else [(None, 1)]
    for m in args.models:
        d = m if os.path.isdir(m) else os.path.join("models", m)
        for s in args.schemes:
            q = os.path.join(d, f"quant-{s}.npz")
            if not os.path.exists(q):
                raise UserError(f"{q} does not exist (rnnse quantize {d} --scheme {s} ...)")
            jobs += [(q, c) for c in args.cores]
    load0 = os.getloadavg()
    t0 = time.time()
    rows = []
    for q, c in jobs:
        rows += measure(q, pcm, c, repeats=args.repeats)
    load1 = os.getloadavg()
    print(table(rows))
    models = [r for r in rows if r["model"] != "passthrough"]
    best_link = max((r["link_rtf"] for r in models), default=0.0)
    print(f"\nclip {args.seconds:g} s, {args.repeats} runs per row (median wall time); load average "
          f"{load0[0]:.1f} -> {load1[0]:.1f} on {os.cpu_count()} CPUs ({cpu_name()})")
    for r in models:
        if r["hops_per_message"] == 8:
            ok = "meets" if r["link_rtf"] >= TARGET_RTF else "misses"
            print(f"{r['model']} {r['scheme']} {r['cores']} core(s): {r['link_rtf']:.1f}x real time end to end, "
                  f"{r['device_rtf']:.1f}x on the device: {ok} the {TARGET_RTF:.0f}x target")
    result = {"benchmark": "stream", "target": "host", "clip_s": args.seconds, "repeats": args.repeats,
              "target_rtf": TARGET_RTF, "best_link_rtf": best_link,
              "machine": {"cpu": cpu_name(), "cpus": os.cpu_count(), "load_before": load0[0],
                          "load_after": load1[0]},
              "elapsed_s": time.time() - t0, "rows": rows}
    write_results(args.output, result)
    return 0
