"""The per-hop cost entries of ENHANCED replies (docs/protocol.md), summarised per layer.

Each hop carries ``total, dsp, network, busiest worker`` and then, for every network phase (the
code between two team barriers: one per layer plus the input/output conversions), its total over
the team and its busiest worker. In the ``virt`` target's icount mode the unit is instructions,
counted exactly per hart (firmware/platform/virt/virt.h); on the host build it is nanoseconds.

:func:`summarize` turns a stream's ``(hops, entries)`` array into means per hop with readable
layer names (``fc_in``, ``lstm_0``, ...); the ``rnnse enhance`` report and ``rnnse bench virt`` use it.
"""
from __future__ import annotations

import numpy as np

HOP_MS = 6.25                   # one hop at 16 kHz
CLOCK_HZ = 240e6                # the paper's cluster clock (GAP9)
# the paper's budget: one hop at 240 MHz, in cycles = instructions at one instruction per cycle
BUDGET_INSTRUCTIONS = HOP_MS * 1e-3 * CLOCK_HZ
RECURRENT = ("lstm", "gru")
CONVERSIONS = ("input", "quant", "dequant", "output")


def layer_labels(phases) -> list[str]:
    """Readable names for the phase names of INFO: the three FC layers become fc_in, fc_mid and
    fc_out, the recurrent layers lstm_0, lstm_1, ... (gru_k); conversions keep their names."""
    phases = list(phases)
    fc_names = ["fc_in", "fc_mid", "fc_out"] if phases.count("fc") == 3 else None
    seen: dict = {}
    out = []
    for p in phases:
        k = seen.get(p, 0)
        seen[p] = k + 1
        if p == "fc" and fc_names:
            out.append(fc_names[k])
        elif p in RECURRENT or p == "fc":
            out.append(f"{p}_{k}")
        elif phases.count(p) > 1:
            out.append(f"{p}_{k}")
        else:
            out.append(p)
    return out


def summarize(costs: np.ndarray, info) -> dict:
    """Mean (and max) cost per hop: ``total`` (every hart), ``dsp`` (the controller),
    ``network`` (the team, all harts), ``busiest_worker`` (the worker hart with the most work in
    the hop), ``critical_path`` (dsp + each phase's busiest worker: the hop's length when the
    controller waits for the team, as it does), and ``layers``: for each phase its name, kind,
    total over the team and busiest worker. ``recurrent`` and ``conversions`` sum those phases."""
    c = np.asarray(costs, np.float64)
    fixed = {name: i for i, name in enumerate(info.fixed_costs)}
    nf = len(fixed)
    if c.ndim != 2 or c.shape[1] < nf or len(c) == 0:
        raise ValueError(f"costs of shape {c.shape}: expected (hops >= 1, entries >= {nf})")
    missing = {"total", "dsp", "network", "busiest"} - set(fixed)
    if missing:
        raise ValueError(f"the device's fixed cost entries {info.fixed_costs} lack {sorted(missing)}")
    n_ph = (c.shape[1] - nf) // 2
    phases = list(info.phases[:n_ph])
    n_ph = len(phases)
    tot = c[:, nf:nf + n_ph]
    busy = c[:, nf + (c.shape[1] - nf) // 2:][:, :n_ph]
    labels = layer_labels(phases)
    layers = [{"name": labels[i], "kind": phases[i], "total": float(tot[:, i].mean()),
               "busiest": float(busy[:, i].mean()), "busiest_max": float(busy[:, i].max())}
              for i in range(n_ph)]

    def group(kinds):
        idx = [i for i, p in enumerate(phases) if p in kinds]
        return {"total": float(tot[:, idx].sum(axis=1).mean()) if idx else 0.0,
                "busiest": float(busy[:, idx].sum(axis=1).mean()) if idx else 0.0}

    total, dsp, network, busiest = (c[:, fixed[k]] for k in ("total", "dsp", "network", "busiest"))
    crit = dsp + busy.sum(axis=1)
    return {
        "unit": info.counter, "hops": int(len(c)), "cores": int(info.cores),
        "total": float(total.mean()), "total_max": float(total.max()),
        "dsp": float(dsp.mean()), "dsp_max": float(dsp.max()),
        "network": float(network.mean()),
        "busiest_worker": float(busiest.mean()), "busiest_worker_max": float(busiest.max()),
        "critical_path": float(crit.mean()), "critical_path_max": float(crit.max()),
        "layers": layers, "recurrent": group(RECURRENT), "conversions": group(CONVERSIONS),
    }


def instruction_table(s: dict, budget: float = BUDGET_INSTRUCTIONS) -> list[str]:
    """Lines of the per-hop instruction report of :func:`summarize` (icount mode) against the
    budget of one hop (default 1.5 M: 6.25 ms at 240 MHz, one instruction per cycle)."""
    m = 1e-6
    lines = [f"instructions per hop ({s['hops']} hops, QEMU -icount shift=0: exact and deterministic; "
             f"{s['cores']} worker harts), millions:",
             f"  {'':24s} {'busiest hart':>12s} {'max':>8s} {'all harts':>10s}"]

    def row(label, busiest, bmax, total):
        lines.append(f"  {label:24s} {busiest * m:12.4f} {bmax * m:8.4f} {total * m:10.4f}")

    row("dsp (controller hart)", s["dsp"], s["dsp_max"], s["dsp"])
    for L in s["layers"]:
        row("  " + L["name"], L["busiest"], L["busiest_max"], L["total"])
    row("network (worker harts)", s["busiest_worker"], s["busiest_worker_max"], s["network"])
    row("hop", max(s["busiest_worker"], s["dsp"]), max(s["busiest_worker_max"], s["dsp_max"]), s["total"])
    mean = max(s["busiest_worker"], s["dsp"])
    worst = max(s["busiest_worker_max"], s["dsp_max"])
    verdict = "within the budget" if worst <= budget else "OVER the budget"
    lines.append(f"budget: {budget * m:.3g} M instructions per hop = one {HOP_MS} ms hop at {CLOCK_HZ / 1e6:.0f} MHz, "
                 f"assuming one instruction per cycle")
    lines.append(f"busiest hart: {mean * m:.3f} M instructions per hop = {100 * mean / budget:.1f}% of the budget "
                 f"(worst hop {worst * m:.3f} M): {verdict}")
    lines.append(f"controller DSP, then each layer's busiest worker in turn: {s['critical_path'] * m:.3f} M "
                 f"= {100 * s['critical_path'] / budget:.1f}%")
    return lines
