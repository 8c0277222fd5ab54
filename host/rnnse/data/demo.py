"""The committed demo pair: a recorded prompt from the real test set in a held-out recorded noise."""
from __future__ import annotations

import os

import numpy as np

from ..audio import save_wav
from ..cli import UserError
from ..config import SAMPLE_RATE
from . import noise as nz
from . import sources as src
from .corpus import BuildConfig
from .mixing import mix_at_snr, normalize_active, snr_db, trim_silence

DEMO_NOISE = "loop_3d_printer"  # one of sources.NOISE_RECORDINGS_TEST: never used in training


def make_demo(out: str, seconds: float = 3.0, snr: float = 5.0, seed: int = 0) -> list[str]:
    """Write ``demo_noisy.wav`` and ``demo_clean.wav``; returns lines describing them."""
    if not 1.0 <= seconds <= 4.5:
        raise UserError(f"--seconds must be within 1..4.5 (keeps each file under 150 kB), "
                        f"got {seconds}")
    src.require_packages()
    n_test = BuildConfig().n_test_real
    prompts = sorted(src.asterisk_prompts(), key=lambda r: (-r.seconds, r.path))[:n_test]
    # trimmed length is known only after decoding: try prompts by raw length closest to target
    best = None
    for rec in sorted(prompts, key=lambda r: (abs(r.seconds - seconds - 0.6), r.path))[:12]:
        x = trim_silence(src.load_recording(rec), margin_s=0.15)
        if best is None or abs(len(x) / SAMPLE_RATE - seconds) < abs(len(best[1]) / SAMPLE_RATE
                                                                    - seconds):
            best = (rec, x)
    rec, clean = best
    clean = normalize_active(clean, -26.0)
    noise = nz.loop_to(nz.unit_rms(src.sonic_pi(DEMO_NOISE)), len(clean),
                       np.random.default_rng(seed))
    noisy, clean, noise = mix_at_snr(clean, noise, snr)
    os.makedirs(out, exist_ok=True)
    save_wav(os.path.join(out, "demo_clean.wav"), clean)
    save_wav(os.path.join(out, "demo_noisy.wav"), noisy)
    return [f"speech: {os.path.relpath(rec.path, src.ASTERISK_DIR)} "
            f"(asterisk-core-sounds-en-g722), {len(clean) / SAMPLE_RATE:.2f} s",
            f"noise: {DEMO_NOISE} (sonic-pi-samples), SNR {snr_db(clean, noisy - clean):.2f} dB",
            f"wrote {os.path.join(out, 'demo_noisy.wav')} and {os.path.join(out, 'demo_clean.wav')}"]
