"""The INT8 kernels' integer primitives (firmware/kernels/rnnse_scalar.h) against Python integers.

rnnse_requant evaluates docs/numerics.md's requant(acc, M, S) from the two 32-bit halves of the
product (a multiply-high and a rounding shift for S >= 33, one branch-free form for S >= 32, an
out-of-line one for S <= 32, and the bounded form that scales small accumulators up to S = 33);
these tests hold every form, and the gate sums built on them, to the
exact definition on their corners (S = 1 .. 62 around 31/32/33, rounding ties, M = 0 and 2^31 - 1,
acc = -2^31 and 2^31 - 1) and on random inputs. The pulp-open platform test checks the same forms
on the target (where the building blocks are Xpulp instructions). Called through the host library
(rnnse_harness_requant), with a declaration of that one entry point.
"""
import cffi
import numpy as np
import pytest

from rnnse import native

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1
FORMS = {"requant": 0, "wide": 1, "ge32": 2, "le32": 3, "small": 4, "pair": 5, "pair_ge32": 6, "pair_gt32": 7,
         "add_sat16": 8, "shifts_ge32": 9, "shifts_gt32": 10, "bounded": 11, "pair_bounded": 12}


@pytest.fixture(scope="module")
def prim():
    ffi = cffi.FFI()
    ffi.cdef("int rnnse_harness_requant(int form, const int32_t *acc, const int32_t *mult, const int32_t *shift, "
             "int32_t *out, int n);")
    lib = ffi.dlopen(native.load().path)

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
