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
    c = np.asarray(costs)
    return CostStats(info, len(c)).add(c).summary()


class CostStats:
    """The statistics of a stream's per-hop costs, gathered as replies arrive in memory independent
    of the stream's length: per entry the count, exact sums (integers), the maximum and the 99th
    percentile, and the critical path's maximum. ``hops``: the stream's length, known in advance:
    the percentile keeps only the top 1% of each entry's values, and is exactly numpy's
    ``percentile(values, 99)`` (linear interpolation)."""

    BATCH = 4096                # hops gathered before they are folded into the statistics

    def __init__(self, info, hops: int):
        self.info, self.hops = info, int(hops)
        self.fixed = {name: i for i, name in enumerate(info.fixed_costs)}
        self.n = 0
        self.lo, self.frac = _percentile_position(self.hops, 99)
        self.keep = max(1, self.hops - self.lo)
        self.entries = None
        self.pending: list = []
        self.n_pending = 0

    def add(self, costs: np.ndarray) -> "CostStats":
        """Take the costs of the next hops, ``(hops, entries)``; returns self."""
        c = np.asarray(costs)
        nf = len(self.fixed)
        if c.ndim != 2 or c.shape[1] < nf or (len(c) == 0 and self.n + self.n_pending == 0):
            raise ValueError(f"costs of shape {c.shape}: expected (hops >= 1, entries >= {nf})")
        if self.entries is None:
            self._start(c.shape[1])
        elif c.shape[1] != self.entries:
            raise ValueError(f"costs of {c.shape[1]} entries after {self.entries}")
        self.pending.append(c)
        self.n_pending += len(c)
        if self.n_pending >= self.BATCH:
            self._fold()
        return self

    def _start(self, entries: int) -> None:
        missing = {"total", "dsp", "network", "busiest"} - set(self.fixed)
        if missing:
            raise ValueError(f"the device's fixed cost entries {self.info.fixed_costs} lack {sorted(missing)}")
        nf, half = len(self.fixed), (entries - len(self.fixed)) // 2
        self.entries = entries
        self.n_ph = len(self.info.phases[:half])
        self._tot = list(range(nf, nf + self.n_ph))
        self._busy = list(range(nf + half, nf + half + self.n_ph))
        self.sums = np.zeros(entries, np.int64)
        self.maxs = np.zeros(entries, np.int64)
        self.top = np.zeros((0, entries), np.int64)
        self.crit_max = 0

    def _fold(self) -> None:
        if not self.n_pending:
            return
        c = np.concatenate(self.pending).astype(np.int64)
        self.pending, self.n_pending = [], 0
        self.n += len(c)
        self.sums += c.sum(axis=0)
        self.maxs = np.maximum(self.maxs, c.max(axis=0))
        self.top = np.concatenate([self.top, c])
        if len(self.top) > self.keep:
            self.top = -np.partition(-self.top, self.keep - 1, axis=0)[:self.keep]
        crit = c[:, self.fixed["dsp"]] + c[:, self._busy].sum(axis=1)
        self.crit_max = max(self.crit_max, int(crit.max()))

    @property
    def count(self) -> int:
        return self.n + self.n_pending

    def mean(self, col: int, scale: float = 1.0) -> float:
        self._fold()
        return float(self.sums[col]) * scale / self.n

    def max(self, col: int) -> int:
        self._fold()
        return int(self.maxs[col])

    def p99(self, col: int, scale: float = 1.0) -> float:
        """The 99th percentile of entry ``col`` times ``scale``: np.percentile(values * scale, 99)."""
        self._fold()
        if self.n != self.hops:
            raise ValueError(f"the percentile needs all {self.hops} hops, got {self.n}")
        vals = np.sort(self.top[:, col])[:2].astype(np.float64) * scale
        a, b = vals[0], vals[min(1, len(vals) - 1)]
        d, t = b - a, self.frac
        return float(b - d * (1 - t) if t >= 0.5 else a + d * t)

    def summary(self) -> dict:
        """The figures of :func:`summarize`."""
        self._fold()
        info, n, phases = self.info, self.n, list(self.info.phases[:self.n_ph])
        labels = layer_labels(phases)
        mean = {k: self.mean(self.fixed[k]) for k in ("total", "dsp", "network", "busiest")}
        layers = [{"name": labels[i], "kind": phases[i], "total": self.mean(self._tot[i]),
                   "busiest": self.mean(self._busy[i]), "busiest_max": float(self.max(self._busy[i]))}
                  for i in range(self.n_ph)]

        def total_of(cols) -> float:
            return float(sum(int(self.sums[j]) for j in cols)) / n

        def group(kinds):
            idx = [i for i, p in enumerate(phases) if p in kinds]
            return {"total": total_of([self._tot[i] for i in idx]) if idx else 0.0,
                    "busiest": total_of([self._busy[i] for i in idx]) if idx else 0.0}

        return {
            "unit": info.counter, "hops": int(n), "cores": int(info.cores),
            "total": mean["total"], "total_max": float(self.max(self.fixed["total"])),
            "dsp": mean["dsp"], "dsp_max": float(self.max(self.fixed["dsp"])),
            "network": mean["network"],
            "busiest_worker": mean["busiest"], "busiest_worker_max": float(self.max(self.fixed["busiest"])),
            "critical_path": total_of([self.fixed["dsp"], *self._busy]), "critical_path_max": float(self.crit_max),
            "layers": layers, "recurrent": group(RECURRENT), "conversions": group(CONVERSIONS),
        }


def _percentile_position(n: int, percent: float) -> tuple[int, float]:
    """(index of the lower order statistic, interpolation weight) of numpy's linear percentile of
    ``n`` values, computed as numpy does (so that the result is bit for bit numpy's)."""
    virtual = (n - 1) * (percent / 100)
    if virtual >= n - 1:
        return max(n - 1, 0), 0.0
    lo = int(np.floor(virtual))
    return max(lo, 0), float(virtual - np.floor(virtual))


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
