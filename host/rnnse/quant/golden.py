"""The golden model: docs/numerics.md executed in numpy. The reference for the C kernels.

Per-layer functions take plain numpy arrays (the constants of one layer as keyword arguments, as
stored in ``Layer.arrays`` / ``Layer.attrs``). FC functions work on one frame ``x`` (K,) or on
any stack of frames (..., K). The recurrent ``*_seq`` functions run T frames with the state
carried, on xs (T, K) with a state (H,), or on a batch of B independent streams, xs (T, B, K)
with states (B, H); the ``*_step`` functions run one frame.

Exactness of the fast paths (every INT8 result is the integer the spec defines):

* integer matrix products are evaluated with float32 BLAS: every partial sum of an int8 x int8
  dot product with K <= 1031 terms is an integer below 2^24, which float32 holds exactly, in
  whatever order BLAS sums (float64 is used above that);
* a Q3.12 -> Q15 table lookup is a function of one int16, so it is read from a 65536-entry
  array filled by the spec's formula (``fixed.sig_q15`` / ``fixed.tanh_q15``) for every input;
  so is the LSTM's c -> TANH(sat16(requant(c, ct_mult, ct_shift))), per layer;
* every other step is the spec's integer expression in int64, which holds every intermediate.

``tests/test_golden.py`` checks these paths against the literal primitives and against
arbitrary-precision Python integers.
"""
from __future__ import annotations

import numpy as np

from ..stft import input_feature
from . import fixed
from .fixed import H_FRAC, SIGMOID_TABLE, TANH_TABLE, check_multipliers, requant, sat, sat8, sat16
from .fixed import requant_unchecked as _rq

_LUT_CACHE: dict = {}


# ---------------------------------------------------------------------------------------------
# helpers

def _imatmul(x, w) -> np.ndarray:
    """Exact integer x @ w.T for int8-valued x (..., K) and w (N, K), as int64."""
    dt = np.float32 if w.shape[-1] * 128 * 128 < (1 << 24) else np.float64
    return _matmul_t(np.asarray(x, dtype=dt), np.asarray(w, dtype=dt)).astype(np.int64)


def _matmul_t(x, w) -> np.ndarray:
    """x (..., K) @ w.T (w: N x K) in x's float type: BLAS for many frames, numpy's own loop for
    a few (per-frame calls are too small for BLAS threads, which then only contend)."""
    if x.ndim == 1 or x.size <= 16 * x.shape[-1]:
        return np.einsum("...k,nk->...n", x, w)
    return (x.reshape(-1, x.shape[-1]) @ w.T).reshape(*x.shape[:-1], w.shape[0])


def _cached(key, make) -> np.ndarray:
    lut = _LUT_CACHE.get(key)
    if lut is None:
        lut = make()
        lut.setflags(write=False)
        if len(_LUT_CACHE) > 256:
            _LUT_CACHE.clear()
        _LUT_CACHE[key] = lut
    return lut


def _lut(kind: str, mode: str, table) -> np.ndarray:
    """SIG or TANH of every int16 Q3.12 input, indexed by p + 32768 (int64[65536])."""
    table = np.asarray(table)
    fn = fixed.sig_q15 if kind == "sig" else fixed.tanh_q15
    return _cached((kind, mode, table.tobytes()),
                   lambda: fn(np.arange(-32768, 32768, dtype=np.int64), mode, table))


def _gate_lut(mode: str, sig_table, tanh_table) -> np.ndarray:
    """SIG entries then TANH entries (int64[131072]): one lookup serves all four LSTM gates."""
    sig_table, tanh_table = np.asarray(sig_table), np.asarray(tanh_table)
    return _cached(("gates", mode, sig_table.tobytes(), tanh_table.tobytes()),
                   lambda: np.concatenate([_lut("sig", mode, sig_table), _lut("tanh", mode, tanh_table)]))


def _tanh_c_lut(ct_mult, ct_shift, mode, table) -> np.ndarray:
    """TANH(sat16(requant(c, ct_mult, ct_shift))) for every int16 c, indexed by c + 32768."""
    table = np.asarray(table)

    def make():
        c = np.arange(-32768, 32768, dtype=np.int64)
        return _lut("tanh", mode, table)[sat16(requant(c, ct_mult, ct_shift)) + 32768]

    return _cached(("tanh_c", int(ct_mult), int(ct_shift), mode, table.tobytes()), make)


def _fmatmul(x, w, accum: str = "fp32") -> np.ndarray:
    """FP16 x FP16 products accumulated in FP32 (BLAS order: "fp32"), exactly (float64, then
    FP32: "fp64"), or in FP32 from 0 in the order k = 0, 1, ..., K-1 ("seq": the portable C
    kernels' order, the same on every machine; each product of two FP16 values is exact in FP32,
    so only the additions round)."""
    if accum == "fp32":
        return _matmul_t(np.asarray(x, dtype=np.float32), np.asarray(w, dtype=np.float32))
    if accum == "fp64":
        return _matmul_t(np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)).astype(np.float32)
    if accum == "seq":
        x32, w32 = np.asarray(x, dtype=np.float32), np.asarray(w, dtype=np.float32)
        acc = np.zeros(x32.shape[:-1] + (w32.shape[0],), dtype=np.float32)
        for k in range(w32.shape[1]):
            acc += x32[..., k:k + 1] * w32[:, k]
        return acc
    raise ValueError(f"accum must be 'fp32', 'fp64' or 'seq', got {accum!r}")


def _transposed(w, w_t, dtype) -> np.ndarray:
    """w.T as a contiguous ``dtype`` array (``w_t``, when the caller cached it, as is)."""
    if w_t is not None and w_t.dtype == dtype:
        return w_t
    return np.ascontiguousarray(np.asarray(w, dtype=dtype).T)


def _recurrent_weights(w_hh, accum, w_hh_t=None):
    """(w_hh transposed, dtype of the per-frame sums) for an FP16 recurrent layer ("seq" keeps
    the BLAS order here: only FC layers feed a quant step, where an order matters beyond the
    tolerance band)."""
    if accum not in ("fp32", "fp64", "seq"):
        raise ValueError(f"accum must be 'fp32', 'fp64' or 'seq', got {accum!r}")
    dt = np.float32 if accum == "fp32" else np.float64
    return _transposed(w_hh, w_hh_t, dt), dt


def _frame_dot(h, w_t, dtype=np.float32) -> np.ndarray:
    """One frame's recurrent products h (B, H) @ w_t (H, N), in ``dtype``: numpy's own loop
    (einsum) for a few streams, where BLAS threads would only contend; BLAS for many."""
    h = np.asarray(h, dtype=dtype)
    if h.shape[0] <= 4:
        return np.einsum("bk,kn->bn", h, w_t)
    return h @ w_t


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


def _as_batch(xs, state_shape_ndim):
    """(T, K) with state (H,) -> (T, 1, K), or (T, B, K) with state (B, H) as is."""
    xs = np.asarray(xs)
    if xs.ndim == 1:
        xs = xs[None]
    if xs.ndim == 2 and state_shape_ndim == 1:
        return xs[:, None, :], True
    if xs.ndim == 3 and state_shape_ndim == 2:
        return xs, False
    raise ValueError(f"inputs of shape {xs.shape} do not go with a state of {state_shape_ndim} dims")


def _clamp(x, lo, hi):
    """sat(x, lo, hi) for an int64 array (in place when x is a temporary)."""
    return np.maximum(np.minimum(x, hi), lo)


def _rows_i64(*arrays):
    return [np.asarray(a, dtype=np.int64) for a in arrays]


# ---------------------------------------------------------------------------------------------
# FC

def fc_int8(x, w, b, mult, shift, act, table_mode="nearest", sig_table=SIGMOID_TABLE, **_):
    """int8 x (..., K) -> int8 (..., N), or int16 Q15 for act='sigmoid'."""
    check_multipliers(mult, shift)
    mult, shift = _rows_i64(mult, shift)
    acc = _imatmul(x, w) + np.asarray(b, dtype=np.int64)
    r = _rq(acc, mult, shift)
    if act == "relu":
        return sat(r, 0, 127).astype(np.int8)
    if act == "none":
        return sat8(r).astype(np.int8)
    if act == "sigmoid":
        return _lut("sig", table_mode, sig_table)[sat16(r) + 32768].astype(np.int16)
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
                  tanh_table=TANH_TABLE, w_hh_t=None, **_):
    """xs int8 (T, K) [or (T, B, K)], h int8 (H,) [(B, H)], c int8/int16 like h
    -> (hs int8 (T, H) [(T, B, H)], h, c)."""
    h = np.asarray(h)
    xs, single = _as_batch(xs, h.ndim)
    H = np.shape(w_hh)[1]
    if c_bits not in (8, 16):
        raise ValueError(f"c_bits must be 8 or 16, got {c_bits}")
    for m, s in ((mult_x, shift_x), (mult_h, shift_h), (c_mult, c_shift), (ct_mult, ct_shift)):
        check_multipliers(m, s)
    cmin, cmax = (-128, 127) if c_bits == 8 else (-32768, 32767)
    cdt = np.int8 if c_bits == 8 else np.int16
    mult_x, shift_x, mult_h, shift_h = _rows_i64(mult_x, shift_x, mult_h, shift_h)
    c_mult, c_shift = int(c_mult), int(c_shift)
    # one lookup for the four gates: sigmoid rows i, f, o read SIG, the g rows read TANH
    both = _gate_lut(table_mode, sig_table, tanh_table)
    offset = np.full(4 * H, 32768, np.int64)
    offset[2 * H:3 * H] += 65536
    tanh_c = _tanh_c_lut(ct_mult, ct_shift, table_mode, tanh_table)
    w_hh32 = _transposed(w_hh, w_hh_t, np.float32)
    xr = _rq(_imatmul(xs, w_ih) + np.asarray(b, dtype=np.int64), mult_x, shift_x)   # (T, B, 4H)
    h = np.asarray(h, dtype=np.int64).reshape(xs.shape[1], H)
    c = np.asarray(c, dtype=np.int64).reshape(xs.shape[1], H)
    hs = np.empty((xs.shape[0], xs.shape[1], H), dtype=np.int8)
    rnd_c = np.int64(1) << (c_shift - 1)
    for t in range(xs.shape[0]):
        hr = _rq(_frame_dot(h, w_hh32).astype(np.int64), mult_h, shift_h)
        p = _clamp(xr[t] + hr, -32768, 32767)
        a = both[p + offset]                                  # Q15: i, f, g, o
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        ig = _clamp((i * g * c_mult + rnd_c) >> c_shift, fixed.INT32_MIN, fixed.INT32_MAX)
        c = _clamp(((f * c + 16384) >> 15) + ig, cmin, cmax)
        h = _clamp((o * tanh_c[c + 32768] + (1 << 22)) >> 23, -128, 127)
        hs[t] = h
    if single:
        return hs[:, 0], h[0].astype(np.int8), c[0].astype(cdt)
    return hs, h.astype(np.int8), c.astype(cdt)


def lstm_int8_step(x, h, c, **p):
    """One frame: x int8 (K,) [(B, K)] -> (h int8 (H,) [(B, H)], c)."""
    _, h, c = lstm_int8_seq(np.asarray(x)[None], h, c, **p)
    return h, c


def lstm_fp16_seq(xs, h, c, w_ih, w_hh, b, accum="fp32", w_hh_t=None, **_):
    """xs FP16 (T, K) [(T, B, K)], h, c FP16 (H,) [(B, H)] -> (hs FP16 (T, H) [(T, B, H)], h, c)."""
    h = np.asarray(h, dtype=np.float16)
    xs, single = _as_batch(xs, h.ndim)
    H = np.shape(w_hh)[1]
    xp = np.asarray(b, dtype=np.float32) + _fmatmul(xs, w_ih, accum)        # (T, B, 4H) FP32
    hs = np.empty((xs.shape[0], xs.shape[1], H), dtype=np.float16)
    h = h.reshape(xs.shape[1], H)
    c = np.asarray(c, dtype=np.float16).reshape(xs.shape[1], H)
    w_t, dt = _recurrent_weights(w_hh, accum, w_hh_t)
    for t in range(xs.shape[0]):
        p = xp[t] + _frame_dot(h, w_t, dt).astype(np.float32)
        s = _sigmoid32(p)
        i, f, o = s[:, :H], s[:, H:2 * H], s[:, 3 * H:]
        g = _tanh32(p[:, 2 * H:3 * H])
        c32 = (f * c.astype(np.float32)) + (i * g)
        h = fixed.to_fp16(o * _tanh32(c32))
        c = fixed.to_fp16(c32)
        hs[t] = h
    if single:
        return hs[:, 0], h[0], c[0]
    return hs, h, c


def lstm_fp16_step(x, h, c, **p):
    _, h, c = lstm_fp16_seq(np.asarray(x)[None], h, c, **p)
    return h, c


# ---------------------------------------------------------------------------------------------
# GRU

def gru_int8_seq(xs, h, w_ih, w_hh, b, b_hn, mult_x, shift_x, mult_h, shift_h, table_mode,
                 sig_table=SIGMOID_TABLE, tanh_table=TANH_TABLE, w_hh_t=None, **_):
    """xs int8 (T, K) [(T, B, K)], h int8 (H,) [(B, H)] -> (hs int8 (T, H) [(T, B, H)], h)."""
    h = np.asarray(h)
    xs, single = _as_batch(xs, h.ndim)
    H = np.shape(w_hh)[1]
    check_multipliers(mult_x, shift_x)
    check_multipliers(mult_h, shift_h)
    mult_x, shift_x, mult_h, shift_h = _rows_i64(mult_x, shift_x, mult_h, shift_h)
    sig = _lut("sig", table_mode, sig_table)
    tanh = _lut("tanh", table_mode, tanh_table)
    w_hh32 = _transposed(w_hh, w_hh_t, np.float32)
    xr = _rq(_imatmul(xs, w_ih) + np.asarray(b, dtype=np.int64), mult_x, shift_x)   # (T, B, 3H)
    bh = np.zeros(3 * H, dtype=np.int64)
    bh[2 * H:] = b_hn
    h = np.asarray(h, dtype=np.int64).reshape(xs.shape[1], H)
    hs = np.empty((xs.shape[0], xs.shape[1], H), dtype=np.int8)
    for t in range(xs.shape[0]):
        hr = _rq(_frame_dot(h, w_hh32).astype(np.int64) + bh, mult_h, shift_h)
        rz = sig[_clamp(xr[t, :, :2 * H] + hr[:, :2 * H], -32768, 32767) + 32768]
        r, z = rz[:, :H], rz[:, H:]
        hn = _clamp(hr[:, 2 * H:], -32768, 32767)
        n = tanh[_clamp(xr[t, :, 2 * H:] + ((r * hn + 16384) >> 15), -32768, 32767) + 32768]
        h = _clamp(((32768 - z) * n + z * (h << (15 - H_FRAC)) + (1 << 22)) >> 23, -128, 127)
        hs[t] = h
    if single:
        return hs[:, 0], h[0].astype(np.int8)
    return hs, h.astype(np.int8)


def gru_int8_step(x, h, **p):
    _, h = gru_int8_seq(np.asarray(x)[None], h, **p)
    return h


def gru_fp16_seq(xs, h, w_ih, w_hh, b, b_hn, accum="fp32", w_hh_t=None, **_):
    """xs FP16 (T, K) [(T, B, K)], h FP16 (H,) [(B, H)] -> (hs FP16 (T, H) [(T, B, H)], h)."""
    h = np.asarray(h, dtype=np.float16)
    xs, single = _as_batch(xs, h.ndim)
    H = np.shape(w_hh)[1]
    xp = np.asarray(b, dtype=np.float32) + _fmatmul(xs, w_ih, accum)        # (T, B, 3H)
    bhn = np.asarray(b_hn, dtype=np.float32)
    hs = np.empty((xs.shape[0], xs.shape[1], H), dtype=np.float16)
    h = h.reshape(xs.shape[1], H)
    w_t, dt = _recurrent_weights(w_hh, accum, w_hh_t)
    for t in range(xs.shape[0]):
        hp = _frame_dot(h, w_t, dt).astype(np.float32)
        rz = _sigmoid32(xp[t, :, :2 * H] + hp[:, :2 * H])
        r, z = rz[:, :H], rz[:, H:]
        n = _tanh32(xp[t, :, 2 * H:] + r * (bhn + hp[:, 2 * H:]))
        h = fixed.to_fp16(((np.float32(1.0) - z) * n) + (z * h.astype(np.float32)))
        hs[t] = h
    if single:
        return hs[:, 0], h[0]
    return hs, h


def gru_fp16_step(x, h, **p):
    _, h = gru_fp16_seq(np.asarray(x)[None], h, **p)
    return h


# ---------------------------------------------------------------------------------------------
# the whole network

class GoldenModel:
    """Runs a QuantizedModel frame by frame with its states carried.

    ``accum='fp64'`` evaluates the FP16 layers with order-independent (exact, then FP32-rounded)
    sums: the other end of the tolerance band of docs/numerics.md."""

    def __init__(self, qmodel, accum: str = "fp32"):
        self.q = qmodel
        self.accum = accum
        self.n_bins = int(qmodel.config["n_bins"])
        self.input_roots = int(qmodel.config.get("input_roots", 0))
        self.mask_floor = np.float32(qmodel.config.get("mask_floor", 0.0))
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
                    p[k] = np.asarray(p[k], dtype=np.float32)
            if "w_hh" in p:
                p["w_hh_t"] = _transposed(p["w_hh"], None, np.float64 if accum == "fp64" else np.float32)
            if lay.prec == "int8":
                p.update(tables)
            if lay.prec == "fp16":
                p["accum"] = accum
            self._steps.append((lay, p))
        self._first_fp16 = qmodel.layers[0].prec == "fp16"

    def init_state(self, batch: int | None = None) -> list:
        """Zero states, one entry per recurrent layer: (h, c) for LSTM, h for GRU; each of shape
        (H,), or (batch, H) for ``batch`` independent streams."""
        shape = lambda H: (H,) if batch is None else (batch, H)  # noqa: E731
        state = []
        for lay in self.q.layers:
            if lay.kind not in ("lstm", "gru"):
                continue
            H = lay.w_hh.shape[1]
            if lay.prec == "fp16":
                hdt = cdt = np.float16
            else:
                hdt, cdt = np.int8, (np.int8 if lay.attrs.get("c_bits", 8) == 8 else np.int16)
            h = np.zeros(shape(H), hdt)
            state.append((h, np.zeros(shape(H), cdt)) if lay.kind == "lstm" else h)
        return state

    def _forward(self, x, state):
        """x: (T, n_bins) or (T, B, n_bins) FP32 magnitudes -> (masks FP32 like x, new state)."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim not in (2, 3) or x.shape[-1] != self.n_bins:
            raise ValueError(f"expected magnitudes of shape (frames, {self.n_bins}), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("magnitudes must be finite")
        if self.input_roots:
            x = input_feature(x, self.input_roots)   # float32 square roots, as the firmware's
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
        # the attenuation limit, in FP32 after the output conversion (docs/numerics.md)
        return np.maximum(np.asarray(x, dtype=np.float32), self.mask_floor), new_state

    def step(self, mag, state=None):
        """One frame: mag (n_bins,) FP32 -> (mask (n_bins,) FP32, new state)."""
        if state is None:
            state = self.init_state()
        m, state = self._forward(np.asarray(mag)[None], state)
        return m[0], state

    def run(self, mags, state=None) -> np.ndarray:
        """All frames (T, n_bins) with the states carried (layer by layer: FC layers and the input
        side of recurrent layers see every frame at once; same result as T calls of ``step``)."""
        if state is None:
            state = self.init_state()
        return self._forward(mags, state)[0]

    __call__ = run

    def run_many(self, mags_list, batch: int = 4) -> list:
        """Several independent clips [(T_i, n_bins), ...] -> their masks: clips run side by side
        as a batch of streams (shorter ones padded at the end, which cannot change their earlier
        frames). INT8 layers give exactly what ``run`` gives; FP16 sums may be ordered
        differently (within the spec's tolerance)."""
        mags_list = [np.asarray(m, dtype=np.float32) for m in mags_list]
        out: list = [None] * len(mags_list)
        order = sorted(range(len(mags_list)), key=lambda i: len(mags_list[i]))
        for s in range(0, len(order), batch):
            idx = order[s:s + batch]
            T = max(len(mags_list[i]) for i in idx)
            x = np.zeros((T, len(idx), self.n_bins), np.float32)
            for j, i in enumerate(idx):
                x[:len(mags_list[i]), j] = mags_list[i]
            masks = self._forward(x, self.init_state(len(idx)))[0]
            for j, i in enumerate(idx):
                out[i] = masks[:len(mags_list[i]), j]
        return out
