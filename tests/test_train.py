"""A tiny training run lowers the validation loss; resume continues where it stopped."""
import numpy as np
import pytest
import torch

from rnnse.models import ModelConfig, load_checkpoint
from rnnse.train import TrainConfig, envelope_loss, lr_at, se_loss, third_octave_bands, train


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
    train(ToySource(), tiny(), cfg, str(tmp_path / "a"), max_steps=6, progress=False)
    train(ToySource(), tiny(), cfg, str(tmp_path / "b"), max_steps=3, progress=False)
    resumed = train(ToySource(), tiny(), cfg, str(tmp_path / "b"), resume=True, max_steps=6,
                    progress=False, log=lambda *a: None)
    assert resumed["steps"] == 6
    # same data, same RNG streams: the resumed run ends on the same weights as the straight one
    # (learning rates follow wall-clock time, so allow for that small difference)
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)
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


def random_spectra(rng, shape=(2, 10, 257)) -> torch.Tensor:
    """A complex Gaussian (batch, frames, bins) STFT-shaped tensor."""
    return torch.from_numpy(rng.standard_normal(shape) + 1j * rng.standard_normal(shape))


def test_over_suppression_term_charges_removed_speech_only():
    rng = np.random.default_rng(1)
    clean, noise = random_spectra(rng), random_spectra(rng)
    noisy = clean + 0.3 * noise
    mask = torch.from_numpy(rng.uniform(0.0, 1.5, (2, 10, 257)))
    base = float(se_loss(mask, noisy, clean))
    got = float(se_loss(mask, noisy, clean, over_suppression=2.0))
    est = (mask.numpy() * np.abs(noisy.numpy()) + 1e-8) ** 0.3
    ref = (np.abs(clean.numpy()) + 1e-8) ** 0.3
    assert got - base == pytest.approx(2.0 * np.mean(np.maximum(ref - est, 0.0) ** 2), rel=1e-9)
    # nothing removed (noisy == clean, mask >= 1): no extra charge
    m1 = 1.0 + torch.from_numpy(rng.uniform(0.0, 0.5, (2, 10, 257)))
    assert float(se_loss(m1, clean, clean, over_suppression=2.0)) == pytest.approx(float(se_loss(m1, clean, clean)))


def test_residual_noise_term_charges_the_noise_let_through():
    rng = np.random.default_rng(2)
    clean, noise = random_spectra(rng), random_spectra(rng)
    noisy = clean + 0.5 * noise
    mask = torch.from_numpy(rng.uniform(0.1, 1.0, (2, 10, 257)))
    base = float(se_loss(mask, noisy, clean))
    got = float(se_loss(mask, noisy, clean, residual_noise=0.7))
    kept = (mask.numpy() * np.abs(0.5 * noise.numpy()) + 1e-8) ** 0.3   # numpy: |M N|^p
    assert got - base == pytest.approx(0.7 * np.mean(kept ** 2), rel=1e-6)
    # a lower mask lets less noise through: the term falls with the mask
    half = float(se_loss(0.5 * mask, noisy, clean, residual_noise=0.7)) - float(se_loss(0.5 * mask, noisy, clean))
    assert half == pytest.approx(0.7 * np.mean(kept ** 2) * 0.5 ** 0.6, rel=1e-4)
    # no noise in the mixture: no charge whatever the mask (beyond the eps of the compression)
    extra = float(se_loss(mask, clean, clean, residual_noise=0.7)) - float(se_loss(mask, clean, clean))
    assert extra == pytest.approx(0.7 * 1e-8 ** 0.6, rel=1e-6)


def test_envelope_term_against_a_direct_computation_and_stoi():
    """envelope_loss = 1 - mean band-envelope correlation (numpy loops here), zero for the clean
    signal itself, insensitive to a gain, and ordered like STOI on real speech distortions."""
    rng = np.random.default_rng(4)
    bands = third_octave_bands()
    assert bands.shape == (15, 257) and np.all(bands.sum(1) >= 1) and bands.sum(0).max() == 1
    clean = np.abs(rng.standard_normal((2, 150, 257))) * np.exp(rng.standard_normal((2, 150, 1)))
    est = clean * rng.uniform(0.2, 1.0, clean.shape)
    got = float(envelope_loss(torch.from_numpy(est), torch.from_numpy(clean)))
    env = lambda m: np.sqrt(m ** 2 @ bands.T + 1e-10)  # noqa: E731
    rs = []
    for b in range(2):
        e, c = env(est[b]), env(clean[b])
        energy = [np.sum(clean[b, s:s + 60] ** 2) for s in range(0, 91, 30)]
        for k, s in enumerate(range(0, 91, 30)):
            if energy[k] < max(energy) * 1e-4:
                continue
            es, cs = e[s:s + 60] - e[s:s + 60].mean(0), c[s:s + 60] - c[s:s + 60].mean(0)
            rs.append(np.mean(np.sum(es * cs, 0) / (np.linalg.norm(es, axis=0) * np.linalg.norm(cs, axis=0))))
    assert got == pytest.approx(1.0 - np.mean(rs), abs=1e-6)
    c = torch.from_numpy(clean)
    assert float(envelope_loss(c, c)) < 1e-6 and float(envelope_loss(3.0 * c, c)) < 1e-6
    # a mask that gates every other frame breaks the envelopes more than mild noise does
    noisy = c + 0.1 * torch.from_numpy(np.abs(rng.standard_normal(clean.shape)))
    gate = torch.ones_like(c)
    gate[:, ::2] = 0.3
    assert float(envelope_loss(noisy, c)) < float(envelope_loss(c * gate, c))


def test_init_starts_from_a_checkpoint_of_the_same_shape(tmp_path):
    torch.set_num_threads(1)
    cfg = TrainConfig(minutes=5, batch=4, seg_seconds=0.3, ckpt_minutes=0, val_batches=1)
    a = train(ToySource(), tiny(), cfg, str(tmp_path / "a"), max_steps=20, progress=False, log=lambda *x: None)
    b = train(ToySource(), tiny(), TrainConfig(**{**cfg.__dict__, "lr": 1e-9, "lr_final": 1e-9}),
              str(tmp_path / "b"), max_steps=1, progress=False, log=lambda *x: None,
              init=str(tmp_path / "a" / "model.pt"))
    # with a vanishing learning rate the fine-tuned model is the one it started from
    assert b["history"][0]["val_loss"] == pytest.approx(a["best_val"], rel=1e-3)
    with pytest.raises(ValueError, match="model config"):
        train(ToySource(), ModelConfig(cell="gru", hidden=16, fc_in=32, fc_out=32), cfg, str(tmp_path / "c"),
              max_steps=1, progress=False, init=str(tmp_path / "a" / "model.pt"))


def test_resume_refuses_a_file_that_is_not_a_training_state(tmp_path):
    from bad_models import tiny_checkpoint

    from rnnse.models import CheckpointError

    cfg = TrainConfig(minutes=5, batch=4, seg_seconds=0.3, ckpt_minutes=0, val_batches=1)
    tiny_checkpoint(str(tmp_path / "last.pt"))
    with pytest.raises(CheckpointError, match="last.pt: not a training state .missing model, optimizer"):
        train(ToySource(), tiny(), cfg, str(tmp_path), resume=True, max_steps=1, progress=False)
    train(ToySource(), tiny(), cfg, str(tmp_path / "a"), max_steps=1, progress=False, log=lambda *a: None)
    ck = torch.load(tmp_path / "a" / "last.pt", weights_only=True)
    ck["model"]["fc_in.weight"] = torch.zeros(3)
    torch.save(ck, tmp_path / "a" / "last.pt")
    with pytest.raises(CheckpointError, match="training state does not fit this run"):
        train(ToySource(), tiny(), cfg, str(tmp_path / "a"), resume=True, max_steps=2, progress=False)


def test_training_with_the_mask_floor_in_the_loop(tmp_path):
    """--mask-floor: the model trains with its mask clamped (no gradient below the floor) and
    the checkpoint carries the floor, so every target applies it."""
    torch.set_num_threads(1)
    cfg = TrainConfig(minutes=5, batch=4, seg_seconds=0.3, ckpt_minutes=0, val_batches=1)
    floored = ModelConfig(cell="gru", hidden=32, fc_in=32, fc_out=32, mask_floor=0.25)
    train(ToySource(), floored, cfg, str(tmp_path), max_steps=3, progress=False, log=lambda *a: None)
    model, _ = load_checkpoint(tmp_path / "model.pt")
    assert model.config.mask_floor == 0.25
    mag = torch.from_numpy(np.abs(np.random.default_rng(1).standard_normal((1, 20, 257))).astype(np.float32))
    with torch.no_grad():
        mask, _ = model(mag)
    assert float(mask.min()) >= 0.25
    # fine-tuning a floored checkpoint needs the same floor (the model config must match)
    with pytest.raises(ValueError, match="model config"):
        train(ToySource(), tiny(), cfg, str(tmp_path / "b"), max_steps=1, progress=False,
              init=str(tmp_path / "model.pt"))
