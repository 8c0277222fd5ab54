"""Export a quantized model to C for the firmware (``rnnse export QMODEL -o DIR``).

The output directory holds ``<name>.c`` defining ``const rnnse_model_t rnnse_model;`` (the layer
list of ``firmware/kernels/rnnse_model.h``, the activation tables and the weight records) and
``<name>.json`` (sizes and checksum, for people and scripts). Weights are packed as the kernels
consume them: one record per output unit (every gate row of the unit, then its biases and
requantization constants), rows zero-padded to a multiple of 4 elements for the 4x8-bit and
2x16-bit SIMD dot products, so that a core's slice and each DMA tile of it are contiguous.

The same packing (``pack_model``) feeds the cffi tests, so what is tested is what is exported.
The output is deterministic: the same model gives byte-identical files.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import struct
import zlib

import numpy as np

FORMAT_MAGIC = 0x45534E52      # "RNSE"
FORMAT_VERSION = 4
MAX_LAYERS = 16
TABLE_SIZE = 257
GAP9_L2_BYTES = 1536 * 1024       # GAP9 L2 memory (1.5 MiB)
GAP9_MRAM_BYTES = 2048 * 1024     # GAP9 non-volatile MRAM (2 MiB)
DEFAULT_L2_BUDGET = GAP9_L2_BYTES

# enums of rnnse_model.h
KIND = {"fc": 1, "lstm": 2, "gru": 3, "quant": 4, "dequant": 5}
FP32, FP16, INT8, INT16 = 1, 2, 3, 4
TYPE_NAME = {FP32: "RNNSE_FP32", FP16: "RNNSE_FP16", INT8: "RNNSE_INT8", INT16: "RNNSE_INT16", 0: "0"}
PREC = {"fp16": FP16, "int8": INT8, "": 0}
ACT = {"none": 0, "relu": 1, "sigmoid": 2}
TABLE_MODE = {"nearest": 0, "linear": 1}
KIND_NAME = {1: "RNNSE_FC", 2: "RNNSE_LSTM", 3: "RNNSE_GRU", 4: "RNNSE_QUANT", 5: "RNNSE_DEQUANT"}
SCHEMES = ("fp16", "mixed", "mixed+", "int8", "int8+")
TAIL_INT8 = 56   # per-unit constants of an int8 recurrent record
TAIL_FP16 = 8


class ExportError(ValueError):
    """A model that cannot be exported (shapes, values, scheme or size)."""


def round4(n: int) -> int:
    return (int(n) + 3) & ~3


def record_bytes(kind: int, prec: int, n_in: int, n_out: int) -> int:
    """Bytes per output-unit record (mirror of rnnse_record_bytes in firmware/kernels/model.c)."""
    k4, h4 = round4(n_in), round4(n_out)
    if kind == KIND["fc"]:
        return k4 + 12 if prec == INT8 else 2 * k4 + 4
    if kind not in (KIND["lstm"], KIND["gru"]):
        return 0
    gates = 4 if kind == KIND["lstm"] else 3
    return gates * (k4 + h4) + TAIL_INT8 if prec == INT8 else 2 * gates * (k4 + h4) + TAIL_FP16


@dataclasses.dataclass
class PackedLayer:
    """One entry of the C layer list: header fields and the record bytes."""
    name: str
    kind: int
    prec: int
    in_type: int
    out_type: int
    n_in: int
    n_out: int
    act: int = 0
    table_mode: int = 0
    c_mult: int = 0
    c_shift: int = 0
    ct_mult: int = 0
    ct_shift: int = 0
    c_bits: int = 0
    scale: float = 0.0          # quant: inv_scale (0: one per element, in the records); dequant: scale
    rec_bytes: int = 0
    records: bytes = b""

    def header_words(self) -> list:
        scale_bits = struct.unpack("<I", struct.pack("<f", self.scale))[0]
        vals = [self.kind, self.prec, self.in_type, self.out_type, self.n_in, self.n_out, self.act,
                self.table_mode, self.c_mult, self.c_shift, self.ct_mult, self.ct_shift, self.c_bits,
                scale_bits, self.rec_bytes]
        return [v & 0xFFFFFFFF for v in vals]


@dataclasses.dataclass
class PackedModel:
    name: str
    scheme: str
    layers: list
    sigmoid_table: np.ndarray | None
    tanh_table: np.ndarray | None
    input_roots: int = 0           # the network input is |X|^(1 / 2^input_roots)
    mask_floor: float = 0.0        # the output mask is max(mask, mask_floor) (float32)
    version: int = FORMAT_VERSION
    magic: int = FORMAT_MAGIC

    def checksum(self) -> int:
        """CRC-32 of the canonical serialisation (rnnse_model_checksum in model.c)."""
        words = lambda ws: struct.pack(f"<{len(ws)}I", *ws)  # noqa: E731
        crc = zlib.crc32(words([self.magic, self.version, len(self.layers), self.input_roots])
                         + struct.pack("<f", self.mask_floor))
        for lay in self.layers:
            crc = zlib.crc32(words(lay.header_words()), crc)
            crc = zlib.crc32(lay.records, crc)
        for t in (self.sigmoid_table, self.tanh_table):
            if t is None:
                crc = zlib.crc32(words([0]), crc)
            else:
                crc = zlib.crc32(words([1]) + np.asarray(t, "<i2").tobytes(), crc)
        return crc & 0xFFFFFFFF

    def weight_bytes(self) -> int:
        """Bytes the firmware keeps in L2: records and tables."""
        n = sum(len(lay.records) for lay in self.layers)
        return n + sum(TABLE_SIZE * 2 for t in (self.sigmoid_table, self.tanh_table) if t is not None)


# ---------------------------------------------------------------------------------------------
# packing

def _le(a, dtype) -> np.ndarray:
    """Array as little-endian bytes, one row per unit: (rows, itemsize * cols)."""
    a = np.ascontiguousarray(np.asarray(a).astype(dtype))
    return a.view(np.uint8).reshape(a.shape[0], -1)


def _arr(lay, key, shape, dtype, kind):
    try:
        a = np.asarray(lay.arrays[key])
    except KeyError:
        raise ExportError(f"layer {lay.name!r}: missing constant {key!r}") from None
    if tuple(a.shape) != tuple(shape):
        raise ExportError(f"layer {lay.name!r}: {key} has shape {tuple(a.shape)}, expected {tuple(shape)}")
    if kind == "f":
        if a.dtype.kind not in "fiu":
            raise ExportError(f"layer {lay.name!r}: {key} must be numeric, got {a.dtype}")
        if not np.all(np.isfinite(a.astype(np.float64))):
            raise ExportError(f"layer {lay.name!r}: {key} has non-finite values (NaN or inf)")
        with np.errstate(over="ignore"):
            out = a.astype(dtype)
        if not np.all(np.isfinite(out)):
            raise ExportError(f"layer {lay.name!r}: {key} has values beyond the {np.dtype(dtype).name} "
                              f"range (largest magnitude {float(np.abs(a).max()):g})")
        return out
    if a.dtype.kind not in "iu":
        raise ExportError(f"layer {lay.name!r}: {key} must be integer, got {a.dtype}")
    info = np.iinfo(dtype)
    if a.size and (a.min() < info.min or a.max() > info.max):
        raise ExportError(f"layer {lay.name!r}: {key} does not fit {np.dtype(dtype).name}")
    return a.astype(dtype)


def _shifts(lay, key, n):
    s = _arr(lay, key, (n,), np.int64, "i")
    if s.size and (s.min() < 1 or s.max() > 62):
        raise ExportError(f"layer {lay.name!r}: {key} outside 1..62")
    return s.astype(np.uint8)


def _mults(lay, key, n):
    m = _arr(lay, key, (n,), np.int64, "i")
    if m.size and (m.min() < 0 or m.max() > 2**31 - 1):
        raise ExportError(f"layer {lay.name!r}: {key} outside 0..2^31-1")
    return m.astype(np.int32)


def _pack_fc(lay, in_type):
    w = lay.arrays.get("w")
    if w is None or np.ndim(w) != 2:
        raise ExportError(f"layer {lay.name!r}: fc needs a 2-D weight matrix 'w'")
    N, K = np.shape(w)
    act = lay.attrs.get("act")
    if act not in ACT:
        raise ExportError(f"layer {lay.name!r}: unknown activation {act!r}")
    k4 = round4(K)
    if lay.prec == "fp16":
        w = _arr(lay, "w", (N, K), np.float16, "f")
        b = _arr(lay, "b", (N,), np.float16, "f")
        rec = np.zeros((N, k4 + 2), np.uint16)
        rec[:, :K] = w.view(np.uint16)
        rec[:, k4] = b.view(np.uint16)
        recb = rec.astype("<u2").view(np.uint8).reshape(N, -1)
        out_type = FP16
    else:
        w = _arr(lay, "w", (N, K), np.int8, "i")
        b = _arr(lay, "b", (N,), np.int32, "i")
        mult, shift = _mults(lay, "mult", N), _shifts(lay, "shift", N)
        recb = np.zeros((N, k4 + 12), np.uint8)
        recb[:, :K] = w.view(np.uint8)
        recb[:, k4:k4 + 12] = _le(np.stack([b, mult, shift.astype(np.int32)], 1), "<i4")
        out_type = INT16 if act == "sigmoid" else INT8
    return dict(in_type=in_type, out_type=out_type, n_in=K, n_out=N, act=ACT[act],
                table_mode=TABLE_MODE[lay.attrs.get("table_mode", "nearest")], records=recb)


def _pack_rnn(lay, in_type):
    G = 4 if lay.kind == "lstm" else 3
    w_ih, w_hh = lay.arrays.get("w_ih"), lay.arrays.get("w_hh")
    if w_ih is None or w_hh is None or np.ndim(w_ih) != 2 or np.ndim(w_hh) != 2:
        raise ExportError(f"layer {lay.name!r}: {lay.kind} needs 2-D w_ih and w_hh")
    GH, K = np.shape(w_ih)
    H = np.shape(w_hh)[1]
    if GH != G * H or np.shape(w_hh)[0] != G * H:
        raise ExportError(f"layer {lay.name!r}: {lay.kind} weights {np.shape(w_ih)} / {np.shape(w_hh)} "
                          f"do not have {G} gate blocks of {H} rows")
    k4, h4 = round4(K), round4(H)
    row = k4 + h4
    int8 = lay.prec == "int8"
    wdt, kind = (np.int8, "i") if int8 else (np.float16, "f")
    w_ih, w_hh = _arr(lay, "w_ih", (GH, K), wdt, kind), _arr(lay, "w_hh", (GH, H), wdt, kind)
    esize = 1 if int8 else 2
    tail = TAIL_INT8 if int8 else TAIL_FP16
    recb = np.zeros((H, G * row * esize + tail), np.uint8)
    for g in range(G):
        o = g * row * esize
        recb[:, o:o + K * esize] = _le(w_ih[g * H:(g + 1) * H], "<i1" if int8 else "<f2")
        o += k4 * esize
        recb[:, o:o + H * esize] = _le(w_hh[g * H:(g + 1) * H], "<i1" if int8 else "<f2")
    t0 = G * row * esize
    per_gate = lambda a: a.reshape(G, H).T  # noqa: E731  (H, G): gate values of each unit
    pad4 = lambda a: np.concatenate([a, np.zeros((H, 4 - a.shape[1]), a.dtype)], 1)  # noqa: E731
    fields = dict(in_type=in_type, out_type=in_type, n_in=K, n_out=H)
    if int8:
        b = per_gate(_arr(lay, "b", (GH,), np.int32, "i"))
        mx, mh = per_gate(_mults(lay, "mult_x", GH)), per_gate(_mults(lay, "mult_h", GH))
        sx, sh = per_gate(_shifts(lay, "shift_x", GH)), per_gate(_shifts(lay, "shift_h", GH))
        if lay.kind == "gru":
            b = np.concatenate([b, _arr(lay, "b_hn", (H,), np.int32, "i")[:, None]], 1)
        ints = np.concatenate([b, pad4(mx), pad4(mh)], 1)                   # (H, 12) int32
        recb[:, t0:t0 + 48] = _le(ints, "<i4")
        recb[:, t0 + 48:t0 + 56] = np.concatenate([pad4(sx), pad4(sh)], 1)
        mode = lay.attrs.get("table_mode", "nearest")
        if mode not in TABLE_MODE:
            raise ExportError(f"layer {lay.name!r}: unknown table mode {mode!r}")
        fields["table_mode"] = TABLE_MODE[mode]
        if lay.kind == "lstm":
            c_bits = int(lay.attrs.get("c_bits", 8))
            if c_bits not in (8, 16):
                raise ExportError(f"layer {lay.name!r}: c_bits must be 8 or 16, got {c_bits}")
            for k in ("c_mult", "ct_mult", "c_shift", "ct_shift"):
                if k not in lay.attrs:
                    raise ExportError(f"layer {lay.name!r}: missing constant {k!r}")
            fields.update(c_mult=int(lay.attrs["c_mult"]), c_shift=int(lay.attrs["c_shift"]),
                          ct_mult=int(lay.attrs["ct_mult"]), ct_shift=int(lay.attrs["ct_shift"]),
                          c_bits=c_bits)
            for k in ("c_shift", "ct_shift"):
                if not 1 <= fields[k] <= 62:
                    raise ExportError(f"layer {lay.name!r}: {k} outside 1..62")
            for k in ("c_mult", "ct_mult"):
                if not 0 <= fields[k] <= 2**31 - 1:
                    raise ExportError(f"layer {lay.name!r}: {k} outside 0..2^31-1")
    else:
        b = per_gate(_arr(lay, "b", (GH,), np.float16, "f"))
        if lay.kind == "gru":
            b = np.concatenate([b, _arr(lay, "b_hn", (H,), np.float16, "f")[:, None]], 1)
        recb[:, t0:t0 + 8] = _le(b, "<f2")
    fields["records"] = recb
    return fields


def _scalar(lay, key):
    try:
        v = float(lay.attrs[key])
    except KeyError:
        raise ExportError(f"layer {lay.name!r}: missing constant {key!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise ExportError(f"layer {lay.name!r}: {key} must be finite and positive, got {v}")
    return float(np.float32(v))


def _pack_quant(lay, cur, n):
    """A quant step: one inv_scale (header field ``scale``) or, when ``inv_scale`` is an array,
    one per element as float32 records of 4 bytes (``scale`` 0)."""
    f = dict(in_type=cur, out_type=INT8, n_in=n, n_out=n)
    if "inv_scale" not in lay.arrays:
        f["scale"] = _scalar(lay, "inv_scale")
        return f
    inv = _arr(lay, "inv_scale", (n,), np.float32, "f")
    if not np.all(np.isfinite(inv)) or np.any(inv <= 0):
        raise ExportError(f"layer {lay.name!r}: every inv_scale must be finite and positive")
    f["records"] = _le(inv[:, None], "<f4")
    return f


# input element types each (kind, precision) accepts
_ACCEPTS = {("fc", "fp16"): (FP16,), ("fc", "int8"): (INT8,), ("lstm", "fp16"): (FP16,),
            ("lstm", "int8"): (INT8,), ("gru", "fp16"): (FP16,), ("gru", "int8"): (INT8,),
            ("quant", ""): (FP16, FP32), ("dequant", ""): (INT8, INT16)}
NAME_RE = re.compile(r"[A-Za-z0-9_.+-]{1,64}")


def pack_model(qmodel, name: str = "model") -> PackedModel:
    """QuantizedModel -> PackedModel (header fields and record bytes of every layer)."""
    if not NAME_RE.fullmatch(name):
        raise ExportError(f"model name {name!r}: use 1 to 64 letters, digits and _ . + -")
    if qmodel.scheme not in SCHEMES:
        raise ExportError(f"unknown scheme {qmodel.scheme!r}: expected one of {', '.join(SCHEMES)}")
    if not 1 <= len(qmodel.layers) <= MAX_LAYERS:
        raise ExportError(f"{len(qmodel.layers)} layers: the firmware takes 1..{MAX_LAYERS}")
    n = int(qmodel.config.get("n_bins", 257))
    cur = FP16 if qmodel.layers[0].prec == "fp16" else FP32
    packed, any_int8 = [], False
    for lay in qmodel.layers:
        if lay.kind not in KIND or lay.prec not in PREC:
            raise ExportError(f"layer {lay.name!r}: unknown kind/precision {lay.kind!r}/{lay.prec!r}")
        if lay.kind in ("fc", "lstm", "gru") and lay.prec not in ("fp16", "int8"):
            raise ExportError(f"layer {lay.name!r}: {lay.kind} needs precision fp16 or int8")
        if lay.kind in ("quant", "dequant") and lay.prec:
            raise ExportError(f"layer {lay.name!r}: {lay.kind} has no precision, got {lay.prec!r}")
        any_int8 |= lay.prec == "int8"
        if lay.kind == "fc":
            f = _pack_fc(lay, cur)
        elif lay.kind in ("lstm", "gru"):
            f = _pack_rnn(lay, cur)
        elif lay.kind == "quant":
            f = _pack_quant(lay, cur, n)
        else:
            out = lay.attrs.get("out", "fp32")
            if out not in ("fp16", "fp32"):
                raise ExportError(f"layer {lay.name!r}: dequant output must be fp16 or fp32, got {out!r}")
            f = dict(in_type=cur, out_type=FP16 if out == "fp16" else FP32, n_in=n, n_out=n,
                     scale=_scalar(lay, "scale"))
        if f["n_in"] != n:
            raise ExportError(f"layer {lay.name!r}: takes {f['n_in']} inputs but the previous layer gives {n}")
        want = _ACCEPTS[(lay.kind, lay.prec)]
        if cur not in want:
            raise ExportError(f"layer {lay.name!r} ({lay.kind} {lay.prec or ''}) takes "
                              f"{' or '.join(TYPE_NAME[t] for t in want)} input but gets {TYPE_NAME[cur]}")
        recs = f.pop("records", None)
        kind, prec = KIND[lay.kind], PREC[lay.prec]
        pl = PackedLayer(name=lay.name, kind=kind, prec=prec, **f)
        if recs is not None:
            pl.rec_bytes = recs.shape[1] if kind == KIND["quant"] else record_bytes(kind, prec, pl.n_in, pl.n_out)
            assert recs.shape == (pl.n_out, pl.rec_bytes), (recs.shape, pl.rec_bytes)
            pl.records = recs.tobytes()
        packed.append(pl)
        n, cur = pl.n_out, pl.out_type
    if cur not in (FP16, FP32):
        raise ExportError("the last layer must give FP16 or FP32 (a dequant after an int8 output)")
    sig = tanh = None
    if any_int8:
        try:
            sig = np.asarray(qmodel.tables["sigmoid"]).astype(np.int16)
            tanh = np.asarray(qmodel.tables["tanh"]).astype(np.int16)
        except KeyError:
            raise ExportError("a model with int8 layers needs the sigmoid and tanh tables") from None
        if sig.shape != (TABLE_SIZE,) or tanh.shape != (TABLE_SIZE,):
            raise ExportError(f"activation tables must have {TABLE_SIZE} entries")
    return PackedModel(name=name, scheme=qmodel.scheme, layers=packed, sigmoid_table=sig, tanh_table=tanh,
                       input_roots=int(qmodel.config.get("input_roots", 0)),
                       mask_floor=float(np.float32(qmodel.config.get("mask_floor", 0.0))))


# ---------------------------------------------------------------------------------------------
# C output

def _c_bytes(data: bytes, indent="    ", per_line=24) -> str:
    lines = []
    for i in range(0, len(data), per_line):
        lines.append(indent + ",".join(str(b) for b in data[i:i + per_line]) + ",")
    return "\n".join(lines)


def _c_float(v: float) -> str:
    return f"{float(np.float32(v)).hex()}f" if v else "0.0f"


def _c_ident(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return s if s and not s[0].isdigit() else "m_" + s


def to_c(pm: PackedModel, symbol: str = "rnnse_model") -> str:
    """C source defining `const rnnse_model_t <symbol>` with its tables and records."""
    p = _c_ident(pm.name)
    out = [f"/* Generated by `rnnse export`: model {pm.name!r}, scheme {pm.scheme}, "
           f"format version {pm.version}. Do not edit. */",
           '#include "rnnse_model.h"', ""]
    for t, tn in ((pm.sigmoid_table, "sigmoid"), (pm.tanh_table, "tanh")):
        if t is not None:
            vals = ",".join(str(int(v)) for v in t)
            out.append(f"static const int16_t {p}_{tn}[{TABLE_SIZE}] = {{{vals}}};")
    for i, lay in enumerate(pm.layers):
        if lay.records:
            out.append(f"/* layer {i} {lay.name}: {lay.n_out} records of {lay.rec_bytes} bytes */")
            out.append(f"static const uint8_t {p}_rec{i}[{len(lay.records)}] __attribute__((aligned(16))) = {{")
            out.append(_c_bytes(lay.records))
            out.append("};")
    out.append("")
    out.append(f"const rnnse_model_t {symbol} = {{")
    out.append(f"    .magic = 0x{pm.magic:08x}u,")
    out.append(f"    .version = {pm.version}u,")
    out.append(f"    .name = {json.dumps(pm.name)},")
    out.append(f"    .scheme = {json.dumps(pm.scheme)},")
    out.append(f"    .n_layers = {len(pm.layers)}u,")
    out.append(f"    .input_roots = {pm.input_roots}u,")
    out.append(f"    .mask_floor = {_c_float(pm.mask_floor)},")
    out.append(f"    .sigmoid_table = {p + '_sigmoid' if pm.sigmoid_table is not None else 'NULL'},")
    out.append(f"    .tanh_table = {p + '_tanh' if pm.tanh_table is not None else 'NULL'},")
    out.append("    .layers = {")
    for i, L in enumerate(pm.layers):
        out.append(f"        {{ /* {i}: {L.name} */")
        out.append(f"            .kind = {KIND_NAME[L.kind]}, .prec = {TYPE_NAME[L.prec]}, "
                   f".in_type = {TYPE_NAME[L.in_type]}, .out_type = {TYPE_NAME[L.out_type]},")
        out.append(f"            .n_in = {L.n_in}u, .n_out = {L.n_out}u, .act = {L.act}u, "
                   f".table_mode = {L.table_mode}u,")
        out.append(f"            .c_mult = {L.c_mult}, .c_shift = {L.c_shift}, .ct_mult = {L.ct_mult}, "
                   f".ct_shift = {L.ct_shift}, .c_bits = {L.c_bits},")
        out.append(f"            .scale = {_c_float(L.scale)}, .rec_bytes = {L.rec_bytes}u, "
                   f".rec = {f'{p}_rec{i}' if L.records else 'NULL'},")
        out.append("        },")
    out.append("    },")
    out.append(f"    .checksum = 0x{pm.checksum():08x}u,")
    out.append("};")
    return "\n".join(out) + "\n"


def state_bytes(pm: PackedModel) -> int:
    """Bytes of recurrent state the firmware keeps between frames (h, and c for LSTM)."""
    n = 0
    for L in pm.layers:
        if L.kind in (KIND["lstm"], KIND["gru"]):
            e = 1 if L.prec == INT8 else 2
            n += L.n_out * e
            if L.kind == KIND["lstm"]:
                n += L.n_out * (L.c_bits // 8 if L.prec == INT8 else 2)
    return n


def summary(pm: PackedModel, l2_budget: int = DEFAULT_L2_BUDGET) -> dict:
    """The JSON description of an exported model (sizes, checksum, layer list)."""
    size = pm.weight_bytes()
    kind_name = {v: k for k, v in KIND.items()}
    return {"name": pm.name, "scheme": pm.scheme, "format_version": pm.version,
            "input_roots": pm.input_roots, "mask_floor": pm.mask_floor,
            "checksum": f"0x{pm.checksum():08x}", "weight_bytes": size,
            "table_bytes": size - sum(len(L.records) for L in pm.layers),
            "state_bytes": state_bytes(pm), "budget_bytes": int(l2_budget),
            "fits_gap9_l2": size <= GAP9_L2_BYTES, "fits_gap9_mram": size <= GAP9_MRAM_BYTES,
            "layers": [{"name": L.name, "kind": kind_name[L.kind],
                        "prec": {FP16: "fp16", INT8: "int8", 0: ""}[L.prec],
                        "in": TYPE_NAME[L.in_type][6:].lower(), "out": TYPE_NAME[L.out_type][6:].lower(),
                        "n_in": L.n_in, "n_out": L.n_out, "record_bytes": L.rec_bytes,
                        "bytes": len(L.records)} for L in pm.layers]}


def check_budget(pm: PackedModel, l2_budget: int = DEFAULT_L2_BUDGET) -> None:
    """ExportError naming the sizes when the weights and tables do not fit ``l2_budget`` bytes."""
    size = pm.weight_bytes()
    if size <= l2_budget:
        return
    parts = [f"{L.name} {len(L.records)}" for L in pm.layers if L.records]
    tables = size - sum(len(L.records) for L in pm.layers)
    if tables:
        parts.append(f"tables {tables}")
    raise ExportError(f"model {pm.name!r} ({pm.scheme}) needs {size} bytes for weights and tables "
                      f"({', '.join(parts)}), more than the budget of {l2_budget} bytes "
                      f"({size - l2_budget} too many); use a smaller model or a lower-precision scheme, "
                      f"or give a larger --l2-budget")


def export(qmodel, out_dir, name: str = "model", l2_budget: int = DEFAULT_L2_BUDGET) -> dict:
    """Write ``<out_dir>/<name>.c`` and ``<name>.json``; returns the JSON summary.

    Refuses (ExportError) a model whose weights and tables exceed ``l2_budget`` bytes."""
    pm = pack_model(qmodel, name)
    if l2_budget < 1:
        raise ExportError(f"the memory budget must be a positive number of bytes, got {l2_budget}")
    check_budget(pm, l2_budget)
    os.makedirs(out_dir, exist_ok=True)
    fname = _c_ident(name)
    info = summary(pm, l2_budget)
    _write_if_changed(os.path.join(out_dir, fname + ".c"), to_c(pm))
    _write_if_changed(os.path.join(out_dir, fname + ".json"), json.dumps(info, indent=1) + "\n")
    return info


def _write_if_changed(path, text):
    """Atomic write; leaves the file (and its time stamp) alone when the content is the same."""
    if os.path.exists(path):
        with open(path) as f:
            if f.read() == text:
                return
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# command line

def parse_bytes(text: str) -> int:
    """'1572864', '1536K', '1.5M' (K = 1024, M = 1024^2) -> bytes."""
    t = str(text).strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 1024, "M": 1024 * 1024}.get(t[-1:], 1)
    try:
        v = float(t[:-1] if mult > 1 else t)
    except ValueError:
        raise ExportError(f"not a byte count: {text!r} (examples: 1572864, 1536K, 1.5M)") from None
    if not math.isfinite(v) or v < 1:
        raise ExportError(f"the memory budget must be a positive number of bytes, got {text!r}")
    return int(v * mult)


def _cmd_export(args) -> int:
    from .quant.qmodel import QuantizedModel

    q = QuantizedModel.load(args.qmodel)
    name = args.name or os.path.splitext(os.path.basename(args.qmodel))[0]
    s = export(q, args.output, name=name, l2_budget=parse_bytes(args.l2_budget))
    print(f"exported {name} ({s['scheme']}): {s['weight_bytes']} bytes of weights and tables "
          f"(budget {s['budget_bytes']}), {s['state_bytes']} bytes of state, checksum {s['checksum']} "
          f"-> {os.path.join(args.output, _c_ident(name) + '.c')}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="write a quantized model as C for the firmware",
                              description=__doc__.splitlines()[0])
    p.add_argument("qmodel", help="quantized model file (rnnse quantize)")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--name", help="model name: letters, digits, _ . + - (default: the file name)")
    p.add_argument("--l2-budget", default=str(DEFAULT_L2_BUDGET),
                   help=f"bytes the weights and tables may take, e.g. 1572864, 1536K, 2M "
                        f"(default {DEFAULT_L2_BUDGET}: GAP9's L2)")
    p.set_defaults(func=_cmd_export)
