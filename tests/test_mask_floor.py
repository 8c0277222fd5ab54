"""The mask floor (``mask_floor``, docs/numerics.md "Mask floor"): the float model's clamp, the
golden model's, the C network step against the golden model (INT8 bit for bit, FP16 within the
spec's band) with the floor reached on many bins, the descriptor field under the checksum and
checked by the firmware, and the command that sets it on a checkpoint."""
import functools
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from rnnse import native
from rnnse.export import pack_model
from rnnse.models import ModelConfig, SEModel, load_checkpoint, save_checkpoint
from rnnse.quant import GoldenModel, quantize

from stream_helpers import check_fp16_masks, golden_orders

FLOOR = 0.3   # high enough that a random network's masks fall below it on many bins


@pytest.fixture(scope="module")
def lib():
    return native.load()


def frames(n=40, seed=5):
    rng = np.random.default_rng(seed)
    return (np.abs(rng.standard_normal((n, 257))) * 10.0 ** rng.uniform(-3, 0.5, (n, 1))).astype(np.float32)


@functools.lru_cache(maxsize=None)
def float_model(cell: str, floor: float):
    torch.manual_seed(7 + (cell == "gru"))
    m = SEModel(ModelConfig(cell=cell, hidden=24, fc_in=28, fc_out=20))
    with torch.no_grad():
        m.fc_out.bias.add_(-1.0)   # masks spread around the floor
    if floor:
        floored = SEModel(ModelConfig(cell=cell, hidden=24, fc_in=28, fc_out=20, mask_floor=floor))
        floored.load_state_dict(m.state_dict())
        m = floored
    return m.eval()


@functools.lru_cache(maxsize=None)
def quantized(cell: str, floor: float, scheme: str):
    return quantize(float_model(cell, floor), scheme, calib_mags=[frames(80, seed=2)])


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_float_and_golden_models_clamp_at_the_floor(cell):
    mags = torch.from_numpy(frames())[None]
    with torch.no_grad():
        free = float_model(cell, 0.0)(mags)[0][0].numpy()
        floored = float_model(cell, FLOOR)(mags)[0][0].numpy()
    below = free < FLOOR
    assert 0.1 < below.mean() < 0.9, below.mean()
    np.testing.assert_array_equal(floored, np.maximum(free, np.float32(FLOOR)))
    for scheme in ("int8+", "mixed"):
        g_free = GoldenModel(quantized(cell, 0.0, scheme)).run(frames())
        g_floor = GoldenModel(quantized(cell, FLOOR, scheme)).run(frames())
        np.testing.assert_array_equal(g_floor, np.maximum(g_free, np.float32(FLOOR)))
        assert g_floor.min() == np.float32(FLOOR)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("scheme", ["int8", "int8+", "mixed", "fp16"])
def test_c_network_against_golden(lib, cell, scheme):
    q = quantized(cell, FLOOR, scheme)
    assert pack_model(q).mask_floor == np.float32(FLOOR)
    mags = frames()
    for cores in (1, 3):
        with lib.net(q, cores=cores, max_tile=3) as net:
            got = net.run(mags)
        assert got.min() == np.float32(FLOOR) and (got == np.float32(FLOOR)).mean() > 0.1
        if scheme.startswith("int8"):
            np.testing.assert_array_equal(got, GoldenModel(q).run(mags))
        else:
            check_fp16_masks(got, (g.run(mags) for g in golden_orders(q)), f"{cell} {scheme}")


def test_floor_is_under_the_checksum_and_checked(lib):
    q = quantized("gru", FLOOR, "int8")
    mags = frames()
    im = lib.model_image(q)
    with lib.net(q, cores=2) as net:
        want = net.run(mags)
    im.c.mask_floor = 0.0
    with pytest.raises(native.NativeError) as e:       # a changed floor without a new checksum
        lib.net(im, cores=2)
    assert e.value.name == "RNNSE_ERR_CHECKSUM"
    im.c.checksum = lib.lib.rnnse_model_checksum(im.c)
    with lib.net(im, cores=2) as net:
        free = net.run(mags)
    np.testing.assert_array_equal(want, np.maximum(free, np.float32(FLOOR)))
    assert (free < FLOOR).mean() > 0.1
    for bad in (1.0, -0.1, float("nan")):
        im.c.mask_floor = bad
        im.c.checksum = lib.lib.rnnse_model_checksum(im.c)
        with pytest.raises(native.NativeError) as e:
            lib.net(im, cores=2)
        assert e.value.name == "RNNSE_ERR_FORMAT", bad


def test_mask_floor_command(tmp_path):
    src = tmp_path / "model.pt"
    save_checkpoint(src, float_model("lstm", 0.0), step=3)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    run = lambda *a: subprocess.run([sys.executable, "-m", "rnnse", "mask-floor", *map(str, a)],  # noqa: E731
                                    capture_output=True, text=True, cwd=root, timeout=300)
    r = run(src, 0.25, "-o", tmp_path / "f.pt")
    assert r.returncode == 0, r.stderr
    assert "at most 12.0 dB of attenuation" in r.stdout
    model, meta = load_checkpoint(tmp_path / "f.pt")
    assert model.config.mask_floor == 0.25 and meta["step"] == 3
    for a, b in zip(model.state_dict().values(), float_model("lstm", 0.0).state_dict().values()):
        assert torch.equal(a, b)
    r = run(src, 1.5)
    assert r.returncode == 2 and "mask_floor must be in [0, 1)" in r.stderr and len(r.stderr.splitlines()) == 1
    assert load_checkpoint(src)[0].config.mask_floor == 0.0    # the refused call left the file alone
