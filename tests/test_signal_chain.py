"""The analysis/synthesis chain against torch.stft, its reconstruction and its streaming form."""
import numpy as np
import pytest
import torch

from rnnse import stft
from rnnse.config import HOP_LENGTH, LATENCY, N_BINS, N_FFT, WIN_LENGTH


def test_window_is_periodic_hann_with_flat_overlap():
    w = stft.WINDOW.astype(np.float64)
    ref = torch.hann_window(WIN_LENGTH, periodic=True, dtype=torch.float64).numpy()
    np.testing.assert_allclose(w, ref, atol=1e-7)
    # squared overlap-sum at hop WIN/4 is flat at 1.5
    acc = np.zeros(WIN_LENGTH + 3 * HOP_LENGTH)
    for k in range(4):
        acc[k * HOP_LENGTH:k * HOP_LENGTH + WIN_LENGTH] += w ** 2
    np.testing.assert_allclose(acc[3 * HOP_LENGTH:WIN_LENGTH], 1.5, atol=1e-6)
    assert stft.OLA_GAIN == pytest.approx(1.5, abs=1e-6)


def test_stft_matches_torch_stft():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(3210).astype(np.float32) * 0.1
    ours = stft.stft(x)
    n_frames = ours.shape[0]
    assert ours.shape == (stft.num_frames(len(x)), N_BINS)
    # torch.stft centres a 400-sample window inside 512: its frame starts 56 samples earlier
    off = (N_FFT - WIN_LENGTH) // 2
    xp = np.zeros((n_frames - 1) * HOP_LENGTH + N_FFT, dtype=np.float64)
    xp[LATENCY + off:LATENCY + off + len(x)] = x[:len(xp) - LATENCY - off]
    ref = torch.stft(torch.from_numpy(xp), N_FFT, HOP_LENGTH, WIN_LENGTH,
                     torch.hann_window(WIN_LENGTH, periodic=True, dtype=torch.float64),
                     center=False, return_complex=True).T.numpy()[:n_frames]
    # same frames, so equal magnitudes; phases differ by the 56-sample shift inside the FFT buffer
    np.testing.assert_allclose(np.abs(ours), np.abs(ref), rtol=1e-4, atol=1e-5)
    shift = np.exp(2j * np.pi * np.arange(N_BINS) * off / N_FFT)
    np.testing.assert_allclose(ours, ref * shift, rtol=1e-4, atol=1e-4)


def test_torch_stft_matches_numpy_stft():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 1601)).astype(np.float32)
    t = stft.stft_torch(torch.from_numpy(x)).numpy()
    for b in range(3):
        np.testing.assert_allclose(t[b], stft.stft(x[b]), rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("n", [400, 401, 1000, 16000 + 37])
def test_all_ones_mask_reconstructs_input(n):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * 0.3).astype(np.float32)
    y = stft.apply_mask(x, lambda mag: np.ones_like(mag))
    assert y.shape == x.shape
    rel = np.linalg.norm(y - x) / np.linalg.norm(x)
    assert rel < 1e-4


def test_streaming_chain_equals_offline_with_documented_latency():
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(2000) * 0.2).astype(np.float32)
    masks = rng.uniform(0, 1, (stft.num_frames(len(x)), N_BINS)).astype(np.float32)
    offline = stft.istft(stft.stft(x) * masks, length=len(x))
    chain = stft.StreamingChain()
    xp = np.concatenate([x, np.zeros(masks.shape[0] * HOP_LENGTH - len(x), np.float32)])
    out = []
    for k in range(masks.shape[0]):
        mag, spec = chain.push(xp[k * HOP_LENGTH:(k + 1) * HOP_LENGTH])
        np.testing.assert_allclose(mag, np.abs(spec), rtol=1e-6)
        out.append(chain.pop(spec * masks[k]))
    streamed = np.concatenate(out)
    # the stream's output is the offline output delayed by LATENCY samples
    np.testing.assert_allclose(streamed[LATENCY:LATENCY + len(x)], offline, atol=1e-5)
    # and with a unit mask the stream is a pure delay of LATENCY samples
    chain = stft.StreamingChain()
    unit = np.concatenate([chain.pop(chain.push(xp[k * HOP_LENGTH:(k + 1) * HOP_LENGTH])[1])
                           for k in range(masks.shape[0])])
    np.testing.assert_allclose(unit[LATENCY:LATENCY + len(x)], x, atol=1e-5)


def test_mask_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="mask shape"):
        stft.apply_mask(np.zeros(800, np.float32), lambda m: np.ones((3, 3)))
    with pytest.raises(ValueError, match="hop of 100"):
        stft.StreamingChain().push(np.zeros(99))
