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


def test_equalisation_keeps_the_float_network_and_evens_out_the_input_ranges():
    import dataclasses
    import torch
    from rnnse.models import SEModel
    from rnnse.quant.quantize import equalize_rnn_input

    torch.manual_seed(0)
    model = SEModel(cell="lstm", hidden=32, fc_in=24, fc_out=16).eval()
    with torch.no_grad():                       # features of very different ranges
        model.fc_in.weight.mul_(torch.logspace(-2, 1, 24)[:, None])
    rng = np.random.default_rng(3)
    mags = [np.abs(rng.standard_normal((40, 257))) * rng.uniform(0.1, 3.0, 257) for _ in range(3)]
    rec = calibrate.record_ranges(model, mags)
    P = calibrate.float_params(model)
    P2, rec2, gains = equalize_rnn_input(P, rec)
    assert gains.min() >= 1 / 64 and gains.max() <= 64 and gains.max() / gains.min() > 10
    config = dataclasses.asdict(model.config)
    for m in mags:                              # the float function is unchanged
        np.testing.assert_allclose(calibrate.stream_float(P2, config, m),
                                   calibrate.stream_float(P, config, m), rtol=1e-9, atol=1e-12)
    eq = SEModel(config=model.config).double()  # calibration rescaled as if made on the new model
    eq.load_state_dict({k: torch.from_numpy(np.asarray(v, dtype=np.float64)) for k, v in P2.items()})
    rec_eq = calibrate.record_ranges(eq, mags)
    x_new = rec_eq.values["rnn0.x"].reshape(-1, 24)
    np.testing.assert_allclose(rec2.values["rnn0.x"].reshape(-1, 24), x_new, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rec2.means["rnn0.x"], rec_eq.means["rnn0.x"], rtol=1e-5, atol=1e-6)
    # each feature's range times its column's range is kept, and the ranges move closer together
    r0, r1 = np.abs(rec["rnn0.x"].reshape(-1, 24)).max(0), np.abs(x_new).max(0)
    w0 = np.abs(P["rnns.0.weight_ih_l0"]).max(0)
    w1 = np.abs(P2["rnns.0.weight_ih_l0"]).max(0)
    np.testing.assert_allclose(r0 * w0, r1 * w1, rtol=1e-5)
    live = r0 > 0
    spread = lambda v: v[live].max() / v[live].min()  # noqa: E731
    assert spread(r1) < spread(r0) / 10


def test_per_bin_input_scales():
    """in_scale="bin": each input bin gets its own calibrated scale, fc_in's columns absorb the
    scales (its int8 input is x / s_bin), and on inputs spanning 60 dB across bins the network
    stays closer to float than with one scale for all bins."""
    import torch
    from rnnse.models import SEModel
    from rnnse.quant import GoldenModel, fixed, quantize
    from rnnse.quant.golden import fc_int8
    from rnnse.quant.quantize import input_bin_scales

    torch.manual_seed(1)
    model = SEModel(cell="gru", hidden=32, fc_in=24, fc_out=16).eval()
    rng = np.random.default_rng(5)
    tilt = np.logspace(0, -3, 257)                     # 60 dB from the first bin to the last
    with torch.no_grad():                               # quiet bins matter as much as loud ones
        model.fc_in.weight.mul_(torch.from_numpy(1.0 / tilt).float()[None, :] / 30)
    mags = [np.abs(rng.standard_normal((60, 257))) * tilt for _ in range(4)]
    rec = calibrate.record_ranges(model, mags)
    s = input_bin_scales(rec["input"], 257, "minmax", 99.99)
    np.testing.assert_allclose(s, np.abs(np.concatenate(mags)).max(0) / 127, rtol=1e-6)
    qb = quantize(model, "int8+", calibration=rec, in_scale="bin", equalize=False)
    qt = quantize(model, "int8+", calibration=rec, in_scale="tensor", equalize=False)
    inv = qb.layers[0].arrays["inv_scale"]
    assert inv.shape == (257,) and inv.dtype == np.float32 and np.ptp(np.log10(inv)) > 2
    assert np.ndim(qt.layers[0].inv_scale) == 0
    # fc_in's dequantized weights are the float weights times the bin scales
    fc = qb.layers[1]
    w = fc.arrays["w"].astype(np.float64) * fc.arrays["w_scale"][:, None]
    w_float = model.fc_in.weight.detach().double().numpy()
    np.testing.assert_allclose(w, w_float * (1.0 / inv.astype(np.float64))[None, :],
                               atol=float(fc.arrays["w_scale"].max()) / 2 + 1e-12)
    # fc_in's output (the int8 input of the first recurrent layer) against float: the input
    # quantization dominates it, and per-bin scales cut its error several times
    test = np.abs(rng.standard_normal((80, 257))) * tilt
    ref = np.maximum(test @ w_float.T + model.fc_in.bias.detach().double().numpy(), 0.0)
    err = {}
    for name, q in (("bin", qb), ("tensor", qt)):
        p = {**q.layers[1].attrs, **q.layers[1].arrays}
        y = fc_int8(fixed.quant_fp(test, q.layers[0].params()["inv_scale"]), **p)
        err[name] = np.abs(y * p["out_scale"] - ref).mean()
    assert err["bin"] < err["tensor"] / 3, err
    # and the whole network stays at least as close to float
    with torch.no_grad():
        mask = model(torch.from_numpy(test.astype(np.float32))[None])[0][0].numpy()
    assert np.abs(GoldenModel(qb).run(test) - mask).mean() <= np.abs(GoldenModel(qt).run(test) - mask).mean() * 1.1
    with pytest.raises(ValueError, match="in_scale"):
        quantize(model, "int8+", calibration=rec, in_scale="row")
