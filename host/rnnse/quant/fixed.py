"""Integer and conversion primitives of docs/numerics.md, vectorised with numpy.

Every function works on numpy arrays (or scalars) and is exact: integer arithmetic is carried out
in int64, which holds every intermediate value the spec allows.
"""
from __future__ import annotations

import math

import numpy as np

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
TABLE_SIZE = 257            # 256 segments plus the end point
SIG_LO, SIG_STEP_LOG2 = -8.0, 4      # sigmoid table: [-8, 8], step 1/16 (8 Q3.12 bits)
TANH_LO, TANH_STEP_LOG2 = -4.0, 5    # tanh table: [-4, 4], step 1/32 (7 Q3.12 bits)
Q_PRE = 12                  # gate pre-activations: Q3.12
Q_OUT = 15                  # activation outputs: Q0.15
H_FRAC = 7                  # recurrent h state: int8 Q0.7 (scale 2^-7, range [-1, 1))
TABLE_MODES = ("nearest", "linear")


def sat(x, lo, hi):
    return np.maximum(np.minimum(np.asarray(x, dtype=np.int64), hi), lo)


def sat8(x):
    return sat(x, -128, 127)


def sat16(x):
    return sat(x, -32768, 32767)


def rshr(x, s):
    """Rounding shift right, round half up: (x + 2^(s-1)) >> s, s >= 1."""
    s = np.asarray(s, dtype=np.int64)
    if np.any(s < 1):
        raise ValueError("rshr needs a shift of at least 1")
    x = np.asarray(x, dtype=np.int64)
    return (x + (np.int64(1) << (s - 1))) >> s


def requant(acc, mult, shift):
    """int32 acc * (mult * 2^-shift), rounded half up, saturated to int32 (64-bit intermediate)."""
    acc = np.asarray(acc, dtype=np.int64)
    mult = np.asarray(mult, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    if np.any(acc < INT32_MIN) or np.any(acc > INT32_MAX):
        raise OverflowError("requant input does not fit int32")
    check_multipliers(mult, shift)
    return requant_unchecked(acc, mult, shift)


def check_multipliers(mult, shift) -> None:
    mult, shift = np.asarray(mult, dtype=np.int64), np.asarray(shift, dtype=np.int64)
    if np.any(mult < 0) or np.any(mult > INT32_MAX) or np.any(shift < 1) or np.any(shift > 62):
        raise ValueError("requant needs 0 <= mult < 2^31 and 1 <= shift <= 62")


def requant_unchecked(acc, mult, shift):
    """requant for int64 arrays already known to be in range (the golden model's inner loop)."""
    p = acc * mult + (np.int64(1) << (shift - np.int64(1)))
    return np.maximum(np.minimum(p >> shift, INT32_MAX), INT32_MIN)


def quantize_multiplier(scale: float) -> tuple[int, int]:
    """Real scale r -> (M, S) with r ~= M * 2^-S, 2^30 <= M < 2^31 where possible (see spec).

    Equivalently: S is the largest shift in 1..62 with round_half_even(r * 2^S) < 2^31, and M is
    that rounding."""
    r = float(scale)
    if not math.isfinite(r) or r < 0:
        raise ValueError(f"requantization scale must be finite and non-negative, got {scale!r}")
    if r == 0.0:
        return 0, 31
    m, e = math.frexp(r)                  # r = m * 2^e, m in [0.5, 1)
    M = round(m * (1 << 31))              # Python round: half to even
    if M == 1 << 31:
        M, e = 1 << 30, e + 1
    S = 31 - e
    if S < 1:
        raise ValueError(f"requantization scale {r} is too large (>= 2^30)")
    if S > 62:                            # tiny scale: cap the shift, round r * 2^62 once
        M = round(r * 2.0 ** 62)          # exact product (power of two), half to even
        S = 62
    return int(M), int(S)


def quantize_multipliers(scales) -> tuple[np.ndarray, np.ndarray]:
    """Vector version: (int32 multipliers, uint8 shifts)."""
    pairs = [quantize_multiplier(s) for s in np.asarray(scales, dtype=np.float64).ravel()]
    m = np.array([p[0] for p in pairs], dtype=np.int32)
    s = np.array([p[1] for p in pairs], dtype=np.uint8)
    return m, s


# ---------------------------------------------------------------------------------------------
# FP <-> int conversions

def quant_fp(x, inv_scale) -> np.ndarray:
    """FP32 (or FP16 widened) -> int8: rint(clamp(x * inv_scale)) with one FP32 multiply."""
    t = np.asarray(x).astype(np.float32) * np.float32(inv_scale)
    return np.rint(np.clip(t, np.float32(-128.0), np.float32(127.0))).astype(np.int8)


def dequant_fp(q, scale, out: str = "fp32") -> np.ndarray:
    y = np.asarray(q).astype(np.float32) * np.float32(scale)
    if out == "fp16":
        return to_fp16(y)
    if out != "fp32":
        raise ValueError(f"dequant output must be 'fp16' or 'fp32', got {out!r}")
    return y


def to_fp16(x) -> np.ndarray:
    """Round to binary16 (nearest even), saturating at +-65504 instead of overflowing to inf."""
    x = np.asarray(x, dtype=np.float32)
    return np.clip(x, np.float32(-65504.0), np.float32(65504.0)).astype(np.float16)


# ---------------------------------------------------------------------------------------------
# activation tables (Q3.12 in, Q0.15 out)

def _round_half_even(x: np.ndarray) -> np.ndarray:
    return np.rint(x)


def sigmoid_table() -> np.ndarray:
    x = SIG_LO + np.arange(TABLE_SIZE, dtype=np.float64) / (1 << SIG_STEP_LOG2)
    t = _round_half_even(32768.0 / (1.0 + np.exp(-x)))
    return np.minimum(t, 32767).astype(np.int16)


def tanh_table() -> np.ndarray:
    x = TANH_LO + np.arange(TABLE_SIZE, dtype=np.float64) / (1 << TANH_STEP_LOG2)
    return np.clip(_round_half_even(32768.0 * np.tanh(x)), -32767, 32767).astype(np.int16)


SIGMOID_TABLE = sigmoid_table()
TANH_TABLE = tanh_table()


def _lookup(table, u, bits, mode):
    """Table lookup of u = offset input (int64 array), ``bits`` fractional index bits."""
    if mode == "nearest":
        return table[(u + (1 << (bits - 1))) >> bits].astype(np.int64)
    if mode == "linear":
        i = u >> bits
        f = u & ((1 << bits) - 1)
        lo = table[i].astype(np.int64)
        d = table[i + 1].astype(np.int64) - lo
        return lo + ((d * f + (1 << (bits - 1))) >> bits)
    raise ValueError(f"unknown table mode {mode!r}: expected one of {TABLE_MODES}")


def sig_q15(p, mode: str = "nearest", table=SIGMOID_TABLE) -> np.ndarray:
    """Sigmoid of a Q3.12 int16 value -> Q15 (int64 array)."""
    u = np.asarray(p, dtype=np.int64) + 32768
    if np.any(u < 0) or np.any(u > 65535):
        raise ValueError("sigmoid input must be int16 Q3.12")
    return _lookup(np.asarray(table), u, 8, mode)


def tanh_q15(p, mode: str = "nearest", table=TANH_TABLE) -> np.ndarray:
    """Tanh of a Q3.12 int16 value -> Q15 (int64 array); inputs outside [-4, 4) saturate."""
    u = sat(p, -16384, 16383) + 16384
    return _lookup(np.asarray(table), u, 7, mode)
