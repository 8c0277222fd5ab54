"""Firmware layer kernels (host build, through cffi) against the numpy golden model.

INT8 kernels must match rnnse.quant.golden bit for bit; FP16 kernels must stay within the bound
of docs/numerics.md ("FP16 layers"). Every layer is packed by rnnse.export.pack_model (the bytes
the firmware gets) and run through rnnse_harness_layer on 1..8 cores, with DMA tiles small
enough to force several ping-pong rounds.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnse import native
from rnnse.quant import fixed, golden
from rnnse.quant.qmodel import Layer

CORES = (1, 2, 3, 8)
SIZES = (1, 7, 255, 257)
U32 = 2.0 ** -24          # unit roundoff of FP32


@pytest.fixture(scope="module")
def lib():
    return native.load()


# ---------------------------------------------------------------------------------------------
# random layers with the constants of docs/numerics.md

def _w8(rng, shape, extreme=False):
    if extreme:
        return rng.choice(np.array([-127, 127], np.int8), size=shape)
    return rng.integers(-127, 128, size=shape).astype(np.int8)


def _mults(rng, n, scale_log2, spread=2.0, extreme=False):
    """(mult, shift) per row for real scales 2^(scale_log2 +- spread); extreme: corner values."""
    if extreme:
        mult = rng.choice(np.array([0, 1, 2 ** 30, 2 ** 31 - 1], np.int64), size=n)
        shift = rng.choice(np.array([1, 2, 15, 31, 62]), size=n)
        return mult.astype(np.int32), shift.astype(np.uint8)
    scales = 2.0 ** (scale_log2 + rng.uniform(-spread, spread, n))
    return fixed.quantize_multipliers(scales)


def _bias(rng, n, bits=18, extreme=False):
    if extreme:
        return rng.choice(np.array([-(1 << 30), 0, 1 << 30], np.int64), size=n).astype(np.int32)
    return rng.integers(-(1 << bits), 1 << bits, size=n).astype(np.int32)


def _dot_log2(k):
    """log2 of the typical magnitude of an int8 x int8 dot product of k terms."""
    return np.log2(74.0 * 73.0 * np.sqrt(max(k, 1)))


def fc_int8(rng, n, k, act, mode="nearest", extreme=False):
    target = 12.0 if act == "sigmoid" else 6.5          # Q3.12 values / int8 outputs
    mult, shift = _mults(rng, n, target - _dot_log2(k), extreme=extreme)
    return Layer("fc", "fc", "int8", {"w": _w8(rng, (n, k), extreme), "b": _bias(rng, n, extreme=extreme),
                                      "mult": mult, "shift": shift}, {"act": act, "table_mode": mode})


def lstm_int8(rng, h, k, c_bits=8, mode="nearest", extreme=False):
    mx, sx = _mults(rng, 4 * h, 13.5 - _dot_log2(k), extreme=extreme)
    mh, sh = _mults(rng, 4 * h, 13.0 - _dot_log2(h), extreme=extreme)
    s_c = 2.0 ** (rng.uniform(-7, -4) if c_bits == 8 else rng.uniform(-14, -11))
    c_mult, c_shift = fixed.quantize_multiplier(2.0 ** -30 / s_c)
    ct_mult, ct_shift = fixed.quantize_multiplier(s_c * 2.0 ** 12)
    if extreme:
        c_mult, c_shift = int(rng.choice([0, 2 ** 31 - 1])), int(rng.choice([1, 20, 62]))
        ct_mult, ct_shift = int(rng.choice([0, 2 ** 31 - 1])), int(rng.choice([1, 20, 62]))
    return Layer("lstm", "lstm", "int8",
                 {"w_ih": _w8(rng, (4 * h, k), extreme), "w_hh": _w8(rng, (4 * h, h), extreme),
                  "b": _bias(rng, 4 * h, extreme=extreme), "mult_x": mx, "shift_x": sx, "mult_h": mh,
                  "shift_h": sh},
                 {"c_mult": c_mult, "c_shift": c_shift, "ct_mult": ct_mult, "ct_shift": ct_shift,
                  "c_bits": c_bits, "table_mode": mode})


def gru_int8(rng, h, k, mode="nearest", extreme=False):
    mx, sx = _mults(rng, 3 * h, 13.5 - _dot_log2(k), extreme=extreme)
    mh, sh = _mults(rng, 3 * h, 13.0 - _dot_log2(h), extreme=extreme)
    return Layer("gru", "gru", "int8",
                 {"w_ih": _w8(rng, (3 * h, k), extreme), "w_hh": _w8(rng, (3 * h, h), extreme),
                  "b": _bias(rng, 3 * h, extreme=extreme), "b_hn": _bias(rng, h, bits=16, extreme=extreme),
                  "mult_x": mx, "shift_x": sx, "mult_h": mh, "shift_h": sh},
                 {"table_mode": mode})


def _f16(rng, shape, scale):
    return (rng.standard_normal(shape) * scale).astype(np.float16)


def fc_fp16(rng, n, k, act):
    return Layer("fc", "fc", "fp16", {"w": _f16(rng, (n, k), 1 / np.sqrt(k)), "b": _f16(rng, n, 0.3)},
                 {"act": act})


def lstm_fp16(rng, h, k):
    return Layer("lstm", "lstm", "fp16", {"w_ih": _f16(rng, (4 * h, k), 1 / np.sqrt(k)),
                                          "w_hh": _f16(rng, (4 * h, h), 1 / np.sqrt(h)),
                                          "b": _f16(rng, 4 * h, 0.5)}, {})


def gru_fp16(rng, h, k):
    return Layer("gru", "gru", "fp16", {"w_ih": _f16(rng, (3 * h, k), 1 / np.sqrt(k)),
                                        "w_hh": _f16(rng, (3 * h, h), 1 / np.sqrt(h)),
                                        "b": _f16(rng, 3 * h, 0.5), "b_hn": _f16(rng, h, 0.3)}, {})


def x8(rng, n, extreme=False):
    if extreme:
        return rng.choice(np.array([-128, 127], np.int8), size=n)
    return rng.integers(-128, 128, size=n).astype(np.int8)


def c_state(rng, h, c_bits):
    lim = 128 if c_bits == 8 else 32768
    return rng.integers(-lim, lim, size=h).astype(np.int8 if c_bits == 8 else np.int16)


def tile_cap(n, cores, rounds=3):
    """Records per tile that give every core with work at least `rounds` DMA tiles (when its
    slice has that many records)."""
    slice_min = max(1, n // cores)
    return max(1, slice_min // rounds)


# ---------------------------------------------------------------------------------------------
# golden references

def golden_layer(layer, x, h=None, c=None):
    p = layer.params()
    if layer.kind == "fc":
        return (golden.fc_int8 if layer.prec == "int8" else golden.fc_fp16)(x, **p)
    if layer.kind == "lstm":
        return (golden.lstm_int8_step if layer.prec == "int8" else golden.lstm_fp16_step)(x, h, c, **p)
    return (golden.gru_int8_step if layer.prec == "int8" else golden.gru_fp16_step)(x, h, **p)


def ulp16(v):
    """Spacing of FP16 numbers at |v| (2^-24 below the normal range)."""
    a = np.abs(np.asarray(v, np.float32))
    e = np.floor(np.log2(np.maximum(a, 2.0 ** -14)))
    return 2.0 ** (e - 10)


def ulp32(v):
    return np.spacing(np.abs(np.asarray(v, np.float32))).astype(np.float64)


def fc_fp16_bound(layer, x, y_ref):
    """docs/numerics.md: ulp16(|y|) + 2 (K+1) 2^-24 (|b| + sum |w x|) * lip + 4 ulp32(|y|)."""
    w = layer.w.astype(np.float64)
    b = layer.b.astype(np.float64)
    k = w.shape[1]
    mag = np.abs(b) + np.abs(w) @ np.abs(x.astype(np.float64))
    lip = 0.25 if layer.act == "sigmoid" else 1.0
    return ulp16(y_ref) + 2 * (k + 1) * U32 * mag * lip + 4 * ulp32(y_ref) + 1e-30


def rnn_fp16_bound(layer, x, h, c=None):
    """First-order propagation of the spec's per-output bound through one LSTM/GRU step for the
    same (h, c): bounds on h' (and c')."""
    H = layer.w_hh.shape[1]
    K = layer.w_ih.shape[1]
    xf, hf = x.astype(np.float64), h.astype(np.float64)
    ax = np.abs(layer.w_ih.astype(np.float64)) @ np.abs(xf)
    ah = np.abs(layer.w_hh.astype(np.float64)) @ np.abs(hf)
    b = np.abs(layer.b.astype(np.float64))
    u = 8 * U32                                     # activation implementations, a few ulp32
    if layer.kind == "lstm":
        ep = 2 * (K + H + 1) * U32 * (b + ax + ah)
        ei, ef, eg, eo = (ep[g * H:(g + 1) * H] for g in range(4))
        ei, ef, eo = ei / 4 + u, ef / 4 + u, eo / 4 + u
        eg = eg + u
        cf = np.abs(c.astype(np.float64))
        ec = cf * ef + eg + ei + 4 * u * (cf + 1)
        eh = ec + eo + 2 * u
        return eh, ec
    erz = 2 * (K + H + 1) * U32 * (b[:2 * H] + ax[:2 * H] + ah[:2 * H])
    exn = 2 * (K + 1) * U32 * (b[2 * H:] + ax[2 * H:])
    bhn = np.abs(layer.b_hn.astype(np.float64))
    ehn = 2 * (H + 1) * U32 * (bhn + ah[2 * H:])
    er, ez = erz[:H] / 4 + u, erz[H:] / 4 + u
    hn = bhn + ah[2 * H:]
    en = exn + er * hn + ehn + u * (1 + hn)
    eh = en + ez * (1 + np.abs(hf)) + 4 * u
    return eh


def assert_within(got, ref, bound, what):
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    total = ulp16(ref) + bound
    bad = np.abs(got - ref) > total
    assert not bad.any(), (f"{what}: {bad.sum()} of {bad.size} outside the bound; worst "
                           f"|diff| {np.abs(got - ref)[bad].max():.3g} vs bound {total[bad].min():.3g}")


def check_int8(lib, layer, x, h=None, c=None, *, cores=1, max_tile=0):
    got = lib.layer(layer, x, h, c, cores=cores, max_tile=max_tile)
    ref = golden_layer(layer, x, h, c)
    if layer.kind == "lstm":
        np.testing.assert_array_equal(got[0], ref[0], err_msg="h'")
        np.testing.assert_array_equal(got[1], ref[1], err_msg="c'")
        assert got[1].dtype == ref[1].dtype
    else:
        np.testing.assert_array_equal(got, ref)
        assert got.dtype == ref.dtype
    return got


def check_fp16(lib, layer, x, h=None, c=None, *, cores=1, max_tile=0):
    got = lib.layer(layer, x, h, c, cores=cores, max_tile=max_tile)
    ref = golden_layer(layer, x, h, c)
    if layer.kind == "fc":
        assert got.dtype == np.float16
        bound = fc_fp16_bound(layer, x, ref)
        assert_within(got, ref, bound - ulp16(ref), "fc fp16")
    elif layer.kind == "lstm":
        eh, ec = rnn_fp16_bound(layer, x, h, c)
        assert_within(got[0], ref[0], eh, "lstm fp16 h'")
        assert_within(got[1], ref[1], ec, "lstm fp16 c'")
    else:
        assert_within(got, ref, rnn_fp16_bound(layer, x, h), "gru fp16 h'")
    return got


# ---------------------------------------------------------------------------------------------
# INT8: bit-exact on every core count and size, with >= 3 DMA rounds

@pytest.mark.parametrize("act", ["relu", "none", "sigmoid"])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("cores", CORES)
def test_fc_int8_bit_exact(lib, act, n, cores):
    rng = np.random.default_rng([n, cores, len(act)])
    k = int(rng.choice([1, 7, 256, 257]))
    mode = "linear" if n % 2 else "nearest"
    layer = fc_int8(rng, n, k, act, mode)
    check_int8(lib, layer, x8(rng, k), cores=cores, max_tile=tile_cap(n, cores))


@pytest.mark.parametrize("c_bits,mode", [(8, "nearest"), (16, "linear"), (8, "linear"), (16, "nearest")])
@pytest.mark.parametrize("h", SIZES)
@pytest.mark.parametrize("cores", CORES)
def test_lstm_int8_bit_exact(lib, c_bits, mode, h, cores):
    rng = np.random.default_rng([h, cores, c_bits, len(mode)])
    k = int(rng.choice([7, 255, 257]))
    layer = lstm_int8(rng, h, k, c_bits, mode)
    check_int8(lib, layer, x8(rng, k), x8(rng, h), c_state(rng, h, c_bits), cores=cores,
               max_tile=tile_cap(h, cores))


@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("h", SIZES)
@pytest.mark.parametrize("cores", CORES)
def test_gru_int8_bit_exact(lib, mode, h, cores):
    rng = np.random.default_rng([h, cores, len(mode), 3])
    k = int(rng.choice([7, 255, 257]))
    layer = gru_int8(rng, h, k, mode)
    check_int8(lib, layer, x8(rng, k), x8(rng, h), cores=cores, max_tile=tile_cap(h, cores))


@pytest.mark.parametrize("kind", ["fc-relu", "fc-none", "fc-sigmoid", "lstm8", "lstm16", "gru"])
@pytest.mark.parametrize("seed", range(4))
def test_int8_saturation_corners(lib, kind, seed):
    """Extreme multipliers and shifts (0, 1, 2^31-1; shifts 1..62), +-2^30 biases, all-extreme
    weights and inputs: every saturation in the spec is reached and must match."""
    rng = np.random.default_rng([seed, len(kind)])
    n, k = 33, 64
    mode = ("nearest", "linear")[seed % 2]
    x = x8(rng, k, extreme=True)
    if kind.startswith("fc"):
        layer = fc_int8(rng, n, k, kind[3:], mode, extreme=True)
        check_int8(lib, layer, x, cores=3, max_tile=4)
    elif kind.startswith("lstm"):
        cb = int(kind[4:])
        layer = lstm_int8(rng, n, k, cb, mode, extreme=True)
        c = np.full(n, 127 if cb == 8 else 32767, np.int8 if cb == 8 else np.int16) * rng.choice([-1, 1], n)
        check_int8(lib, layer, x, x8(rng, n, extreme=True), c.astype(c.dtype), cores=3, max_tile=4)
    else:
        layer = gru_int8(rng, n, k, mode, extreme=True)
        check_int8(lib, layer, x, x8(rng, n, extreme=True), cores=3, max_tile=4)


def test_saturation_is_reached(lib):
    """The corner-case generator really drives the kernels into saturation (so the test above
    checks the saturating paths, not only ordinary values)."""
    rng = np.random.default_rng(5)
    layer = fc_int8(rng, 64, 64, "none", extreme=True)
    y = lib.layer(layer, x8(rng, 64, extreme=True))
    assert (y == 127).any() and (y == -128).any()
    layer = lstm_int8(rng, 64, 64, 16, extreme=True)
    h, c = lib.layer(layer, x8(rng, 64, extreme=True), x8(rng, 64, extreme=True), c_state(rng, 64, 16))
    assert (np.abs(c.astype(np.int32)) >= 32767).any()
    assert (h == 127).any() or (h == -128).any()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["fc", "lstm", "gru"]), n=st.integers(1, 70), k=st.integers(1, 70),
       cores=st.integers(1, 8), tile=st.integers(0, 9), seed=st.integers(0, 2 ** 32 - 1),
       mode=st.sampled_from(["nearest", "linear"]), c_bits=st.sampled_from([8, 16]))
def test_int8_property(lib, kind, n, k, cores, tile, seed, mode, c_bits):
    rng = np.random.default_rng(seed)
    if kind == "fc":
        act = str(rng.choice(["relu", "none", "sigmoid"]))
        check_int8(lib, fc_int8(rng, n, k, act, mode), x8(rng, k), cores=cores, max_tile=tile)
    elif kind == "lstm":
        check_int8(lib, lstm_int8(rng, n, k, c_bits, mode), x8(rng, k), x8(rng, n), c_state(rng, n, c_bits),
                   cores=cores, max_tile=tile)
    else:
        check_int8(lib, gru_int8(rng, n, k, mode), x8(rng, k), x8(rng, n), cores=cores, max_tile=tile)


def test_int8_state_sequence(lib):
    """Twenty steps with the state fed back (the recurrent kernels as the network uses them)."""
    rng = np.random.default_rng(11)
    for layer in (lstm_int8(rng, 40, 24, 16, "linear"), gru_int8(rng, 40, 24, "nearest")):
        h = np.zeros(40, np.int8)
        c = np.zeros(40, np.int16)
        for t in range(20):
            x = x8(rng, 24)
            if layer.kind == "lstm":
                h, c = check_int8(lib, layer, x, h, c, cores=2, max_tile=6)
            else:
                h = check_int8(lib, layer, x, h, cores=2, max_tile=6)
        assert np.abs(h.astype(int)).max() > 0


def test_weights_from_the_quantizer(lib):
    """Layers made by the real quantizer (rnnse quantize) of a random float model."""
    import torch

    from rnnse.models import ModelConfig, SEModel
    from rnnse.quant import quantize

    torch.manual_seed(3)
    rng = np.random.default_rng(3)
    m = SEModel(ModelConfig(cell="lstm", hidden=48, fc_in=40, fc_out=36)).eval()
    mags = [np.abs(rng.standard_normal((40, 257))).astype(np.float32) * 2]
    for scheme in ("int8", "int8+"):
        q = quantize(m, scheme, calib_mags=mags)
        for lay in q.layers:
            if lay.prec != "int8":
                continue
            k = (lay.w if lay.kind == "fc" else lay.w_ih).shape[1]
            if lay.kind == "fc":
                check_int8(lib, lay, x8(rng, k), cores=2, max_tile=5)
            elif lay.kind == "lstm":
                check_int8(lib, lay, x8(rng, k), x8(rng, 48), c_state(rng, 48, lay.c_bits), cores=2, max_tile=5)


# ---------------------------------------------------------------------------------------------
# conversions

def test_quant_fp32_and_fp16(lib):
    rng = np.random.default_rng(1)
    special = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 126.5, 127.49, 127.5, 1e30, -1e30, -128.5, -127.5,
                        -0.0, 1e-30, 3.4e38, -3.4e38], np.float32)
    x = np.concatenate([rng.standard_normal(241).astype(np.float32) * 60, special])
    for cores in (1, 3):
        for inv in (1.0, 0.37, 1 / 0.013, 1e-3):
            inv = float(np.float32(inv))
            L = native.conversion_layer("quant", len(x), inv, native.FP32, native.INT8)
            with np.errstate(over="ignore"):
                np.testing.assert_array_equal(lib.layer(L, x, cores=cores), fixed.quant_fp(x, inv))
            x16 = fixed.to_fp16(x)
            L = native.conversion_layer("quant", len(x), inv, native.FP16, native.INT8)
            np.testing.assert_array_equal(lib.layer(L, x16, cores=cores), fixed.quant_fp(x16, inv))


def test_quant_per_element_scales(lib):
    """A quant step with one inv_scale per element (the int8 schemes' per-bin input scales)."""
    rng = np.random.default_rng(2)
    for n in (1, 7, 257):
        x = np.abs(rng.standard_normal(n)).astype(np.float32) * np.exp(rng.uniform(-6, 3, n)).astype(np.float32)
        x[::5] *= -1
        inv = np.exp(rng.uniform(-2, 8, n)).astype(np.float32)
        want = fixed.quant_fp(x, inv)
        assert len(np.unique(want)) > min(n, 3) - 1 or n == 1
        for cores in (1, 2, 3, 8):
            L = native.conversion_layer("quant", n, inv, native.FP32, native.INT8)
            np.testing.assert_array_equal(lib.layer(L, x, cores=cores), want)
            L = native.conversion_layer("quant", n, inv, native.FP16, native.INT8)
            x16 = fixed.to_fp16(x)
            np.testing.assert_array_equal(lib.layer(L, x16, cores=cores), fixed.quant_fp(x16, inv))
    # one scale per element is not the same as the mean scale
    inv = np.linspace(1.0, 100.0, 257).astype(np.float32)
    x = np.full(257, 0.5, np.float32)
    got = lib.layer(native.conversion_layer("quant", 257, inv, native.FP32, native.INT8), x)
    assert got[0] == 0 and got[-1] == 50 and np.all(np.diff(got.astype(int)) >= 0)


@pytest.mark.parametrize("in_type,out", [(native.INT8, "fp16"), (native.INT8, "fp32"), (native.INT16, "fp32"),
                                         (native.INT16, "fp16")])
def test_dequant(lib, in_type, out):
    rng = np.random.default_rng(2)
    dt = np.int8 if in_type == native.INT8 else np.int16
    info = np.iinfo(dt)
    q = np.concatenate([rng.integers(info.min, info.max + 1, 250), [info.min, info.max, 0, -1, 1, 3, -3]]).astype(dt)
    out_type = native.FP16 if out == "fp16" else native.FP32
    for scale in (2.0 ** -7, 2.0 ** -15, 0.0123, 3.0, 1e4):   # 1e4: FP16 outputs saturate at 65504
        L = native.conversion_layer("dequant", len(q), scale, in_type, out_type)
        for cores in (1, 8):
            got = lib.layer(L, q, cores=cores)
            ref = fixed.dequant_fp(q, scale, out)
            assert got.dtype == ref.dtype
            np.testing.assert_array_equal(got, ref)


# ---------------------------------------------------------------------------------------------
# FP16: within the spec's bound

@pytest.mark.parametrize("act", ["relu", "none", "sigmoid"])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("cores", CORES)
def test_fc_fp16_within_bound(lib, act, n, cores):
    rng = np.random.default_rng([n, cores, len(act), 16])
    k = int(rng.choice([1, 7, 256, 257]))
    layer = fc_fp16(rng, n, k, act)
    x = _f16(rng, k, 2.0)
    check_fp16(lib, layer, x, cores=cores, max_tile=tile_cap(n, cores))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("h", SIZES)
@pytest.mark.parametrize("cores", CORES)
def test_rnn_fp16_within_bound(lib, kind, h, cores):
    rng = np.random.default_rng([h, cores, len(kind), 16])
    k = int(rng.choice([7, 255, 257]))
    layer = (lstm_fp16 if kind == "lstm" else gru_fp16)(rng, h, k)
    x = _f16(rng, k, 1.0)
    hs = _f16(rng, h, 0.5)
    c = _f16(rng, h, 1.5) if kind == "lstm" else None
    check_fp16(lib, layer, x, hs, c, cores=cores, max_tile=tile_cap(h, cores))


def test_fp16_saturation(lib):
    """Huge FP16 weights and inputs: FC outputs saturate to +-65504 (never inf), the sigmoid to 0/1,
    LSTM/GRU states stay in [-1, 1] / finite."""
    n, k = 20, 40
    rng = np.random.default_rng(4)
    sign = rng.choice([-1.0, 1.0], (n, k)).astype(np.float16)
    w = (sign * 60000).astype(np.float16)
    w[:, :] = np.where(np.arange(n)[:, None] % 2 == 0, np.abs(w), -np.abs(w))
    x = np.full(k, 60000, np.float16)
    b = np.zeros(n, np.float16)
    for act in ("none", "relu", "sigmoid"):
        layer = Layer("fc", "fc", "fp16", {"w": w, "b": b}, {"act": act})
        y = lib.layer(layer, x, cores=2).astype(np.float32)
        ref = golden.fc_fp16(x, w, b, act).astype(np.float32)
        np.testing.assert_array_equal(y, ref)
        assert np.all(np.isfinite(y))
    # recurrent layers: pre-activations of +-1e9 and more saturate every sigmoid/tanh exactly
    big = lambda shape: (rng.choice([-1.0, 1.0], shape) * rng.uniform(2e4, 6e4, shape)).astype(np.float16)  # noqa
    h0 = rng.uniform(-1, 1, n).astype(np.float16)
    c0 = big(n)
    lay = Layer("lstm", "l", "fp16", {"w_ih": big((4 * n, k)), "w_hh": big((4 * n, n)), "b": big(4 * n)}, {})
    h, c = lib.layer(lay, x, h0, c0, cores=3)
    rh, rc = golden.lstm_fp16_step(x, h0, c0, **lay.params())
    np.testing.assert_array_equal(h, rh)
    np.testing.assert_array_equal(c, rc)
    assert np.all(np.abs(h.astype(np.float32)) <= 1) and np.all(np.isfinite(c.astype(np.float32)))
    lay = Layer("gru", "g", "fp16", {"w_ih": big((3 * n, k)), "w_hh": big((3 * n, n)), "b": big(3 * n),
                                     "b_hn": big(n)}, {})
    h = lib.layer(lay, x, h0, cores=2)
    np.testing.assert_array_equal(h, golden.gru_fp16_step(x, h0, **lay.params()))


def test_fp16_state_sequence(lib):
    """FP16 LSTM/GRU over 30 steps, states fed back from the C output: each step within the bound."""
    rng = np.random.default_rng(12)
    for layer in (lstm_fp16(rng, 33, 20), gru_fp16(rng, 33, 20)):
        h = np.zeros(33, np.float16)
        c = np.zeros(33, np.float16)
        for t in range(30):
            x = _f16(rng, 20, 1.0)
            out = check_fp16(lib, layer, x, h, c if layer.kind == "lstm" else None, cores=3, max_tile=4)
            if layer.kind == "lstm":
                h, c = out
            else:
                h = out


# ---------------------------------------------------------------------------------------------
# SIMD paths

@pytest.fixture(scope="module")
def portable():
    return native.load("portable")


def test_portable_library_is_portable(lib, portable):
    assert portable.simd == "portable"
    if native.vector_supported("avx2"):
        assert lib.simd == "avx2", "the default build of an AVX2 machine uses the AVX2 path"


@pytest.mark.parametrize("seed", range(3))
def test_portable_and_vector_paths_identical_int8(lib, portable, seed):
    rng = np.random.default_rng([seed, 99])
    k, n = (257, 255, 64)[seed], (255, 257, 33)[seed]
    layers = [(fc_int8(rng, n, k, "relu"), (x8(rng, k),)),
              (fc_int8(rng, n, k, "sigmoid", "linear"), (x8(rng, k),)),
              (lstm_int8(rng, n, k, 16, "linear"), (x8(rng, k), x8(rng, n), c_state(rng, n, 16))),
              (lstm_int8(rng, n, k, 8, "nearest"), (x8(rng, k), x8(rng, n), c_state(rng, n, 8))),
              (gru_int8(rng, n, k, "linear"), (x8(rng, k), x8(rng, n)))]
    for layer, args in layers:
        a = lib.layer(layer, *args, cores=2, max_tile=7)
        b = portable.layer(layer, *args, cores=3)
        for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
            np.testing.assert_array_equal(u, v)


def test_portable_fp16_within_bound(portable):
    rng = np.random.default_rng(7)
    check_fp16(portable, fc_fp16(rng, 257, 256, "sigmoid"), _f16(rng, 256, 2.0), cores=2, max_tile=9)
    check_fp16(portable, lstm_fp16(rng, 64, 257), _f16(rng, 257, 1.0), _f16(rng, 64, 0.5), _f16(rng, 64, 1.0),
               cores=3)
    check_fp16(portable, gru_fp16(rng, 64, 257), _f16(rng, 257, 1.0), _f16(rng, 64, 0.5), cores=3)
