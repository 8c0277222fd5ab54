"""Mixing speech with noise: the shared SNR/level rules and the online mixers used for training.

SNR convention (used everywhere in rnnse): the power of the clean speech over the power of the
noise, both averaged over the whole clip or segment, silences included (no active-speech
detection), in dB: ``snr_db = 10 log10(sum(clean**2) / sum(noise**2))``. This is also how the
Valentini test mixtures are labelled.

:class:`OnlineMixer` draws fresh (noisy, clean) segments on every call from pools kept as int16
in memory, so that training never sees the same mixture twice. :class:`PairedSegments` draws random
segments from fixed noisy/clean pairs (Valentini training).
"""
from __future__ import annotations

import os

import numpy as np

from ..audio import AudioError, resample
from ..config import SAMPLE_RATE

CLIP_PEAK = 0.99  # mixtures are scaled down so that no sample exceeds this


def db_to_amp(db):
    return 10.0 ** (np.asarray(db, dtype=np.float64) / 20.0)


def power(x) -> float:
    x = np.asarray(x, dtype=np.float64)
    return float(np.mean(x * x)) if x.size else 0.0


def snr_db(clean, noise) -> float:
    """Measured SNR of a mixture per the convention above (``noise = noisy - clean``)."""
    ps, pn = power(clean), power(noise)
    if pn == 0.0:
        return float("inf")
    if ps == 0.0:
        return float("-inf")
    return 10.0 * np.log10(ps / pn)


def active_rms(x: np.ndarray, frame: int = 320, floor_db: float = -40.0) -> float:
    """RMS over the frames within ``floor_db`` of the loudest frame (a simple active level)."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x) // frame
    if n == 0:
        return float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    e = np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1)
    if e.max() <= 0:
        return 0.0
    keep = e >= e.max() * 10 ** (floor_db / 10)
    return float(np.sqrt(e[keep].mean()))


def trim_silence(x: np.ndarray, floor_db: float = -40.0, margin_s: float = 0.1,
                 frame: int = 160) -> np.ndarray:
    """Cut leading and trailing frames quieter than ``floor_db`` below the loudest frame."""
    x = np.asarray(x, dtype=np.float32)
    n = len(x) // frame
    if n == 0:
        return x
    e = np.mean(x[: n * frame].astype(np.float64).reshape(n, frame) ** 2, axis=1)
    if e.max() <= 0:
        return x[:0]
    loud = np.flatnonzero(e >= e.max() * 10 ** (floor_db / 10))
    m = int(margin_s * SAMPLE_RATE)
    return x[max(0, loud[0] * frame - m): min(len(x), (loud[-1] + 1) * frame + m)]


def normalize_active(x: np.ndarray, level_dbfs: float) -> np.ndarray:
    """Scale speech so that its active level is ``level_dbfs`` (dB re full scale RMS)."""
    r = active_rms(x)
    if r == 0.0:
        return np.asarray(x, dtype=np.float32)
    y = np.asarray(x, dtype=np.float64) * (db_to_amp(level_dbfs) / r)
    peak = np.max(np.abs(y))
    if peak > CLIP_PEAK:
        y *= CLIP_PEAK / peak
    return y.astype(np.float32)


def mix_at_snr(clean: np.ndarray, noise: np.ndarray, snr: float):
    """Scale ``noise`` so that the mixture has exactly ``snr`` dB; returns (noisy, clean, noise).

    If the mixture would exceed ``CLIP_PEAK`` all three are scaled down together (the SNR is
    unchanged). Both inputs must have the same length and the speech must not be silent.
    """
    clean = np.asarray(clean, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    if clean.shape != noise.shape:
        raise ValueError(f"speech and noise lengths differ: {clean.shape} vs {noise.shape}")
    ps, pn = power(clean), power(noise)
    if ps == 0.0:
        raise ValueError("cannot mix at an SNR: the speech is silent")
    if pn == 0.0:
        raise ValueError("cannot mix at an SNR: the noise is silent")
    noise = noise * np.sqrt(ps / (pn * 10.0 ** (snr / 10.0)))
    noisy = clean + noise
    peak = np.max(np.abs(noisy))
    if peak > CLIP_PEAK:
        g = CLIP_PEAK / peak
        noisy, clean, noise = noisy * g, clean * g, noise * g
    return noisy.astype(np.float32), clean.astype(np.float32), noise.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# online mixing for training

def _as_pool(clips, what: str) -> list[np.ndarray]:
    pool = []
    for c in clips:
        c = np.asarray(c)
        if c.ndim != 1:
            raise ValueError(f"{what} clips must be 1-D, got shape {c.shape}")
        if c.dtype != np.int16:
            c = np.clip(np.round(c.astype(np.float64) * 32768.0), -32768, 32767).astype(np.int16)
        if len(c) > 0:
            pool.append(c)
    if not pool:
        raise ValueError(f"the {what} pool is empty")
    return pool


def load_wav_dir(path) -> list[np.ndarray]:
    """All ``*.wav`` in a folder (16 kHz mono 16-bit), as int16 arrays, sorted by name."""
    import soundfile as sf

    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no such folder")
    names = sorted(f for f in os.listdir(path) if f.endswith(".wav"))
    if not names:
        raise AudioError(f"{path}: contains no .wav files")
    out = []
    for f in names:
        p = os.path.join(path, f)
        try:
            x, sr = sf.read(p, dtype="int16", always_2d=True)
        except Exception as exc:
            raise AudioError(f"{p}: unreadable wav ({exc})") from None
        if sr != SAMPLE_RATE or x.shape[1] != 1:
            raise AudioError(f"{p}: expected 16 kHz mono, got {sr} Hz with {x.shape[1]} channels")
        out.append(np.ascontiguousarray(x[:, 0]))
    return out


class OnlineMixer:
    """Fresh noisy/clean training segments from speech and noise pools.

    Per item: a random speech segment (short clips are concatenated with the next clips in a
    random order, or zero-padded at a random position, so that the model also sees speech
    pauses; with ``speech_groups``, a group is drawn first by ``group_weights``, then a clip of
    that group with probability proportional to its length, and short clips are joined with
    clips of the same group), an optional random spectral tilt / high-pass on the speech (recording channels
    differ; the clean target gets the same filter), with probability ``p_narrowband`` a telephone
    channel on the speech (8 kHz sampling and back: nothing left above 4 kHz, as in the
    telephone-band prompt recordings; the target gets it too, the noise stays wideband, so the
    model learns to remove the noise above the speech's band), a random noise segment (looped if short;
    with probability ``p_two_noises`` a second noise is added), an SNR uniform in ``snr_range``,
    and an overall level uniform in ``level_range`` dBFS (RMS of the mixture) with clip protection.
    """

    def __init__(self, speech, noise, snr_range=(-5.0, 20.0), level_range=(-35.0, -15.0),
                 p_pad=0.3, p_eq=0.5, p_two_noises=0.2, speech_groups=None, group_weights=None,
                 p_narrowband=0.0):
        self.speech = _as_pool(speech, "speech")
        self.noise = _as_pool(noise, "noise")
        self._groups = None
        if speech_groups is not None:
            speech_groups = list(speech_groups)
            if len(speech_groups) != len(self.speech):
                raise ValueError(f"speech_groups has {len(speech_groups)} labels for "
                                 f"{len(self.speech)} speech clips")
            weights = dict(group_weights or {})
            names = sorted(set(speech_groups))
            unknown = sorted(set(weights) - set(names))
            if unknown:
                raise ValueError(f"group_weights names groups with no clip: {', '.join(unknown)} "
                                 f"(the groups are {', '.join(names)})")
            if any(not w >= 0 for w in weights.values()):
                raise ValueError(f"group weights must be non-negative, got {weights}")
            w = np.array([weights.get(g, 1.0 if not weights else 0.0) for g in names], float)
            if w.sum() <= 0:
                raise ValueError("group_weights gives every group weight 0")
            members = []
            for g in names:
                idx = np.array([i for i, x in enumerate(speech_groups) if x == g])
                lengths = np.array([len(self.speech[i]) for i in idx], float)
                members.append((idx, np.cumsum(lengths) / lengths.sum()))
            self._groups = (np.cumsum(w / w.sum()), members, np.array(
                [names.index(x) for x in speech_groups]))
        lo, hi = snr_range
        if not lo <= hi:
            raise ValueError(f"snr_range must be (low, high) with low <= high, got {snr_range}")
        lo, hi = level_range
        if not lo <= hi <= 0:
            raise ValueError(f"level_range must be (low, high) dBFS with low <= high <= 0, "
                             f"got {level_range}")
        for name, p in (("p_pad", p_pad), ("p_eq", p_eq), ("p_two_noises", p_two_noises),
                        ("p_narrowband", p_narrowband)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {p}")
        self.snr_range = tuple(float(v) for v in snr_range)
        self.level_range = tuple(float(v) for v in level_range)
        self.p_pad, self.p_eq, self.p_two_noises = p_pad, p_eq, p_two_noises
        self.p_narrowband = p_narrowband

    @classmethod
    def from_corpus(cls, corpus_dir, group_weights=None, **kw) -> "OnlineMixer":
        """Load ``train/speech`` and ``train/noise`` of a built corpus. ``group_weights``
        ({"prompts": .., "letters": .., "tts": ..}) weights the speech groups that
        ``speech_group`` reads from the corpus manifest (None: every clip equally likely)."""
        import json

        from .corpus import ready_ok

        corpus_dir = os.fspath(corpus_dir)
        if not ready_ok(corpus_dir):
            raise FileNotFoundError(f"{corpus_dir}: not a complete corpus (no READY file matching "
                                    "its manifest.json); run `rnnse data build` first")
        speech_dir = os.path.join(corpus_dir, "train", "speech")
        speech = load_wav_dir(speech_dir)
        if group_weights is not None:
            with open(os.path.join(corpus_dir, "manifest.json")) as fh:
                entries = json.load(fh).get("splits", {}).get("train_speech", {})
            names = [f[:-4] for f in sorted(os.listdir(speech_dir)) if f.endswith(".wav")]
            kw["speech_groups"] = [speech_group(entries.get(n, {})) for n in names]
            kw["group_weights"] = group_weights
        return cls(speech, load_wav_dir(os.path.join(corpus_dir, "train", "noise")), **kw)

    # -- pieces ----------------------------------------------------------------------------
    def _draw_clip(self, rng, group: int | None = None) -> tuple[int, int | None]:
        """Index of a speech clip (and its group): uniform without groups; else a group by
        weight (unless given) and a clip of it with probability proportional to its length."""
        if self._groups is None:
            return int(rng.integers(len(self.speech))), None
        cum_w, members, _ = self._groups
        if group is None:
            group = min(int(np.searchsorted(cum_w, rng.random(), side="right")), len(cum_w) - 1)
        idx, cum_len = members[group]
        k = min(int(np.searchsorted(cum_len, rng.random(), side="right")), len(idx) - 1)
        return int(idx[k]), group

    def _speech_segment(self, n: int, rng) -> np.ndarray:
        i, group = self._draw_clip(rng)
        clip = self.speech[i]
        if len(clip) >= n:
            o = int(rng.integers(len(clip) - n + 1))
            return clip[o:o + n].astype(np.float32)
        out = np.zeros(n, dtype=np.float32)
        if rng.random() < self.p_pad:
            o = int(rng.integers(n - len(clip) + 1))
            out[o:o + len(clip)] = clip
            return out
        parts, total = [], 0
        while total < n + len(clip):
            c = self.speech[self._draw_clip(rng, group)[0]] if parts else clip
            gap = int(rng.integers(0, SAMPLE_RATE // 4))
            parts += [c, np.zeros(gap, dtype=np.int16)]
            total += len(c) + gap
        cat = np.concatenate(parts)
        o = int(rng.integers(len(cat) - n + 1))
        return cat[o:o + n].astype(np.float32)

    def _noise_segment(self, n: int, rng) -> np.ndarray:
        clip = self.noise[int(rng.integers(len(self.noise)))]
        if len(clip) >= n:
            o = int(rng.integers(len(clip) - n + 1))
            return clip[o:o + n].astype(np.float32)
        reps = -(-n // len(clip)) + 1
        o = int(rng.integers(len(clip)))
        return np.tile(clip, reps)[o:o + n].astype(np.float32)

    @staticmethod
    def _random_eq(x: np.ndarray, rng) -> np.ndarray:
        """First-order spectral tilt (about +-6 dB across the band), sometimes a high-pass."""
        from scipy.signal import lfilter

        a = rng.uniform(-0.5, 0.5)
        y = lfilter([1.0, -a], [1.0], x) / (1.0 + abs(a))
        if rng.random() < 0.3:  # first-order high-pass at 100-300 Hz (small mics, phones)
            k = np.exp(-2 * np.pi * rng.uniform(100, 300) / SAMPLE_RATE)
            y = lfilter([(1 + k) / 2, -(1 + k) / 2], [1.0, -k], y)
        return y.astype(np.float32)

    @staticmethod
    def narrowband(x: np.ndarray) -> np.ndarray:
        """A telephone channel's band: down to 8 kHz and back up (polyphase, as the telephone
        prompt recordings were brought to 16 kHz): nothing above 4 kHz, the same length."""
        narrow = SAMPLE_RATE // 2
        return resample(resample(x, SAMPLE_RATE, narrow), narrow, SAMPLE_RATE)[:len(x)]

    def sample(self, n: int, rng):
        """One (noisy, clean) pair of ``n`` samples."""
        clean = self._speech_segment(n, rng)
        if rng.random() < self.p_eq:
            clean = self._random_eq(clean, rng)
        if self.p_narrowband and rng.random() < self.p_narrowband:   # p = 0 draws nothing:
            # the random stream, hence every mixture, stays that of a mixer without the option
            clean = self.narrowband(clean)
        noise = self._noise_segment(n, rng)
        if rng.random() < self.p_two_noises:
            extra = self._noise_segment(n, rng)
            pe, pn = power(extra), power(noise)
            if pe > 0 and pn > 0:
                noise = noise + extra * np.float32(np.sqrt(pn / pe) * db_to_amp(rng.uniform(-10, 0)))
        ps, pn = power(clean), power(noise)
        snr = rng.uniform(*self.snr_range)
        if ps > 0 and pn > 0:
            noise = noise * np.float32(np.sqrt(ps / (pn * 10.0 ** (snr / 10.0))))
        elif pn > 0:  # silent speech segment: noise alone at a level as if speech were present
            noise = noise * np.float32(np.sqrt(1e-4 / pn))
        noisy = clean + noise
        pm = power(noisy)
        g = db_to_amp(rng.uniform(*self.level_range)) / np.sqrt(pm) if pm > 0 else 1.0
        peak = float(np.max(np.abs(noisy))) * g
        if peak > CLIP_PEAK:
            g *= CLIP_PEAK / peak
        return (noisy * np.float32(g)), (clean * np.float32(g))

    def sample_batch(self, batch_size: int, seg_samples: int, rng):
        """``batch_size`` fresh mixtures: (noisy, clean), float32 arrays (batch_size, seg_samples)."""
        _check_batch_args(batch_size, seg_samples)
        rng = np.random.default_rng(rng)
        noisy = np.empty((batch_size, seg_samples), dtype=np.float32)
        clean = np.empty_like(noisy)
        for b in range(batch_size):
            noisy[b], clean[b] = self.sample(seg_samples, rng)
        return noisy, clean


def speech_group(entry: dict) -> str:
    """The group of a training speech clip from its manifest entry: 'tts', 'letters' (klettres
    letters and syllables) or 'prompts' (recorded prompts); voice-perturbed copies belong to
    the group of their recording."""
    if entry.get("source") == "tts":
        return "tts"
    if str(entry.get("speaker", "")).startswith("klettres-"):
        return "letters"
    return "prompts"


def _check_batch_args(batch_size, seg_samples):
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    if int(seg_samples) != seg_samples or seg_samples < 1:
        raise ValueError(f"seg_samples must be a positive integer, got {seg_samples}")


class PairedSegments:
    """Random aligned segments of fixed (noisy, clean) pairs, e.g. the Valentini training set.

    Clips shorter than the segment are zero-padded at a random position. ``gain_range`` dB
    applies one random gain to both signals of an item (level augmentation, clip-protected).
    """

    def __init__(self, pairs, gain_range=(0.0, 0.0)):
        self.noisy, self.clean = [], []
        for i, (n, c) in enumerate(pairs):
            n, c = _as_pool([n], "noisy")[0], _as_pool([c], "clean")[0]
            if n.shape != c.shape:
                raise ValueError(f"pair {i}: noisy and clean lengths differ ({len(n)} vs {len(c)})")
            self.noisy.append(n)
            self.clean.append(c)
        if not self.noisy:
            raise ValueError("no (noisy, clean) pairs given")
        self.gain_range = tuple(float(v) for v in gain_range)

    def sample_batch(self, batch_size: int, seg_samples: int, rng):
        _check_batch_args(batch_size, seg_samples)
        rng = np.random.default_rng(rng)
        noisy = np.zeros((batch_size, seg_samples), dtype=np.float32)
        clean = np.zeros_like(noisy)
        for b in range(batch_size):
            i = int(rng.integers(len(self.noisy)))
            n, c = self.noisy[i], self.clean[i]
            if len(n) >= seg_samples:
                o = int(rng.integers(len(n) - seg_samples + 1))
                noisy[b], clean[b] = n[o:o + seg_samples], c[o:o + seg_samples]
            else:
                o = int(rng.integers(seg_samples - len(n) + 1))
                noisy[b, o:o + len(n)], clean[b, o:o + len(n)] = n, c
            g = float(db_to_amp(rng.uniform(*self.gain_range)))
            peak = float(np.max(np.abs(noisy[b]))) * g / 32768.0
            if peak > CLIP_PEAK:
                g *= CLIP_PEAK / peak
            noisy[b] *= np.float32(g / 32768.0)
            clean[b] *= np.float32(g / 32768.0)
        return noisy, clean
