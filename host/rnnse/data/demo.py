"""The committed demo pair: a recorded prompt from the real test set in a held-out recorded noise."""
from __future__ import annotations

import os

import numpy as np

from ..audio import save_wav
from ..cli import UserError
from ..config import SAMPLE_RATE
from . import noise as nz
from . import sources as src
from .corpus import BuildConfig, split_prompts
from .mixing import mix_at_snr, normalize_active, snr_db, trim_silence

DEMO_NOISE = "loop_3d_printer"  # one of sources.NOISE_RECORDINGS_TEST: never used in training
DEMO_LEVEL_DBFS = -26.0
MAX_SECONDS = 4.5  # 16-bit mono at 16 kHz: 4.5 s is 144 kB


def choose_prompt(seconds: float):
    """The real-test-set prompt whose trimmed length is closest to ``seconds`` (ties: by path)."""
    test, _ = split_prompts(BuildConfig().n_test_real)
    # the trimmed length is known only after decoding: try the prompts whose raw length is
    # closest to the target plus typical leading/trailing silence
    best = None
    for rec in sorted(test, key=lambda r: (abs(r.seconds - seconds - 0.6), r.path))[:12]:
        x = trim_silence(src.load_recording(rec), margin_s=0.15)
        err = abs(len(x) / SAMPLE_RATE - seconds)
        if best is None or err < best[0]:
            best = (err, rec, x)
    return best[1], best[2]


def make_demo(out: str, seconds: float = 3.0, snr: float = 5.0, seed: int = 0) -> list[str]:
    """Write ``demo_noisy.wav`` and ``demo_clean.wav``; returns lines describing them."""
    if not 1.0 <= seconds <= MAX_SECONDS:
        raise UserError(f"--seconds must be within 1..{MAX_SECONDS:g} (keeps each file under "
                        f"150 kB), got {seconds}")
    if not -10.0 <= snr <= 40.0:
        raise UserError(f"--snr must be within -10..40 dB, got {snr}")
    src.require_packages()
    rec, clean = choose_prompt(seconds)
    # a prompt may run longer than asked: cut at the quietest 20 ms frame near the target
    limit = int(MAX_SECONDS * SAMPLE_RATE)
    if len(clean) > limit:
        frame = SAMPLE_RATE // 50
        lo = int(seconds * SAMPLE_RATE) // frame
        e = [float(np.mean(clean[i * frame:(i + 1) * frame] ** 2))
             for i in range(lo, limit // frame)]
        clean = clean[:(lo + int(np.argmin(e)) + 1) * frame]
    clean = normalize_active(clean, DEMO_LEVEL_DBFS)
    noise = nz.loop_to(nz.unit_rms(src.sonic_pi(DEMO_NOISE)), len(clean),
                       np.random.default_rng(seed))
    noisy, clean, noise = mix_at_snr(clean, noise, snr)
    os.makedirs(out, exist_ok=True)
    save_wav(os.path.join(out, "demo_clean.wav"), clean)
    save_wav(os.path.join(out, "demo_noisy.wav"), noisy)
    return [f"speech: {rec.rel} "
            f"(asterisk-core-sounds-en-g722, in the real test set), "
            f"{len(clean) / SAMPLE_RATE:.2f} s",
            f"noise: {DEMO_NOISE} (sonic-pi-samples, test-only recording), "
            f"SNR {snr_db(clean, noisy - clean):.2f} dB",
            f"wrote {os.path.join(out, 'demo_noisy.wav')} and {os.path.join(out, 'demo_clean.wav')}"]
