"""Post-training quantization of an SEModel into a QuantizedModel (see docs/numerics.md).

Every scheme is a set of design choices (``SCHEME_OPTIONS``); ``quantize(..., **overrides)``
changes single ones, which is how the ablation (``rnnse quant-ablation``) measures each choice.

Choices:
  fc_w, rnn_w   weight scale granularity: "tensor", "gate" (one per gate block) or "row"
  w_clip        weight clipping range per scale group: "max" (max |w|) or "mse" (the range that
                minimises the squared rounding + clipping error of the group's weights)
  c_bits        LSTM cell state int8 or int16
  table_mode    "nearest" or "linear" sigmoid/tanh lookup
  method        activation range estimator (minmax, percentile, mse, meanstd) of the int8
                activations: the first recurrent layer's input and the int8 FC outputs
  in_method     the same for the network input of the all-int8 schemes (None: ``method``)
  in_scale      the all-int8 schemes' network input: "tensor" (one int8 scale for all bins) or
                "bin" (one scale per frequency bin, each bin's own calibrated range; the
                quant step multiplies by a vector and fc_in's columns absorb the scales, so
                fc_in sees unit-scale inputs). The linear magnitude spans ~60 dB across bins:
                one scale leaves the quiet high bins a few levels
  c_method      the same for the LSTM cell state (None: ``method`` for an int8 state, max |c| times
                c_headroom for an int16 one); "tanh" picks the range that minimises the error of
                tanh(c)
  c_headroom    int16 cell state without c_method: scale = c_headroom * max |c| / 32767
  equalize      rescale each input feature of the first recurrent layer (fc_in's output row and
                bias times a_j, the recurrent layer's input weight column divided by a_j: the float
                function is unchanged, ReLU being positively homogeneous) so that the feature's
                calibrated range and its weight column's range meet at their geometric mean; then
                one int8 scale serves every feature of x (a cross-layer equalisation)
  bias_corr     fold the mean weight-quantization error (W_q - W) E[x] of every int8 layer into
                its bias (E[x]: per-feature means of the layer's inputs in calibration)
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import calibrate, fixed
from .fixed import H_FRAC, Q_PRE, quantize_multipliers, to_fp16
from .qmodel import SCHEMES, Layer, QuantizedModel

# the design choices of every scheme (docs/numerics.md, "Network and schemes")
SCHEME_OPTIONS = {
    "fp16":   dict(fc_prec="fp16", rnn_prec="fp16"),
    "mixed":  dict(fc_prec="fp16", rnn_prec="int8", rnn_w="gate", c_bits=8, table_mode="nearest",
                   method="percentile", percentile=99.5),
    "mixed+": dict(fc_prec="fp16", rnn_prec="int8", rnn_w="row", c_bits=16, table_mode="linear",
                   method="percentile", percentile=99.5, bias_corr=True, equalize=True),
    "int8":   dict(fc_prec="int8", rnn_prec="int8", fc_w="tensor", rnn_w="gate", c_bits=8,
                   table_mode="nearest", method="minmax"),
    "int8+":  dict(fc_prec="int8", rnn_prec="int8", fc_w="row", rnn_w="row", c_bits=16,
                   table_mode="linear", method="percentile", percentile=99.5, bias_corr=True,
                   equalize=True, in_scale="bin"),
}
DEFAULTS = dict(fc_w="tensor", rnn_w="gate", w_clip="max", c_bits=8, table_mode="nearest",
                method="minmax", in_method=None, in_scale="tensor", c_method="tanh", c_headroom=2.0, percentile=99.99,
                bias_corr=False, equalize=False)
WEIGHT_GRANULARITIES = ("tensor", "gate", "row")
WEIGHT_CLIPS = ("max", "mse")
INPUT_SCALES = ("tensor", "bin")


def scheme_options(scheme: str, **overrides) -> dict:
    """The scheme's design choices with ``overrides`` applied (None leaves a choice alone)."""
    if scheme not in SCHEME_OPTIONS:
        raise ValueError(f"unknown scheme {scheme!r}: expected one of {', '.join(SCHEMES)}")
    opts = {**DEFAULTS, **SCHEME_OPTIONS[scheme]}
    for k, v in overrides.items():
        if k not in opts or k in ("fc_prec", "rnn_prec"):
            raise ValueError(f"unknown quantization option {k!r}: expected one of "
                             f"{', '.join(sorted(DEFAULTS))}")
        if v is not None:
            opts[k] = v
    for k in ("method", "in_method", "c_method"):
        if opts[k] is not None and opts[k] not in calibrate.METHODS:
            raise ValueError(f"unknown calibration method {opts[k]!r} for {k}: expected one of "
                             f"{', '.join(calibrate.METHODS)}")
    if opts["table_mode"] not in fixed.TABLE_MODES:
        raise ValueError(f"unknown table mode {opts['table_mode']!r}: expected one of "
                         f"{', '.join(fixed.TABLE_MODES)}")
    if opts["c_bits"] not in (8, 16):
        raise ValueError(f"c_bits must be 8 or 16, got {opts['c_bits']}")
    for k in ("fc_w", "rnn_w"):
        if opts[k] not in WEIGHT_GRANULARITIES:
            raise ValueError(f"{k} must be one of {', '.join(WEIGHT_GRANULARITIES)}, got {opts[k]!r}")
    if opts["in_scale"] not in INPUT_SCALES:
        raise ValueError(f"in_scale must be one of {', '.join(INPUT_SCALES)}, got {opts['in_scale']!r}")
    if opts["w_clip"] not in WEIGHT_CLIPS:
        raise ValueError(f"w_clip must be one of {', '.join(WEIGHT_CLIPS)}, got {opts['w_clip']!r}")
    for k in ("bias_corr", "equalize"):
        if not isinstance(opts[k], bool):
            raise ValueError(f"{k} must be true or false, got {opts[k]!r}")
    if not 1.0 <= float(opts["c_headroom"]) <= 64.0:
        raise ValueError(f"c_headroom must be in [1, 64], got {opts['c_headroom']}")
    if not 50.0 <= float(opts["percentile"]) <= 100.0:
        raise ValueError(f"percentile must be in [50, 100], got {opts['percentile']}")
    return opts


# ---------------------------------------------------------------------------------------------
# weight and bias quantization

def _mse_clip(w: np.ndarray, amax: float) -> float:
    """The clipping magnitude in [amax/2, amax] minimising sum (w - dequant(quant(w)))^2."""
    best, best_err = amax, np.inf
    for frac in np.linspace(0.5, 1.0, 26):
        s = amax * frac / 127.0
        err = float(np.sum((np.clip(np.rint(w / s), -127, 127) * s - w) ** 2))
        if err < best_err:
            best, best_err = amax * frac, err
    return best


def quantize_weights(w: np.ndarray, granularity: str, gates: int = 1, clip: str = "max"):
    """Symmetric int8 weights: (int8 [N, K], per-row scale float64 [N]).

    granularity 'tensor': one scale; 'gate': one per block of N/gates rows; 'row': one per row.
    clip 'max': s = max|w| / 127 over the group; 'mse': the group's MSE-optimal clipping range.
    """
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2:
        raise ValueError(f"weights must be a matrix, got shape {w.shape}")
    N = w.shape[0]
    if granularity == "tensor":
        groups = [np.arange(N)]
    elif granularity == "gate":
        if N % gates:
            raise ValueError(f"{N} rows do not split into {gates} gate blocks")
        groups = np.arange(N).reshape(gates, -1)
    elif granularity == "row":
        groups = np.arange(N)[:, None]
    else:
        raise ValueError(f"unknown weight granularity {granularity!r}")
    if clip not in WEIGHT_CLIPS:
        raise ValueError(f"unknown weight clipping {clip!r}")
    a = np.empty(N)
    for g in groups:
        amax = float(np.abs(w[g]).max()) if w[g].size else 0.0
        a[g] = _mse_clip(w[g], amax) if clip == "mse" and amax > 0 else amax
    s = np.where(a > 0, a / 127.0, 1.0)
    q = np.clip(np.rint(w / s[:, None]), -127, 127).astype(np.int8)
    return q, s


def quantize_bias(b: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """int32 bias at ``scale`` (per row): round half to even, clamped to [-2^30, 2^30]."""
    return np.clip(np.rint(np.asarray(b, np.float64) / scale), -(1 << 30), 1 << 30).astype(np.int32)


def _dq(q, s):
    return q.astype(np.float64) * s[:, None]


# ---------------------------------------------------------------------------------------------
# layer builders

def _fc_fp16(name, w, b, act):
    return Layer("fc", name, "fp16", {"w": to_fp16(w), "b": to_fp16(b)}, {"act": act})


def _fc_int8(name, w, b, act, s_x, s_y, opts, x_mean=None):
    wq, sw = quantize_weights(w, opts["fc_w"], 1, opts["w_clip"])
    b = np.asarray(b, np.float64)
    if opts["bias_corr"] and x_mean is not None:
        b = b - (_dq(wq, sw) - w) @ x_mean
    m, s = quantize_multipliers(s_x * sw / s_y)
    return Layer("fc", name, "int8",
                 {"w": wq, "b": quantize_bias(b, s_x * sw), "mult": m, "shift": s,
                  "w_scale": sw.astype(np.float32)},
                 {"act": act, "table_mode": opts["table_mode"], "in_scale": float(s_x),
                  "out_scale": float(s_y)})


def _rnn_fp16(name, cell, P, pre, H):
    w_ih, w_hh = P[pre + "weight_ih_l0"], P[pre + "weight_hh_l0"]
    b_ih, b_hh = P[pre + "bias_ih_l0"].astype(np.float32), P[pre + "bias_hh_l0"].astype(np.float32)
    arrays = {"w_ih": to_fp16(w_ih), "w_hh": to_fp16(w_hh)}
    if cell == "lstm":
        arrays["b"] = to_fp16(b_ih + b_hh)
    else:
        arrays["b"] = to_fp16(np.concatenate([b_ih[:2 * H] + b_hh[:2 * H], b_ih[2 * H:]]))
        arrays["b_hn"] = to_fp16(b_hh[2 * H:])
    return Layer(cell, name, "fp16", arrays, {})


def _rnn_int8(name, cell, P, pre, H, s_x, s_c, opts, x_mean=None, h_mean=None):
    gates = 4 if cell == "lstm" else 3
    w_ih, w_hh = P[pre + "weight_ih_l0"], P[pre + "weight_hh_l0"]
    b_ih, b_hh = P[pre + "bias_ih_l0"].copy(), P[pre + "bias_hh_l0"].copy()
    qih, sih = quantize_weights(w_ih, opts["rnn_w"], gates, opts["w_clip"])
    qhh, shh = quantize_weights(w_hh, opts["rnn_w"], gates, opts["w_clip"])
    if opts["bias_corr"] and x_mean is not None and h_mean is not None:
        b_ih -= (_dq(qih, sih) - w_ih) @ x_mean      # GRU: b_hn takes the h part of gate n,
        b_hh -= (_dq(qhh, shh) - w_hh) @ h_mean      # which r multiplies; every other gate sums
    s_h = 2.0 ** -H_FRAC
    mx, sx = quantize_multipliers(s_x * sih * 2.0 ** Q_PRE)
    mh, sh = quantize_multipliers(s_h * shh * 2.0 ** Q_PRE)
    arrays = {"w_ih": qih, "w_hh": qhh, "mult_x": mx, "shift_x": sx, "mult_h": mh, "shift_h": sh,
              "w_scale_ih": sih.astype(np.float32), "w_scale_hh": shh.astype(np.float32)}
    attrs = {"table_mode": opts["table_mode"], "in_scale": float(s_x), "h_scale": s_h}
    if cell == "lstm":
        arrays["b"] = quantize_bias(b_ih + b_hh, s_x * sih)
        c_mult, c_shift = fixed.quantize_multiplier(2.0 ** -30 / s_c)
        ct_mult, ct_shift = fixed.quantize_multiplier(s_c * 2.0 ** Q_PRE)
        attrs.update(c_bits=opts["c_bits"], c_scale=float(s_c), c_mult=c_mult, c_shift=c_shift,
                     ct_mult=ct_mult, ct_shift=ct_shift)
    else:
        arrays["b"] = quantize_bias(np.concatenate([b_ih[:2 * H] + b_hh[:2 * H], b_ih[2 * H:]]), s_x * sih)
        arrays["b_hn"] = quantize_bias(b_hh[2 * H:], s_h * shh[2 * H:])
    # keep the array order of the spec's table
    order = ["w_ih", "w_hh", "b", "b_hn", "mult_x", "shift_x", "mult_h", "shift_h", "w_scale_ih", "w_scale_hh"]
    return Layer(cell, name, "int8", {k: arrays[k] for k in order if k in arrays}, attrs)


# ---------------------------------------------------------------------------------------------

def equalize_rnn_input(P: dict, rec, max_gain: float = 64.0):
    """Cross-layer equalisation of the first recurrent layer's input (the ``equalize`` option).

    x_j = relu(fc_in row j) feeds column j of rnn0's input weights. With a_j > 0, scaling fc_in's
    row j and bias j by a_j and column j of W_ih by 1/a_j leaves the float network unchanged.
    a_j = sqrt(w_j / r_j) (r_j: the calibrated max of x_j, w_j: max |W_ih[:, j]|, normalised to
    a geometric mean of 1, limited to [1/max_gain, max_gain]) makes both ranges sqrt(r_j w_j), so
    neither a feature of small range nor a column of small weights is left with few levels.
    Returns (new params, calibration with x rescaled, gains)."""
    w_ih = P["rnns.0.weight_ih_l0"].astype(np.float64)
    F = w_ih.shape[1]
    x = np.abs(np.asarray(rec.values["rnn0.x"], dtype=np.float64)).reshape(-1, F)
    r, w = x.max(axis=0), np.abs(w_ih).max(axis=0)
    ok = (r > 0) & (w > 0)
    a = np.ones(F)
    a[ok] = np.sqrt(w[ok] / r[ok])
    if ok.any():
        a[ok] /= np.exp(np.mean(np.log(a[ok])))
    a = np.clip(a, 1.0 / max_gain, max_gain)
    P = dict(P)
    P["fc_in.weight"] = P["fc_in.weight"].astype(np.float64) * a[:, None]
    P["fc_in.bias"] = P["fc_in.bias"].astype(np.float64) * a
    P["rnns.0.weight_ih_l0"] = w_ih / a[None, :]
    values, means = dict(rec.values), dict(rec.means)
    for k in ("rnn0.x", "fc_in"):
        if k in values:
            values[k] = (np.asarray(values[k]).reshape(-1, F) * a).astype(np.float32).ravel()
        if k in means:
            means[k] = means[k] * a
    return P, dataclasses.replace(rec, values=values, means=means), a


def input_bin_scales(values, n_bins: int, method: str, percentile: float) -> np.ndarray:
    """One int8 scale per input bin (the ``in_scale="bin"`` option): each bin's calibrated
    clipping range / 127, float64 [n_bins]. A bin never seen above zero keeps the largest scale
    of the others (its weights then meet only zeros and rounding)."""
    x = np.asarray(values, dtype=np.float64).reshape(-1, n_bins)
    a = np.array([calibrate.choose_clip(x[:, j], method, 127, percentile) if np.any(x[:, j])
                  else 0.0 for j in range(n_bins)])
    a[a == 0.0] = a.max() if a.max() > 0 else 1.0
    return a / 127.0


def check_finite(model) -> None:
    for k, v in model.state_dict().items():
        if not bool(np.all(np.isfinite(v.detach().cpu().numpy()))):
            raise ValueError(f"model parameter {k} holds non-finite values (NaN or inf)")


def calibrate_model(model, calib_clips=None, n_calib: int = 16, calib_mags=None):
    """Run calibration once (the result can be passed to several ``quantize`` calls)."""
    if calib_mags is None:
        if calib_clips is None:
            raise ValueError("calibration needs data: clips or magnitudes")
        clips = calibrate.load_calib_clips(calib_clips, n_calib)
        calib_mags = calibrate.clips_to_mags(clips)
    calib_mags = list(calib_mags)[:n_calib]
    if not calib_mags:
        raise ValueError("no calibration data given")
    return calibrate.record_ranges(model, calib_mags)


def quantize(model, scheme: str, calib_clips=None, n_calib: int = 16, method: str | None = None,
             calib_mags=None, calibration=None, **overrides) -> QuantizedModel:
    """Quantize a float SEModel.

    Calibration data, one of: ``calib_clips`` (anything ``calibrate.load_calib_clips`` accepts:
    float32 arrays, wav paths, a folder, a corpus root), ``calib_mags`` (magnitudes
    [(T, 257), ...]) or ``calibration`` (a ``calibrate_model`` result for this model).
    method: range estimator for activations (minmax, percentile, mse, meanstd); the scheme's
    default if None. overrides: single design choices (see the module doc).
    """
    opts = scheme_options(scheme, method=method, **overrides)
    check_finite(model)
    config = dataclasses.asdict(model.config)
    P = calibrate.float_params(model)
    cell, H, n_rnn = config["cell"], config["hidden"], config["n_rnn"]
    info = {"options": opts}

    if scheme == "fp16":
        layers = [_fc_fp16("fc_in", P["fc_in.weight"], P["fc_in.bias"], "relu")]
        layers += [_rnn_fp16(f"rnn{i}", cell, P, f"rnns.{i}.", H) for i in range(n_rnn)]
        layers += [_fc_fp16("fc_mid", P["fc_mid.weight"], P["fc_mid.bias"], "relu"),
                   _fc_fp16("fc_out", P["fc_out.weight"], P["fc_out.bias"], "sigmoid")]
        return QuantizedModel(scheme, config, layers, {}, info)

    if calibration is None:
        calibration = calibrate_model(model, calib_clips, n_calib, calib_mags)
    rec = calibration
    if opts["equalize"]:
        P, rec, gains = equalize_rnn_input(P, rec)
        info["equalize_gain_range"] = [float(gains.min()), float(gains.max())]

    def clip(name, m=None, n_levels=127):
        return calibrate.choose_clip(rec[name], m or opts["method"], n_levels, opts["percentile"])

    info.update(n_calib=calibration.n_clips, calib_frames=calibration.n_frames,
                max_abs={k: float(np.abs(v).max()) for k, v in rec.values.items()},
                pre_clipped_fraction={k: float(np.mean(np.abs(v) >= 8.0))
                                      for k, v in rec.values.items() if k.endswith(".pre")})
    scales = {}
    means = rec.means if opts["bias_corr"] else {}

    def c_scale(li):
        name = f"rnn{li}.c"
        levels = 32767 if opts["c_bits"] == 16 else 127
        if opts["c_bits"] == 16 and opts["c_method"] is None:
            return opts["c_headroom"] * clip(name, "minmax", levels) / levels
        return clip(name, opts["c_method"], levels) / levels

    s_h = 2.0 ** -H_FRAC
    rnn_layers = []
    for li in range(n_rnn):
        s_x = clip("rnn0.x") / 127 if li == 0 else s_h
        s_c = c_scale(li) if cell == "lstm" else None
        scales[f"rnn{li}.x"] = s_x
        if s_c is not None:
            scales[f"rnn{li}.c"] = s_c
        rnn_layers.append(_rnn_int8(f"rnn{li}", cell, P, f"rnns.{li}.", H, s_x, s_c, opts,
                                    means.get(f"rnn{li}.x"), means.get(f"rnn{li}.h")))
    tables = {"sigmoid": fixed.SIGMOID_TABLE.copy(), "tanh": fixed.TANH_TABLE.copy()}

    if opts["fc_prec"] == "fp16":
        s_x0 = scales["rnn0.x"]
        layers = [_fc_fp16("fc_in", P["fc_in.weight"], P["fc_in.bias"], "relu"),
                  Layer("quant", "q_in", "", {}, {"inv_scale": float(np.float32(1.0 / s_x0)), "in_scale": s_x0}),
                  *rnn_layers,
                  Layer("dequant", "dq_h", "", {}, {"scale": s_h, "out": "fp16"}),
                  _fc_fp16("fc_mid", P["fc_mid.weight"], P["fc_mid.bias"], "relu"),
                  _fc_fp16("fc_out", P["fc_out.weight"], P["fc_out.bias"], "sigmoid")]
    else:
        s_mid = clip("fc_mid") / 127
        scales["fc_mid"] = s_mid
        w_in, x_mean = P["fc_in.weight"], means.get("input")
        if opts["in_scale"] == "bin":
            s_bin = input_bin_scales(rec["input"], config["n_bins"], opts["in_method"] or opts["method"],
                                     opts["percentile"])
            inv = (1.0 / s_bin).astype(np.float32)
            q_in = Layer("quant", "q_in", "", {"inv_scale": inv}, {})
            w_in = w_in * s_bin[None, :]                 # fc_in takes x / s_bin: unit input scale
            x_mean = None if x_mean is None else x_mean / s_bin
            s_in = 1.0
            scales["input"] = [float(s_bin.min()), float(s_bin.max())]
        else:
            s_in = clip("input", opts["in_method"]) / 127
            q_in = Layer("quant", "q_in", "", {}, {"inv_scale": float(np.float32(1.0 / s_in)), "in_scale": s_in})
            scales["input"] = s_in
        layers = [q_in,
                  _fc_int8("fc_in", w_in, P["fc_in.bias"], "relu", s_in, scales["rnn0.x"],
                           opts, x_mean),
                  *rnn_layers,
                  _fc_int8("fc_mid", P["fc_mid.weight"], P["fc_mid.bias"], "relu", s_h, s_mid,
                           opts, means.get(f"rnn{n_rnn - 1}.h")),
                  _fc_int8("fc_out", P["fc_out.weight"], P["fc_out.bias"], "sigmoid", s_mid,
                           2.0 ** -Q_PRE, opts, means.get("fc_mid")),
                  Layer("dequant", "dq_mask", "", {}, {"scale": 2.0 ** -15, "out": "fp32"})]
    info["scales"] = scales
    return QuantizedModel(scheme, config, layers, tables, info)
