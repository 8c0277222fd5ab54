"""Range estimators of the calibration (rnnse.quant.calibrate.choose_clip) on known distributions."""
import numpy as np
import pytest

from rnnse.quant import calibrate


def _quant(a, clip, levels):
    s = clip / levels
    return np.clip(np.rint(a / s), -levels, levels) * s


def test_minmax_percentile_and_meanstd():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(100_000)
    assert calibrate.choose_clip(a, "minmax") == pytest.approx(np.abs(a).max())
    assert calibrate.choose_clip(a, "percentile", percentile=99.0) == pytest.approx(
        np.percentile(np.abs(a), 99.0), rel=0.02)
    ms = calibrate.choose_clip(a, "meanstd")
    assert ms == pytest.approx(np.abs(a).mean() + 3 * np.abs(a).std(), rel=0.02)


def test_mse_clip_is_no_worse_than_other_ranges():
    rng = np.random.default_rng(1)
    a = rng.laplace(size=100_000) ** 3          # heavy-tailed
    clip = calibrate.choose_clip(a, "mse", 127)
    vmax = np.abs(a).max()
    assert 0 < clip <= vmax
    err = lambda r: np.mean((_quant(a, r, 127) - a) ** 2)  # noqa: E731
    assert err(clip) <= min(err(vmax * f) for f in (0.1, 0.3, 0.5, 0.7, 1.0))


def test_tanh_range_ignores_counter_like_cell_states():
    # an LSTM cell state: most units informative near 0, some integrating without bound (|c| ~ 600)
    rng = np.random.default_rng(2)
    c = np.concatenate([rng.standard_normal(40_000) * 1.5, rng.uniform(100, 640, 20_000) * rng.choice([-1, 1], 20_000)])
    for levels in (127, 32767):
        clip = calibrate.choose_clip(c, "tanh", levels)
        assert clip < 20.0, clip           # min-max would take 640
        err = lambda r: np.mean((np.tanh(_quant(c, r, levels)) - np.tanh(c)) ** 2)  # noqa: E731
        assert err(clip) < 0.25 * err(np.abs(c).max())
        assert err(clip) <= min(err(r) for r in (clip * 0.8, clip * 1.25)) * 1.0001
    # a state that stays in tanh's linear region keeps (nearly) its whole range
    small = rng.uniform(-0.4, 0.4, 10_000)
    assert calibrate.choose_clip(small, "tanh", 127) > 0.3


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown calibration method"):
        calibrate.choose_clip(np.ones(4), "median")
