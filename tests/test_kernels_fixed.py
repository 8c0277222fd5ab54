"""The INT8 kernels' integer primitives (firmware/kernels/rnnse_scalar.h) against Python integers.

rnnse_requant evaluates docs/numerics.md's requant(acc, M, S) from the two 32-bit halves of the
product (a multiply-high and a rounding shift for S >= 33, one branch-free form for S >= 32, an
out-of-line one for S <= 32, and the bounded form that scales small accumulators up to S = 33);
these tests hold every form, and the gate sums built on them, to the
exact definition on their corners (S = 1 .. 62 around 31/32/33, rounding ties, M = 0 and 2^31 - 1,
acc = -2^31 and 2^31 - 1) and on random inputs. The pulp-open platform test checks the same forms
on the target (where the building blocks are Xpulp instructions). Called through the host library
(rnnse_harness_requant), with a declaration of that one entry point. The branch-free small-shift
form (rnnse_requant_le33) is also checked where the recurrent kernels use it: whole INT8 LSTM/GRU
layers against the golden model, with units whose input accumulators are too wide for it.
"""
import numpy as np
import pytest

from rnnse import native
from rnnse.quant import golden
from rnnse.quant.qmodel import Layer

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1
FORMS = {"requant": 0, "wide": 1, "ge32": 2, "le32": 3, "small": 4, "pair": 5, "pair_ge32": 6, "pair_gt32": 7,
         "add_sat16": 8, "shifts_ge32": 9, "shifts_gt32": 10, "bounded": 11, "pair_bounded": 12, "le33": 13,
         "pair_le33": 14, "shifts_le33": 15}
MISS = I32_MIN       # what the harness returns where a rnnse_requant_le33 form reports a miss


@pytest.fixture(scope="module")
def prim():
    library = native.load()
    ffi, lib = library.ffi, library.lib

    def run(form, acc, mult, shift, acc2=None, mult2=None, shift2=None):
        n = len(acc)
        pair = lambda a, b, fill: np.ascontiguousarray(np.concatenate([np.asarray(a, np.int64),  # noqa: E731
                                                                       np.asarray(b if b is not None else
                                                                                  [fill] * n, np.int64)]
                                                                      ).astype(np.int32))
        a, m, s = pair(acc, acc2, 0), pair(mult, mult2, 0), pair(shift, shift2, 33)
        out = np.zeros(n, np.int32)
        rc = lib.rnnse_harness_requant(FORMS[form], ffi.from_buffer("int32_t[]", a), ffi.from_buffer("int32_t[]", m),
                                       ffi.from_buffer("int32_t[]", s), ffi.from_buffer("int32_t[]", out), n)
        assert rc == 0
        return out.astype(np.int64)
    return run


def ref(acc, mult, shift):
    """docs/numerics.md requant in Python integers (>> floors)."""
    r = (int(acc) * int(mult) + (1 << (int(shift) - 1))) >> int(shift)
    return min(max(r, I32_MIN), I32_MAX)


def cases(shifts, seed=0, n_random=300):
    """(acc, mult, shift) corner and random triples for the given shifts, rounding ties included."""
    rng = np.random.default_rng(seed)
    accs = [I32_MIN, I32_MIN + 1, -(1 << 30) - 7, -(1 << 30), -65536, -129, -1, 0, 1, 127, 65535, 1 << 30,
            (1 << 30) + 1, I32_MAX - 1, I32_MAX]
    mults = [0, 1, 3, (1 << 30) - 1, 1 << 30, (1 << 30) + 12345, I32_MAX - 1, I32_MAX]
    out = []
    for s in shifts:
        for a in accs:
            for m in mults:
                out.append((a, m, s))
        # exact ties of the rounding (p = k 2^S + 2^(S-1)) and their neighbours
        for k in (-3, -2, -1, 0, 1, 2, 5):
            if s <= 31:
                for d in (-1, 0, 1):
                    a = k * (1 << s) + (1 << (s - 1)) + d
                    if I32_MIN <= a <= I32_MAX:
                        out.append((a, 1, s))
            elif s <= 61:
                for d in (-1, 0, 1):
                    a = k * (1 << (s - 30)) + (1 << (s - 31)) + d
                    if I32_MIN <= a <= I32_MAX:
                        out.append((a, 1 << 30, s))
        a = rng.integers(I32_MIN, I32_MAX, n_random, endpoint=True)
        m = rng.integers(0, I32_MAX, n_random, endpoint=True)
        out += [(int(x), int(y), s) for x, y in zip(a, m)]
        small = rng.integers(-(1 << 24), 1 << 24, n_random)
        out += [(int(x), int(y), s) for x, y in zip(small, rng.integers(1 << 30, 1 << 31, n_random))]
    return [np.array(c, np.int64) for c in zip(*out)]


ALL_SHIFTS = list(range(1, 63))


@pytest.mark.parametrize("form,shifts", [("requant", ALL_SHIFTS), ("wide", ALL_SHIFTS), ("ge32", range(32, 63)),
                                         ("le32", range(1, 33)), ("bounded", ALL_SHIFTS)])
def test_requant_forms_are_exact(prim, form, shifts):
    acc, mult, shift = cases(list(shifts), seed=len(form))
    got = prim(form, acc, mult, shift)
    want = np.array([ref(a, m, s) for a, m, s in zip(acc, mult, shift)], np.int64)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, [(int(acc[i]), int(mult[i]), int(shift[i]), int(got[i]), int(want[i])) for i in bad[:5]]
    if form in ("requant", "wide", "le32", "bounded"):
        assert np.any(want == I32_MAX) and np.any(want == I32_MIN)     # saturation is exercised


def test_requant_ge32_range(prim):
    """Shifts >= 32 give results within [-2^30, 2^30 - 1] (what makes the pair sums exact in int32)."""
    acc, mult, shift = cases(range(32, 63), seed=5)
    got = prim("ge32", acc, mult, shift)
    assert got.min() >= -(1 << 30) and got.max() <= (1 << 30) - 1
    assert got.max() > (1 << 29) and got.min() < -(1 << 29)


@pytest.mark.parametrize("bits", [8, 16, 24])
def test_requant_small_scaling(prim, bits):
    """requant(acc, M, S) = requant(acc 2^k, M, 33) for S = 33 - k whenever |acc| < 2^bits, bits + k <= 31."""
    rng = np.random.default_rng(bits)
    acc, mult, shift = [], [], []
    for s in range(33 - (31 - bits), 34):
        lim = 1 << bits
        a = np.concatenate([[-lim + 1, -lim // 2, -1, 0, 1, lim - 1], rng.integers(-lim + 1, lim, 200)])
        m = np.concatenate([[0, 1, I32_MAX, 1 << 30, 3, (1 << 31) - 2], rng.integers(0, I32_MAX, 200)])
        acc += list(a)
        mult += list(m)
        shift += [s] * len(a)
    got = prim("small", acc, mult, shift)
    want = np.array([ref(a, m, s) for a, m, s in zip(acc, mult, shift)], np.int64)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("form,lo", [("pair", 1), ("pair_ge32", 32), ("pair_gt32", 33), ("pair_bounded", 1)])
def test_gate_sums_are_exact(prim, form, lo):
    """sat16(requant(a) + requant(b)) with the sum taken exactly, as the gate pre-activations."""
    rng = np.random.default_rng(lo)
    acc, mult, shift = cases(list(range(lo, 63, 3)) + [lo, 62], seed=lo, n_random=100)
    perm = rng.permutation(len(acc))
    acc2, mult2, shift2 = acc[perm], mult[perm], shift[perm]
    got = prim(form, acc, mult, shift, acc2, mult2, shift2)
    want = np.array([min(max(ref(a, m, s) + ref(b, mb, sb), -32768), 32767)
                     for a, m, s, b, mb, sb in zip(acc, mult, shift, acc2, mult2, shift2)], np.int64)
    np.testing.assert_array_equal(got, want)
    assert np.any(want == 32767) and np.any(want == -32768) and np.any(np.abs(want) < 32767)


def test_add_sat16_is_exact(prim):
    rng = np.random.default_rng(11)
    edge = [I32_MIN, I32_MIN + 1, -(1 << 30), -32769, -32768, -1, 0, 1, 32767, 32768, 1 << 30, I32_MAX - 1, I32_MAX]
    a = np.array([x for x in edge for _ in edge] + list(rng.integers(I32_MIN, I32_MAX, 2000, endpoint=True)), np.int64)
    b = np.array([y for _ in edge for y in edge] + list(rng.integers(I32_MIN, I32_MAX, 2000, endpoint=True)), np.int64)
    got = prim("add_sat16", a, np.zeros_like(a), np.ones_like(a), b, np.zeros_like(b), np.ones_like(b))
    np.testing.assert_array_equal(got, np.clip(a + b, -32768, 32767))


@pytest.mark.parametrize("form,lo", [("shifts_ge32", 32), ("shifts_gt32", 33)])
def test_shift_byte_tests(prim, form, lo):
    """All selected shift bytes of a word in [32, 127] ([33, 127]; valid shifts are <= 62, and a byte
    of 128 or more counts as failing), every byte value, in every position."""
    rng = np.random.default_rng(lo)
    words, masks, want = [], [], []
    for mask_bytes in ([0, 1, 2, 3], [0, 1, 2]):
        mask = sum(0x80 << (8 * i) for i in mask_bytes)
        for pos in range(4):
            for v in range(256):
                b = [int(x) for x in rng.integers(lo, 63, 4)]
                b[pos] = v
                words.append(sum(x << (8 * i) for i, x in enumerate(b)))
                masks.append(mask)
                want.append(all(lo <= b[i] <= 127 for i in mask_bytes))
    to_i32 = lambda v: np.array(v, np.uint32).view(np.int32).astype(np.int64)  # noqa: E731
    got = prim(form, to_i32(words), to_i32(masks), np.ones(len(words), np.int64))
    np.testing.assert_array_equal(got != 0, np.array(want))


# ---------------------------------------------------------------------------------------------
# rnnse_requant_le33: shifts 2..33 scaled to 33 without a branch, with a miss flag

def le33_cases(seed=0, n_random=200):
    """(acc, mult, shift) for shifts 2..33: the corners of cases(), accumulators at and next to the
    limits +-2^(S-2) of the scaled form, rounding ties inside them, random values inside and out."""
    rng = np.random.default_rng(seed)
    acc, mult, shift = [list(v) for v in cases(range(2, 34), seed=seed, n_random=50)]
    for s in range(2, 34):
        lim = 1 << (s - 2)
        edge = [-lim - 1, -lim, -lim + 1, -1, 0, 1, lim - 2, lim - 1, lim, lim + 1, 2 * lim, -2 * lim - 1]
        for a in (a for a in edge if I32_MIN <= a <= I32_MAX):
            for m in (0, 1, 1 << 30, (1 << 30) + 777, I32_MAX - 1, I32_MAX):
                acc.append(a), mult.append(m), shift.append(s)
        # ties: M = 2^j, acc = q 2^(S-j) + 2^(S-1-j) gives acc M = q 2^S + 2^(S-1); and neighbours
        j = min(s - 1, 30)
        for q in (-5, -2, -1, 0, 1, 4):
            for d in (-1, 0, 1):
                a = q * (1 << (s - j)) + (1 << (s - 1 - j)) + d
                if -lim <= a < lim:
                    acc.append(a), mult.append(1 << j), shift.append(s)
        inside = rng.integers(-lim, lim, n_random)
        outside = rng.integers(I32_MIN, I32_MAX, n_random, endpoint=True)
        for a in np.concatenate([inside, outside]):
            acc.append(int(a)), mult.append(int(rng.integers(0, I32_MAX, endpoint=True))), shift.append(s)
    return [np.array(v, np.int64) for v in (acc, mult, shift)]


def fits_le33(acc, shift):
    """Whether acc 2^(33 - shift) fits int32 for 2 <= shift <= 33, the condition of rnnse_requant_le33."""
    return 2 <= int(shift) <= 33 and -(1 << (int(shift) - 2)) <= int(acc) < (1 << (int(shift) - 2))


def test_requant_le33_exact_or_miss(prim):
    """requant(acc, M, S) exactly where acc 2^(33-S) fits int32, a miss exactly where it does not."""
    acc, mult, shift = le33_cases()
    got = prim("le33", acc, mult, shift)
    fits = np.array([fits_le33(a, s) for a, s in zip(acc, shift)])
    want = np.array([ref(a, m, s) if f else MISS for a, m, s, f in zip(acc, mult, shift, fits)], np.int64)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, [(int(acc[i]), int(mult[i]), int(shift[i]), int(got[i]), int(want[i])) for i in bad[:5]]
    assert fits.sum() > 5000 and (~fits).sum() > 2000
    assert np.abs(want[fits]).max() <= (1 << 29)       # the range that keeps the gate sums exact
    # the results reach both ends of that range (acc = -2^31 / 2^31 - 1 after the scaling)
    assert want[fits].max() >= (1 << 29) - 1 and want[fits].min() <= -(1 << 29) + 1


def test_gate_sum_le33_exact_or_miss(prim):
    """sat16(requant(a, ma, sa) + requant(b, mb, sb)) for 2 <= sa <= 33 <= sb, a miss exactly where
    a 2^(33 - sa) leaves int32 (the recurrent part never misses)."""
    rng = np.random.default_rng(3)
    acc, mult, shift = le33_cases(seed=1, n_random=60)
    acc2, mult2, shift2 = cases(list(range(33, 63)), seed=2, n_random=60)
    pick = rng.integers(0, len(acc2), len(acc))
    acc2, mult2, shift2 = acc2[pick], mult2[pick], shift2[pick]
    got = prim("pair_le33", acc, mult, shift, acc2, mult2, shift2)
    want = np.array([min(max(ref(a, m, s) + ref(b, mb, sb), -32768), 32767) if fits_le33(a, s) else MISS
                     for a, m, s, b, mb, sb in zip(acc, mult, shift, acc2, mult2, shift2)], np.int64)
    np.testing.assert_array_equal(got, want)
    hit = want != MISS
    assert np.any(want[hit] == 32767) and np.any(want[hit] == -32768) and np.any(np.abs(want[hit]) < 32767)


def test_shift_bytes_le33(prim):
    """All selected shift bytes of a word in [2, 33], for every byte value in every position and
    for all words of boundary bytes (masks: all four bytes, the low three)."""
    rng = np.random.default_rng(33)
    words, masks, want = [], [], []
    for mask_bytes in ([0, 1, 2, 3], [0, 1, 2]):
        mask = sum(0x80 << (8 * i) for i in mask_bytes)
        for pos in range(4):
            for v in range(256):
                for fill in (2, 33, None):
                    b = [int(x) for x in rng.integers(2, 34, 4)] if fill is None else [fill] * 4
                    b[pos] = v
                    words.append(sum(x << (8 * i) for i, x in enumerate(b)))
                    masks.append(mask)
                    want.append(all(2 <= b[i] <= 33 for i in mask_bytes))
        edge = [0, 1, 2, 3, 32, 33, 34, 62, 127, 128, 129, 130, 255]
        for w in range(len(edge) ** 4):
            b = [edge[(w // len(edge) ** i) % len(edge)] for i in range(4)]
            words.append(sum(x << (8 * i) for i, x in enumerate(b)))
            masks.append(mask)
            want.append(all(2 <= b[i] <= 33 for i in mask_bytes))
    to_i32 = lambda v: np.array(v, np.uint32).view(np.int32).astype(np.int64)  # noqa: E731
    got = prim("shifts_le33", to_i32(words), to_i32(masks), np.ones(len(words), np.int64))
    np.testing.assert_array_equal(got != 0, np.array(want))


def _small_shift_rnn(rng, kind, h, k):
    """An INT8 LSTM/GRU layer whose units take every requantization path of the kernel: most have
    input shifts in [2, 33] and recurrent shifts above 33 (the small-shift path), some with a
    bias at +-2^(S-2) so that their input accumulators leave its range (a miss: the general
    path), some with an input shift of 34 or 1 or a recurrent shift of 32. Returns the layer
    and the units' kinds."""
    g = 4 if kind == "lstm" else 3
    sx = rng.choice(np.array([2, 3, 9, 15, 20, 24, 28, 29, 31, 32, 33]), size=(g, h))
    sh = rng.integers(33, 41, size=(g, h))
    mx = rng.integers(1 << 30, 1 << 31, size=(g, h))
    mh = rng.integers(1 << 30, 1 << 31, size=(g, h))
    b = rng.integers(-(1 << 12), 1 << 12, size=(g, h))
    unit = rng.choice(np.array(["small", "edge", "other"]), size=h, p=[0.5, 0.3, 0.2])
    for j in range(h):
        if unit[j] == "edge":       # acc = b + dot around +-2^(S-2): in range or just outside
            gate = rng.integers(0, g)
            sx[gate, j] = min(sx[gate, j], 32)     # b + dot stays within int32
            lim = 1 << (int(sx[gate, j]) - 2)
            b[gate, j] = rng.choice([-1, 1]) * lim + rng.integers(-(1 << 14), 1 << 14)
        elif unit[j] == "other":
            gate = rng.integers(0, g)
            if rng.random() < 0.5:
                sx[gate, j] = rng.choice([1, 34])
            else:
                sh[gate, j] = 32
    # the golden model's rows are gate-major (r = gate * H + j)
    arrays = {"w_ih": rng.integers(-127, 128, size=(g * h, k)).astype(np.int8),
              "w_hh": rng.integers(-127, 128, size=(g * h, h)).astype(np.int8),
              "b": b.reshape(-1).astype(np.int32), "mult_x": mx.reshape(-1).astype(np.int32),
              "shift_x": sx.reshape(-1).astype(np.uint8), "mult_h": mh.reshape(-1).astype(np.int32),
              "shift_h": sh.reshape(-1).astype(np.uint8)}
    if kind == "lstm":
        attrs = {"c_mult": 1 << 30, "c_shift": 45, "ct_mult": 1 << 30, "ct_shift": 27, "c_bits": 16,
                 "table_mode": "linear"}
    else:
        arrays["b_hn"] = rng.integers(-(1 << 14), 1 << 14, size=h).astype(np.int32)
        attrs = {"table_mode": "nearest"}
    return Layer(kind, kind, "int8", arrays, attrs), unit


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("seed", range(3))
def test_small_shift_units_bit_exact(kind, seed):
    """Recurrent INT8 layers through the small-shift path (and its fallback on a miss) against the
    golden model, on 1 and 3 cores."""
    lib = native.load()
    rng = np.random.default_rng([seed, len(kind)])
    h, k = 61, 47
    layer, unit = _small_shift_rnn(rng, kind, h, k)
    g = 4 if kind == "lstm" else 3
    x = rng.integers(-128, 128, size=k).astype(np.int8)
    hs = rng.integers(-128, 128, size=h).astype(np.int8)
    # the units that take the small-shift path, and those of them whose accumulators miss it
    acc = layer.b.astype(np.int64) + layer.w_ih.astype(np.int64) @ x.astype(np.int64)
    fits = np.array([fits_le33(a, s) for a, s in zip(acc, layer.shift_x)]).reshape(g, h).all(axis=0)
    small = (unit != "other")
    assert np.any(small & fits) and np.any(small & ~fits)
    if kind == "lstm":
        c = rng.integers(-32768, 32768, size=h).astype(np.int16)
        want = golden.lstm_int8_step(x, hs, c, **layer.params())
        for cores in (1, 3):
            got = lib.layer(layer, x, hs, c, cores=cores, max_tile=4)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])
    else:
        want = golden.gru_int8_step(x, hs, **layer.params())
        for cores in (1, 3):
            np.testing.assert_array_equal(lib.layer(layer, x, hs, cores=cores, max_tile=4), want)
