"""The model in flash: ``rnnse flash MODEL [--scheme S] [--board gvsoc|gap9] [-o DIR]``.

The PMSIS firmware (``scons target=pmsis``; firmware/targets/pmsis) is built without a model: at
boot it reads the model from the board's flash, the file ``rnnse_model.bin`` of the flash's
read-only file system (readfs), into L2, and checks it there. This module writes that file (the
flash image of the exported model: the descriptor of firmware/kernels/rnnse_model.h and the
weight records, layout in firmware/targets/pmsis/model_image.h) and puts it in a flash:

* ``--board gvsoc`` (default): GVSoC's pulp-open, whose hyperflash the launcher preloads with a
  readfs holding the image; the PMSIS firmware is started on it and must report the model's
  checksum after reading it from the flash (``rnnse enhance --target pmsis`` does the same for
  every stream);
* ``--board gap9``: the GAP9 SDK's flash-and-run step for firmware/targets/gap9 with the image in
  the board's flash (``GAP_SDK_HOME`` must be set; not exercised by this project's tests).

``--corrupt`` writes an image with one payload byte flipped after its CRC was computed: the
firmware must refuse it (a check of the refusal, docs/board.md).
"""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import zlib

from .cli import UserError

IMAGE_FILE = "rnnse_model.bin"         # firmware/targets/pmsis/model_image.h: RNNSE_IMAGE_FILE
IMAGE_MAGIC = 0x49534E52               # "RNSI"
IMAGE_VERSION = 2
HEADER_BYTES = 32
NAME_BYTES = 68
SCHEME_BYTES = 16
FIXED_BYTES = 112
LAYER_BYTES = 64
ALIGN = 16
GAP_SDK_ENV = "GAP_SDK_HOME"


def _align(n: int, a: int = ALIGN) -> int:
    return (n + a - 1) // a * a


def image_bytes(pm) -> bytes:
    """The flash image of a packed model (rnnse.export.PackedModel)."""
    name, scheme = pm.name.encode(), pm.scheme.encode()
    if len(name) >= NAME_BYTES or len(scheme) >= SCHEME_BYTES:
        raise UserError(f"model name {pm.name!r} or scheme {pm.scheme!r} too long for the flash image "
                        f"({NAME_BYTES - 1} and {SCHEME_BYTES - 1} bytes at most)")
    tables = [t for t in (pm.sigmoid_table, pm.tanh_table) if t is not None]
    flags = (pm.sigmoid_table is not None) | (pm.tanh_table is not None) << 1
    pos = FIXED_BYTES + LAYER_BYTES * len(pm.layers)
    table_off = pos if tables else 0
    pos += sum(len(t) * 2 for t in tables)
    offsets = []
    for lay in pm.layers:
        if lay.records:
            pos = _align(pos)
            offsets.append(pos)
            pos += len(lay.records)
        else:
            offsets.append(0)
    payload = bytearray(pos)
    struct.pack_into("<6If", payload, 0, pm.magic, pm.version, len(pm.layers), pm.input_roots, flags, table_off,
                     pm.mask_floor)
    payload[28:28 + len(name)] = name
    payload[96:96 + len(scheme)] = scheme
    for i, lay in enumerate(pm.layers):
        struct.pack_into("<16I", payload, FIXED_BYTES + i * LAYER_BYTES, *lay.header_words(), offsets[i])
        if lay.records:
            payload[offsets[i]:offsets[i] + len(lay.records)] = lay.records
    import numpy as np

    t = b"".join(np.asarray(x, "<i2").tobytes() for x in tables)
    payload[table_off:table_off + len(t)] = t
    header = struct.pack("<8I", IMAGE_MAGIC, IMAGE_VERSION, len(payload), zlib.crc32(payload) & 0xFFFFFFFF,
                         pm.checksum(), 0, 0, 0)
    return header + bytes(payload)


def corrupted(image: bytes, offset: int | None = None) -> bytes:
    """The image with one payload byte flipped (the middle of the last layer's records by
    default), its header unchanged: the CRC no longer matches."""
    b = bytearray(image)
    b[offset if offset is not None else HEADER_BYTES + (len(b) - HEADER_BYTES) * 3 // 4] ^= 0x40
    return bytes(b)


def write_image(qmodel_path: str, out_dir: str | None = None, *, corrupt: bool = False) -> tuple[str, object]:
    """Write ``rnnse_model.bin`` for a quantized model; returns (path, packed model). Default
    folder: build/flash/<model>-<scheme>/ of the checkout."""
    from .export import ExportError, pack_model
    from .quant.qmodel import QuantizedModel
    from .stream.build import model_build_name, repo_root

    q = QuantizedModel.load(qmodel_path)
    name = model_build_name(qmodel_path, q.scheme)
    try:
        pm = pack_model(q, name)
    except ExportError as exc:
        raise UserError(str(exc)) from None
    if out_dir is None:
        out_dir = os.path.join(repo_root(), "build", "flash", name + ("-corrupt" if corrupt else ""))
    os.makedirs(out_dir, exist_ok=True)
    data = image_bytes(pm)
    if corrupt:
        data = corrupted(data)
    path = os.path.join(out_dir, IMAGE_FILE)
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)
    return path, pm


# ---- command line ---------------------------------------------------------------------------------

def register(sub) -> None:
    p = sub.add_parser("flash", help="write the model into a flash image and boot the PMSIS firmware from it "
                                     "(GVSoC's hyperflash, or a GAP9 board through its SDK)",
                       description=__doc__.splitlines()[0])
    p.add_argument("model", help="model directory holding quant-SCHEME.npz, or a quantized-model file")
    p.add_argument("--scheme", default="mixed", help="quantization scheme (default mixed)")
    p.add_argument("--board", choices=("gvsoc", "gap9"), default="gvsoc",
                   help="gvsoc: preload GVSoC's pulp-open hyperflash and boot the firmware from it (default); "
                        "gap9: the GAP9 SDK's flash-and-run (needs GAP_SDK_HOME)")
    p.add_argument("-o", "--output", help="folder of the image (default build/flash/MODEL-SCHEME)")
    p.add_argument("--corrupt", action="store_true",
                   help="flip one payload byte after the CRC is computed: the firmware must refuse the image")
    p.set_defaults(func=cmd_flash)


def cmd_flash(args) -> int:
    from .stream.cli import resolve_qmodel

    qmodel = resolve_qmodel(args.model, args.scheme)
    path, pm = write_image(qmodel, args.output, corrupt=args.corrupt)
    size = os.path.getsize(path)
    print(f"rnnse flash: {path}: model {pm.name} ({pm.scheme}), checksum 0x{pm.checksum():08x}, {size} bytes"
          + (" (one byte flipped)" if args.corrupt else ""), file=sys.stderr)
    if args.board == "gap9":
        return _flash_gap9(path)
    return _flash_gvsoc(path, pm, args.corrupt)


def _flash_gvsoc(path: str, pm, corrupt: bool) -> int:
    from .stream import gvsoc as G
    from .stream import pmsis

    reason = pmsis.unavailable()
    if reason:
        raise UserError(reason)
    try:
        info = pmsis.boot_check(path)
    except G.GvsocError as exc:
        if corrupt and "corrupt" in str(exc):
            print(f"rnnse flash: the firmware refused the corrupted image, as it must: {exc}", file=sys.stderr)
            return 0
        raise UserError(str(exc)) from None
    if corrupt:
        raise UserError("the firmware accepted an image with a flipped byte")
    if info.checksum != pm.checksum():
        raise UserError(f"the firmware booted a model with checksum 0x{info.checksum:08x}, the image holds "
                        f"0x{pm.checksum():08x}")
    print(f"rnnse flash: GVSoC pulp-open: the PMSIS firmware read the model from the hyperflash into L2: "
          f"{info.model} ({info.scheme}), checksum 0x{info.checksum:08x}, {info.cores} cores", file=sys.stderr)
    return 0


def gap9_missing() -> str | None:
    """None when the GAP9 SDK's flow can run, else what is missing (one sentence)."""
    home = os.environ.get(GAP_SDK_ENV, "").strip()
    if not home:
        return (f"{GAP_SDK_ENV} is not set: install the GAP9 SDK (GreenWaves; not public) and source its "
                f"sourceme.sh first (firmware/targets/gap9, docs/board.md)")
    if not os.path.isfile(os.path.join(home, "utils", "cmake", "setup.cmake")):
        return f"{GAP_SDK_ENV}={home} holds no utils/cmake/setup.cmake: not a GAP9 SDK"
    if shutil.which("cmake") is None:
        return "cmake not found (the GAP9 SDK's build is CMake)"
    return None


def _flash_gap9(path: str) -> int:
    from .stream.build import repo_root

    missing = gap9_missing()
    if missing:
        raise UserError(f"--board gap9: {missing}; the image is written: {path}")
    root = repo_root()
    build = os.path.join(root, "build", "gap9")
    src = os.path.join(root, "firmware", "targets", "gap9")
    steps = [["cmake", "-S", src, "-B", build, f"-DRNNSE_MODEL_IMAGE={os.path.abspath(path)}"],
             ["cmake", "--build", build, "--target", "run"]]
    for cmd in steps:
        print("rnnse flash: " + " ".join(cmd), file=sys.stderr)
        r = subprocess.run(cmd)
        if r.returncode != 0:
            raise UserError(f"--board gap9: `{' '.join(cmd)}` failed with status {r.returncode}")
    return 0
