"""Synthetic noise generators: unit RMS, determinism, and spectra measured (Welch) against the
shape each one is meant to have."""
import numpy as np
import pytest
from scipy.signal import welch

from rnnse.data import noise as nz

SR = 16000
N = 16000 * 20


def psd_db(x, nperseg=8192):
    f, p = welch(x.astype(np.float64), fs=SR, nperseg=nperseg)
    return f, 10 * np.log10(p)


def band(f, lo, hi):
    return (f >= lo) & (f <= hi)


def slope_db_per_octave(f, p_db, lo, hi):
    m = band(f, lo, hi)
    return float(np.polyfit(np.log2(f[m]), p_db[m], 1)[0])


@pytest.mark.parametrize("name", sorted(nz.SYNTHETIC))
def test_unit_rms_zero_mean_length_and_determinism(name):
    gen = nz.SYNTHETIC[name]
    x = gen(48000, np.random.default_rng(1))
    assert x.dtype == np.float32 and x.shape == (48000,)
    assert np.all(np.isfinite(x))
    assert np.sqrt(np.mean(x.astype(np.float64) ** 2)) == pytest.approx(1.0, abs=1e-4)
    assert abs(float(np.mean(x))) < 1e-4
    assert np.array_equal(x, gen(48000, np.random.default_rng(1)))
    assert not np.array_equal(x, gen(48000, np.random.default_rng(2)))


@pytest.mark.parametrize("name,want", [("white", 0.0), ("pink", -3.01), ("brown", -6.02)])
def test_power_law_slopes(name, want):
    f, p = psd_db(nz.SYNTHETIC[name](N, np.random.default_rng(3)))
    assert slope_db_per_octave(f, p, 100, 7000) == pytest.approx(want, abs=0.25)
    # and the spectrum follows the line: no bumps beyond the estimator's scatter
    m = band(f, 100, 7000)
    fit = np.polyval(np.polyfit(np.log2(f[m]), p[m], 1), np.log2(f[m]))
    assert np.percentile(np.abs(p[m] - fit), 95) < 1.5


def test_lowfreq_follows_its_lowpass_shape():
    # fixed parameters so that the intended response is known exactly
    x = nz.lowfreq(N, np.random.default_rng(4), fc_range=(120.0, 120.0), order_range=(3.0, 3.0),
                   floor_db=(-100.0, -100.0))
    f, p = psd_db(x)
    intended = 20 * np.log10(1.0 / (1.0 + (np.maximum(f, 1.0) / 120.0) ** 3.0) + 1e-5)
    m = band(f, 30, 1500)
    err = p[m] - intended[m]
    err -= np.median(err)
    assert np.percentile(np.abs(err), 95) < 1.5
    # 18 dB per octave well above the corner
    assert slope_db_per_octave(f, p, 500, 1500) == pytest.approx(-18.06, abs=0.7)


def test_speech_shaped_follows_the_long_term_speech_spectrum():
    rng = np.random.default_rng(5)
    knee = np.random.default_rng(5).uniform(350.0, 700.0)  # the generator's first draw
    f, p = psd_db(nz.speech_shaped(N, rng))
    ff = np.maximum(f, 1.0)
    intended = 20 * np.log10((1 + (ff / knee) ** 2) ** -0.75 * ff / (ff + 80.0))
    m = band(f, 60, 7500)
    err = p[m] - intended[m]
    err -= np.median(err)
    assert np.percentile(np.abs(err), 95) < 1.5
    # about -9 dB per octave at the top of the band
    assert slope_db_per_octave(f, p, 3000, 7500) == pytest.approx(-8.7, abs=0.6)


def test_hum_is_harmonic_on_50_or_60_hz():
    x = nz.hum(N, np.random.default_rng(6))
    f, p = psd_db(x, nperseg=32768)
    peak = f[np.argmax(p)]
    f0 = 50.0 if min(abs(peak / 50 - round(peak / 50)), 1) * 50 < \
        min(abs(peak / 60 - round(peak / 60)), 1) * 60 else 60.0
    k = round(peak / f0)
    assert k >= 1 and abs(peak - k * f0) < 0.006 * k * f0 + 1.0
    # the harmonics stand far above the pink floor between them
    between = p[band(f, k * f0 + 0.3 * f0, k * f0 + 0.7 * f0)]
    assert p.max() - np.median(between) > 25


def test_gated_noise_switches_on_and_off():
    x = nz.gated(N, np.random.default_rng(7)).astype(np.float64)
    frames = x[: len(x) // 160 * 160].reshape(-1, 160)
    e_db = 10 * np.log10(np.mean(frames ** 2, axis=1))
    loud = np.percentile(e_db, 90)
    assert np.mean(e_db < loud - 15) > 0.15  # long quiet stretches
    assert np.mean(e_db > loud - 6) > 0.2    # and bursts


def test_vehicle_noise_is_low_frequency():
    f, p = welch(nz.vehicle(N, np.random.default_rng(8)).astype(np.float64), fs=SR, nperseg=8192)
    assert p[f < 300].sum() / p.sum() > 0.8


def test_loop_to_repeats_with_crossfades():
    x = np.arange(1, 1001, dtype=np.float32)  # every sample names its position
    rng = np.random.default_rng(9)
    short = nz.loop_to(x, 600, rng)  # long enough: a rotated slice, no fades
    start = int(short[0]) - 1
    np.testing.assert_array_equal(short, np.roll(x, -start)[:600])
    y = nz.loop_to(x, 3500, np.random.default_rng(10))
    assert y.shape == (3500,) and y.dtype == np.float32
    fade = min(len(x) // 4, int(0.02 * SR))  # 250 samples here
    rot = np.roll(x, -(int(y[fade]) - 1 - fade))
    period = len(x) - fade
    for r in range(3):
        a = r * period + fade
        b = (r + 1) * period
        if b > len(y):
            break
        # between the crossfades each repeat is the rotated recording itself
        np.testing.assert_allclose(y[a:b], rot[fade:len(x) - fade], rtol=1e-6)
