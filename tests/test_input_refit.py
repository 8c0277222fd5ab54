"""``rnnse input-roots``: a trained model moved onto the compressed input (models.refit_input).
Every weight but fc_in is kept, the input normalisation comes from the example frames, and the
refitted first layer follows the old one on frames it was not fitted on, better than the
least-squares start it refines."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from rnnse.models import ModelConfig, SEModel, refit_input, save_checkpoint
from rnnse.stft import input_feature


def example_mags(n_frames, seed=0):
    """Speech-like magnitudes: a per-frame level over a sloped spectrum, log-normal per bin."""
    g = np.random.default_rng(seed)
    level = np.exp(g.normal(0, 1.5, (n_frames, 1)))
    slope = np.exp(-np.arange(257) / 80.0)[None, :]
    return torch.from_numpy((level * slope * np.exp(g.normal(0, 0.7, (n_frames, 257)))).astype(np.float32))


def trained_like(cell, seed=1):
    torch.manual_seed(seed)
    return SEModel(ModelConfig(cell=cell, hidden=24, fc_in=28, fc_out=20)).eval()


def relu_r2(model, mags, ref_model):
    with torch.no_grad():
        got = torch.relu(model.fc_in(model.features(mags))).double().numpy()
        want = torch.relu(ref_model.fc_in(ref_model.features(mags))).double().numpy()
    return 1.0 - ((got - want) ** 2).sum() / ((want - want.mean(0)) ** 2).sum()


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_refit_keeps_every_other_weight_and_follows_the_old_first_layer(cell):
    torch.set_num_threads(1)
    old = trained_like(cell)
    mags = example_mags(4000)
    new, r2 = refit_input(old, 2, mags, steps=400, batch=512)
    assert new.config.input_roots == 2 and new.config.cell == cell
    for name, value in old.state_dict().items():
        if not name.startswith("fc_in."):
            assert torch.equal(new.state_dict()[name], value), name
    # the normalisation: mean and 1/std of |X|^(1/4) over the first three quarters
    f = input_feature(mags[:3000].double(), 2)
    assert torch.allclose(new.in_offset, f.mean(0).float())
    assert torch.allclose(new.in_scale, (1 / f.std(0)).float())
    # the reported R^2 is the held-out quarter's, recomputed here from the two models
    held = mags[3000:]
    assert r2 == pytest.approx(relu_r2(new, held, old), abs=1e-6)
    start, _ = refit_input(old, 2, mags, steps=0)
    assert relu_r2(new, held, old) > relu_r2(start, held, old) + 0.1   # 0.50 against 0.37
    assert relu_r2(new, held, old) > 0.45
    # the fitted model runs as any model of its config (a mask in (0, 1) per bin)
    with torch.no_grad():
        mask, _ = new(mags[None, :50])
    assert mask.shape == (1, 50, 257) and bool(((mask > 0) & (mask < 1)).all())


def test_refit_refuses_what_it_cannot_do():
    old = trained_like("gru")
    with pytest.raises(ValueError, match="already takes input_roots = 0"):
        refit_input(old, 0, example_mags(2000))
    with pytest.raises(ValueError, match="too few to fit fc_in"):
        refit_input(old, 2, example_mags(100))
    with pytest.raises(ValueError, match="input_roots must be 0..3"):
        refit_input(old, 5, example_mags(2000))


def test_input_roots_command_errors(tmp_path):
    src = tmp_path / "model.pt"
    save_checkpoint(src, trained_like("lstm"), step=3)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    run = lambda *a: subprocess.run([sys.executable, "-m", "rnnse", "input-roots", *map(str, a)],  # noqa: E731
                                    capture_output=True, text=True, cwd=root, timeout=300)
    r = run(src, 0, "-o", tmp_path / "out.pt")
    assert r.returncode == 2 and "already takes input_roots = 0" in r.stderr and len(r.stderr.splitlines()) == 1
    r = run(src, 2, "-o", tmp_path / "out.pt", "--corpus", tmp_path / "no_corpus")
    assert r.returncode == 2 and "run `rnnse data build`" in r.stderr and len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "out.pt").exists()
