"""Integer and conversion primitives of docs/numerics.md (rnnse.quant.fixed) against independent
arbitrary-precision Python references (fractions.Fraction, plain ints), the activation tables
against float64 math, and the golden model's 65536-entry lookup paths against the literal ones."""
import math
from fractions import Fraction

import numpy as np
import pytest

from rnnse.quant import fixed, golden

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def ref_rshr(x: int, s: int) -> int:
    """floor(x / 2^s + 1/2): round half up, exact."""
    return math.floor(Fraction(x, 1 << s) + Fraction(1, 2))


def ref_requant(acc: int, m: int, s: int) -> int:
    v = math.floor(Fraction(acc * m, 1 << s) + Fraction(1, 2))
    return max(INT32_MIN, min(INT32_MAX, v))


def ref_multiplier(r: float):
    """The largest shift S in 1..62 with round_half_even(r 2^S) < 2^31, M = that rounding
    (an independent statement of the spec's frexp-based derivation)."""
    if r == 0:
        return 0, 31
    fr = Fraction(r)
    for s in range(62, 0, -1):
        m = round(fr * (1 << s))            # Fraction rounding: half to even
        if m < (1 << 31):
            return m, s
    raise ValueError("too large")


# ---------------------------------------------------------------------------------------------
# rshr, requant

def test_rshr_against_fractions():
    rng = np.random.default_rng(1)
    xs = np.concatenate([rng.integers(-(1 << 40), 1 << 40, 3000), np.arange(-40, 41),
                         [(1 << 31) - 1, -(1 << 31), -3, 3, -1, 1, 0]])
    for s in (1, 2, 7, 8, 15, 23, 30):
        got = fixed.rshr(xs, s)
        want = np.array([ref_rshr(int(x), s) for x in xs], dtype=np.int64)
        np.testing.assert_array_equal(got, want)
    # ties go up (towards +infinity), as the spec's examples say
    assert fixed.rshr(-3, 1) == -1 and fixed.rshr(3, 1) == 2 and fixed.rshr(-1, 1) == 0
    with pytest.raises(ValueError):
        fixed.rshr(5, 0)


def test_requant_against_fractions():
    rng = np.random.default_rng(2)
    n = 4000
    acc = np.concatenate([rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True),
                          rng.integers(-5000, 5000, n), [INT32_MIN, INT32_MAX, 0, -1, 1]])
    mult = np.concatenate([rng.integers(0, INT32_MAX, n, endpoint=True),
                           rng.integers(1 << 30, 1 << 31, n), [INT32_MAX, INT32_MAX, 0, 1 << 30, 1 << 30]])
    shift = np.concatenate([rng.integers(1, 63, n), rng.integers(1, 63, n), [1, 62, 31, 1, 62]])
    got = fixed.requant(acc, mult, shift)
    want = [ref_requant(int(a), int(m), int(s)) for a, m, s in zip(acc, mult, shift)]
    np.testing.assert_array_equal(got, np.array(want, dtype=np.int64))
    # saturation happens (shift 1 with big multipliers) and is covered above
    assert np.any(got == INT32_MAX) and np.any(got == INT32_MIN)
    # the unchecked inner-loop version is the same function
    np.testing.assert_array_equal(fixed.requant_unchecked(acc.astype(np.int64), mult.astype(np.int64),
                                                          shift.astype(np.int64)), got)


@pytest.mark.parametrize("acc, mult, shift", [(2 ** 31, 1, 1), (0, -1, 5), (0, 2 ** 31, 5), (0, 5, 0),
                                              (0, 5, 63)])
def test_requant_refuses_out_of_range(acc, mult, shift):
    with pytest.raises((ValueError, OverflowError)):
        fixed.requant(acc, mult, shift)


# ---------------------------------------------------------------------------------------------
# multiplier derivation

EDGE_SCALES = [1.0, 0.5, 0.25, 2.0 ** -7, 2.0 ** -12, 2.0 ** -30, 2.0 ** -31, 2.0 ** -32, 2.0 ** -33,
               2.0 ** -40, 2.0 ** -60, 2.0 ** -61, 2.0 ** -62, 2.0 ** -63, 2.0 ** -70, 1e-30, 5e-324,
               1.0 - 2.0 ** -40, 1.0 - 2.0 ** -33, 1.0 - 2.0 ** -32, 0.75 - 2.0 ** -45, 3.0, 1000.5,
               2.0 ** 29, 2.0 ** 30 - 1.0, 1.0 + 2.0 ** -52, 0.1, 1 / 3, 2 / 3]


@pytest.mark.parametrize("r", EDGE_SCALES)
def test_multiplier_edge_cases(r):
    m, s = fixed.quantize_multiplier(r)
    assert (m, s) == ref_multiplier(r)
    assert 0 <= m < 2 ** 31 and 1 <= s <= 62
    if m:
        # nearest representable: error at most half a unit of the last place
        assert abs(Fraction(m, 1 << s) - Fraction(r)) <= Fraction(1, 1 << (s + 1))
    if s < 62:
        assert m >= 2 ** 30             # full 31-bit precision whenever the shift allows it


def test_multiplier_random_and_relative_error():
    rng = np.random.default_rng(3)
    rs = np.exp(rng.uniform(np.log(1e-12), np.log(1e8), 3000))
    for r in rs:
        m, s = fixed.quantize_multiplier(float(r))
        assert (m, s) == ref_multiplier(float(r))
        if s < 62:
            assert abs(m * 2.0 ** -s - r) <= r * 2.0 ** -31
        else:                      # tiny scales: the shift is capped, absolute error half a step
            assert abs(Fraction(m, 1 << 62) - Fraction(float(r))) <= Fraction(1, 1 << 63)
    mv, sv = fixed.quantize_multipliers(rs[:50])
    assert mv.dtype == np.int32 and sv.dtype == np.uint8
    assert [(int(a), int(b)) for a, b in zip(mv, sv)] == [ref_multiplier(float(r)) for r in rs[:50]]


def test_multiplier_zero_and_errors():
    assert fixed.quantize_multiplier(0.0) == (0, 31)
    for bad in (-1.0, float("nan"), float("inf"), 2.0 ** 30, 1e12):
        with pytest.raises(ValueError):
            fixed.quantize_multiplier(bad)


@pytest.mark.parametrize("k", [1, 2, 7, 12, 15, 23, 32])
def test_power_of_two_multiplier_is_a_rounding_shift(k):
    m, s = fixed.quantize_multiplier(2.0 ** -k)
    assert (m, s) == (2 ** 30, 30 + k)
    x = np.random.default_rng(k).integers(INT32_MIN, INT32_MAX, 5000, endpoint=True)
    np.testing.assert_array_equal(fixed.requant(x, m, s), fixed.rshr(x, k))


# ---------------------------------------------------------------------------------------------
# FP <-> int8

def test_quant_fp_rounds_half_to_even_and_saturates():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, 127.49, 127.5, 1e9, -128.5, -1e9, 0.0, -0.0],
                 np.float32)
    np.testing.assert_array_equal(fixed.quant_fp(x, 1.0),
                                  [0, 2, 2, 0, -2, -2, 126, 127, 127, 127, -128, -128, 0, 0])
    # one FP32 multiply, then rounding: against a float64-free reference on random data
    rng = np.random.default_rng(4)
    v = rng.normal(0, 3, 20000).astype(np.float32)
    inv = np.float32(1 / 0.037)
    t = v * inv                                   # FP32 product, as in C
    want = np.array([max(-128, min(127, round(float(a)))) for a in t])   # Python round: half even
    np.testing.assert_array_equal(fixed.quant_fp(v, inv), want)
    # an FP16 input is widened exactly
    v16 = v.astype(np.float16)
    np.testing.assert_array_equal(fixed.quant_fp(v16, inv), fixed.quant_fp(v16.astype(np.float32), inv))


def test_quant_dequant_round_trip():
    rng = np.random.default_rng(5)
    s = 0.0123
    q = np.arange(-128, 128)
    # dequant then quant gives back every int8 exactly
    np.testing.assert_array_equal(fixed.quant_fp(fixed.dequant_fp(q, s), np.float32(1 / s)), q)
    # quant then dequant: error at most half a step inside the range, clamped outside it
    x = rng.uniform(-128 * s, 127 * s, 10000).astype(np.float32)
    y = fixed.dequant_fp(fixed.quant_fp(x, np.float32(1 / s)), s)
    assert np.max(np.abs(y - x)) <= s / 2 * (1 + 1e-5)
    big = np.array([10.0, -10.0], np.float32)
    np.testing.assert_allclose(fixed.dequant_fp(fixed.quant_fp(big, np.float32(1 / s)), s),
                               [127 * s, -128 * s], rtol=1e-6)
    # power-of-two scales dequantize exactly, also to FP16 (Q0.7 h, Q15 mask)
    np.testing.assert_array_equal(fixed.dequant_fp(q, 2.0 ** -7, "fp16").astype(np.float64), q / 128.0)
    q15 = np.arange(0, 32768, 7)
    np.testing.assert_array_equal(fixed.dequant_fp(q15, 2.0 ** -15).astype(np.float64), q15 / 32768.0)
    with pytest.raises(ValueError):
        fixed.dequant_fp(q, 1.0, "int8")


def test_to_fp16_saturates_instead_of_overflowing():
    y = fixed.to_fp16(np.array([1e6, -1e6, 65504.0, 65519.0, 1.0 + 2 ** -11, 1.0 + 3 * 2 ** -11], np.float32))
    np.testing.assert_array_equal(y.astype(np.float64), [65504, -65504, 65504, 65504, 1.0, 1.0 + 2 ** -9])


# ---------------------------------------------------------------------------------------------
# activation tables

def test_table_contents():
    sig, tanh = fixed.SIGMOID_TABLE, fixed.TANH_TABLE
    assert sig.shape == tanh.shape == (257,) and sig.dtype == tanh.dtype == np.int16
    for i in range(257):
        x = -8 + i / 16
        assert sig[i] == min(32767, round(32768 / (1 + math.exp(-x))))
        y = -4 + i / 32
        assert tanh[i] == max(-32767, min(32767, round(32768 * math.tanh(y))))
    assert np.all(np.diff(sig.astype(int)) >= 0) and np.all(np.diff(tanh.astype(int)) >= 0)
    assert sig[128] == 16384 and tanh[128] == 0
    np.testing.assert_array_equal(sig[:129].astype(int) + sig[::-1][:129], 32768)      # sigmoid(-x) = 1 - sigmoid(x)
    np.testing.assert_array_equal(tanh, -tanh[::-1])
    np.testing.assert_array_equal(fixed.sigmoid_table(), sig)
    np.testing.assert_array_equal(fixed.tanh_table(), tanh)


ALL_Q312 = np.arange(-32768, 32768, dtype=np.int64)


def ref_lookup(table, p: int, kind: str, mode: str) -> int:
    """The spec's lookup formulas, one Python int at a time."""
    if kind == "sig":
        u, bits = p + 32768, 8
    else:
        u, bits = max(-16384, min(16383, p)) + 16384, 7
    if mode == "nearest":
        return int(table[(u + (1 << (bits - 1))) >> bits])
    i, f = u >> bits, u & ((1 << bits) - 1)
    return int(table[i]) + ref_rshr((int(table[i + 1]) - int(table[i])) * f, bits)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_lookups_match_the_formulas(mode):
    ps = np.concatenate([np.arange(-32768, -32000), np.arange(-600, 600), np.arange(32000, 32768),
                         np.random.default_rng(6).integers(-32768, 32768, 3000)])
    got_s = fixed.sig_q15(ps, mode)
    got_t = fixed.tanh_q15(ps, mode)
    for p, a, b in zip(ps, got_s, got_t):
        assert a == ref_lookup(fixed.SIGMOID_TABLE, int(p), "sig", mode)
        assert b == ref_lookup(fixed.TANH_TABLE, int(p), "tanh", mode)
    # the golden model's 65536-entry paths equal the formulas on every input
    np.testing.assert_array_equal(golden._lut("sig", mode, fixed.SIGMOID_TABLE), fixed.sig_q15(ALL_Q312, mode))
    np.testing.assert_array_equal(golden._lut("tanh", mode, fixed.TANH_TABLE), fixed.tanh_q15(ALL_Q312, mode))
    with pytest.raises(ValueError):
        fixed.sig_q15(np.array([32768]), mode)


# error bounds stated in docs/numerics.md ("Activation tables"), over every Q3.12 input
TABLE_BOUNDS = {"nearest": (0.0079, 0.0157, 0.0157), "linear": (7e-5, 1.2e-4, 6.8e-4)}


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_table_error_bounds(mode):
    x = ALL_Q312 / 4096.0
    sig = fixed.sig_q15(ALL_Q312, mode)
    tanh = fixed.tanh_q15(ALL_Q312, mode)
    assert sig.min() >= 0 and sig.max() <= 32767 and tanh.min() >= -32767 and tanh.max() <= 32767
    es = np.abs(sig / 32768 - 1 / (1 + np.exp(-x)))
    et = np.abs(tanh / 32768 - np.tanh(x))
    inside = (x >= -4) & (x < 4)
    b_sig, b_tanh, b_tanh_out = TABLE_BOUNDS[mode]
    assert es.max() <= b_sig
    assert et[inside].max() <= b_tanh
    assert et.max() <= b_tanh_out
    if mode == "linear":     # interpolation is far better than the nearest entry
        assert es.max() < fixed.sig_q15(ALL_Q312, "nearest").std() and es.max() < 2.0 ** -7 / 50
    with pytest.raises(ValueError):
        golden._lut("sig", "cubic", fixed.SIGMOID_TABLE)


def test_lstm_cell_tanh_lut_matches_the_chain():
    """c -> TANH(sat16(requant(c, ct_mult, ct_shift))) read from one per-layer array."""
    rng = np.random.default_rng(7)
    c = np.arange(-32768, 32768)
    for scale in (2.0 ** -12, 0.0007, 0.013, 0.9, 3.7):
        m, s = fixed.quantize_multiplier(scale * 4096)
        for mode in ("nearest", "linear"):
            want = fixed.tanh_q15(fixed.sat16(fixed.requant(c, m, s)), mode)
            np.testing.assert_array_equal(golden._tanh_c_lut(m, s, mode, fixed.TANH_TABLE), want)
    del rng
