"""A tiny training run lowers the validation loss; resume continues where it stopped."""
import numpy as np
import torch

from rnnse.models import ModelConfig, load_checkpoint
from rnnse.train import TrainConfig, lr_at, se_loss, train


class ToySource:
    """Gated harmonic 'speech' in white noise: learnable in a few steps."""

    def sample_batch(self, b, n, rng):
        t = np.arange(n) / 16000
        f = rng.uniform(150, 400, (b, 1))
        clean = sum(np.sin(2 * np.pi * k * f * t) / k for k in range(1, 6))
        clean = (0.05 * clean * (np.sin(2 * np.pi * rng.uniform(1, 4, (b, 1)) * t) > 0)).astype(np.float32)
        noisy = clean + 0.03 * rng.standard_normal((b, n)).astype(np.float32)
        return noisy, clean


def tiny():
    return ModelConfig(cell="gru", hidden=32, fc_in=32, fc_out=32)


def test_tiny_training_lowers_validation_loss(tmp_path):
    torch.set_num_threads(1)
    cfg = TrainConfig(minutes=5, batch=8, seg_seconds=0.5, lr=3e-3, ckpt_minutes=0, val_batches=2)
    s = train(ToySource(), tiny(), cfg, str(tmp_path), max_steps=60, progress=False, log=lambda *a: None)
    vals = [h["val_loss"] for h in s["history"]]
    assert s["steps"] == 60 and len(vals) == 60
    assert min(vals[-5:]) < 0.75 * vals[0]
    model, meta = load_checkpoint(tmp_path / "model.pt")
    assert meta["val_loss"] == min(vals)


def test_resume_continues_the_same_run(tmp_path):
    torch.set_num_threads(1)
    cfg = TrainConfig(minutes=5, batch=4, seg_seconds=0.3, ckpt_minutes=0, val_batches=1)
    straight = train(ToySource(), tiny(), cfg, str(tmp_path / "a"), max_steps=6, progress=False)
    train(ToySource(), tiny(), cfg, str(tmp_path / "b"), max_steps=3, progress=False)
    resumed = train(ToySource(), tiny(), cfg, str(tmp_path / "b"), resume=True, max_steps=6,
                    progress=False, log=lambda *a: None)
    assert resumed["steps"] == 6
    # same data, same RNG streams: the resumed run ends on the same weights as the straight one
    # (learning rates follow wall-clock time, so allow for that small difference)
    a = torch.load(tmp_path / "a" / "last.pt")
    b = torch.load(tmp_path / "b" / "last.pt")
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=0.05, atol=2e-3)


def test_loss_is_zero_for_a_perfect_mask_and_schedule_ends_low():
    rng = np.random.default_rng(0)
    clean = torch.from_numpy(rng.standard_normal((2, 10, 257)) + 1j * rng.standard_normal((2, 10, 257)))
    assert float(se_loss(torch.ones(2, 10, 257), clean, clean)) < 1e-10
    assert float(se_loss(torch.zeros(2, 10, 257), clean, clean)) > 0.1
    cfg = TrainConfig()
    assert lr_at(cfg, 0.0) < lr_at(cfg, 0.05) <= cfg.lr
    assert abs(lr_at(cfg, 1.0) - cfg.lr_final) < 1e-12
