"""Mixing rules (SNR convention, levels, clip protection) and the training mixers, against direct
numpy computations."""
import numpy as np
import pytest
import soundfile as sf

from rnnse.audio import AudioError
from rnnse.data import mixing
from rnnse.data.mixing import (CLIP_PEAK, OnlineMixer, PairedSegments, active_rms, mix_at_snr,
                               normalize_active, snr_db, trim_silence)

SR = 16000


def ref_snr(clean, noise):
    clean, noise = np.asarray(clean, np.float64), np.asarray(noise, np.float64)
    return 10 * np.log10(np.sum(clean ** 2) / np.sum(noise ** 2))


def speech_like(n, rng, gaps=True):
    """Harmonic bursts separated by silences (so that active level != overall level)."""
    t = np.arange(n) / SR
    x = sum(np.sin(2 * np.pi * k * 150 * t + rng.uniform(0, 6)) / k for k in range(1, 12))
    if gaps:
        x *= (np.sin(2 * np.pi * 1.5 * t) > 0)
    return (0.1 * x).astype(np.float32)


def test_snr_db_convention_and_edge_cases():
    rng = np.random.default_rng(0)
    c, n = rng.standard_normal(1000), rng.standard_normal(1000) * 0.3
    assert snr_db(c, n) == pytest.approx(ref_snr(c, n), abs=1e-12)
    assert snr_db(c, np.zeros(5)) == np.inf
    assert snr_db(np.zeros(5), n) == -np.inf


@pytest.mark.parametrize("snr", [-5.0, 0.0, 2.5, 7.5, 12.5, 17.5, 30.0])
def test_mix_at_snr_is_exact_and_keeps_the_speech(snr):
    rng = np.random.default_rng(1)
    clean = speech_like(16000, rng)
    noise = rng.standard_normal(16000).astype(np.float32)
    noisy, c, nz = mix_at_snr(clean, noise, snr)
    assert noisy.dtype == c.dtype == nz.dtype == np.float32
    assert np.max(np.abs(noisy)) <= CLIP_PEAK
    # the SNR in the returned signals, and in noisy - clean, is the one asked for
    assert ref_snr(c, nz) == pytest.approx(snr, abs=1e-4)
    assert ref_snr(c, noisy.astype(np.float64) - c) == pytest.approx(snr, abs=1e-3)
    # speech and noise are only scaled (the same gain for speech and noise if clipping hit)
    g = float(np.dot(c, clean) / np.dot(clean, clean))
    np.testing.assert_allclose(c, g * clean, atol=1e-6)
    h = float(np.dot(nz, noise) / np.dot(noise, noise))
    np.testing.assert_allclose(nz, h * noise, atol=1e-6)
    if np.max(np.abs(clean + nz / g)) <= CLIP_PEAK:
        assert g == pytest.approx(1.0, abs=1e-6)


def test_mix_at_snr_clip_protection():
    rng = np.random.default_rng(2)
    clean = speech_like(8000, rng, gaps=False)
    clean *= 0.95 / np.max(np.abs(clean))
    noise = rng.standard_normal(8000).astype(np.float32)
    noisy, c, nz = mix_at_snr(clean, noise, 0.0)
    assert np.max(np.abs(noisy)) == pytest.approx(CLIP_PEAK, abs=1e-6)
    g = c[np.argmax(np.abs(clean))] / clean[np.argmax(np.abs(clean))]
    assert g < 0.9
    np.testing.assert_allclose(c, g * clean, atol=1e-6)
    assert ref_snr(c, nz) == pytest.approx(0.0, abs=1e-4)


def test_mix_at_snr_errors():
    z, x = np.zeros(100), np.ones(100)
    with pytest.raises(ValueError, match="lengths differ"):
        mix_at_snr(x, np.ones(99), 5)
    with pytest.raises(ValueError, match="the speech is silent"):
        mix_at_snr(z, x, 5)
    with pytest.raises(ValueError, match="the noise is silent"):
        mix_at_snr(x, z, 5)


def test_active_level_trim_and_normalize():
    rng = np.random.default_rng(3)
    burst = speech_like(8000, rng, gaps=False)
    x = np.concatenate([np.zeros(8000, np.float32), burst, np.zeros(16000, np.float32)])
    # the active level ignores the silences; the overall RMS does not
    assert active_rms(x) == pytest.approx(np.sqrt(np.mean(burst.astype(np.float64) ** 2)), rel=0.02)
    y = normalize_active(x, -26.0)
    assert 20 * np.log10(active_rms(y)) == pytest.approx(-26.0, abs=1e-3)
    np.testing.assert_allclose(y / y[np.argmax(np.abs(x))], x / x[np.argmax(np.abs(x))], atol=1e-5)
    # a level that would clip is limited at CLIP_PEAK
    assert np.max(np.abs(normalize_active(x, 0.0))) == pytest.approx(CLIP_PEAK, abs=1e-6)
    # trimming keeps the burst plus the margin on each side, on 10 ms frames
    t = trim_silence(x, margin_s=0.1)
    assert len(t) == pytest.approx(8000 + 2 * 1600, abs=160)
    assert np.array_equal(t[1600:1600 + 8000], burst) or np.allclose(
        np.correlate(t, burst, "valid").max(), np.dot(burst, burst))
    assert trim_silence(np.zeros(1000)).size == 0


# -- the online mixer ------------------------------------------------------------------------

def pools(rng):
    speech = [speech_like(int(rng.integers(4000, 40000)), rng) for _ in range(6)]
    speech.append(speech_like(3000, rng))  # shorter than a segment
    noise = [rng.standard_normal(int(rng.integers(5000, 30000))).astype(np.float32) * 0.1
             for _ in range(4)]
    return speech, noise


def test_online_mixer_shapes_and_determinism():
    rng = np.random.default_rng(4)
    m = OnlineMixer(*pools(rng))
    a = m.sample_batch(5, 12000, 7)
    b = m.sample_batch(5, 12000, np.random.default_rng(7))
    c = m.sample_batch(5, 12000, 8)
    for (noisy, clean) in (a, b, c):
        assert noisy.shape == clean.shape == (5, 12000)
        assert noisy.dtype == clean.dtype == np.float32
        assert np.all(np.isfinite(noisy)) and np.max(np.abs(noisy)) <= CLIP_PEAK + 1e-6
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("p_two_noises", [0.0, 1.0])
def test_online_mixer_snr_and_level_are_exact(p_two_noises):
    rng = np.random.default_rng(5)
    m = OnlineMixer(*pools(rng), snr_range=(6.0, 6.0), level_range=(-24.0, -24.0),
                    p_two_noises=p_two_noises)
    noisy, clean = m.sample_batch(16, 8000, 11)
    checked = 0
    for n, c in zip(noisy, clean):
        if not np.any(c):
            continue  # a segment of pure silence: noise alone, no SNR to check
        assert ref_snr(c, n.astype(np.float64) - c) == pytest.approx(6.0, abs=0.01)
        level = 10 * np.log10(np.mean(n.astype(np.float64) ** 2))
        if np.max(np.abs(n)) < CLIP_PEAK - 1e-4:
            assert level == pytest.approx(-24.0, abs=0.01)
        else:  # clip protection lowered the level
            assert level < -24.0
        checked += 1
    assert checked >= 12


def test_online_mixer_snr_range_covers_the_interval():
    rng = np.random.default_rng(6)
    m = OnlineMixer(*pools(rng), snr_range=(0.0, 10.0), p_pad=0.0)
    noisy, clean = m.sample_batch(64, 4000, 12)
    snrs = [ref_snr(c, n.astype(np.float64) - c) for n, c in zip(noisy, clean) if np.any(c)]
    assert min(snrs) >= -0.01 and max(snrs) <= 10.01
    assert max(snrs) - min(snrs) > 7.0


def test_online_mixer_argument_errors():
    s, n = [np.ones(100, np.float32)], [np.ones(100, np.float32)]
    with pytest.raises(ValueError, match="snr_range"):
        OnlineMixer(s, n, snr_range=(10, 0))
    with pytest.raises(ValueError, match="level_range"):
        OnlineMixer(s, n, level_range=(-10, 3))
    with pytest.raises(ValueError, match="p_eq must be a probability"):
        OnlineMixer(s, n, p_eq=1.5)
    with pytest.raises(ValueError, match="the speech pool is empty"):
        OnlineMixer([], n)
    with pytest.raises(ValueError, match="the noise pool is empty"):
        OnlineMixer(s, [np.zeros(0)])
    with pytest.raises(ValueError, match="clips must be 1-D"):
        OnlineMixer([np.ones((10, 2))], n)
    m = OnlineMixer(s, n)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        m.sample_batch(0, 100, 0)
    with pytest.raises(ValueError, match="seg_samples must be a positive integer"):
        m.sample_batch(2, 10.5, 0)


def test_from_corpus_and_wav_dir_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"not a complete corpus \(no READY file matching "
                                                r"its manifest.json\); run `rnnse data build`"):
        OnlineMixer.from_corpus(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        mixing.load_wav_dir(tmp_path / "none")
    (tmp_path / "d").mkdir()
    with pytest.raises(AudioError, match="contains no .wav files"):
        mixing.load_wav_dir(tmp_path / "d")
    sf.write(tmp_path / "d" / "b.wav", np.zeros(800), 8000)
    with pytest.raises(AudioError, match=r"b\.wav: expected 16 kHz mono, got 8000 Hz"):
        mixing.load_wav_dir(tmp_path / "d")
    sf.write(tmp_path / "d" / "b.wav", np.full(800, 0.5), SR, subtype="PCM_16")
    sf.write(tmp_path / "d" / "a.wav", np.full(400, -0.25), SR, subtype="PCM_16")
    (tmp_path / "d" / "notes.txt").write_text("ignored")
    a, b = mixing.load_wav_dir(tmp_path / "d")
    assert a.dtype == np.int16 and a.shape == (400,) and b.shape == (800,)
    assert a[0] == -8192 and abs(int(b[0]) - 16384) <= 1
    (tmp_path / "d" / "c.wav").write_bytes(b"RIFFjunk")
    with pytest.raises(AudioError, match=r"c\.wav: unreadable wav"):
        mixing.load_wav_dir(tmp_path / "d")


# -- fixed pairs -----------------------------------------------------------------------------

def test_paired_segments_are_aligned_padded_and_deterministic():
    # pair k: clean is the ramp 1, 2, 3, ... (int16 units), noisy = clean + 1000 (k + 1); from any
    # segment the gain, the offset and the pair can be read back exactly
    lengths = (20000, 25000, 2000)
    pairs = []
    for k, length in enumerate(lengths):
        c = np.arange(1, length + 1, dtype=np.int16)
        pairs.append((c + np.int16(1000 * (k + 1)), c))
    ps = PairedSegments(pairs, gain_range=(-6.0, 6.0))
    seg = 4000
    noisy, clean = ps.sample_batch(24, seg, 3)
    assert noisy.shape == clean.shape == (24, seg) and noisy.dtype == np.float32
    again = ps.sample_batch(24, seg, 3)
    assert np.array_equal(noisy, again[0]) and np.array_equal(clean, again[1])
    seen = set()
    for nb, cb in zip(noisy, clean):
        nz = np.flatnonzero(cb)
        g = (cb[nz[-1]] - cb[nz[0]]) / (nz[-1] - nz[0]) * 32768.0  # gain: the ramp's slope
        first = int(round(cb[nz[0]] * 32768.0 / g))     # ramp value of the first sample
        k = int(round((nb[nz[0]] - cb[nz[0]]) * 32768.0 / g / 1000)) - 1
        assert 0 <= k < len(lengths)
        seen.add(k)
        peak_ok = np.max(np.abs(nb)) <= CLIP_PEAK + 1e-6
        assert peak_ok
        assert 10 ** (-6 / 20) - 1e-4 <= g <= 10 ** (6 / 20) + 1e-4 or \
            np.max(np.abs(nb)) == pytest.approx(CLIP_PEAK, abs=1e-5)
        if lengths[k] >= seg:  # a segment at offset first - 1
            assert nz[0] == 0 and len(nz) == seg and 1 <= first <= lengths[k] - seg + 1
            ramp = np.arange(first, first + seg)
            pos = np.arange(seg)
        else:  # the whole short clip, zero-padded at a random position
            assert first == 1 and len(nz) == lengths[k] and nz[-1] - nz[0] == lengths[k] - 1
            ramp = np.arange(1, lengths[k] + 1)
            pos = nz
            assert not np.any(nb[:nz[0]]) and not np.any(nb[nz[-1] + 1:])
        g = float(np.dot(cb[pos], ramp) / np.dot(ramp, ramp)) * 32768.0  # refined gain
        np.testing.assert_allclose(cb[pos], g * ramp / 32768.0, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(nb[pos], g * (ramp + 1000 * (k + 1)) / 32768.0, rtol=1e-5,
                                   atol=1e-7)
    assert seen == {0, 1, 2}


def test_paired_segments_clip_protection_and_errors():
    loud = np.full(5000, 0.9, np.float32)
    ps = PairedSegments([(loud, loud * 0.5)], gain_range=(6.0, 6.0))
    noisy, clean = ps.sample_batch(3, 1000, 0)
    np.testing.assert_allclose(np.abs(noisy).max(axis=1), CLIP_PEAK, atol=1e-4)
    np.testing.assert_allclose(clean / noisy, 0.5, atol=1e-3)
    with pytest.raises(ValueError, match="pair 0: noisy and clean lengths differ"):
        PairedSegments([(np.ones(10), np.ones(11))])
    with pytest.raises(ValueError, match="no .noisy, clean. pairs given"):
        PairedSegments([])


def band_power_db(x, lo, hi):
    spec = np.abs(np.fft.rfft(np.asarray(x, np.float64))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / 16000)
    return 10 * np.log10(np.sum(spec[(f >= lo) & (f < hi)]) + 1e-30)


def test_narrowband_channel_leaves_nothing_above_4_khz():
    x = np.random.default_rng(3).standard_normal(16000).astype(np.float32)
    y = OnlineMixer.narrowband(x)
    assert y.shape == x.shape and y.dtype == np.float32
    # the speech band passes (within 0.5 dB), the band above 4.4 kHz is cut by > 40 dB
    assert abs(band_power_db(y, 300, 3400) - band_power_db(x, 300, 3400)) < 0.5
    assert band_power_db(y, 4400, 8000) < band_power_db(x, 4400, 8000) - 40


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_online_mixer_narrowband_speech_under_wideband_noise(p):
    rng = np.random.default_rng(9)
    speech = [rng.standard_normal(20000).astype(np.float32) * 0.1 for _ in range(3)]
    noise = [rng.standard_normal(20000).astype(np.float32) * 0.1]
    m = OnlineMixer(speech, noise, p_narrowband=p, p_eq=0.0, p_pad=0.0)
    noisy, clean = m.sample_batch(4, 8000, 1)
    for n, c in zip(noisy, clean):
        hf_drop = band_power_db(c, 300, 3400) - band_power_db(c, 4400, 8000)
        noise_hf_drop = band_power_db(n - c, 300, 3400) - band_power_db(n - c, 4400, 8000)
        assert noise_hf_drop < 5                    # the noise stays wideband in every case
        assert (hf_drop > 30) if p else (hf_drop < 5)


def test_online_mixer_refuses_a_narrowband_probability_out_of_range():
    s, n = [np.ones(100, np.float32)], [np.ones(100, np.float32)]
    with pytest.raises(ValueError, match="p_narrowband must be a probability"):
        OnlineMixer(s, n, p_narrowband=-0.1)
