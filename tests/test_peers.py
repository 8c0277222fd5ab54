"""The peers (RNNoise, DeepFilterNet3, noisereduce) and DNSMOS, on the committed demo clip pair:
alignment (each peer's delay removed), length, that they do what they are for, and the DNSMOS
windowing and ranking."""
import os

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import correlate

from rnnse import dnsmos, peers
from rnnse.metrics import pesq_wb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def demo(name):
    x, sr = sf.read(os.path.join(ROOT, "samples", f"demo_{name}.wav"), dtype="float32")
    assert sr == 16000
    return x


def lag(y, x):
    """The shift of y against x that maximises their cross-correlation (samples)."""
    r = correlate(y, x, mode="full", method="fft")
    return int(np.argmax(r)) - (len(x) - 1)


needs = {p: pytest.mark.skipif(bool(peers.missing_peers([p])), reason=f"{peers.PACKAGES[p]} "
                               "not installed") for p in peers.PEERS}


@needs["rnnoise"]
def test_rnnoise_delay_is_measured_and_removed():
    clean = demo("clean")
    rng = np.random.default_rng(0)
    x = clean + 0.002 * rng.standard_normal(len(clean)).astype(np.float32)
    x48 = peers._to_48k(x)
    raw = peers.rnnoise_raw_48k(x48)
    assert abs(lag(raw, x48) - peers.RNNOISE_DELAY_48K) <= 2
    y = peers.rnnoise(x)
    assert len(y) == len(x) and y.dtype == np.float32
    assert abs(lag(y, clean)) <= 1
    # speech in low noise passes nearly unchanged
    assert np.corrcoef(y, clean)[0, 1] > 0.95


@needs["deepfilternet3"]
def test_deepfilternet3_is_aligned_and_enhances():
    clean, noisy = demo("clean"), demo("noisy")
    y = peers.deepfilternet3(noisy)
    assert len(y) == len(noisy) and y.dtype == np.float32
    assert abs(lag(y, clean)) <= 1
    assert pesq_wb(clean, y) > pesq_wb(clean, noisy) + 0.3


@needs["noisereduce"]
def test_noisereduce_keeps_length_and_alignment():
    clean, noisy = demo("clean"), demo("noisy")
    y = peers.noisereduce(noisy)
    assert len(y) == len(noisy) and np.all(np.isfinite(y))
    assert abs(lag(y, clean)) <= 1


def test_peer_names_are_checked():
    with pytest.raises(ValueError, match="unknown peer"):
        peers.enhancer("wiener")
    assert peers.missing_peers([]) == {}


def test_dnsmos_windows():
    # a 3 s clip is doubled to 12 s: windows at 0, 1 and 2 s
    w = dnsmos.windows(np.arange(3 * 16000, dtype=np.float32))
    assert [len(v) for v in w] == [144160] * 3 and w[2][0] == 2 * 16000 and w[0][48000] == 0
    w = dnsmos.windows(np.arange(20 * 16000, dtype=np.float32))
    assert len(w) == int(20 - 9.01) + 1 and w[1][0] == 16000
    with pytest.raises(ValueError, match="empty"):
        dnsmos.windows(np.zeros(0, np.float32))


@pytest.mark.skipif(not dnsmos.available(), reason=f"{dnsmos.PACKAGE} not installed")
def test_dnsmos_ranks_clean_above_noisy():
    clean, noisy = dnsmos.score(demo("clean")), dnsmos.score(demo("noisy"))
    for s in (clean, noisy):
        assert set(s) == {"sig", "bak", "ovrl"} and all(1.0 <= v <= 5.0 for v in s.values())
    assert clean["bak"] > noisy["bak"] + 1.0 and clean["ovrl"] > noisy["ovrl"] + 0.5
    assert dnsmos.score(demo("noisy")) == noisy     # deterministic
    with pytest.raises(ValueError, match="non-finite"):
        dnsmos.score(np.full(16000, np.nan, np.float32))
