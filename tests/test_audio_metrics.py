"""Audio I/O errors and the metrics against independent computations."""
import numpy as np
import pytest
import soundfile as sf

from rnnse.audio import AudioError, from_pcm16, load_wav, save_wav, to_pcm16
from rnnse.metrics import pesq_wb, si_sdr, stoi


def speechlike(n=48000, seed=0):
    """Amplitude-modulated harmonic signal: enough structure for PESQ/STOI to treat as speech."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16000
    x = sum(np.sin(k * phase) / k for k in range(1, 25))
    env = np.clip(np.sin(2 * np.pi * 2.5 * t + rng.uniform(0, 6)), 0, None) ** 0.5
    return (0.1 * x * env).astype(np.float32)


def test_wav_round_trip_and_pcm16(tmp_path):
    x = speechlike(1600)
    save_wav(tmp_path / "a.wav", x)
    y = load_wav(tmp_path / "a.wav")
    np.testing.assert_allclose(y, from_pcm16(to_pcm16(x)), atol=1e-7)
    # round to nearest (ties to even), saturate at the int16 limits
    assert to_pcm16(np.array([1.0, -1.0, 0.6 / 32768, 1.5 / 32768, -2.0])).tolist() == [32767, -32768, 1, 2, -32768]


def test_bad_audio_inputs_get_clear_errors(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        load_wav(tmp_path / "nope.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="empty file"):
        load_wav(tmp_path / "empty.wav")
    (tmp_path / "junk.wav").write_bytes(b"RIFF\x00\x00garbage" * 10)
    with pytest.raises(AudioError, match="corrupt"):
        load_wav(tmp_path / "junk.wav")
    sf.write(tmp_path / "st.wav", np.zeros((800, 2)), 16000)
    with pytest.raises(AudioError, match="2 channels"):
        load_wav(tmp_path / "st.wav")
    assert load_wav(tmp_path / "st.wav", mono_ok=True).shape == (800,)
    sf.write(tmp_path / "r48.wav", np.zeros(4800), 48000)
    with pytest.raises(AudioError, match="48000 Hz, expected 16000"):
        load_wav(tmp_path / "r48.wav")
    assert load_wav(tmp_path / "r48.wav", resample_ok=True).shape == (1600,)
    sf.write(tmp_path / "short.wav", np.zeros(100), 16000)
    with pytest.raises(AudioError, match="shorter than one analysis window"):
        load_wav(tmp_path / "short.wav")


def test_resampling_keeps_a_tone():
    from rnnse.audio import resample

    t = np.arange(48000) / 48000
    y = resample(np.sin(2 * np.pi * 1000 * t), 48000, 16000)
    spec = np.abs(np.fft.rfft(y[2000:14000]))
    assert abs(np.argmax(spec) * 16000 / 12000 - 1000) < 2


def test_si_sdr_against_direct_formula():
    rng = np.random.default_rng(3)
    s = rng.standard_normal(8000)
    n = rng.standard_normal(8000)
    e = 0.5 * s + 0.1 * n
    s0, e0 = s - s.mean(), e - e.mean()
    target = (e0 @ s0) / (s0 @ s0) * s0
    ref = 10 * np.log10((target @ target) / ((e0 - target) @ (e0 - target)))
    assert si_sdr(s, e) == pytest.approx(ref, abs=1e-9)
    assert si_sdr(s, 3.0 * s) > 100  # scale-invariant


def test_pesq_and_stoi_order_degradations():
    clean = speechlike()
    rng = np.random.default_rng(4)
    noise = rng.standard_normal(len(clean)).astype(np.float32) * np.std(clean)
    mild, heavy = clean + 0.1 * noise, clean + 1.0 * noise
    assert pesq_wb(clean, clean) == pytest.approx(4.64, abs=0.01)
    assert pesq_wb(clean, mild) > pesq_wb(clean, heavy)
    assert stoi(clean, clean) == pytest.approx(1.0, abs=1e-6)
    assert stoi(clean, mild) > stoi(clean, heavy)
    assert np.isnan(pesq_wb(np.zeros(16000), np.zeros(16000)))
