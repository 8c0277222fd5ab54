"""Golden-model layers (rnnse.quant.golden) against literal implementations of docs/numerics.md.

The references below follow the spec's text one unit at a time with Python integers (INT8
layers: exact equality) or FP32 scalars in the spec's reference order (FP16 layers: within the
spec's bound). They share nothing with the golden model but the exported tables."""
import numpy as np
import pytest

from rnnse.quant import fixed, golden

SIG, TANH = fixed.SIGMOID_TABLE, fixed.TANH_TABLE


# ---------------------------------------------------------------------------------------------
# literal integer references

def sat(x, lo, hi):
    return max(lo, min(hi, x))


def rshr(x, s):
    return (x + (1 << (s - 1))) >> s          # Python ints: >> is a floor shift


def requant(acc, m, s):
    assert -2 ** 31 <= acc < 2 ** 31
    return sat((acc * m + (1 << (s - 1))) >> s, -2 ** 31, 2 ** 31 - 1)


def lookup(p, kind, mode):
    assert -32768 <= p <= 32767
    t = SIG if kind == "sig" else TANH
    u, bits = (p + 32768, 8) if kind == "sig" else (sat(p, -16384, 16383) + 16384, 7)
    if mode == "nearest":
        return int(t[(u + (1 << (bits - 1))) >> bits])
    i, f = u >> bits, u & ((1 << bits) - 1)
    return int(t[i]) + rshr((int(t[i + 1]) - int(t[i])) * f, bits)


def dot(row, v):
    return sum(int(a) * int(b) for a, b in zip(row, v))


def ref_fc_int8(x, w, b, mult, shift, act, table_mode):
    out = []
    for j in range(len(w)):
        r = requant(int(b[j]) + dot(w[j], x), int(mult[j]), int(shift[j]))
        if act == "relu":
            out.append(sat(r, 0, 127))
        elif act == "none":
            out.append(sat(r, -128, 127))
        else:
            out.append(lookup(sat(r, -32768, 32767), "sig", table_mode))
    return out


def ref_lstm_int8(x, h, c, p):
    H = len(h)
    pre = []
    for r in range(4 * H):
        ax = int(p["b"][r]) + dot(p["w_ih"][r], x)
        ah = dot(p["w_hh"][r], h)
        pre.append(sat(requant(ax, int(p["mult_x"][r]), int(p["shift_x"][r]))
                       + requant(ah, int(p["mult_h"][r]), int(p["shift_h"][r])), -32768, 32767))
    cmax = 127 if p["c_bits"] == 8 else 32767
    mode = p["table_mode"]
    h2, c2 = [], []
    for j in range(H):
        i = lookup(pre[j], "sig", mode)
        f = lookup(pre[H + j], "sig", mode)
        g = lookup(pre[2 * H + j], "tanh", mode)
        o = lookup(pre[3 * H + j], "sig", mode)
        cj = sat(rshr(f * int(c[j]), 15) + requant(i * g, p["c_mult"], p["c_shift"]), -cmax - 1, cmax)
        t = lookup(sat(requant(cj, p["ct_mult"], p["ct_shift"]), -32768, 32767), "tanh", mode)
        h2.append(sat(rshr(o * t, 23), -128, 127))
        c2.append(cj)
    return h2, c2


def ref_gru_int8(x, h, p):
    H = len(h)
    mode = p["table_mode"]
    xr, hr = [], []
    for r in range(3 * H):
        xr.append(requant(int(p["b"][r]) + dot(p["w_ih"][r], x), int(p["mult_x"][r]), int(p["shift_x"][r])))
        bh = int(p["b_hn"][r - 2 * H]) if r >= 2 * H else 0
        hr.append(requant(bh + dot(p["w_hh"][r], h), int(p["mult_h"][r]), int(p["shift_h"][r])))
    out = []
    for j in range(H):
        rg = lookup(sat(xr[j] + hr[j], -32768, 32767), "sig", mode)
        zg = lookup(sat(xr[H + j] + hr[H + j], -32768, 32767), "sig", mode)
        hn = sat(hr[2 * H + j], -32768, 32767)
        n = lookup(sat(xr[2 * H + j] + rshr(rg * hn, 15), -32768, 32767), "tanh", mode)
        out.append(sat(rshr((32768 - zg) * n + zg * (int(h[j]) * 256), 23), -128, 127))
    return out


# ---------------------------------------------------------------------------------------------
# random constants (wide ranges, so that every saturation is reached)

def mults(rng, n, lo, hi):
    return fixed.quantize_multipliers(np.exp(rng.uniform(np.log(lo), np.log(hi), n)))


def int8_rnn_params(rng, cell, K, H, c_bits=8, table_mode="nearest"):
    G = 4 if cell == "lstm" else 3
    p = {"w_ih": rng.integers(-127, 128, (G * H, K)).astype(np.int8),
         "w_hh": rng.integers(-127, 128, (G * H, H)).astype(np.int8),
         "b": rng.integers(-2 ** 18, 2 ** 18, G * H).astype(np.int32), "table_mode": table_mode}
    p["mult_x"], p["shift_x"] = mults(rng, G * H, 2e-3, 3.0)
    p["mult_h"], p["shift_h"] = mults(rng, G * H, 2e-3, 3.0)
    if cell == "lstm":
        s_c = rng.uniform(0.01, 0.2) if c_bits == 8 else rng.uniform(1e-4, 1e-3)
        p["c_mult"], p["c_shift"] = fixed.quantize_multiplier(2.0 ** -30 / s_c)
        p["ct_mult"], p["ct_shift"] = fixed.quantize_multiplier(s_c * 4096)
        p["c_bits"] = c_bits
    else:
        p["b_hn"] = rng.integers(-2 ** 18, 2 ** 18, H).astype(np.int32)
    return p


# ---------------------------------------------------------------------------------------------
# INT8 layers: exact

@pytest.mark.parametrize("act", ["relu", "none", "sigmoid"])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_fc_int8_exact(act, mode):
    rng = np.random.default_rng(10)
    N, K = 40, 37
    w = rng.integers(-127, 128, (N, K)).astype(np.int8)
    b = rng.integers(-2 ** 16, 2 ** 16, N).astype(np.int32)
    m, s = mults(rng, N, 1e-4, 0.5)
    xs = rng.integers(-128, 128, (6, K)).astype(np.int8)
    got = golden.fc_int8(xs, w, b, m, s, act, mode)
    assert got.dtype == (np.int16 if act == "sigmoid" else np.int8)
    for x, g in zip(xs, got):
        assert list(g) == ref_fc_int8(x, w, b, m, s, act, mode)
    np.testing.assert_array_equal(golden.fc_int8(xs[2], w, b, m, s, act, mode), got[2])
    vals = got.astype(int)
    if act == "relu":
        assert vals.min() == 0 and vals.max() == 127          # both ends reached
    elif act == "none":
        assert vals.min() == -128 and vals.max() == 127


@pytest.mark.parametrize("c_bits", [8, 16])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_lstm_int8_exact(c_bits, mode):
    rng = np.random.default_rng(20 + c_bits)
    K, H, T, B = 11, 6, 6, 3
    p = int8_rnn_params(rng, "lstm", K, H, c_bits, mode)
    xs = rng.integers(-128, 128, (T, B, K)).astype(np.int8)
    cdt = np.int8 if c_bits == 8 else np.int16
    h0 = rng.integers(-128, 128, (B, H)).astype(np.int8)
    c0 = rng.integers(np.iinfo(cdt).min, np.iinfo(cdt).max + 1, (B, H)).astype(cdt)
    hs, hT, cT = golden.lstm_int8_seq(xs, h0, c0, **p)
    assert hs.dtype == np.int8 and cT.dtype == cdt
    cs = []
    for b in range(B):
        h, c = list(h0[b]), list(c0[b])
        for t in range(T):
            h, c = ref_lstm_int8(xs[t, b], h, c, p)
            assert list(hs[t, b]) == h
        assert list(hT[b]) == h and list(cT[b]) == c
        cs += c
        # one stream (T, K) and frame by frame give the same integers
        hs1, h1, c1 = golden.lstm_int8_seq(xs[:, b], h0[b], c0[b], **p)
        np.testing.assert_array_equal(hs1, hs[:, b])
        hh, cc = h0[b], c0[b]
        for t in range(T):
            hh, cc = golden.lstm_int8_step(xs[t, b], hh, cc, **p)
        np.testing.assert_array_equal(hh, h1)
        np.testing.assert_array_equal(cc, c1)
    lim = 127 if c_bits == 8 else 32767
    assert max(abs(v) for v in cs) <= lim + 1


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_gru_int8_exact(mode):
    rng = np.random.default_rng(30)
    K, H, T, B = 9, 7, 6, 3
    p = int8_rnn_params(rng, "gru", K, H, table_mode=mode)
    xs = rng.integers(-128, 128, (T, B, K)).astype(np.int8)
    h0 = rng.integers(-128, 128, (B, H)).astype(np.int8)
    hs, hT = golden.gru_int8_seq(xs, h0, **p)
    for b in range(B):
        h = list(h0[b])
        for t in range(T):
            h = ref_gru_int8(xs[t, b], h, p)
            assert list(hs[t, b]) == h
        assert list(hT[b]) == h
        hh = h0[b]
        for t in range(T):
            hh = golden.gru_int8_step(xs[t, b], hh, **p)
        np.testing.assert_array_equal(hh, hT[b])


def test_int8_extremes_saturate_like_the_spec():
    """All-extreme inputs and states with the largest multipliers: every sat16/sat8 is hit."""
    rng = np.random.default_rng(40)
    K, H = 8, 5
    for cell in ("lstm", "gru"):
        p = int8_rnn_params(rng, cell, K, H, 16, "linear")
        G = 4 if cell == "lstm" else 3
        p["mult_x"], p["shift_x"] = fixed.quantize_multipliers(np.full(G * H, 200.0))
        p["mult_h"], p["shift_h"] = fixed.quantize_multipliers(np.full(G * H, 200.0))
        x = np.full(K, -128, np.int8)
        h = np.full(H, 127, np.int8)
        if cell == "lstm":
            c = np.full(H, 32767, np.int16)
            got = golden.lstm_int8_step(x, h, c, **p)
            want = ref_lstm_int8(x, h, c, p)
            assert list(got[0]) == want[0] and list(got[1]) == want[1]
        else:
            assert list(golden.gru_int8_step(x, h, **p)) == ref_gru_int8(x, h, p)


def test_recurrent_state_shape_errors():
    rng = np.random.default_rng(41)
    p = int8_rnn_params(rng, "gru", 4, 3)
    with pytest.raises(ValueError):
        golden.gru_int8_seq(np.zeros((2, 2, 4), np.int8), np.zeros(3, np.int8), **p)
    with pytest.raises(ValueError):
        golden.lstm_int8_seq(np.zeros((2, 4), np.int8), np.zeros(3, np.int8), np.zeros(3, np.int8),
                             **{**int8_rnn_params(rng, "lstm", 4, 3), "c_bits": 12})


# ---------------------------------------------------------------------------------------------
# FP16 layers: within the spec's bound

def ulp16(v):
    """Spacing of binary16 numbers at |v| (subnormal spacing below 2^-14)."""
    a = np.maximum(np.abs(np.asarray(v, np.float64)), 2.0 ** -14)
    return 2.0 ** (np.floor(np.log2(a)) - 10)


def ulp32(v):
    a = np.maximum(np.abs(np.asarray(v, np.float64)), 2.0 ** -126)
    return 2.0 ** (np.floor(np.log2(a)) - 23)


def fp16_bound(y_a, y_b, w, x, b):
    """docs/numerics.md, "FP16 layers": per-output bound between two conforming FC kernels."""
    K = w.shape[1]
    mag = np.abs(b.astype(np.float64)) + np.abs(w.astype(np.float64)) @ np.abs(x.astype(np.float64))
    big = np.maximum(np.abs(y_a.astype(np.float64)), np.abs(y_b.astype(np.float64)))
    return ulp16(big) + 2 * (K + 1) * 2.0 ** -24 * mag + 4 * ulp32(big)


@pytest.mark.parametrize("act", ["relu", "none", "sigmoid"])
def test_fc_fp16_fast_path_within_bound_of_reference_order(act):
    rng = np.random.default_rng(50)
    N, K = 96, 257
    w = (rng.standard_normal((N, K)) * 0.08).astype(np.float16)
    b = (rng.standard_normal(N) * 0.3).astype(np.float16)
    worst = 0.0
    for trial in range(8):
        x = (np.abs(rng.standard_normal(K)) * 10.0 ** rng.uniform(-2, 1.5)).astype(np.float16)
        ref = golden.fc_fp16_ref(x, w, b, act).astype(np.float64)
        for accum in ("fp32", "fp64"):
            y = golden.fc_fp16(x, w, b, act, accum=accum).astype(np.float64)
            assert y.dtype == np.float64
            d = np.abs(y - ref)
            bound = fp16_bound(y, ref, w, x, b)
            assert np.all(d <= bound), (act, accum, float((d - bound).max()))
            worst = max(worst, float((d / ulp16(np.maximum(np.abs(y), np.abs(ref)))).max()))
        # against the exact result (float64 sums): one FP16 rounding plus the FP32 sum error
        exact = b.astype(np.float64) + w.astype(np.float64) @ x.astype(np.float64)
        exact = {"relu": np.maximum(exact, 0), "none": exact, "sigmoid": 1 / (1 + np.exp(-exact))}[act]
        assert np.all(np.abs(ref - exact) <= fp16_bound(ref, ref, w, x, b))
    assert worst <= 1.0          # the orders split at most one FP16 rounding


def test_fc_fp16_sequential_order_is_the_portable_kernels():
    """accum="seq": FP32 sums from 0 in the order k = 0..K-1, the bias added last, bit for bit
    with a scalar loop in that order (the portable C kernel's order)."""
    rng = np.random.default_rng(51)
    N, K = 24, 260
    w = (rng.standard_normal((N, K)) * 0.1).astype(np.float16)
    b = (rng.standard_normal(N) * 0.3).astype(np.float16)
    x = (np.abs(rng.standard_normal((3, K))) * 4).astype(np.float16)
    got = golden.fc_fp16(x, w, b, "none", accum="seq")
    f32 = np.float32
    for t in range(3):
        for r in range(N):
            acc = f32(0)
            for k in range(K):
                acc = f32(acc + f32(w[r, k]) * f32(x[t, k]))
            assert got[t, r] == np.float16(f32(f32(b[r]) + acc)), (t, r)
    with pytest.raises(ValueError, match="accum must be"):
        golden.fc_fp16(x, w, b, "none", accum="fp16")


def ref_lstm_fp16(x, h, c, w_ih, w_hh, b):
    """Reference order in FP32 scalars: acc = b, add the x products, then the h products."""
    f32 = np.float32
    H = len(h)
    p = []
    for r in range(4 * H):
        acc = f32(b[r])
        for k in range(len(x)):
            acc = f32(acc + f32(w_ih[r, k]) * f32(x[k]))
        for k in range(H):
            acc = f32(acc + f32(w_hh[r, k]) * f32(h[k]))
        p.append(acc)
    sig = lambda v: f32(f32(1) / f32(f32(1) + np.exp(-v)))  # noqa: E731
    hn, cn = [], []
    for j in range(H):
        i, f, g, o = sig(p[j]), sig(p[H + j]), np.tanh(p[2 * H + j]), sig(p[3 * H + j])
        c32 = f32(f32(f * f32(c[j])) + f32(i * g))
        hn.append(np.float16(f32(o * np.tanh(c32))))
        cn.append(np.float16(c32))
    return np.array(hn), np.array(cn)


def ref_gru_fp16(x, h, w_ih, w_hh, b, b_hn):
    f32 = np.float32
    H = len(h)

    def dotf(row, v, acc):
        for k in range(len(v)):
            acc = f32(acc + f32(row[k]) * f32(v[k]))
        return acc

    sig = lambda v: f32(f32(1) / f32(f32(1) + np.exp(-v)))  # noqa: E731
    out = []
    for j in range(H):
        r = sig(dotf(w_hh[j], h, dotf(w_ih[j], x, f32(b[j]))))
        z = sig(dotf(w_hh[H + j], h, dotf(w_ih[H + j], x, f32(b[H + j]))))
        hn = dotf(w_hh[2 * H + j], h, f32(b_hn[j]))
        n = np.tanh(f32(dotf(w_ih[2 * H + j], x, f32(b[2 * H + j])) + f32(r * hn)))
        out.append(np.float16(f32(f32(f32(1) - z) * n) + f32(z * f32(h[j]))))
    return np.array(out)


def test_lstm_and_gru_fp16_step_against_reference_order():
    rng = np.random.default_rng(60)
    K, H = 13, 8
    worst = 0.0
    for trial in range(6):
        x = rng.standard_normal(K).astype(np.float16)
        h = (rng.uniform(-1, 1, H)).astype(np.float16)
        c = (rng.standard_normal(H) * 2).astype(np.float16)
        w_ih = (rng.standard_normal((4 * H, K)) * 0.4).astype(np.float16)
        w_hh = (rng.standard_normal((4 * H, H)) * 0.4).astype(np.float16)
        b = (rng.standard_normal(4 * H) * 0.3).astype(np.float16)
        gh, gc = golden.lstm_fp16_step(x, h, c, w_ih=w_ih, w_hh=w_hh, b=b)
        rh, rc = ref_lstm_fp16(x, h, c, w_ih, w_hh, b)
        assert gh.dtype == gc.dtype == np.float16
        for g_, r_ in ((gh, rh), (gc, rc)):
            d = np.abs(g_.astype(np.float64) - r_.astype(np.float64))
            u = ulp16(np.maximum(np.abs(g_.astype(np.float64)), np.abs(r_.astype(np.float64))))
            worst = max(worst, float((d / u).max()))
        w3_ih, w3_hh = w_ih[:3 * H], w_hh[:3 * H]
        b3, bhn = b[:3 * H], b[3 * H:]
        g = golden.gru_fp16_step(x, h, w_ih=w3_ih, w_hh=w3_hh, b=b3, b_hn=bhn)
        r = ref_gru_fp16(x, h, w3_ih, w3_hh, b3, bhn)
        d = np.abs(g.astype(np.float64) - r.astype(np.float64))
        worst = max(worst, float((d / ulp16(np.maximum(np.abs(g.astype(float)), np.abs(r.astype(float))))).max()))
    assert worst <= 1.0


def test_fp16_recurrent_batch_equals_single_streams():
    """The batched (T, B, K) path gives each stream what its own run gives (within one FP16 ulp:
    BLAS may block a matrix product differently from a vector product)."""
    rng = np.random.default_rng(61)
    K, H, T, B = 10, 6, 5, 3
    w_ih = (rng.standard_normal((4 * H, K)) * 0.4).astype(np.float16)
    w_hh = (rng.standard_normal((4 * H, H)) * 0.4).astype(np.float16)
    b = (rng.standard_normal(4 * H) * 0.3).astype(np.float16)
    xs = rng.standard_normal((T, B, K)).astype(np.float16)
    z = np.zeros((B, H), np.float16)
    hs, _, _ = golden.lstm_fp16_seq(xs, z, z, w_ih=w_ih, w_hh=w_hh, b=b)
    for s in range(B):
        h1, _, _ = golden.lstm_fp16_seq(xs[:, s], z[s], z[s], w_ih=w_ih, w_hh=w_hh, b=b)
        d = np.abs(h1.astype(np.float64) - hs[:, s].astype(np.float64))
        assert np.all(d <= ulp16(np.abs(h1.astype(np.float64)) + d))


def test_rounding_ties_go_up():
    """Gates at exactly 1/2 (pre-activation 0 -> SIG = 16384) make f*c and r*hn land on rounding
    ties for odd c / hn: the golden model must round them up as the spec's rshr does."""
    rng = np.random.default_rng(42)
    K, H, B = 6, 16, 4
    p = int8_rnn_params(rng, "lstm", K, H, 16, "nearest")
    for a in ("w_ih", "w_hh"):
        p[a][H:2 * H] = 0                         # forget gate pre-activation 0
    p["b"][H:2 * H] = 0
    x = rng.integers(-128, 128, (B, K)).astype(np.int8)
    h = rng.integers(-128, 128, (B, H)).astype(np.int8)
    c = (rng.integers(-2000, 2000, (B, H)) * 2 + 1).astype(np.int16)      # odd: f*c is a tie
    assert fixed.sig_q15(0) == 16384
    hh, cc = golden.lstm_int8_step(x, h, c, **p)
    for s in range(B):
        want = ref_lstm_int8(x[s], h[s], c[s], p)
        assert list(hh[s]) == want[0] and list(cc[s]) == want[1]
    # GRU: r = 1/2 makes r*hn a tie for odd hn; moderate scales (no saturation) and z ~ 0 let
    # the rounding show in h
    H = 64
    q = int8_rnn_params(rng, "gru", K, H, table_mode="linear")
    q["mult_x"], q["shift_x"] = mults(rng, 3 * H, 1e-3, 2e-2)
    q["mult_h"], q["shift_h"] = mults(rng, 3 * H, 1e-3, 2e-2)
    for a in ("w_ih", "w_hh"):
        q[a][:2 * H] = 0                          # r pre-activation 0, z pre-activation from b
    q["b"][:H] = 0
    q["b"][H:2 * H] = -2 ** 30                    # z = SIG(-8): the new state passes through
    h = rng.integers(-128, 128, (B, H)).astype(np.int8)
    got = golden.gru_int8_step(x, h, **q)
    for s in range(B):
        assert list(got[s]) == ref_gru_int8(x[s], h[s], q)
