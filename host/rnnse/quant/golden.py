"""The golden model: docs/numerics.md executed in numpy. The reference for the C kernels.

Per-layer functions take plain numpy arrays (the constants of one layer as keyword arguments, as
stored in ``Layer.arrays`` / ``Layer.attrs``) and work on one frame ``x`` of shape (K,) or on a
batch of frames (T, K); the recurrent ``*_seq`` functions run T frames with the state carried,
the ``*_step`` functions one frame.

Integer matrix products are evaluated with float64 BLAS: every int8 x int8 dot product of the
network is below 2^23 in magnitude, so the float64 result is the exact integer.
"""
from __future__ import annotations

import numpy as np

from . import fixed
from .fixed import (H_FRAC, SIGMOID_TABLE, TANH_TABLE, check_multipliers, requant, sat, sat8, sat16,
                    sig_q15, tanh_q15)
from .fixed import requant_unchecked as _rq

# ---------------------------------------------------------------------------------------------
# helpers


def _imatmul(x, w) -> np.ndarray:
    """Exact integer x @ w.T for int8 x (..., K) and int8-valued w (N, K).

    Every partial sum is an integer below K * 128 * 127 in magnitude; below 2^24 (K <= 1031)
    float32 holds all of them exactly, whatever order BLAS sums in."""
    dt = np.float32 if w.shape[-1] * 128 * 127 < (1 << 24) else np.float64
    return (np.asarray(x, dtype=dt) @ np.asarray(w, dtype=dt).T).astype(np.int64)


def _rshr(x, s: int):
    return (x + (1 << (s - 1))) >> s


def _sig(p, mode, table):
    return fixed._lookup(table, p + 32768, 8, mode)


def _tanh(p, mode, table):
    return fixed._lookup(table, np.maximum(np.minimum(p, 16383), -16384) + 16384, 7, mode)


def _i64(*arrays):
    return [np.asarray(a, dtype=np.int64) for a in arrays]


def _fmatmul(x, w, accum: str = "fp32") -> np.ndarray:
    """FP16 x FP16 products accumulated in FP32 (BLAS order) or exactly (float64, then FP32)."""
    if accum == "fp32":
        return np.asarray(x, dtype=np.float32) @ np.asarray(w, dtype=np.float32).T
    if accum == "fp64":
        return (np.asarray(x, dtype=np.float64) @ np.asarray(w, dtype=np.float64).T).astype(np.float32)
    raise ValueError(f"accum must be 'fp32' or 'fp64', got {accum!r}")


def _sigmoid32(v):
    v = np.asarray(v, dtype=np.float32)
    with np.errstate(over="ignore"):
        return (np.float32(1.0) / (np.float32(1.0) + np.exp(-v))).astype(np.float32)


def _tanh32(v):
    return np.tanh(np.asarray(v, dtype=np.float32))


def _act32(v, act):
    if act == "relu":
        return np.maximum(v, np.float32(0.0))
    if act == "sigmoid":
        return _sigmoid32(v)
    if act == "none":
        return v
    raise ValueError(f"unknown activation {act!r}")


# ---------------------------------------------------------------------------------------------
# FC

def fc_int8(x, w, b, mult, shift, act, table_mode="nearest", sig_table=SIGMOID_TABLE, **_):
    """int8 x (..., K) -> int8 (..., N), or int16 Q15 for act='sigmoid'."""
    acc = _imatmul(x, w) + np.asarray(b, dtype=np.int64)
    r = requant(acc, mult, shift)
    if act == "relu":
        return sat(r, 0, 127).astype(np.int8)
    if act == "none":
        return sat8(r).astype(np.int8)
    if act == "sigmoid":
        return sig_q15(sat16(r), table_mode, sig_table).astype(np.int16)
    raise ValueError(f"unknown activation {act!r}")


def fc_fp16(x, w, b, act, accum="fp32", **_):
    """FP16 x (..., K) -> FP16 (..., N): FP32 products and sums, one rounding at the end."""
    v = np.asarray(b, dtype=np.float32) + _fmatmul(x, w, accum)
    return fixed.to_fp16(_act32(v, act))


def fc_fp16_ref(x, w, b, act, **_):
    """The spec's reference order for one frame: acc = b, then add products k = 0..K-1 in FP32."""
    x = np.asarray(x, dtype=np.float32)
    w = np.asarray(w, dtype=np.float32)
    acc = np.asarray(b, dtype=np.float32).copy()
    for k in range(x.shape[-1]):
        acc = acc + w[:, k] * x[k]
    return fixed.to_fp16(_act32(acc, act))


# ---------------------------------------------------------------------------------------------
# LSTM

def lstm_int8_seq(xs, h, c, w_ih, w_hh, b, mult_x, shift_x, mult_h, shift_h, c_mult, c_shift,
                  ct_mult, ct_shift, c_bits, table_mode, sig_table=SIGMOID_TABLE,
                  tanh_table=TANH_TABLE, **_):
    """xs int8 (T, K), h int8 (H,), c int8/int16 (H,) -> (hs int8 (T, H), h, c)."""
    xs = np.atleast_2d(xs)
    H = w_hh.shape[1]
    satc = sat8 if c_bits == 8 else sat16
    cdt = np.int8 if c_bits == 8 else np.int16
    for m, s in ((mult_x, shift_x), (mult_h, shift_h), (c_mult, c_shift), (ct_mult, ct_shift)):
        check_multipliers(m, s)
    mult_h, shift_h, c_mult, c_shift, ct_mult, ct_shift = _i64(mult_h, shift_h, c_mult, c_shift,
                                                               ct_mult, ct_shift)
    sig_table, tanh_table = _i64(sig_table, tanh_table)
    xr = requant(_imatmul(xs, w_ih) + np.asarray(b, dtype=np.int64), mult_x, shift_x)  # (T, 4H)
    h = np.asarray(h, dtype=np.int64)
    c = np.asarray(c, dtype=np.int64)
    hs = np.empty((xs.shape[0], H), dtype=np.int8)
    for t in range(xs.shape[0]):
        hr = _rq(_imatmul(h, w_hh), mult_h, shift_h)
        p = sat16(xr[t] + hr)
        i = _sig(p[:H], table_mode, sig_table)
        f = _sig(p[H:2 * H], table_mode, sig_table)
        g = _tanh(p[2 * H:3 * H], table_mode, tanh_table)
        o = _sig(p[3 * H:], table_mode, sig_table)
        c = satc(_rshr(f * c, 15) + _rq(i * g, c_mult, c_shift))
        tc = _tanh(sat16(_rq(c, ct_mult, ct_shift)), table_mode, tanh_table)
        h = sat8(_rshr(o * tc, 30 - H_FRAC))
        hs[t] = h
    return hs, h.astype(np.int8), c.astype(cdt)


def lstm_int8_step(x, h, c, **p):
    """One frame: x int8 (K,) -> (h int8 (H,), c)."""
    _, h, c = lstm_int8_seq(np.asarray(x)[None], h, c, **p)
    return h, c


def lstm_fp16_seq(xs, h, c, w_ih, w_hh, b, accum="fp32", **_):
    """xs FP16 (T, K), h, c FP16 (H,) -> (hs FP16 (T, H), h, c)."""
    xs = np.atleast_2d(xs)
    H = w_hh.shape[1]
    xp = np.asarray(b, dtype=np.float32) + _fmatmul(xs, w_ih, accum)       # (T, 4H) FP32
    hs = np.empty((xs.shape[0], H), dtype=np.float16)
    h = np.asarray(h, dtype=np.float16)
    c = np.asarray(c, dtype=np.float16)
    for t in range(xs.shape[0]):
        p = xp[t] + _fmatmul(h, w_hh, accum)
        i, f, o = _sigmoid32(p[:H]), _sigmoid32(p[H:2 * H]), _sigmoid32(p[3 * H:])
        g = _tanh32(p[2 * H:3 * H])
        c32 = (f * c.astype(np.float32)) + (i * g)
        h = fixed.to_fp16(o * _tanh32(c32))
        c = fixed.to_fp16(c32)
        hs[t] = h
    return hs, h, c


def lstm_fp16_step(x, h, c, **p):
    _, h, c = lstm_fp16_seq(np.asarray(x)[None], h, c, **p)
    return h, c


# ---------------------------------------------------------------------------------------------
# GRU

def gru_int8_seq(xs, h, w_ih, w_hh, b, b_hn, mult_x, shift_x, mult_h, shift_h, table_mode,
                 sig_table=SIGMOID_TABLE, tanh_table=TANH_TABLE, **_):
    """xs int8 (T, K), h int8 (H,) -> (hs int8 (T, H), h)."""
    xs = np.atleast_2d(xs)
    H = w_hh.shape[1]
    check_multipliers(mult_x, shift_x)
    check_multipliers(mult_h, shift_h)
    mult_h, shift_h, sig_table, tanh_table = _i64(mult_h, shift_h, sig_table, tanh_table)
    xr = requant(_imatmul(xs, w_ih) + np.asarray(b, dtype=np.int64), mult_x, shift_x)  # (T, 3H)
    bh = np.zeros(3 * H, dtype=np.int64)
    bh[2 * H:] = b_hn
    h = np.asarray(h, dtype=np.int64)
    hs = np.empty((xs.shape[0], H), dtype=np.int8)
    for t in range(xs.shape[0]):
        hr = _rq(_imatmul(h, w_hh) + bh, mult_h, shift_h)
        r = _sig(sat16(xr[t, :H] + hr[:H]), table_mode, sig_table)
        z = _sig(sat16(xr[t, H:2 * H] + hr[H:2 * H]), table_mode, sig_table)
        hn = sat16(hr[2 * H:])
        n = _tanh(sat16(xr[t, 2 * H:] + _rshr(r * hn, 15)), table_mode, tanh_table)
        h = sat8(_rshr((32768 - z) * n + z * (h << (15 - H_FRAC)), 30 - H_FRAC))
        hs[t] = h
    return hs, h.astype(np.int8)


def gru_int8_step(x, h, **p):
    _, h = gru_int8_seq(np.asarray(x)[None], h, **p)
    return h


def gru_fp16_seq(xs, h, w_ih, w_hh, b, b_hn, accum="fp32", **_):
    xs = np.atleast_2d(xs)
    H = w_hh.shape[1]
    xp = np.asarray(b, dtype=np.float32) + _fmatmul(xs, w_ih, accum)        # (T, 3H)
    bhn = np.asarray(b_hn, dtype=np.float32)
    hs = np.empty((xs.shape[0], H), dtype=np.float16)
    h = np.asarray(h, dtype=np.float16)
    for t in range(xs.shape[0]):
        hp = _fmatmul(h, w_hh, accum)
        r = _sigmoid32(xp[t, :H] + hp[:H])
        z = _sigmoid32(xp[t, H:2 * H] + hp[H:2 * H])
        n = _tanh32(xp[t, 2 * H:] + r * (bhn + hp[2 * H:]))
        h = fixed.to_fp16(((np.float32(1.0) - z) * n) + (z * h.astype(np.float32)))
        hs[t] = h
    return hs, h


def gru_fp16_step(x, h, **p):
    _, h = gru_fp16_seq(np.asarray(x)[None], h, **p)
    return h


# ---------------------------------------------------------------------------------------------
# the whole network

class GoldenModel:
    """Runs a QuantizedModel frame by frame. ``accum='fp64'`` evaluates FP16 layers with
    order-independent (exact, then FP32-rounded) sums: the other end of the tolerance band."""

    def __init__(self, qmodel, accum: str = "fp32"):
        self.q = qmodel
        self.accum = accum
        tables = {}
        if "sigmoid" in qmodel.tables:
            tables["sig_table"] = np.asarray(qmodel.tables["sigmoid"])
        if "tanh" in qmodel.tables:
            tables["tanh_table"] = np.asarray(qmodel.tables["tanh"])
        self._steps = []
        for lay in qmodel.layers:
            p = dict(lay.params())
            for k in ("w", "w_ih", "w_hh"):     # cache weights in the dtype the products use
                if k in p:
                    p[k] = p[k].astype(np.float32)
            if lay.prec == "int8":
                p.update(tables)
            if lay.prec == "fp16":
                p["accum"] = accum
            self._steps.append((lay, p))
        self._first_fp16 = qmodel.layers[0].prec == "fp16"

    def init_state(self) -> list:
        state = []
        for lay in self.q.layers:
            if lay.kind not in ("lstm", "gru"):
                continue
            H = lay.w_hh.shape[1]
            if lay.prec == "fp16":
                h = np.zeros(H, np.float16)
                state.append((h, np.zeros(H, np.float16)) if lay.kind == "lstm" else h)
            else:
                h = np.zeros(H, np.int8)
                cdt = np.int8 if lay.attrs.get("c_bits", 8) == 8 else np.int16
                state.append((h, np.zeros(H, cdt)) if lay.kind == "lstm" else h)
        return state

    def _forward(self, x, state):
        """x: (T, 257) FP32 magnitudes -> (masks (T, 257) FP32, new state)."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.q.config["n_bins"]:
            raise ValueError(f"expected magnitudes of shape (frames, {self.q.config['n_bins']}), "
                             f"got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("magnitudes must be finite")
        if self._first_fp16:
            x = fixed.to_fp16(x)
        new_state = []
        si = 0
        for lay, p in self._steps:
            if lay.kind == "quant":
                x = fixed.quant_fp(x, p["inv_scale"])
            elif lay.kind == "dequant":
                x = fixed.dequant_fp(x, p["scale"], p["out"])
            elif lay.kind == "fc":
                x = (fc_int8 if lay.prec == "int8" else fc_fp16)(x, **p)
            elif lay.kind == "lstm":
                h, c = state[si]
                fn = lstm_int8_seq if lay.prec == "int8" else lstm_fp16_seq
                x, h, c = fn(x, h, c, **p)
                new_state.append((h, c))
                si += 1
            elif lay.kind == "gru":
                fn = gru_int8_seq if lay.prec == "int8" else gru_fp16_seq
                x, h = fn(x, state[si], **p)
                new_state.append(h)
                si += 1
            else:
                raise ValueError(f"unknown layer kind {lay.kind!r}")
        return np.asarray(x, dtype=np.float32), new_state

    def step(self, mag, state=None):
        """One frame: mag (257,) FP32 -> (mask (257,) FP32, new state)."""
        if state is None:
            state = self.init_state()
        m, state = self._forward(np.asarray(mag)[None], state)
        return m[0], state

    def run(self, mags, state=None) -> np.ndarray:
        """All frames (T, 257) with the states carried (layer by layer: FC layers and the input
        side of recurrent layers see every frame at once; same result as T calls of ``step``)."""
        if state is None:
            state = self.init_state()
        return self._forward(mags, state)[0]

    __call__ = run
