"""Misuse of the host kernel library, and the whole network step on odd sizes and several cores.

Every misuse is answered with an error code (L1 budget too small, bad descriptor magic, version,
checksum or contents, bad core counts, NULL pointers), the library keeps working afterwards, and
the network step of small odd-sized models matches the golden model (INT8 schemes bit for bit,
FP16-carrying ones within docs/numerics.md "End-to-end tolerance") with DMA tiles of one or two
records, in place, and on 1, 3 and 8 cores. tests/test_kernels_asan.py runs this module under
AddressSanitizer + UBSan, so none of it may touch memory it does not own.
"""
import functools

import numpy as np
import pytest

from rnnse import native
from rnnse.quant import GoldenModel, quantize

import test_kernels as tk


@pytest.fixture(scope="module")
def lib():
    return native.load()


@functools.lru_cache(maxsize=None)
def small_model(cell: str, scheme: str, hidden: int = 33, fc_in: int = 37, fc_out: int = 29):
    """A random network with sizes that are not multiples of 4, quantized with calibration data."""
    import torch

    from rnnse.models import ModelConfig, SEModel

    torch.manual_seed(hidden)
    m = SEModel(ModelConfig(cell=cell, hidden=hidden, fc_in=fc_in, fc_out=fc_out)).eval()
    with torch.no_grad():
        m.fc_in.weight.mul_(4.0)
        m.fc_out.bias.add_(torch.linspace(-2, 2, m.config.n_bins))
    rng = np.random.default_rng(hidden)
    calib = [np.abs(rng.standard_normal((60, 257))).astype(np.float32) * 2]
    return quantize(m, scheme, calib_mags=calib)


def frames(n=48, seed=7):
    rng = np.random.default_rng(seed)
    return (np.abs(rng.standard_normal((n, 257))) * rng.uniform(0.2, 4.0, (n, 1))).astype(np.float32)


def check_masks(scheme, got, ref):
    if scheme in ("int8", "int8+"):
        np.testing.assert_array_equal(got, ref)
    else:
        d = np.abs(got.astype(np.float64) - ref)
        assert d.max() <= 2e-3 and d.mean() <= 2e-4, (d.max(), d.mean())


def expect_error(fn, name):
    with pytest.raises(native.NativeError) as e:
        fn()
    assert e.value.name == name, str(e.value)


# ---------------------------------------------------------------------------------------------
# the whole network: odd sizes, several cores, tiles of one record

@pytest.mark.parametrize("cores", [1, 3, 8])
@pytest.mark.parametrize("scheme", ["int8", "int8+", "mixed", "fp16"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_network_odd_sizes(lib, cell, scheme, cores):
    q = small_model(cell, scheme)
    mags = frames()
    ref = GoldenModel(q).run(mags)
    for max_tile, in_place in ((1, False), (2, False), (0, True)):
        with lib.net(q, cores=cores, max_tile=max_tile, in_place=in_place) as net:
            got = net.run(mags[:20])
            got = np.concatenate([got, net.run(mags[20:])])      # states carried across calls
            check_masks(scheme, got, ref)
            net.reset()
            check_masks(scheme, net.run(mags[:10]), ref[:10])


def test_network_needs_reinit_after_l1_reuse(lib):
    q = small_model("lstm", "int8")
    mags = frames(8)
    net = lib.net(q, cores=2)
    net.run(mags)
    lib.layer(tk.fc_int8(np.random.default_rng(0), 5, 7, "relu"), tk.x8(np.random.default_rng(1), 7))
    with pytest.raises(RuntimeError, match="reused"):
        net.run(mags)
    net.close()
    with pytest.raises(RuntimeError, match="closed"):
        net.run(mags)


# ---------------------------------------------------------------------------------------------
# L1 budget too small

def test_l1_budget_too_small_for_a_layer(lib):
    rng = np.random.default_rng(2)
    layer = tk.lstm_int8(rng, 65, 67, 16, "linear")
    x, h, c = tk.x8(rng, 67), tk.x8(rng, 65), tk.c_state(rng, 65, 16)
    for budget in (0, 64, 1024, 2048):      # no room for the vectors, or for one record per core
        with lib.l1_budget(budget):
            expect_error(lambda: lib.layer(layer, x, h, c, cores=3), "RNNSE_ERR_L1")
    tk.check_int8(lib, layer, x, h, c, cores=3, max_tile=2)     # unchanged afterwards


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_l1_budget_too_small_for_the_network(lib, cell):
    """Budgets from nothing up: init fails with RNNSE_ERR_L1 until the states and one record per
    core fit; the smallest budget that works gives the golden result (tiles of one record)."""
    q = small_model(cell, "int8")
    mags = frames(16)
    ref = GoldenModel(q).run(mags)
    cores = 3
    ok = None
    for budget in range(0, 64 * 1024, 256):
        with lib.l1_budget(budget):
            try:
                with lib.net(q, cores=cores) as net:
                    assert net.l1_used <= budget
                    np.testing.assert_array_equal(net.run(mags), ref)
                    ok = budget
            except native.NativeError as e:
                assert e.name == "RNNSE_ERR_L1", str(e)
                continue
        break
    assert ok is not None and ok > 0
    with lib.net(q, cores=cores) as net:                         # the default budget again
        np.testing.assert_array_equal(net.run(mags), ref)


# ---------------------------------------------------------------------------------------------
# bad descriptors

def _image(lib, scheme="int8"):
    return lib.model_image(small_model("lstm", scheme))


def _rehash(lib, image):
    image.c.checksum = lib.lib.rnnse_model_checksum(image.c)


def _first(image, kind, prec=native.INT8):
    for i in range(image.c.n_layers):
        L = image.c.layers[i]
        if L.kind == kind and L.prec == prec:
            return L
    raise AssertionError("no such layer")


BAD_DESCRIPTORS = {
    "magic": (lambda lib, im: setattr(im.c, "magic", im.c.magic ^ 1), "RNNSE_ERR_MAGIC"),
    "version": (lambda lib, im: setattr(im.c, "version", im.c.version + 1), "RNNSE_ERR_VERSION"),
    "checksum": (lambda lib, im: setattr(im.c, "checksum", im.c.checksum ^ 0x100), "RNNSE_ERR_CHECKSUM"),
    "weight-flipped": (lambda lib, im: _poke(lib, im, native.LSTM, 5, 0x11, rehash=False), "RNNSE_ERR_CHECKSUM"),
    "no-layers": (lambda lib, im: setattr(im.c, "n_layers", 0), "RNNSE_ERR_FORMAT"),
    "too-many-layers": (lambda lib, im: setattr(im.c, "n_layers", 17), "RNNSE_ERR_FORMAT"),
    "weight-minus-128": (lambda lib, im: _poke(lib, im, native.LSTM, 3, 0x80), "RNNSE_ERR_FORMAT"),
    "fc-weight-minus-128": (lambda lib, im: _poke(lib, im, native.FC, 0, 0x80), "RNNSE_ERR_FORMAT"),
    "rec-bytes": (lambda lib, im: _field(lib, im, native.LSTM, "rec_bytes", -4), "RNNSE_ERR_FORMAT"),
    "n-in": (lambda lib, im: _field(lib, im, native.LSTM, "n_in", 1), "RNNSE_ERR_FORMAT"),
    # (sizes only shrink: the checksum reads n_out records of rec_bytes, what the descriptor claims)
    "n-out": (lambda lib, im: _field(lib, im, native.FC, "n_out", -4), "RNNSE_ERR_FORMAT"),
    "no-records": (lambda lib, im: _null_rec(lib, im), "RNNSE_ERR_FORMAT"),
    "kind": (lambda lib, im: _field(lib, im, native.LSTM, "kind", 7), "RNNSE_ERR_FORMAT"),
    "c-bits": (lambda lib, im: _set(lib, im, native.LSTM, "c_bits", 12), "RNNSE_ERR_FORMAT"),
    "c-shift": (lambda lib, im: _set(lib, im, native.LSTM, "c_shift", 63), "RNNSE_ERR_FORMAT"),
    "table-mode": (lambda lib, im: _set(lib, im, native.LSTM, "table_mode", 9), "RNNSE_ERR_FORMAT"),
    "no-table": (lambda lib, im: (setattr(im.c, "tanh_table", lib.ffi.NULL), _rehash(lib, im)), "RNNSE_ERR_FORMAT"),
    "out-type": (lambda lib, im: _last_out_type(lib, im), "RNNSE_ERR_FORMAT"),
    "quant-scale-zero": (lambda lib, im: _set(lib, im, native.QUANT, "scale", 0.0, prec=0), "RNNSE_ERR_FORMAT"),
    "quant-scale-nan": (lambda lib, im: _set(lib, im, native.QUANT, "scale", float("nan"), prec=0),
                        "RNNSE_ERR_FORMAT"),
    "quant-records-missing": (lambda lib, im: _set(lib, im, native.QUANT, "rec_bytes", 4, prec=0),
                              "RNNSE_ERR_FORMAT"),
    "dequant-records": (lambda lib, im: _set(lib, im, native.DEQUANT, "rec_bytes", 4, prec=0), "RNNSE_ERR_FORMAT"),
}


def _poke(lib, im, kind, offset, value, rehash=True):
    L = _first(im, kind)
    lib.ffi.cast("uint8_t *", L.rec)[offset] = value
    if rehash:
        _rehash(lib, im)


def _field(lib, im, kind, name, delta):
    L = _first(im, kind)
    setattr(L, name, getattr(L, name) + delta)
    _rehash(lib, im)


def _set(lib, im, kind, name, value, prec=native.INT8):
    setattr(_first(im, kind, prec), name, value)
    _rehash(lib, im)


def _null_rec(lib, im):
    _first(im, native.LSTM).rec = lib.ffi.NULL
    _rehash(lib, im)


def _last_out_type(lib, im):
    im.c.layers[im.c.n_layers - 1].out_type = native.INT8
    _rehash(lib, im)


@pytest.mark.parametrize("case", sorted(BAD_DESCRIPTORS))
def test_bad_descriptor(lib, case):
    spoil, err = BAD_DESCRIPTORS[case]
    im = _image(lib)
    spoil(lib, im)
    for cores in (1, 3):
        expect_error(lambda: lib.net(im, cores=cores), err)
    q = small_model("lstm", "int8")           # a good descriptor works as before
    mags = frames(6)
    with lib.net(q, cores=3) as net:
        np.testing.assert_array_equal(net.run(mags), GoldenModel(q).run(mags))


def test_per_element_quant_descriptor(lib):
    """int8+ carries one input scale per bin as the quant step's records: bit-exact with the
    golden model, and a quant step claiming records without any is refused."""
    q = small_model("lstm", "int8+")
    assert np.ndim(q.layers[0].arrays["inv_scale"]) == 1
    mags = frames(6)
    with lib.net(q, cores=3) as net:
        np.testing.assert_array_equal(net.run(mags), GoldenModel(q).run(mags))
    im = lib.model_image(q)
    L = _first(im, native.QUANT, prec=0)
    assert L.rec_bytes == 4 and L.scale == 0.0
    L.rec = lib.ffi.NULL
    _rehash(lib, im)
    expect_error(lambda: lib.net(im, cores=2), "RNNSE_ERR_FORMAT")


def test_bad_layer_descriptor(lib):
    rng = np.random.default_rng(3)
    pl = native.pack_layer(tk.gru_int8(rng, 9, 11))
    x, h = tk.x8(rng, 11), tk.x8(rng, 9)
    import dataclasses

    expect_error(lambda: lib.layer(dataclasses.replace(pl, rec_bytes=pl.rec_bytes + 4), x, h), "RNNSE_ERR_FORMAT")
    bad = bytearray(pl.records)
    bad[2] = 0x80
    expect_error(lambda: lib.layer(dataclasses.replace(pl, records=bytes(bad)), x, h), "RNNSE_ERR_FORMAT")


# ---------------------------------------------------------------------------------------------
# bad arguments at the C interface

def test_bad_core_counts_and_null_pointers(lib):
    ffi, c = lib.ffi, lib.lib
    im = _image(lib)
    mem = ffi.new("char[]", lib.net_size)
    net = ffi.cast("rnnse_net_t *", mem)
    mag = ffi.new("float[]", 257)
    mask = ffi.new("float[]", 257)
    for cores in (0, -1, lib.max_cores + 1):
        assert c.rnnse_net_init(net, im.c, cores) == native.ERR["RNNSE_ERR_ARG"]
        with pytest.raises(ValueError):
            lib.net(im, cores=cores)
    assert c.rnnse_net_init(ffi.NULL, im.c, 1) == native.ERR["RNNSE_ERR_ARG"]
    assert c.rnnse_net_init(net, ffi.NULL, 1) == native.ERR["RNNSE_ERR_ARG"]
    # a net whose init failed refuses to step
    assert c.rnnse_net_step(net, mag, mask) == native.ERR["RNNSE_ERR_ARG"]
    assert c.rnnse_net_step(ffi.NULL, mag, mask) == native.ERR["RNNSE_ERR_ARG"]
    lib._reset_l1()
    assert c.rnnse_net_init(net, im.c, 2) == 0
    assert c.rnnse_net_step(net, ffi.NULL, mask) == native.ERR["RNNSE_ERR_ARG"]
    assert c.rnnse_net_step(net, mag, ffi.NULL) == native.ERR["RNNSE_ERR_ARG"]
    assert c.rnnse_net_step(net, mag, mask) == 0
    assert all(0.0 <= v <= 1.0 for v in mask)
    assert c.rnnse_harness_net_run(net, mag, mask, -1, ffi.NULL) == native.ERR["RNNSE_ERR_ARG"]
    # one layer with a bad core count
    rng = np.random.default_rng(4)
    layer = tk.fc_int8(rng, 6, 9, "relu")
    for cores in (0, lib.max_cores + 1):
        with pytest.raises(ValueError):
            lib.layer(layer, tk.x8(rng, 9), cores=cores)
    pl = native.pack_layer(layer)
    keep = []
    L = ffi.new("rnnse_layer_t *")
    native._fill_layer(ffi, L, pl, keep)
    x = ffi.new("int8_t[]", 12)
    y = ffi.new("int8_t[]", 8)
    sig, tanh = native._tables(None)
    for cores in (0, lib.max_cores + 1):
        rc = c.rnnse_harness_layer(L, ffi.from_buffer("int16_t[]", sig), ffi.from_buffer("int16_t[]", tanh), cores,
                                   0, 0, x, ffi.NULL, ffi.NULL, y)
        assert rc == native.ERR["RNNSE_ERR_ARG"]
    assert lib.strerror(-99) == "unknown error"
