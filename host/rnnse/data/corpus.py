"""The offline corpus builder: training pools and two paired test sets, from Debian packages only.

Layout (all 16 kHz mono 16-bit wav)::

    train/speech/      clean speech: recorded (Allison's prompts not in test_real, klettres of the
                       training languages), the same recordings with perturbed voices (pert_*),
                       and TTS
    train/noise/       noise clips: synthetic families, Sonic Pi recordings, TTS and real babble
    test_noise/        the noise bank the test mixtures are cut from
    valid_noise/       the noise bank of the validation mixtures
    test_synthetic/{clean,noisy}/   TTS speech (held-out sentences and voices) + held-out noise
    test_real/{clean,noisy}/        the longest spoken Allison prompts + held-out noise (a speaker
                                    heard in training)
    test_speakers/{clean,noisy}/    held-out real speakers (sources.SPEAKER_SPLIT["test"]): running
                                    speech of two prompt speakers and concatenated letters and
                                    syllables of four klettres languages, real noises and babble
    valid/{clean,noisy}/            the same recipe with other held-out speakers
                                    (SPEAKER_SPLIT["valid"]): for every choice made in training
    manifest.json      every item: source, voice/speaker, text, noise type, snr_db, seed, sha256
                       of its file(s); the configuration and the versions of the sources
    BUILD_CONFIG.json  the configuration (written first: a rebuild with another one is refused)
    READY              written last; holds the sha256 of manifest.json (the corpus fingerprint)

Everything follows from the seed: the plan (which sentence, voice, noise, SNR and seed each item
gets) is drawn in the parent process, and each job seeds its own generator from its plan entry,
so the output does not depend on ``--jobs`` or on scheduling. Two builds with the same seed and
configuration on machines with the same source versions (``manifest.json`` lists them: the Debian
packages, numpy, scipy, libsndfile) are byte-identical and have the same fingerprint.

``--train-hours`` is met to within a few percent: the plan estimates each clip's length before
it is synthesised (constants fitted on a built corpus); ``rnnse data info`` reports the result.

Held out from training, for the synthetic test set: sentences (disjoint after case/punctuation
folding), TTS voices (two espeak dialects and a disjoint set of voice variants, flite's slt), and
noise: the test noises are separate recordings and separately seeded synthetic clips; "vehicle"
and "cafe" noise types occur only in the test sets. The test mixtures use Valentini's SNRs
(2.5/7.5/12.5/17.5 dB, cycled) and are weighted toward low-frequency and babble noise.
The real test set holds out recordings (prompts) but not the speaker: the recorded prompts have
one speaker, whose other prompts are training speech. The speakers test set and the validation
set hold out speakers: none of their voices is training speech, and they do not share speakers or
noise recordings with each other (their babble is made of their own split's speakers).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from ..audio import to_pcm16
from ..cli import UserError
from ..config import SAMPLE_RATE
from . import noise as nz
from . import sources as src
from .mixing import active_rms, mix_at_snr, normalize_active, snr_db, trim_silence

# 3: non-speech asterisk files (tones, recorded silence, monkeys) excluded (the real test set
#    keeps version 2's 120 spoken prompts); per-file sha256 and source versions in the manifest;
#    length estimates refitted
# 4: speaker splits (valid, test_speakers), real babble, perturbed voices, klettres languages of
#    the validation and test speakers out of training
CORPUS_VERSION = 4
TEST_SNRS = [2.5, 7.5, 12.5, 17.5]
SPEECH_LEVEL_DBFS = -26.0
# noise types of the test mixtures and their weights (low-frequency and babble heavy, so that
# the noisy PESQ is close to Valentini's 1.97; measured per type on test speech at the four
# SNRs: steep low-frequency 2.0-3.0, vehicle 1.7, recordings 1.3, babble/cafe/hum 1.2)
TEST_NOISE_WEIGHTS = {"lowfreq": 0.50, "babble": 0.15, "vehicle": 0.15, "cafe": 0.05,
                      "recording": 0.10, "hum": 0.05}
# the test bank's low-frequency noise is steeper and lower than the training clips' (held out
# as a parameter range, and the DEMAND-like extreme)
TEST_LOWFREQ = dict(fc_range=(40.0, 110.0), order_range=(2.5, 4.0), floor_db=(-60.0, -45.0))
TRAIN_SYNTHETIC_NOISE = ["white", "pink", "brown", "lowfreq", "speech_shaped", "hum", "gated"]
# noise types of the speakers test set and the validation set: mostly real recordings and babble
# of real talkers (babble_real: 4-10 talkers of the split's own speakers; cafe_real: that
# babble with clatter)
SPEAKER_NOISE_WEIGHTS = {"recording": 0.30, "babble_real": 0.30, "cafe_real": 0.10,
                         "vehicle": 0.10, "hum": 0.10, "lowfreq": 0.10}
# target median F0 of the perturbed copies of the recorded training speech: log-uniform in this
# range (Hz), so that female, male and child-like voices all occur
PERTURB_F0_RANGE = (85.0, 300.0)
TEST_DIALECTS = ["en-gb-x-gbclan", "en-gb-x-gbcwmd"]
TEST_FLITE = ["slt"]
N_TEST_VARIANTS = 14
N_TEST_SENTENCES = 800
MIN_BABBLE_SENTENCES = 100  # held-out sentences left for the test bank's babble
MIN_PROMPT_SECONDS = 2.0    # running-speech prompts of the held-out speakers: at least this long
LETTERS_SECONDS = 3.0       # concatenated klettres items: at least this long (at most 10 items)
# clip lengths before synthesis/decoding, fitted on a built corpus (seconds after trimming):
# asterisk prompts keep 90 % of their raw length, klettres clips average 1.38 s, TTS takes
# 0.0567 s per character at speed 160 plus 0.165 s
ASTERISK_KEEP = 0.90
KLETTRES_SECONDS = 1.38
SILENT_DBFS = -60.0  # clips whose active level is below this are skipped as silent
LAYOUT = ["train", "test_noise", "valid_noise", "test_synthetic", "test_real", "test_speakers",
          "valid", "manifest.json", "READY", "BUILD_CONFIG.json"]
PAIR_SPLITS = ["test_synthetic", "test_real", "test_speakers", "valid"]
SUBDIRS = ["train/speech", "train/noise", "test_noise", "valid_noise"] + \
    [f"{s}/{side}" for s in PAIR_SPLITS for side in ("clean", "noisy")]


@dataclass
class BuildConfig:
    seed: int = 0
    train_hours: float = 2.0
    n_test_synthetic: int = 200
    # the 120 longest spoken prompts: exactly the spoken prompts of version 2's 128-file test
    # set, so that models trained on a version 2 corpus are still tested on held-out prompts
    n_test_real: int = 120
    noise_clips: int = 6          # per synthetic noise type, training and test bank
    noise_seconds: float = 30.0
    # held-out speakers: running-speech prompts per prompt speaker and concatenated klettres
    # items per language (test: 2 x 50 + 4 x 25 = 200 pairs; validation: 60 + 4 x 15 = 120)
    test_prompts_per_speaker: int = 50
    test_letters_per_language: int = 25
    valid_prompts_per_speaker: int = 60
    valid_letters_per_language: int = 15
    perturb_copies: int = 1       # voice-perturbed copies of each recorded training clip
    real_babble_clips: int = 12   # training babble clips of real talkers
    version: int = CORPUS_VERSION

    def as_dict(self):
        return dict(self.__dict__)

    def validate(self) -> None:
        """Raise ``UserError`` naming the first bad field."""
        if not self.train_hours > 0:
            raise UserError(f"--train-hours must be positive, got {self.train_hours}")
        limit = N_TEST_SENTENCES - MIN_BABBLE_SENTENCES
        if not 0 <= self.n_test_synthetic <= limit:
            raise UserError(f"--test-synthetic must be within 0..{limit} (the held-out "
                            f"sentences), got {self.n_test_synthetic}")
        n_prompts = len(src.asterisk_prompts())
        if not 0 <= self.n_test_real <= n_prompts // 2:
            raise UserError(f"--test-real must be within 0..{n_prompts // 2} (half of the "
                            f"{n_prompts} recorded prompts), got {self.n_test_real}")
        for f in ("test_prompts_per_speaker", "test_letters_per_language",
                  "valid_prompts_per_speaker", "valid_letters_per_language", "perturb_copies",
                  "real_babble_clips"):
            if int(getattr(self, f)) != getattr(self, f) or getattr(self, f) < 0:
                raise UserError(f"{f} must be a non-negative integer, got {getattr(self, f)}")
        for sp in src.SPEAKER_SPLIT["test"]["prompts"]:
            n = len(src.speaker_prompts(sp, MIN_PROMPT_SECONDS))
            if self.test_prompts_per_speaker > n // 2:
                raise UserError(f"test_prompts_per_speaker must be at most {n // 2} (half of "
                                f"{sp}'s {n} prompts; the rest make the test babble)")
        for sp in src.SPEAKER_SPLIT["valid"]["prompts"]:
            n = len(src.speaker_prompts(sp, MIN_PROMPT_SECONDS))
            if self.valid_prompts_per_speaker > n // 2:
                raise UserError(f"valid_prompts_per_speaker must be at most {n // 2} (half of "
                                f"{sp}'s {n} prompts; the rest make the validation babble)")
        if self.noise_clips < 1:
            raise UserError(f"--noise-clips must be at least 1, got {self.noise_clips}")
        if not self.noise_seconds >= 1.0:
            raise UserError(f"--noise-seconds must be at least 1, got {self.noise_seconds}")


@dataclass
class Plan:
    jobs: list = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# planning (parent process, deterministic)

def split_voices(rng):
    variants = list(src.ESPEAK_VARIANTS)
    rng.shuffle(variants)
    test_var, train_var = variants[:N_TEST_VARIANTS], variants[N_TEST_VARIANTS:]
    train = [f"espeak:{d}+{v}" for d in src.ESPEAK_DIALECTS if d not in TEST_DIALECTS
             for v in train_var] + [f"flite:{v}" for v in src.FLITE_VOICES if v not in TEST_FLITE]
    test = [f"espeak:{d}+{v}" for d in TEST_DIALECTS for v in test_var] + \
           [f"flite:{v}" for v in TEST_FLITE]
    return train, test


def split_prompts(n_test_real: int):
    """(real test prompts, training prompts): the test set takes the longest prompts."""
    prompts = sorted(src.asterisk_prompts(), key=lambda r: (-r.seconds, r.path))
    return prompts[:n_test_real], prompts[n_test_real:]


def _voice_and_prosody(rng, voices):
    v = voices[int(rng.integers(len(voices)))]
    # flite voices are natural-sounding and few: give them a larger share
    if rng.random() < 0.25:
        flite = [x for x in voices if x.startswith("flite:")]
        v = flite[int(rng.integers(len(flite)))] if flite else v
    return v, int(rng.integers(130, 200)), int(rng.integers(25, 75))


def _estimate_tts_seconds(text: str, speed: int) -> float:
    return 0.0567 * len(text) * 160.0 / speed + 0.165


def _job_seed(seed: int, k: int) -> int:
    """The seed of the k-th job of the plan (independent of how many jobs there are)."""
    return int(np.random.SeedSequence([seed, 1, k]).generate_state(1)[0])


def make_plan(cfg: BuildConfig, out: str) -> tuple[list[dict], list[dict]]:
    """Two job lists: phase 1 (speech and noise clips), phase 2 (test mixtures)."""
    ss = np.random.SeedSequence(cfg.seed)
    rng = np.random.default_rng(ss.spawn(1)[0])
    counter = iter(range(1 << 62))
    job_seed = (_job_seed(cfg.seed, k) for k in counter)

    sentences = src.fortune_sentences()
    order = rng.permutation(len(sentences))
    sentences = [sentences[i] for i in order]
    test_sent, train_sent = sentences[:N_TEST_SENTENCES], sentences[N_TEST_SENTENCES:]
    train_voices, test_voices = split_voices(rng)

    real_test, real_train = split_prompts(cfg.n_test_real)
    real_train = real_train + src.klettres_clips("train")
    real_train = [real_train[i] for i in rng.permutation(len(real_train))]

    phase1, phase2 = [], []
    budget = cfg.train_hours * 3600.0
    used = 0.0
    for k, rec in enumerate(real_train):
        est = rec.seconds * ASTERISK_KEEP if rec.seconds else KLETTRES_SECONDS
        if used + est > budget:
            break
        used += est
        phase1.append(dict(kind="speech_real", name=f"real_{k:05d}_{rec.name}", path=rec.path,
                           speaker=rec.speaker, seed=int(next(job_seed))))
    k = 0
    while used < budget:
        text = train_sent[k % len(train_sent)]
        voice, speed, pitch = _voice_and_prosody(rng, train_voices)
        used += _estimate_tts_seconds(text, speed)
        phase1.append(dict(kind="speech_tts", name=f"tts_{k:05d}", text=text, voice=voice,
                           speed=speed, pitch=pitch, seed=int(next(job_seed))))
        k += 1

    n_noise = int(round(cfg.noise_seconds * SAMPLE_RATE))
    for t in TRAIN_SYNTHETIC_NOISE + ["babble"]:
        for i in range(cfg.noise_clips):
            phase1.append(dict(kind="noise", split="train", name=f"{t}_{i:02d}", type=t,
                               n=n_noise, seed=int(next(job_seed)), voices=train_voices,
                               sentences=train_sent))
    for name in src.NOISE_RECORDINGS_TRAIN:
        phase1.append(dict(kind="noise", split="train", name=f"recording_{name}", type="recording",
                           recording=name, n=0, seed=int(next(job_seed))))
    # the test bank: held-out recordings and separately seeded synthetic clips
    n_bank = max(2, cfg.noise_clips // 2)
    for t in TEST_NOISE_WEIGHTS:
        if t == "recording":
            for name in src.NOISE_RECORDINGS_TEST:
                phase1.append(dict(kind="noise", split="test", name=f"recording_{name}",
                                   type="recording", recording=name, n=n_noise,
                                   seed=int(next(job_seed))))
            continue
        for i in range(n_bank):
            phase1.append(dict(kind="noise", split="test", name=f"{t}_{i:02d}", type=t, n=n_noise,
                               seed=int(next(job_seed)), voices=test_voices,
                               sentences=test_sent[cfg.n_test_synthetic:]))

    types = list(TEST_NOISE_WEIGHTS)
    weights = np.array([TEST_NOISE_WEIGHTS[t] for t in types])
    bank = {t: sorted(j["name"] for j in phase1 if j["kind"] == "noise" and j["split"] == "test"
                      and j["type"] == t) for t in types}

    def noise_choice():
        t = types[int(rng.choice(len(types), p=weights / weights.sum()))]
        return t, bank[t][int(rng.integers(len(bank[t])))]

    for i in range(cfg.n_test_synthetic):
        voice, speed, pitch = _voice_and_prosody(rng, test_voices)
        t, clip = noise_choice()
        phase2.append(dict(kind="test_synthetic", name=f"syn_{i:04d}", text=test_sent[i],
                           voice=voice, speed=speed, pitch=pitch, noise_type=t, noise_clip=clip,
                           snr_db=TEST_SNRS[i % 4], level_dbfs=float(rng.uniform(-33, -20)),
                           seed=int(next(job_seed))))
    for i, rec in enumerate(real_test):
        t, clip = noise_choice()
        phase2.append(dict(kind="test_real", name=f"real_{i:03d}_{rec.name}", path=rec.path,
                           speaker=rec.speaker, noise_type=t, noise_clip=clip,
                           snr_db=TEST_SNRS[i % 4], level_dbfs=float(rng.uniform(-33, -20)),
                           seed=int(next(job_seed))))
    _plan_speakers(cfg, phase1, phase2, real_train, train_voices, train_sent, n_noise)
    for j in phase1 + phase2:
        j["out"] = out
    return phase1, phase2


def _plan_speakers(cfg: BuildConfig, phase1: list, phase2: list, real_train: list,
                   train_voices: list, train_sent: list, n_noise: int) -> None:
    """Append the version-4 jobs: perturbed voices, real babble, and the validation and speakers
    test sets with their noise banks. Drawn from their own seed stream, so that they do not move
    the draws of the jobs above."""
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 4]))
    job_seed = (_job_seed(cfg.seed, k) for k in range(1 << 40, 1 << 62))
    recorded = [j for j in phase1 if j["kind"] == "speech_real"]
    lo, hi = np.log(PERTURB_F0_RANGE[0]), np.log(PERTURB_F0_RANGE[1])
    for c in range(cfg.perturb_copies):
        for j in recorded:
            phase1.append(dict(kind="speech_pert", name=f"pert{c}_{j['name']}", path=j["path"],
                               speaker=j["speaker"], target_f0=round(float(np.exp(
                                   rng.uniform(lo, hi))), 1), seed=int(next(job_seed))))
    talkers = [(r.path, r.speaker) for r in real_train]
    for i in range(cfg.real_babble_clips):
        phase1.append(dict(kind="noise", split="train", name=f"babble_real_{i:02d}",
                           type="babble_real", n=n_noise, seed=int(next(job_seed)),
                           talkers=talkers))

    n_bank = max(2, cfg.noise_clips // 2)
    for split, folder, recs in (("test", "test_speakers", src.NOISE_RECORDINGS_TEST),
                                ("valid", "valid", src.NOISE_RECORDINGS_VALID)):
        per_prompt = cfg.test_prompts_per_speaker if split == "test" else \
            cfg.valid_prompts_per_speaker
        per_lang = cfg.test_letters_per_language if split == "test" else \
            cfg.valid_letters_per_language
        targets, babble_talkers = [], []
        for sp in src.SPEAKER_SPLIT[split]["prompts"]:
            prompts = src.speaker_prompts(sp, MIN_PROMPT_SECONDS)
            order = rng.permutation(len(prompts))
            targets += [("running", [prompts[i]]) for i in order[:per_prompt]]
            babble_talkers += [(prompts[i].path, sp) for i in order[per_prompt:]]
        for lang in src.SPEAKER_SPLIT[split]["klettres"]:
            items = [r for r in src.klettres_clips(split) if src.klettres_language(r) == lang]
            babble_talkers += [(r.path, r.speaker) for r in items]
            for _ in range(per_lang):
                pick = rng.permutation(len(items))[:10]
                targets.append(("letters", [items[i] for i in pick]))
        # the split's noise bank: its own recordings, babble of its own speakers, synthetic
        bank_jobs = []
        for t in SPEAKER_NOISE_WEIGHTS:
            if t == "recording":
                if split == "valid":   # the test bank's recordings already exist (test_noise)
                    bank_jobs += [dict(kind="noise", split=split, name=f"recording_{name}",
                                       type="recording", recording=name, n=n_noise,
                                       seed=int(next(job_seed))) for name in recs]
                continue
            if split == "test" and t in TEST_NOISE_WEIGHTS:
                continue               # vehicle, hum, lowfreq: the test bank's clips
            for i in range(n_bank):
                bank_jobs.append(dict(kind="noise", split=split, name=f"{t}_{i:02d}", type=t,
                                      n=n_noise, seed=int(next(job_seed)),
                                      talkers=babble_talkers))
        phase1 += bank_jobs
        bank_dir = "test_noise" if split == "test" else "valid_noise"
        bank = {}
        for j in phase1:
            if j["kind"] == "noise" and j["split"] == split and j["type"] in SPEAKER_NOISE_WEIGHTS:
                bank.setdefault(j["type"], []).append(j["name"])
        if split == "test":
            bank["recording"] = [f"recording_{name}" for name in recs]
        types = list(SPEAKER_NOISE_WEIGHTS)
        weights = np.array([SPEAKER_NOISE_WEIGHTS[t] for t in types])
        order = rng.permutation(len(targets))
        for k, idx in enumerate(order):
            kind, rec_list = targets[idx]
            t = types[int(rng.choice(len(types), p=weights / weights.sum()))]
            clip = sorted(bank[t])[int(rng.integers(len(bank[t])))]
            speaker = rec_list[0].speaker
            phase2.append(dict(kind="speakers_mix", split=folder, bank=bank_dir,
                               name=f"{split}_{k:03d}_{speaker}_{kind}",
                               paths=[r.path for r in rec_list], speaker=speaker, speech=kind,
                               noise_type=t, noise_clip=clip, snr_db=TEST_SNRS[k % 4],
                               level_dbfs=float(rng.uniform(-33, -20)),
                               seed=int(next(job_seed))))


# ---------------------------------------------------------------------------------------------
# jobs (worker processes)

def _write(path: str, x: np.ndarray) -> str:
    """Write 16-bit PCM; returns the sha256 of the file written."""
    import soundfile as sf

    sf.write(path, to_pcm16(x) if x.dtype != np.int16 else x, SAMPLE_RATE, subtype="PCM_16")
    return _sha256(path)


def _is_silent(x: np.ndarray) -> bool:
    return active_rms(x) < 10.0 ** (SILENT_DBFS / 20.0)


def babble(n: int, rng, voices, sentences, talkers=None) -> np.ndarray:
    """Several TTS talkers, each reading random sentences back to back, summed at equal level."""
    talkers = talkers or int(rng.integers(4, 9))
    out = np.zeros(n)
    for _ in range(talkers):
        parts, total = [], 0
        while total < n:
            v, speed, pitch = _voice_and_prosody(rng, voices)
            s = src.synthesize(v, sentences[int(rng.integers(len(sentences)))], speed, pitch)
            s = normalize_active(trim_silence(s), SPEECH_LEVEL_DBFS)
            gap = np.zeros(int(rng.integers(0, SAMPLE_RATE // 3)), dtype=np.float32)
            parts += [s, gap]
            total += len(s) + len(gap)
        talker = np.concatenate(parts)
        o = int(rng.integers(0, len(talker) - n + 1))
        out += talker[o:o + n]
    return nz.unit_rms(out)


def real_babble(n: int, rng, talkers: list, n_talkers: int | None = None) -> np.ndarray:
    """4-10 real talkers summed at equal level; each talker is one recorded speaker (drawn from
    ``talkers``, (path, speaker) pairs) saying random clips of theirs back to back."""
    n_talkers = n_talkers or int(rng.integers(4, 11))
    by_speaker: dict = {}
    for path, speaker in talkers:
        by_speaker.setdefault(speaker, []).append(path)
    speakers = sorted(by_speaker)
    out = np.zeros(n)
    for _ in range(n_talkers):
        paths = by_speaker[speakers[int(rng.integers(len(speakers)))]]
        parts, total = [], 0
        while total < n:
            path = paths[int(rng.integers(len(paths)))]
            s = trim_silence(src.load_recording(src.Recording(path, "", 0.0)))
            if _is_silent(s) or len(s) < SAMPLE_RATE // 10:
                continue
            s = normalize_active(s, SPEECH_LEVEL_DBFS)
            gap = np.zeros(int(rng.integers(0, SAMPLE_RATE // 4)), dtype=np.float32)
            parts += [s, gap]
            total += len(s) + len(gap)
        talker = np.concatenate(parts)
        o = int(rng.integers(0, len(talker) - n + 1))
        out += talker[o:o + n]
    return nz.unit_rms(out)


def clatter(n: int, rng) -> np.ndarray:
    """Sparse percussive hits (held-out recordings: cutlery, tills, doors) at random times."""
    hits = [nz.unit_rms(src.sonic_pi(c)) for c in src.CLATTER_TEST]
    out = np.zeros(n + SAMPLE_RATE * 3)
    t = int(rng.integers(0, SAMPLE_RATE))
    while t < n:
        h = hits[int(rng.integers(len(hits)))][: SAMPLE_RATE * 3]
        out[t:t + len(h)] += h * rng.uniform(0.2, 1.0)
        t += int(rng.uniform(0.3, 2.5) * SAMPLE_RATE)
    return nz.unit_rms(out[:n])


def cafe(n: int, rng, voices, sentences) -> np.ndarray:
    """Babble plus sparse clatter from held-out percussive recordings (test only)."""
    x = babble(n, rng, voices, sentences)
    hits = [nz.unit_rms(src.sonic_pi(c)) for c in src.CLATTER_TEST]
    clatter = np.zeros(n + SAMPLE_RATE * 3)
    t = int(rng.integers(0, SAMPLE_RATE))
    while t < n:
        h = hits[int(rng.integers(len(hits)))][: SAMPLE_RATE * 3]
        clatter[t:t + len(h)] += h * rng.uniform(0.2, 1.0)
        t += int(rng.uniform(0.3, 2.5) * SAMPLE_RATE)
    return nz.unit_rms(x + rng.uniform(0.2, 0.5) * nz.unit_rms(clatter[:n]))


def make_noise(job: dict, rng) -> np.ndarray:
    t, n = job["type"], job["n"]
    if t == "recording":
        x = nz.unit_rms(src.sonic_pi(job["recording"]))
        return nz.loop_to(x, max(n, len(x), 4 * SAMPLE_RATE), rng)
    if t == "babble":
        return babble(n, rng, job["voices"], job["sentences"])
    if t == "cafe":
        return cafe(n, rng, job["voices"], job["sentences"])
    if t == "babble_real":
        return real_babble(n, rng, job["talkers"])
    if t == "cafe_real":
        x = real_babble(n, rng, job["talkers"])
        return nz.unit_rms(x + rng.uniform(0.2, 0.5) * clatter(n, rng))
    if t == "lowfreq" and job["split"] in ("test", "valid"):
        return nz.lowfreq(n, rng, **TEST_LOWFREQ)
    return nz.SYNTHETIC[t](n, rng)


def run_job(job: dict) -> dict:
    """Produce one file (or one noisy/clean pair); returns its manifest entry."""
    rng = np.random.default_rng(job["seed"])
    out, kind, name = job["out"], job["kind"], job["name"]
    meta = {"seed": job["seed"]}
    if kind in ("speech_real", "speech_tts", "speech_pert"):
        if kind == "speech_real":
            rec = src.Recording(job["path"], job["speaker"], 0.0)
            x = src.load_recording(rec)
            meta.update(source=rec.rel, speaker=job["speaker"])
        elif kind == "speech_pert":
            from .voice import perturb

            rec = src.Recording(job["path"], job["speaker"], 0.0)
            x = trim_silence(src.load_recording(rec))
            if _is_silent(x):
                return dict(meta, skipped=f"silent (active level below {SILENT_DBFS:g} dBFS)",
                            name=name)
            x, params = perturb(x, job["target_f0"], rng)
            if len(x) == 0:
                return dict(meta, skipped="no voiced frame to perturb", name=name)
            meta.update(source=rec.rel, speaker=job["speaker"], perturbed=params,
                        target_f0=job["target_f0"])
        else:
            x = src.synthesize(job["voice"], job["text"], job["speed"], job["pitch"])
            meta.update(source="tts", voice=job["voice"], text=job["text"], speed=job["speed"],
                        pitch=job["pitch"])
        if _is_silent(x):
            return dict(meta, skipped=f"silent (active level below {SILENT_DBFS:g} dBFS)",
                        name=name)
        x = normalize_active(trim_silence(x), SPEECH_LEVEL_DBFS + rng.uniform(-3, 3))
        if len(x) < SAMPLE_RATE // 4:
            return dict(meta, skipped="shorter than 0.25 s after trimming", name=name)
        digest = _write(os.path.join(out, "train", "speech", name + ".wav"), x)
        return dict(meta, name=name, split="train_speech", seconds=len(x) / SAMPLE_RATE,
                    sha256=digest)
    if kind == "noise":
        x = make_noise(job, rng)
        x = x * np.float32(10 ** (-26 / 20))  # -26 dBFS RMS
        x = x * min(1.0, 0.99 / float(np.max(np.abs(x))))
        folder = os.path.join(out, *{"train": ("train", "noise"), "test": ("test_noise",),
                                     "valid": ("valid_noise",)}[job["split"]])
        digest = _write(os.path.join(folder, name + ".wav"), x)
        meta.update(noise_type=job["type"], source=job.get("recording", "synthetic"))
        return dict(meta, name=name, split=f"{job['split']}_noise", seconds=len(x) / SAMPLE_RATE,
                    sha256=digest)
    if kind == "speakers_mix":
        return _speakers_mix(job, rng, meta)
    # test mixtures
    if kind == "test_synthetic":
        x = src.synthesize(job["voice"], job["text"], job["speed"], job["pitch"])
        meta.update(source="tts", voice=job["voice"], text=job["text"], speed=job["speed"],
                    pitch=job["pitch"])
    else:
        rec = src.Recording(job["path"], job["speaker"], 0.0)
        x = src.load_recording(rec)
        meta.update(source=rec.rel, speaker=job["speaker"])
    if _is_silent(x):
        # never expected (non-speech prompts are excluded up front): refuse rather than write a
        # test pair whose "clean" signal is a noise floor
        raise UserError(f"{name}: test speech is silent (active level below {SILENT_DBFS:g} dBFS)")
    return _write_pair(job, trim_silence(x, margin_s=0.3), rng, meta)


def _speakers_mix(job: dict, rng, meta: dict) -> dict:
    """A pair of the speakers test set or the validation set: one running-speech prompt, or
    klettres items of one language joined with short pauses until LETTERS_SECONDS."""
    parts, total = [], 0
    for path in job["paths"]:
        x = trim_silence(src.load_recording(src.Recording(path, job["speaker"], 0.0)),
                         margin_s=0.05 if job["speech"] == "letters" else 0.3)
        if _is_silent(x):
            continue
        if job["speech"] == "letters":
            x = normalize_active(x, SPEECH_LEVEL_DBFS + rng.uniform(-2, 2))
            gap = int(rng.uniform(0.15, 0.5) * SAMPLE_RATE)
            x = np.concatenate([x, np.zeros(gap, dtype=np.float32)])
        parts.append(x)
        total += len(x)
        if job["speech"] != "letters" or total >= LETTERS_SECONDS * SAMPLE_RATE:
            break
    if not parts:
        raise UserError(f"{job['name']}: test speech is silent (active level below "
                        f"{SILENT_DBFS:g} dBFS)")
    speech = np.concatenate(parts)
    if job["speech"] == "letters":   # pad the front like the trailing pauses
        speech = np.concatenate([np.zeros(int(0.2 * SAMPLE_RATE), np.float32), speech])
    info = src.speaker_info(job["speaker"])
    meta.update(speaker=job["speaker"], speech=job["speech"], items=len(parts), **info,
                sources=[os.path.relpath(p, "/usr/share").replace(os.sep, "/")
                         for p in job["paths"][:len(parts)]])
    return _write_pair(job, speech, rng, meta)


def _write_pair(job: dict, clean: np.ndarray, rng, meta: dict) -> dict:
    """Mix ``clean`` with a segment of the job's noise clip at its SNR and level and write the
    (clean, noisy) pair of the job's split."""
    out, name = job["out"], job["name"]
    clean = normalize_active(clean, job["level_dbfs"])
    bank = _read(os.path.join(out, job.get("bank", "test_noise"), job["noise_clip"] + ".wav"))
    o = int(rng.integers(0, max(1, len(bank) - len(clean))))
    noise = nz.loop_to(bank[o:], len(clean), rng) if len(bank) - o < len(clean) else \
        bank[o:o + len(clean)]
    noisy, clean, noise = mix_at_snr(clean, noise, job["snr_db"])
    # quantise speech and noise separately and add them as integers, so that the written noisy
    # file is exactly clean + noise (mix_at_snr's clip protection keeps the sum in range)
    clean_q = to_pcm16(clean)
    noisy_q = np.clip(clean_q.astype(np.int32) + to_pcm16(noise), -32768, 32767).astype(np.int16)
    split = job.get("split", job["kind"])
    clean_digest = _write(os.path.join(out, split, "clean", name + ".wav"), clean_q)
    noisy_digest = _write(os.path.join(out, split, "noisy", name + ".wav"), noisy_q)
    meta.update(noise_type=job["noise_type"], noise_clip=job["noise_clip"],
                noise_offset=o, snr_db=job["snr_db"], level_dbfs=round(job["level_dbfs"], 2),
                measured_snr_db=round(snr_db(clean_q, noisy_q.astype(np.int32) - clean_q), 3))
    return dict(meta, name=name, split=split, seconds=len(clean) / SAMPLE_RATE,
                sha256={"clean": clean_digest, "noisy": noisy_digest})


def _read(path: str) -> np.ndarray:
    import soundfile as sf

    return sf.read(path, dtype="float32")[0]


# ---------------------------------------------------------------------------------------------
# the build

def _check_output(out: str, cfg: BuildConfig, force: bool) -> bool:
    """Validate the output folder; returns True if a complete build with this config exists."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise UserError(f"{out}: exists and is not a folder")
    if os.path.isdir(out) and os.listdir(out):
        cfg_path = os.path.join(out, "BUILD_CONFIG.json")
        if not os.path.exists(cfg_path):
            if not force:
                raise UserError(f"{out}: exists, is not empty and is not a corpus built by rnnse; "
                                "choose another --out or pass --force to build into it anyway")
        else:
            try:
                with open(cfg_path) as fh:
                    old = json.load(fh)
            except (OSError, ValueError):
                old = None
            if old != cfg.as_dict():
                if not force:
                    raise UserError(f"{out}: holds a corpus built with a different configuration "
                                    f"({_cfg_diff(old, cfg.as_dict())}); pass --force to replace "
                                    "it or choose another --out")
            elif ready_ok(out) and not force:
                return True
        for name in LAYOUT:
            p = os.path.join(out, name)
            if os.path.isdir(p):
                shutil.rmtree(p)
            elif os.path.exists(p):
                os.remove(p)
    try:
        for sub in SUBDIRS:
            os.makedirs(os.path.join(out, sub), exist_ok=True)
        probe = os.path.join(out, ".write-test")
        with open(probe, "w") as fh:
            fh.write("ok")
        os.remove(probe)
    except OSError as exc:
        raise UserError(f"{out}: cannot write the corpus there ({exc.strerror})") from None
    return False


def _cfg_diff(old, new) -> str:
    if not isinstance(old, dict):
        return "unreadable BUILD_CONFIG.json"
    diffs = [f"{k}: {old.get(k)} there, {v} now" for k, v in new.items() if old.get(k) != v]
    return "; ".join(diffs) or "unknown difference"


def ready_ok(out: str) -> bool:
    """True if READY exists and matches manifest.json."""
    try:
        with open(os.path.join(out, "READY")) as fh:
            want = fh.read().split()
        return bool(want) and want[0] == _sha256(os.path.join(out, "manifest.json"))
    except OSError:
        return False


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _run_jobs(jobs: list, pool, desc: str, progress: bool) -> list:
    """Run ``jobs`` (in ``pool`` if given, else here); results in plan order."""
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc=desc, unit="file", disable=not progress, file=sys.stderr)
    results = []
    try:
        it = pool.imap(run_job, jobs) if pool is not None else map(run_job, jobs)
        for r in it:
            results.append(r)
            bar.update()
    finally:
        bar.close()
    return results


def build(out: str, cfg: BuildConfig, jobs: int = 2, force: bool = False,
          progress: bool = True, log=print) -> dict:
    """Build (or verify) the corpus in ``out``; returns the manifest."""
    if int(jobs) != jobs or jobs < 1:
        raise UserError(f"--jobs must be a positive integer, got {jobs}")
    src.require_packages()
    cfg.validate()
    src.require_voices()
    out = os.fspath(out)
    if _check_output(out, cfg, force):
        log(f"{out}: already complete with this configuration (seed {cfg.seed}); "
            "pass --force to rebuild")
        with open(os.path.join(out, "manifest.json")) as fh:
            return json.load(fh)
    t0 = time.time()
    with open(os.path.join(out, "BUILD_CONFIG.json"), "w") as fh:
        json.dump(cfg.as_dict(), fh, indent=1, sort_keys=True)
    phase1, phase2 = make_plan(cfg, out)
    try:
        if jobs > 1:
            import multiprocessing as mp

            with mp.get_context("spawn").Pool(jobs) as pool:
                results = _run_jobs(phase1, pool, "speech+noise", progress)
                results += _run_jobs(phase2, pool, "test mixtures", progress)
        else:
            results = _run_jobs(phase1, None, "speech+noise", progress)
            results += _run_jobs(phase2, None, "test mixtures", progress)
    except OSError as exc:  # disk full, folder removed under us, ...
        where = f"{exc.filename}: " if exc.filename else ""
        raise UserError(f"{where}cannot write the corpus ({exc.strerror or exc}); the build "
                        "is incomplete (no READY file)") from None
    manifest = {"config": cfg.as_dict(), "snr_definition": "10*log10(sum(clean^2)/sum(noise^2)) "
                "over the whole clip, silences included", "sources": src.source_versions(),
                "splits": {}}
    skipped = {}
    for r in results:
        if "skipped" in r:
            skipped[r["name"]] = r["skipped"]
            continue
        split = r.pop("split")
        manifest["splits"].setdefault(split, {})[r.pop("name")] = r
    for split in manifest["splits"]:
        manifest["splits"][split] = dict(sorted(manifest["splits"][split].items()))
    manifest["skipped"] = dict(sorted(skipped.items()))
    mpath = os.path.join(out, "manifest.json")
    with open(mpath, "w") as fh:
        json.dump(manifest, fh, indent=1, sort_keys=True)
    with open(os.path.join(out, "READY"), "w") as fh:
        fh.write(_sha256(mpath) + "  manifest.json\n")
    log(summary(manifest, out))
    log(f"built in {time.time() - t0:.1f} s with {jobs} job(s)")
    return manifest


# ---------------------------------------------------------------------------------------------
# summaries

def _fingerprint(out: str) -> str:
    try:
        with open(os.path.join(out, "READY")) as fh:
            return fh.read().split()[0][:16]
    except (OSError, IndexError):
        return "none"


def summary(manifest: dict, out: str) -> str:
    sp = manifest.get("splits", {})
    cfg = manifest.get("config", {})
    lines = [f"corpus {out} (seed {cfg.get('seed')}, version {cfg.get('version')}, "
             f"fingerprint {_fingerprint(out)})"]
    speech = sp.get("train_speech", {})
    tts = sum(v["seconds"] for v in speech.values() if v.get("source") == "tts")
    pert = sum(v["seconds"] for v in speech.values() if "perturbed" in v)
    real = sum(v["seconds"] for v in speech.values() if v.get("source") != "tts") - pert
    n_tts = sum(1 for v in speech.values() if v.get("source") == "tts")
    n_pert = sum(1 for v in speech.values() if "perturbed" in v)
    speakers = {v.get("speaker") for v in speech.values() if v.get("source") != "tts"}
    voices = {v.get("voice") for v in speech.values() if v.get("source") == "tts"}
    lines.append(f"  train/speech  : {len(speech):5d} clips, {(tts + real + pert) / 3600:.2f} h "
                 f"(recorded {real / 3600:.2f} h in {len(speech) - n_tts - n_pert} clips by "
                 f"{len(speakers)} speakers/languages, perturbed voices {pert / 3600:.2f} h in "
                 f"{n_pert} clips, TTS {tts / 3600:.2f} h in {n_tts} clips by {len(voices)} "
                 f"voices)")
    for split in ("train_noise", "test_noise", "valid_noise", "test_synthetic", "test_real",
                  "test_speakers", "valid"):
        items = sp.get(split, {})
        secs = sum(v["seconds"] for v in items.values())
        types: dict = {}
        for v in items.values():
            types[v.get("noise_type", "?")] = types.get(v.get("noise_type", "?"), 0) + 1
        tstr = ", ".join(f"{k} {n}" for k, n in sorted(types.items()))
        unit = "clips" if split.endswith("_noise") else "pairs"
        lines.append(f"  {split:14s}: {len(items):5d} {unit}, {secs / 60:.1f} min; noise: {tstr}")
        if unit == "pairs" and items:
            snrs: dict = {}
            for v in items.values():
                snrs[v["snr_db"]] = snrs.get(v["snr_db"], 0) + 1
            err = max(abs(v.get("measured_snr_db", v["snr_db"]) - v["snr_db"])
                      for v in items.values())
            sstr = ", ".join(f"{k:g} dB x{n}" for k, n in sorted(snrs.items()))
            extra = ""
            if split == "test_synthetic":
                extra = f"; {len({v.get('voice') for v in items.values()})} held-out voices"
            if split in ("test_speakers", "valid"):
                by = {}
                for v in items.values():
                    key = (v.get("speaker"), v.get("speech"))
                    by[key] = by.get(key, 0) + 1
                extra = "; " + ", ".join(f"{sp} {kind} x{n}" for (sp, kind), n in sorted(by.items()))
            lines.append(f"  {'':14s}  SNR {sstr} (measured in the files within {err:.3f} dB)"
                         + extra)
    skipped = manifest.get("skipped") or {}
    if skipped:
        reasons: dict = {}
        for r in (skipped.values() if isinstance(skipped, dict) else ["too short"] * len(skipped)):
            reasons[r.split(" (")[0]] = reasons.get(r.split(" (")[0], 0) + 1
        lines.append(f"  skipped       : {len(skipped)} clips ("
                     + ", ".join(f"{k}: {n}" for k, n in sorted(reasons.items())) + ")")
    return "\n".join(lines)


def corpus_files(manifest: dict) -> dict:
    """Relative path -> sha256 of every file the manifest lists (empty before version 3)."""
    folders = {"train_speech": "train/speech", "train_noise": "train/noise",
               "test_noise": "test_noise", "valid_noise": "valid_noise"}
    out = {}
    for split, items in manifest.get("splits", {}).items():
        for name, v in items.items():
            digest = v.get("sha256")
            if digest is None:
                continue
            if isinstance(digest, dict):
                for side, d in digest.items():
                    out[f"{split}/{side}/{name}.wav"] = d
            else:
                out[f"{folders[split]}/{name}.wav"] = digest
    return out


def verify(out: str, manifest: dict, progress: bool = False) -> list[str]:
    """Problems found when re-hashing every file against the manifest (empty: all match)."""
    from tqdm import tqdm

    files = corpus_files(manifest)
    if not files:
        return ["the manifest lists no checksums (built by an older rnnse); rebuild with --force"]
    problems = []
    for rel, digest in tqdm(sorted(files.items()), desc="verify", unit="file",
                            disable=not progress, file=sys.stderr):
        p = os.path.join(out, *rel.split("/"))
        if not os.path.isfile(p):
            problems.append(f"missing: {rel}")
        elif _sha256(p) != digest:
            problems.append(f"changed: {rel}")
    listed = set(files)
    for sub in SUBDIRS:
        d = os.path.join(out, *sub.split("/"))
        if os.path.isdir(d):
            problems += [f"not in the manifest: {sub}/{f}" for f in sorted(os.listdir(d))
                         if f"{sub}/{f}" not in listed]
    return problems


def info(out: str, check: bool = False, progress: bool = False) -> str:
    """The summary of a built corpus; ``check`` re-hashes every file against the manifest."""
    out = os.fspath(out)
    mpath = os.path.join(out, "manifest.json")
    if not os.path.exists(out):
        raise FileNotFoundError(f"{out}: no such folder")
    if not os.path.isdir(out):
        raise UserError(f"{out}: not a folder (a corpus is the folder `rnnse data build` wrote)")
    if not os.path.exists(mpath):
        raise UserError(f"{out}: no manifest.json; not a corpus, or its build did not finish")
    try:
        with open(mpath) as fh:
            manifest = json.load(fh)
    except ValueError as exc:
        raise UserError(f"{mpath}: not valid JSON ({exc})") from None
    lines = [summary(manifest, out)]
    state = "complete" if ready_ok(out) else "INCOMPLETE (no READY file matching manifest.json)"
    lines.append(f"  state         : {state}")
    version = manifest.get("config", {}).get("version")
    if version != CORPUS_VERSION:
        lines.append(f"  note          : built by corpus version {version}; this rnnse builds "
                     f"version {CORPUS_VERSION} (rebuild with `rnnse data build --force`)")
    versions = manifest.get("sources")
    if versions:
        here = src.source_versions()
        differ = sorted(k for k, v in versions.items() if here.get(k) != v)
        lines.append("  sources       : " + (
            "same versions as on this machine" if not differ else
            "differ on this machine for " + ", ".join(f"{k} ({versions[k]} there, "
                                                      f"{here.get(k)} here)" for k in differ)
            + " (a rebuild would not be byte-identical)"))
    if check:
        problems = verify(out, manifest, progress=progress)
        n = len(corpus_files(manifest))
        lines.append(f"  verify        : all {n} files match their sha256" if not problems else
                     f"  verify        : {len(problems)} problem(s): " + "; ".join(problems[:5])
                     + (f" and {len(problems) - 5} more" if len(problems) > 5 else ""))
        if problems:
            raise UserError("\n".join(lines))
    return "\n".join(lines)
