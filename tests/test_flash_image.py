"""The model's flash image (rnnse.flash writes it, firmware/targets/pmsis/model_image.c reads it at
boot), without a simulator: the firmware's reader compiled for the host and fed the writer's
images.

* shipped models of every scheme: the descriptor the reader builds is the packed model, field by
  field, record bytes and tables included, and its model checksum (computed by the kernels'
  rnnse_model_checksum) is the exporter's;
* every refusal path, each with its code and its one-line reason: bad magic, image version, a
  flipped byte (CRC-32), and, with a correct CRC, a model format version, a layer count, records
  out of bounds or misaligned, an unterminated name; a record byte or a layer field changed after
  export with the CRC made to match passes the reader but not the model checksum the network
  checks at init (rnnse_model_checksum);
* the Python constants of rnnse.flash against the header's.
"""
import os
import re
import shutil
import struct
import subprocess
import zlib

import numpy as np
import pytest

from rnnse import cheaders
from rnnse import flash as F
from rnnse.export import pack_model
from rnnse.quant.qmodel import QuantizedModel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADER = "firmware/targets/pmsis/model_image.h"
SHIPPED = [os.path.join(ROOT, "models", m, f"quant-{s}.npz")
           for m, s in (("lstm256", "mixed"), ("lstm256", "fp16"), ("gru256", "int8+"), ("gru256", "mixed+"))]


@pytest.fixture(scope="module")
def reader(tmp_path_factory):
    """(ffi, lib): model_image.c and the kernels' model.c built as a host shared library."""
    import cffi

    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no host C compiler (gcc)")
    so = str(tmp_path_factory.mktemp("image-reader") / "libimage.so")
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-std=c99", "-Wall", "-Werror", "-I", "firmware/kernels",
                    "-o", so, "firmware/targets/pmsis/model_image.c", "firmware/kernels/model.c"],
                   cwd=ROOT, check=True)
    ffi = cffi.FFI()
    ffi.cdef(cheaders.cdef([("firmware/kernels/rnnse_model.h", ["rnnse_layer_t", "rnnse_model_t",
                                                                "rnnse_model_checksum"]),
                            (HEADER, ["rnnse_image_header_t", "rnnse_image_header", "rnnse_image_model",
                                      "rnnse_image_crc32"])]))
    return ffi, ffi.dlopen(so)


def parse(reader, image: bytes):
    """(code, reason, model, keep): the reader's answer for a whole image."""
    ffi, lib = reader
    h = ffi.new("rnnse_image_header_t *")
    why = ffi.new("const char **")
    head = ffi.new("uint8_t[]", image[:F.HEADER_BYTES])
    rc = lib.rnnse_image_header(head, h, why)
    if rc != 0:
        return rc, ffi.string(why[0]).decode(), None, None
    payload = ffi.new("uint8_t[]", image[F.HEADER_BYTES:] + bytes(16))
    base = int(ffi.cast("uintptr_t", payload))
    aligned = ffi.cast("uint8_t *", payload) + (-base % 16)
    if -base % 16:                                     # records 16-byte aligned, as in L2
        ffi.memmove(aligned, image[F.HEADER_BYTES:], len(image) - F.HEADER_BYTES)
    m = ffi.new("rnnse_model_t *")
    rc = lib.rnnse_image_model(h, aligned, m, why)
    return rc, ffi.string(why[0]).decode(), m, payload


def codes():
    return cheaders.constants(HEADER)


def test_constants_match_the_header():
    k = codes()
    assert (F.IMAGE_MAGIC, F.IMAGE_VERSION, F.HEADER_BYTES, F.NAME_BYTES, F.SCHEME_BYTES, F.FIXED_BYTES,
            F.LAYER_BYTES) == (k["RNNSE_IMAGE_MAGIC"], k["RNNSE_IMAGE_VERSION"], k["RNNSE_IMAGE_HEADER_BYTES"],
                               k["RNNSE_IMAGE_NAME"], k["RNNSE_IMAGE_SCHEME"], k["RNNSE_IMAGE_FIXED_BYTES"],
                               k["RNNSE_IMAGE_LAYER_BYTES"])
    with open(os.path.join(ROOT, HEADER)) as f:
        assert re.search(r'#define RNNSE_IMAGE_FILE "([^"]+)"', f.read()).group(1) == F.IMAGE_FILE


@pytest.mark.parametrize("qpath", SHIPPED, ids=[os.path.relpath(p, os.path.join(ROOT, "models")) for p in SHIPPED])
def test_reader_rebuilds_the_packed_model(reader, qpath):
    ffi, lib = reader
    if not os.path.exists(qpath):
        pytest.skip(f"{qpath} not in this checkout")
    pm = pack_model(QuantizedModel.load(qpath), "shipped")
    image = F.image_bytes(pm)
    assert lib.rnnse_image_crc32(0, image[F.HEADER_BYTES:], len(image) - F.HEADER_BYTES) == \
        zlib.crc32(image[F.HEADER_BYTES:])
    rc, why, m, _keep = parse(reader, image)
    assert rc == 0, why
    assert m.checksum == pm.checksum() == lib.rnnse_model_checksum(m)
    assert m.magic == pm.magic and m.version == pm.version
    assert ffi.string(m.name).decode() == pm.name and ffi.string(m.scheme).decode() == pm.scheme
    assert m.n_layers == len(pm.layers) and m.input_roots == pm.input_roots
    for t, ref in ((m.sigmoid_table, pm.sigmoid_table), (m.tanh_table, pm.tanh_table)):
        if ref is None:
            assert t == ffi.NULL
        else:
            np.testing.assert_array_equal(np.frombuffer(ffi.buffer(t, 257 * 2), "<i2"), ref)
    for i, lay in enumerate(pm.layers):
        L = m.layers[i]
        words = [L.kind, L.prec, L.in_type, L.out_type, L.n_in, L.n_out, L.act, L.table_mode, L.c_mult, L.c_shift,
                 L.ct_mult, L.ct_shift, L.c_bits, struct.unpack("<I", struct.pack("<f", L.scale))[0], L.rec_bytes]
        assert [w & 0xFFFFFFFF for w in words] == lay.header_words(), lay.name
        if lay.records:
            assert int(ffi.cast("uintptr_t", L.rec)) % 16 == 0
            assert bytes(ffi.buffer(L.rec, len(lay.records))) == lay.records, lay.name
        else:
            assert L.rec == ffi.NULL


def _with_crc(image: bytearray) -> bytes:
    """The image with its header's CRC recomputed (the payload was changed on purpose)."""
    struct.pack_into("<I", image, 12, zlib.crc32(bytes(image[F.HEADER_BYTES:])) & 0xFFFFFFFF)
    return bytes(image)


def test_every_refusal_names_its_reason(reader):
    qpath = os.path.join(ROOT, "models", "gru256", "quant-int8.npz")
    if not os.path.exists(qpath):
        pytest.skip(f"{qpath} not in this checkout")
    pm = pack_model(QuantizedModel.load(qpath), "gru256-int8")
    good = F.image_bytes(pm)
    k = codes()
    p0 = F.HEADER_BYTES                               # payload offset in the image
    with_rec = next(i for i, lay in enumerate(pm.layers) if lay.records)
    rec_word = p0 + F.FIXED_BYTES + with_rec * F.LAYER_BYTES + 60       # its records' offset
    first_rec = struct.unpack_from("<I", good, rec_word)[0]

    def changed(off, fmt, value, crc=True):
        b = bytearray(good)
        struct.pack_into(fmt, b, off, value)
        return _with_crc(b) if crc else bytes(b)

    cases = [
        ("magic", changed(0, "<I", 0x12345678, crc=False), "RNNSE_IMAGE_E_MAGIC", "not an rnnse model image"),
        ("image version", changed(4, "<I", F.IMAGE_VERSION + 1, crc=False), "RNNSE_IMAGE_E_VERSION",
         "another image version"),
        ("truncated", changed(8, "<I", 20, crc=False), "RNNSE_IMAGE_E_SIZE", "truncated"),
        ("flipped byte", F.corrupted(good), "RNNSE_IMAGE_E_CRC", "corrupt: its payload does not match its CRC-32"),
        ("model format", changed(p0 + 4, "<I", 2), "RNNSE_IMAGE_E_VERSION", "another model format version"),
        ("no layers", changed(p0 + 8, "<I", 0), "RNNSE_IMAGE_E_FORMAT", "inconsistent descriptor"),
        ("17 layers", changed(p0 + 8, "<I", 17), "RNNSE_IMAGE_E_FORMAT", "inconsistent descriptor"),
        ("mask floor", changed(p0 + 24, "<f", 1.5), "RNNSE_IMAGE_E_FORMAT", "mask floor"),
        ("name", changed(p0 + 28, f"<{F.NAME_BYTES}s", b"x" * F.NAME_BYTES), "RNNSE_IMAGE_E_FORMAT",
         "inconsistent descriptor"),
        ("tables", changed(p0 + 20, "<I", len(good)), "RNNSE_IMAGE_E_FORMAT", "activation tables outside"),
        ("records outside", changed(rec_word, "<I", len(good) - p0 - 16), "RNNSE_IMAGE_E_FORMAT",
         "records lie outside the image or are misaligned"),
        ("records misaligned", changed(rec_word, "<I", first_rec + 4), "RNNSE_IMAGE_E_FORMAT",
         "misaligned"),
    ]
    assert parse(reader, good)[0] == 0
    for what, image, code, reason in cases:
        rc, why, _, _ = parse(reader, image)
        assert rc == k[code], (what, rc, why)
        assert reason in why and "\n" not in why, (what, why)
    _, lib = reader
    for image in (changed(p0 + first_rec, "<B", good[p0 + first_rec] ^ 1), changed(p0 + F.FIXED_BYTES + 24, "<I", 2)):
        rc, why, m, _keep = parse(reader, image)
        assert rc == 0 and m.checksum == pm.checksum() != lib.rnnse_model_checksum(m)


def test_corrupted_keeps_the_header(tmp_path):
    """--corrupt flips one payload byte and nothing else."""
    qpath = os.path.join(ROOT, "models", "gru256", "quant-int8.npz")
    if not os.path.exists(qpath):
        pytest.skip(f"{qpath} not in this checkout")
    good, pm = F.write_image(qpath, str(tmp_path / "good"))
    bad, _ = F.write_image(qpath, str(tmp_path / "bad"), corrupt=True)
    a, b = open(good, "rb").read(), open(bad, "rb").read()
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    assert len(a) == len(b) and len(diff) == 1 and diff[0] >= F.HEADER_BYTES
    assert struct.unpack_from("<I", a, 16)[0] == pm.checksum()
