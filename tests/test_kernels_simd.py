"""The x86 dot-product code of the host library, each path this CPU runs (AVX2, and AVX-512 VNNI
chosen at run time where the CPU has it), against the golden model: INT8 layers bit for bit on
sizes around the 64-byte vector width (masked tails), extreme weights and inputs, several cores;
every path gives identical INT8 results and identical whole-network masks."""
import numpy as np
import pytest

import test_kernels as tk
from rnnse import native
from rnnse.quant import GoldenModel, quantize

PATHS = ("avx2", "avx512vnni")
# K (inputs) and H (units) around multiples of 64 bytes: K4 / H4 leave every tail length class
KS = (4, 60, 64, 68, 124, 128, 132, 257)
HS = (1, 15, 16, 17, 63, 64, 65)


@pytest.fixture(scope="module")
def lib():
    return native.load()


def _available(lib, name):
    try:
        with lib.simd_path(name):
            return True
    except ValueError:
        return False


@pytest.fixture(params=PATHS)
def path(request, lib):
    if lib.simd == "portable":
        pytest.skip("the host library is the portable build (no x86 vector code on this CPU)")
    if not _available(lib, request.param):
        pytest.skip(f"this CPU does not run the {request.param} code")
    with lib.simd_path(request.param):
        assert lib.simd_kernels == request.param
        yield request.param


@pytest.mark.parametrize("k", KS)
def test_fc_int8_tails(lib, path, k):
    rng = np.random.default_rng([k, 1])
    for n, act, mode in ((13, "relu", "nearest"), (66, "sigmoid", "linear"), (5, "none", "nearest")):
        layer = tk.fc_int8(rng, n, k, act, mode)
        tk.check_int8(lib, layer, tk.x8(rng, k), cores=3, max_tile=2)


@pytest.mark.parametrize("h", HS)
@pytest.mark.parametrize("kind", ["lstm8", "lstm16", "gru"])
def test_rnn_int8_tails(lib, path, kind, h):
    rng = np.random.default_rng([h, len(kind), 2])
    k = int(rng.choice(KS))
    mode = ("nearest", "linear")[h % 2]
    if kind == "gru":
        tk.check_int8(lib, tk.gru_int8(rng, h, k, mode), tk.x8(rng, k), tk.x8(rng, h), cores=2, max_tile=3)
    else:
        cb = int(kind[4:])
        tk.check_int8(lib, tk.lstm_int8(rng, h, k, cb, mode), tk.x8(rng, k), tk.x8(rng, h), tk.c_state(rng, h, cb),
                      cores=2, max_tile=3)


@pytest.mark.parametrize("seed", range(3))
def test_int8_extreme_values(lib, path, seed):
    """All weights +-127 and inputs -128/127 (the largest products and sums, and the -128 input
    whose |x| or x + 128 the vector code handles specially), with extreme requantization."""
    rng = np.random.default_rng([seed, 3])
    k, h = (257, 64, 131)[seed], (65, 33, 128)[seed]
    x = tk.x8(rng, k, extreme=True)
    x[: k // 2] = -128
    tk.check_int8(lib, tk.fc_int8(rng, h, k, "none", extreme=True), x, cores=3, max_tile=4)
    tk.check_int8(lib, tk.lstm_int8(rng, h, k, 16, extreme=True), x, np.full(h, -128, np.int8),
                  tk.c_state(rng, h, 16), cores=2)
    tk.check_int8(lib, tk.gru_int8(rng, h, k, extreme=True), x, np.full(h, -128, np.int8), cores=1)


def test_fp16_within_bound(lib, path):
    rng = np.random.default_rng(4)
    for k in (60, 257):
        tk.check_fp16(lib, tk.fc_fp16(rng, 37, k, "sigmoid"), tk._f16(rng, k, 2.0), cores=3, max_tile=3)
        tk.check_fp16(lib, tk.lstm_fp16(rng, 17, k), tk._f16(rng, k, 1.0), tk._f16(rng, 17, 0.5),
                      tk._f16(rng, 17, 1.0), cores=2)
        tk.check_fp16(lib, tk.gru_fp16(rng, 17, k), tk._f16(rng, k, 1.0), tk._f16(rng, 17, 0.5), cores=2)


def _small_model(cell, scheme, seed=0):
    import torch

    from rnnse.models import ModelConfig, SEModel

    torch.manual_seed(seed)
    m = SEModel(ModelConfig(cell=cell, hidden=36, fc_in=44, fc_out=40)).eval()
    rng = np.random.default_rng(seed)
    mags = [np.abs(rng.standard_normal((50, 257))).astype(np.float32) * 3]
    return quantize(m, scheme, calib_mags=mags)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_paths_give_identical_networks(lib, cell):
    """The whole network step: every available path gives the same masks as the others, and for
    int8 the golden model's exactly."""
    paths = [p for p in PATHS if lib.simd != "portable" and _available(lib, p)]
    if not paths:
        pytest.skip("no x86 vector code on this CPU")
    rng = np.random.default_rng(5)
    mags = np.abs(rng.standard_normal((40, 257))).astype(np.float32) * 2
    for scheme in ("int8", "mixed"):
        q = _small_model(cell, scheme)
        masks = {}
        for p in paths:
            with lib.simd_path(p), lib.net(q, cores=3, max_tile=2) as net:
                masks[p] = net.run(mags)
        for p in paths[1:]:
            np.testing.assert_array_equal(masks[p], masks[paths[0]], err_msg=f"{scheme}: {p} vs {paths[0]}")
        if scheme == "int8":
            np.testing.assert_array_equal(masks[paths[0]], GoldenModel(q).run(mags))


def test_select_api(lib):
    import os

    old = lib.simd_kernels
    with pytest.raises(ValueError):
        lib.select_simd("no-such-path")
    assert lib.simd_kernels == old
    with lib.simd_path("auto"):
        best = lib.simd_kernels
    assert lib.simd_kernels == old
    if lib.simd == "avx2":
        vnni = {"avx512f", "avx512bw", "avx512vl", "avx512_vnni"} <= native.cpu_flags()
        assert best == ("avx512vnni" if vnni else "avx2"), "auto takes the best path this CPU runs"
        if os.environ.get("RNNSE_SIMD") != "avx2":
            assert old == best, "the library starts on the best path"
    portable = native.load("portable")
    assert portable.simd_kernels == "portable"
    with pytest.raises(ValueError):
        portable.select_simd("avx2")


@pytest.mark.parametrize("variant", ["default", "portable"])
def test_read_floor_reads_every_byte(variant):
    """rnnse_host_read (the memory floor of `rnnse bench kernels`) reads each byte once per pass:
    its checksum equals numpy's for every tail length and an unaligned start."""
    lib = native.load() if variant == "default" else native.load("portable")
    rng = np.random.default_rng(5)
    for n in (0, 1, 7, 8, 31, 32, 127, 128, 129, 1000, 65537):
        for offset in (0, 3):
            buf = rng.integers(0, 256, n + offset, dtype=np.uint8)[offset:]
            whole = n // 8 * 8
            words = int(np.frombuffer(buf[:whole].tobytes(), "<u8").astype(object).sum()) if whole else 0
            ref = (words + int(buf[whole:].astype(np.uint64).sum())) * 3 % 2**64
            assert lib.read_bytes(buf, 3) == ref, (n, offset)
    with pytest.raises(ValueError, match="passes"):
        lib.read_bytes(np.zeros(8, np.uint8), 0)
