"""The offline corpus builder: training pools and two paired test sets, from Debian packages only.

Layout (all 16 kHz mono 16-bit wav)::

    train/speech/      clean speech: recorded (asterisk prompts not in test_real, klettres) + TTS
    train/noise/       noise clips: synthetic families and Sonic Pi recordings
    test_noise/        the noise bank the synthetic and real test mixtures are cut from
    test_synthetic/{clean,noisy}/   TTS speech (held-out sentences and voices) + held-out noise
    test_real/{clean,noisy}/        the longest recorded asterisk prompts + held-out noise
    manifest.json      every item: source, voice/speaker, text, noise type, snr_db, seed
    READY              written last; holds the sha256 of manifest.json

Everything follows from the seed: the plan (which sentence, voice, noise, SNR and seed each item
gets) is drawn in the parent process, and each job seeds its own generator from its plan entry,
so the output does not depend on ``--jobs`` or on scheduling.

Held out from training, for the synthetic test set: sentences (disjoint after case/punctuation
folding), TTS voices (two espeak dialects and a disjoint set of voice variants, flite's slt), and
noise: the test noises are separate recordings and separately seeded synthetic clips; "vehicle"
and "cafe" noise types occur only in the test sets. The test mixtures use Valentini's SNRs
(2.5/7.5/12.5/17.5 dB, cycled) and are weighted toward low-frequency and babble noise.
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
from .mixing import mix_at_snr, normalize_active, snr_db, trim_silence

CORPUS_VERSION = 2
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
TEST_DIALECTS = ["en-gb-x-gbclan", "en-gb-x-gbcwmd"]
TEST_FLITE = ["slt"]
N_TEST_VARIANTS = 14
N_TEST_SENTENCES = 800
LAYOUT = ["train", "test_noise", "test_synthetic", "test_real", "manifest.json", "READY",
          "BUILD_CONFIG.json"]


@dataclass
class BuildConfig:
    seed: int = 0
    train_hours: float = 2.0
    n_test_synthetic: int = 200
    n_test_real: int = 128
    noise_clips: int = 6          # per synthetic noise type, training and test bank
    noise_seconds: float = 30.0
    version: int = CORPUS_VERSION

    def as_dict(self):
        return dict(self.__dict__)


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


def _voice_and_prosody(rng, voices):
    v = voices[int(rng.integers(len(voices)))]
    # flite voices are natural-sounding and few: give them a larger share
    if rng.random() < 0.25:
        flite = [x for x in voices if x.startswith("flite:")]
        v = flite[int(rng.integers(len(flite)))] if flite else v
    return v, int(rng.integers(130, 200)), int(rng.integers(25, 75))


def _estimate_tts_seconds(text: str, speed: int) -> float:
    return 0.068 * len(text) * 160.0 / speed + 0.3


def make_plan(cfg: BuildConfig, out: str) -> tuple[list[dict], list[dict]]:
    """Two job lists: phase 1 (speech and noise clips), phase 2 (test mixtures)."""
    ss = np.random.SeedSequence(cfg.seed)
    rng = np.random.default_rng(ss.spawn(1)[0])
    job_seed = iter(np.random.SeedSequence([cfg.seed, 1]).generate_state(200000, dtype=np.uint32))

    sentences = src.fortune_sentences()
    order = rng.permutation(len(sentences))
    sentences = [sentences[i] for i in order]
    test_sent, train_sent = sentences[:N_TEST_SENTENCES], sentences[N_TEST_SENTENCES:]
    train_voices, test_voices = split_voices(rng)

    prompts = sorted(src.asterisk_prompts(), key=lambda r: (-r.seconds, r.path))
    real_test, real_train = prompts[:cfg.n_test_real], prompts[cfg.n_test_real:]
    real_train = real_train + src.klettres_clips()
    real_train = [real_train[i] for i in rng.permutation(len(real_train))]

    phase1, phase2 = [], []
    budget = cfg.train_hours * 3600.0
    used = 0.0
    for k, rec in enumerate(real_train):
        est = rec.seconds * 0.8 if rec.seconds else 1.3  # klettres clips: about 1.3 s trimmed
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
    for j in phase1 + phase2:
        j["out"] = out
    return phase1, phase2


# ---------------------------------------------------------------------------------------------
# jobs (worker processes)

def _write(path: str, x: np.ndarray) -> None:
    import soundfile as sf

    sf.write(path, to_pcm16(x) if x.dtype != np.int16 else x, SAMPLE_RATE, subtype="PCM_16")


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
    if t == "lowfreq" and job["split"] == "test":
        return nz.lowfreq(n, rng, **TEST_LOWFREQ)
    return nz.SYNTHETIC[t](n, rng)


def run_job(job: dict) -> dict:
    """Produce one file (or one noisy/clean pair); returns its manifest entry."""
    rng = np.random.default_rng(job["seed"])
    out, kind, name = job["out"], job["kind"], job["name"]
    meta = {"seed": job["seed"]}
    if kind in ("speech_real", "speech_tts"):
        if kind == "speech_real":
            x = src.load_recording(src.Recording(job["path"], job["speaker"], 0.0))
            meta.update(source=os.path.basename(job["path"]), speaker=job["speaker"])
        else:
            x = src.synthesize(job["voice"], job["text"], job["speed"], job["pitch"])
            meta.update(source="tts", voice=job["voice"], text=job["text"], speed=job["speed"],
                        pitch=job["pitch"])
        x = normalize_active(trim_silence(x), SPEECH_LEVEL_DBFS + rng.uniform(-3, 3))
        if len(x) < SAMPLE_RATE // 4:
            return dict(meta, skipped="shorter than 0.25 s after trimming", name=name)
        _write(os.path.join(out, "train", "speech", name + ".wav"), x)
        return dict(meta, name=name, split="train_speech", seconds=len(x) / SAMPLE_RATE)
    if kind == "noise":
        x = make_noise(job, rng)
        x = x * np.float32(10 ** (-26 / 20))  # -26 dBFS RMS
        x = x * min(1.0, 0.99 / float(np.max(np.abs(x))))
        folder = os.path.join(out, "train", "noise") if job["split"] == "train" else \
            os.path.join(out, "test_noise")
        _write(os.path.join(folder, name + ".wav"), x)
        meta.update(noise_type=job["type"], source=job.get("recording", "synthetic"))
        return dict(meta, name=name, split=f"{job['split']}_noise", seconds=len(x) / SAMPLE_RATE)
    # test mixtures
    if kind == "test_synthetic":
        x = src.synthesize(job["voice"], job["text"], job["speed"], job["pitch"])
        meta.update(source="tts", voice=job["voice"], text=job["text"], speed=job["speed"],
                    pitch=job["pitch"])
    else:
        x = src.load_recording(src.Recording(job["path"], job["speaker"], 0.0))
        meta.update(source=os.path.basename(job["path"]), speaker=job["speaker"])
    clean = trim_silence(x, margin_s=0.3)
    clean = normalize_active(clean, job["level_dbfs"])
    bank = _read(os.path.join(out, "test_noise", job["noise_clip"] + ".wav"))
    o = int(rng.integers(0, max(1, len(bank) - len(clean))))
    noise = nz.loop_to(bank[o:], len(clean), rng) if len(bank) - o < len(clean) else \
        bank[o:o + len(clean)]
    noisy, clean, noise = mix_at_snr(clean, noise, job["snr_db"])
    clean_q = to_pcm16(clean)
    noisy_q = np.clip(clean_q.astype(np.int32) + to_pcm16(noise), -32768, 32767).astype(np.int16)
    split = job["kind"]
    _write(os.path.join(out, split, "clean", name + ".wav"), clean_q)
    _write(os.path.join(out, split, "noisy", name + ".wav"), noisy_q)
    meta.update(noise_type=job["noise_type"], noise_clip=job["noise_clip"],
                noise_offset=o, snr_db=job["snr_db"], level_dbfs=round(job["level_dbfs"], 2),
                measured_snr_db=round(snr_db(clean_q, noisy_q.astype(np.int32) - clean_q), 3))
    return dict(meta, name=name, split=split, seconds=len(clean) / SAMPLE_RATE)


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
        for sub in ["train/speech", "train/noise", "test_noise", "test_synthetic/clean",
                    "test_synthetic/noisy", "test_real/clean", "test_real/noisy"]:
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
        h.update(fh.read())
    return h.hexdigest()


def _run_jobs(jobs: list, n_workers: int, desc: str, progress: bool) -> list:
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc=desc, unit="file", disable=not progress, file=sys.stderr)
    results = []
    try:
        if n_workers <= 1:
            for j in jobs:
                results.append(run_job(j))
                bar.update()
        else:
            import multiprocessing as mp

            with mp.get_context("spawn").Pool(n_workers) as pool:
                for r in pool.imap(run_job, jobs, chunksize=4):
                    results.append(r)
                    bar.update()
    finally:
        bar.close()
    return results


def build(out: str, cfg: BuildConfig, jobs: int = 2, force: bool = False,
          progress: bool = True, log=print) -> dict:
    """Build (or verify) the corpus in ``out``; returns the manifest."""
    if jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {jobs}")
    if cfg.train_hours <= 0:
        raise UserError(f"--train-hours must be positive, got {cfg.train_hours}")
    src.require_packages()
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
    if cfg.n_test_real > sum(1 for j in phase2 if j["kind"] == "test_real"):
        raise UserError(f"only {sum(1 for j in phase2 if j['kind'] == 'test_real')} recorded "
                        f"prompts are available for --test-real {cfg.n_test_real}")
    results = _run_jobs(phase1, jobs, "speech+noise", progress)
    results += _run_jobs(phase2, jobs, "test mixtures", progress)
    manifest = {"config": cfg.as_dict(), "snr_definition": "10*log10(sum(clean^2)/sum(noise^2)) "
                "over the whole clip, silences included", "splits": {}}
    skipped = []
    for r in results:
        if "skipped" in r:
            skipped.append(r["name"])
            continue
        split = r.pop("split")
        manifest["splits"].setdefault(split, {})[r.pop("name")] = r
    for split in manifest["splits"]:
        manifest["splits"][split] = dict(sorted(manifest["splits"][split].items()))
    manifest["skipped"] = sorted(skipped)
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

def summary(manifest: dict, out: str) -> str:
    sp = manifest.get("splits", {})
    lines = [f"corpus {out} (seed {manifest['config']['seed']}, version "
             f"{manifest['config']['version']})"]
    speech = sp.get("train_speech", {})
    tts = sum(v["seconds"] for v in speech.values() if v.get("source") == "tts")
    real = sum(v["seconds"] for v in speech.values() if v.get("source") != "tts")
    n_tts = sum(1 for v in speech.values() if v.get("source") == "tts")
    lines.append(f"  train/speech : {len(speech):5d} clips, {(tts + real) / 3600:.2f} h "
                 f"(recorded {real / 3600:.2f} h in {len(speech) - n_tts} clips, "
                 f"TTS {tts / 3600:.2f} h in {n_tts} clips)")
    for split in ("train_noise", "test_noise", "test_synthetic", "test_real"):
        items = sp.get(split, {})
        secs = sum(v["seconds"] for v in items.values())
        types: dict = {}
        for v in items.values():
            types[v.get("noise_type", "?")] = types.get(v.get("noise_type", "?"), 0) + 1
        tstr = ", ".join(f"{k} {n}" for k, n in sorted(types.items()))
        lines.append(f"  {split:13s}: {len(items):5d} items, {secs / 60:.1f} min; noise: {tstr}")
    if manifest.get("skipped"):
        lines.append(f"  skipped (too short after trimming): {len(manifest['skipped'])}")
    return "\n".join(lines)


def info(out: str) -> str:
    out = os.fspath(out)
    mpath = os.path.join(out, "manifest.json")
    if not os.path.isdir(out):
        raise FileNotFoundError(f"{out}: no such folder")
    if not os.path.exists(mpath):
        raise UserError(f"{out}: no manifest.json; not a corpus, or its build did not finish")
    with open(mpath) as fh:
        manifest = json.load(fh)
    state = "complete" if ready_ok(out) else "INCOMPLETE (no valid READY file)"
    return summary(manifest, out) + f"\n  state        : {state}"
