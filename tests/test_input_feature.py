"""The compressed network input (``input_roots``, docs/numerics.md "Input feature"): the float
model's per-bin normalisation folded into fc_in, the golden model's square roots, and the C
network step against the golden model (INT8 schemes bit for bit, FP16-carrying schemes within
the spec's tolerance), with the descriptor field checked by the firmware."""
import functools

import numpy as np
import pytest
import torch

from rnnse import native
from rnnse.export import pack_model
from rnnse.models import ModelConfig, SEModel
from rnnse.quant import GoldenModel, quantize
from rnnse.stft import input_feature

from stream_helpers import check_fp16_masks, golden_orders


@pytest.fixture(scope="module")
def lib():
    return native.load()


def frames(n=40, seed=11):
    rng = np.random.default_rng(seed)
    # magnitudes over ~80 dB, zeros included (silence), as the compressed input has to take
    mags = np.abs(rng.standard_normal((n, 257))) * 10.0 ** rng.uniform(-4, 0.5, (n, 1))
    mags[3] = 0.0
    return mags.astype(np.float32)


@functools.lru_cache(maxsize=None)
def float_model(cell: str, roots: int):
    torch.manual_seed(roots + (cell == "gru"))
    m = SEModel(ModelConfig(cell=cell, hidden=28, fc_in=30, fc_out=26, input_roots=roots))
    m.set_input_norm(torch.from_numpy(frames(200, seed=1)))
    return m.eval()


@functools.lru_cache(maxsize=None)
def quantized(cell: str, roots: int, scheme: str):
    return quantize(float_model(cell, roots), scheme, calib_mags=[frames(80, seed=2)])


def test_input_feature_is_successive_square_roots():
    x = np.array([0.0, 1e-30, 0.25, 1.0, 7.5, 3e4], np.float32)
    np.testing.assert_array_equal(input_feature(x, 0), x)
    np.testing.assert_array_equal(input_feature(x, 2), np.sqrt(np.sqrt(x)))
    assert input_feature(x, 2).dtype == np.float32
    np.testing.assert_allclose(input_feature(x.astype(np.float64), 3), x.astype(np.float64) ** 0.125)
    t = torch.from_numpy(x)
    np.testing.assert_array_equal(input_feature(t, 2).numpy(), input_feature(x, 2))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_normalisation_folds_into_fc_in(cell):
    m = float_model(cell, 2)
    mags = torch.from_numpy(frames())[None]
    f = input_feature(mags, 2)
    # the buffers normalise the training frames per bin to mean 0, std 1
    norm = (input_feature(torch.from_numpy(frames(200, seed=1)).double(), 2) - m.in_offset.double()) \
        * m.in_scale.double()
    assert float(norm.mean(0).abs().max()) < 1e-4 and float((norm.std(0) - 1).abs().max()) < 1e-3
    import copy

    folded = copy.deepcopy(m).fold_input_norm()
    assert float(folded.in_offset.abs().max()) == 0.0 and float((folded.in_scale - 1).abs().max()) == 0.0
    with torch.no_grad():
        a, _ = m(mags)
        b, _ = folded(mags)
        # what the folded fc_in computes from the raw feature
        pre = f @ folded.fc_in.weight.T + folded.fc_in.bias
        pre_ref = m.features(mags) @ m.fc_in.weight.T + m.fc_in.bias
    assert float((a - b).abs().max()) < 1e-5 and float((pre - pre_ref).abs().max()) < 1e-4


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_golden_model_follows_the_float_model(cell):
    m = float_model(cell, 2)
    mags = frames()
    with torch.no_grad():
        ref = m(torch.from_numpy(mags)[None])[0][0].numpy()
    d = np.abs(GoldenModel(quantized(cell, 2, "fp16")).run(mags) - ref)
    assert d.max() < 5e-3
    d = np.abs(GoldenModel(quantized(cell, 2, "int8+")).run(mags) - ref)
    assert d.mean() < 0.02     # int8 all through: a quantization error, not a wrong input


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("scheme", ["int8", "int8+", "mixed", "fp16"])
def test_c_network_against_golden(lib, cell, scheme):
    q = quantized(cell, 2, scheme)
    assert pack_model(q).input_roots == 2
    mags = frames()
    for cores in (1, 3):
        with lib.net(q, cores=cores, max_tile=3) as net:
            got = net.run(mags)
        if scheme.startswith("int8"):
            np.testing.assert_array_equal(got, GoldenModel(q).run(mags))
        else:
            check_fp16_masks(got, (g.run(mags) for g in golden_orders(q)), f"{cell} {scheme}")


def test_roots_change_the_output_and_the_checksum(lib):
    q2 = quantized("lstm", 2, "int8")
    mags = frames()
    im = lib.model_image(q2)
    assert im.c.input_roots == 2
    with lib.net(q2, cores=2) as net:
        want = net.run(mags)
    # the same layers told to take the linear magnitude compute something else
    im.c.input_roots = 0
    im.c.checksum = lib.lib.rnnse_model_checksum(im.c)
    with lib.net(im, cores=2) as net:
        other = net.run(mags)
    assert np.abs(other - want).max() > 0.01
    # a changed field without a new checksum is refused, and so are more than 3 roots
    im.c.input_roots = 1
    with pytest.raises(native.NativeError) as e:
        lib.net(im, cores=2)
    assert e.value.name == "RNNSE_ERR_CHECKSUM"
    im.c.input_roots = 4
    im.c.checksum = lib.lib.rnnse_model_checksum(im.c)
    with pytest.raises(native.NativeError) as e:
        lib.net(im, cores=2)
    assert e.value.name == "RNNSE_ERR_FORMAT"
