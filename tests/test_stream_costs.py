"""The per-hop cost statistics gathered while a stream runs (rnnse.stream.costs.CostStats) are the
ones numpy computes over the whole cost array, bit for bit, in memory that does not grow with the
stream."""
from types import SimpleNamespace

import numpy as np
import pytest

from rnnse.stream.costs import CostStats, summarize

PHASES = ["input", "fc", "gru", "gru", "fc", "fc", "output"]


def info(fixed=("total", "dsp", "network", "busiest")):
    """The fields of the device's INFO that the statistics use."""
    return SimpleNamespace(phases=list(PHASES), counter="ns", cores=2, fixed_costs=list(fixed))


def costs(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2 ** 31, (n, 4 + 2 * len(PHASES)), dtype=np.uint32)


def direct(c):
    """summarize() as it was computed on the whole array."""
    c = np.asarray(c, np.float64)
    nf, n_ph = 4, len(PHASES)
    tot, busy = c[:, nf:nf + n_ph], c[:, nf + n_ph:]
    crit = c[:, 1] + busy.sum(axis=1)
    return {"total": c[:, 0].mean(), "total_max": c[:, 0].max(), "dsp": c[:, 1].mean(), "dsp_max": c[:, 1].max(),
            "network": c[:, 2].mean(), "busiest_worker": c[:, 3].mean(), "busiest_worker_max": c[:, 3].max(),
            "critical_path": crit.mean(), "critical_path_max": crit.max(),
            "layer_total": [tot[:, i].mean() for i in range(n_ph)],
            "layer_busiest_max": [busy[:, i].max() for i in range(n_ph)],
            "recurrent": tot[:, [2, 3]].sum(axis=1).mean(), "conversions": busy[:, [0, 6]].sum(axis=1).mean()}


@pytest.mark.parametrize("n", [1, 2, 99, 100, 101, 1234, 9000])
def test_streamed_statistics_are_numpys_bit_for_bit(n):
    c = costs(n, n)
    stats = CostStats(info(), n)
    rng = np.random.default_rng(n)
    at = 0
    while at < n:                      # replies of 1..8 hops
        k = int(rng.integers(1, 9))
        stats.add(c[at:at + k])
        at += k
    s, want = stats.summary(), direct(c)
    for k in ("total", "total_max", "dsp", "dsp_max", "network", "busiest_worker", "busiest_worker_max",
              "critical_path", "critical_path_max"):
        assert s[k] == want[k], k
    assert [L["total"] for L in s["layers"]] == want["layer_total"]
    assert [L["busiest_max"] for L in s["layers"]] == want["layer_busiest_max"]
    assert s["recurrent"]["total"] == want["recurrent"] and s["conversions"]["busiest"] == want["conversions"]
    assert s == summarize(c, info())
    for col in range(c.shape[1]):
        for scale in (1.0, 1e-3):
            assert stats.p99(col, scale) == np.percentile(c[:, col].astype(np.float64) * scale, 99), (col, scale)
    assert len(stats.top) <= max(2, n // 100 + 2)     # the top 1% only


def test_bad_cost_arrays_are_refused():
    with pytest.raises(ValueError, match="expected"):
        summarize(np.zeros((0, 18), np.uint32), info())
    with pytest.raises(ValueError, match="lack"):
        summarize(np.zeros((3, 18), np.uint32), info(fixed=("total", "dsp", "x", "y")))
    stats = CostStats(info(), 10).add(costs(3))
    with pytest.raises(ValueError, match="entries"):
        stats.add(np.zeros((1, 5), np.uint32))
    with pytest.raises(ValueError, match="needs all 10 hops"):
        stats.p99(0)
