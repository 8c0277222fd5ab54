"""Post-training quantization of an SEModel into a QuantizedModel (see docs/numerics.md)."""
from __future__ import annotations

import dataclasses

import numpy as np

from . import calibrate, fixed
from .fixed import H_FRAC, Q_PRE, quantize_multipliers, to_fp16
from .qmodel import SCHEMES, Layer, QuantizedModel

# the design choices of every scheme; quantize(..., **overrides) changes single ones
SCHEME_OPTIONS = {
    "fp16":   dict(fc_prec="fp16", rnn_prec="fp16"),
    "mixed":  dict(fc_prec="fp16", rnn_prec="int8", rnn_w="gate", c_bits=8, table_mode="nearest",
                   method="minmax"),
    "mixed+": dict(fc_prec="fp16", rnn_prec="int8", rnn_w="row", c_bits=16, table_mode="linear",
                   method="mse"),
    "int8":   dict(fc_prec="int8", rnn_prec="int8", fc_w="tensor", rnn_w="gate", c_bits=8,
                   table_mode="nearest", method="minmax"),
    "int8+":  dict(fc_prec="int8", rnn_prec="int8", fc_w="row", rnn_w="row", c_bits=16,
                   table_mode="linear", method="mse"),
}
DEFAULTS = dict(fc_w="tensor", rnn_w="gate", c_bits=8, table_mode="nearest", method="minmax",
                c_method=None, c_headroom=2.0, percentile=99.99)
WEIGHT_GRANULARITIES = ("tensor", "gate", "row")


def scheme_options(scheme: str, **overrides) -> dict:
    if scheme not in SCHEME_OPTIONS:
        raise ValueError(f"unknown scheme {scheme!r}: expected one of {', '.join(SCHEMES)}")
    opts = {**DEFAULTS, **SCHEME_OPTIONS[scheme]}
    for k, v in overrides.items():
        if k not in opts:
            raise ValueError(f"unknown quantization option {k!r}")
        if v is not None:
            opts[k] = v
    if opts["method"] not in calibrate.METHODS:
        raise ValueError(f"unknown calibration method {opts['method']!r}: expected one of "
                         f"{', '.join(calibrate.METHODS)}")
    if opts["table_mode"] not in fixed.TABLE_MODES:
        raise ValueError(f"unknown table mode {opts['table_mode']!r}")
    if opts["c_bits"] not in (8, 16):
        raise ValueError(f"c_bits must be 8 or 16, got {opts['c_bits']}")
    for k in ("fc_w", "rnn_w"):
        if opts[k] not in WEIGHT_GRANULARITIES:
            raise ValueError(f"{k} must be one of {WEIGHT_GRANULARITIES}, got {opts[k]!r}")
    return opts


# ---------------------------------------------------------------------------------------------
# weight and bias quantization

def quantize_weights(w: np.ndarray, granularity: str, gates: int = 1):
    """Symmetric int8 weights: (int8 [N, K], per-row scale float64 [N]).

    granularity 'tensor': one scale; 'gate': one per block of N/gates rows; 'row': one per row.
    """
    w = np.asarray(w, dtype=np.float64)
    a = np.abs(w).max(axis=1)
    if granularity == "tensor":
        a = np.full_like(a, a.max())
    elif granularity == "gate":
        a = np.repeat(a.reshape(gates, -1).max(axis=1), w.shape[0] // gates)
    elif granularity != "row":
        raise ValueError(f"unknown weight granularity {granularity!r}")
    s = np.where(a > 0, a / 127.0, 1.0)
    q = np.clip(np.rint(w / s[:, None]), -127, 127).astype(np.int8)
    return q, s


def quantize_bias(b: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(b, np.float64) / scale), -(1 << 30), 1 << 30).astype(np.int32)


def _mults(scales):
    return quantize_multipliers(scales)


# ---------------------------------------------------------------------------------------------
# layer builders

def _fc_fp16(name, w, b, act):
    return Layer("fc", name, "fp16", {"w": to_fp16(w), "b": to_fp16(b)}, {"act": act})


def _fc_int8(name, w, b, act, s_x, s_y, gran, table_mode):
    wq, sw = quantize_weights(w, gran)
    m, s = _mults(s_x * sw / s_y)
    return Layer("fc", name, "int8",
                 {"w": wq, "b": quantize_bias(b, s_x * sw), "mult": m, "shift": s,
                  "w_scale": sw.astype(np.float32)},
                 {"act": act, "table_mode": table_mode, "in_scale": float(s_x), "out_scale": float(s_y)})


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


def _rnn_int8(name, cell, P, pre, H, s_x, s_c, opts):
    gates = 4 if cell == "lstm" else 3
    w_ih, w_hh = P[pre + "weight_ih_l0"], P[pre + "weight_hh_l0"]
    b_ih, b_hh = P[pre + "bias_ih_l0"], P[pre + "bias_hh_l0"]
    qih, sih = quantize_weights(w_ih, opts["rnn_w"], gates)
    qhh, shh = quantize_weights(w_hh, opts["rnn_w"], gates)
    s_h = 2.0 ** -H_FRAC
    mx, sx = _mults(s_x * sih * 2.0 ** Q_PRE)
    mh, sh = _mults(s_h * shh * 2.0 ** Q_PRE)
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

def check_finite(model) -> None:
    for k, v in model.state_dict().items():
        if not bool(np.all(np.isfinite(v.detach().cpu().numpy()))):
            raise ValueError(f"model parameter {k} holds non-finite values (NaN or inf)")


def quantize(model, scheme: str, calib_clips=None, n_calib: int = 16, method: str | None = None,
             calib_mags=None, **overrides) -> QuantizedModel:
    """Quantize a float SEModel.

    calib_clips: calibration signals (anything ``calibrate.load_calib_clips`` accepts: float32
    arrays, wav paths, a folder); or calib_mags: precomputed magnitudes [(T, 257), ...].
    method: range estimator for activations (minmax, percentile, mse, meanstd); the scheme's
    default if None. overrides: single design choices (see SCHEME_OPTIONS / DEFAULTS).
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

    # calibration
    if calib_mags is None:
        if calib_clips is None:
            raise ValueError(f"scheme {scheme} needs calibration data (clips or magnitudes)")
        clips = calibrate.load_calib_clips(calib_clips, n_calib)
        calib_mags = calibrate.clips_to_mags(clips)
    calib_mags = list(calib_mags)[:n_calib]
    if not calib_mags:
        raise ValueError("no calibration data given")
    rec = calibrate.record_ranges(model, calib_mags)

    def clip(name, n_levels=127, m=None):
        return calibrate.choose_clip(rec[name], m or opts["method"], n_levels, opts["percentile"])

    ranges = {k: float(np.abs(v).max()) for k, v in rec.items()}
    info.update(n_calib=len(calib_mags), calib_frames=int(sum(len(m) for m in calib_mags)),
                max_abs=ranges,
                pre_clipped_fraction={k: float(np.mean(np.abs(v) >= 8.0)) for k, v in rec.items()
                                      if k.endswith(".pre")})
    scales = {}

    def c_scale(li):
        name = f"rnn{li}.c"
        if opts["c_bits"] == 16:
            return opts["c_headroom"] * clip(name, 32767, "minmax") / 32767
        return clip(name, 127, opts["c_method"]) / 127

    rnn_layers = []
    for li in range(n_rnn):
        s_x = clip("rnn0.x") / 127 if li == 0 else 2.0 ** -H_FRAC
        s_c = c_scale(li) if cell == "lstm" else None
        scales[f"rnn{li}.x"] = s_x
        if s_c is not None:
            scales[f"rnn{li}.c"] = s_c
        rnn_layers.append(_rnn_int8(f"rnn{li}", cell, P, f"rnns.{li}.", H, s_x, s_c, opts))
    s_h = 2.0 ** -H_FRAC
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
        s_in = clip("input") / 127
        s_mid = clip("fc_mid") / 127
        scales.update(input=s_in, fc_mid=s_mid)
        layers = [Layer("quant", "q_in", "", {}, {"inv_scale": float(np.float32(1.0 / s_in)), "in_scale": s_in}),
                  _fc_int8("fc_in", P["fc_in.weight"], P["fc_in.bias"], "relu", s_in, scales["rnn0.x"],
                           opts["fc_w"], opts["table_mode"]),
                  *rnn_layers,
                  _fc_int8("fc_mid", P["fc_mid.weight"], P["fc_mid.bias"], "relu", s_h, s_mid,
                           opts["fc_w"], opts["table_mode"]),
                  _fc_int8("fc_out", P["fc_out.weight"], P["fc_out.bias"], "sigmoid", s_mid,
                           2.0 ** -Q_PRE, opts["fc_w"], opts["table_mode"]),
                  Layer("dequant", "dq_mask", "", {}, {"scale": 2.0 ** -15, "out": "fp32"})]
    info["scales"] = scales
    return QuantizedModel(scheme, config, layers, tables, info)
