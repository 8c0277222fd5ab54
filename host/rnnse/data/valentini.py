"""A local copy of VoiceBank-DEMAND (Valentini et al. 2016) in its standard layout.

::

    ROOT/clean_trainset_28spk_wav/p226_001.wav ...   noisy_trainset_28spk_wav/ (same names)
    ROOT/clean_testset_wav/p232_001.wav ...          noisy_testset_wav/        (same names)
    ROOT/logfiles/log_testset.txt, log_trainset_28spk.txt  (optional: "p232_001 <noise> <snr>"
                                                            per line; also found in ROOT/)

The files are 48 kHz; they are resampled to 16 kHz on loading (a note says so once per load).
"""
from __future__ import annotations

import os
import sys

import numpy as np

from ..audio import AudioError, load_wav
from ..cli import UserError
from ..config import SAMPLE_RATE

SPLITS = {"train": ("clean_trainset_28spk_wav", "noisy_trainset_28spk_wav"),
          "test": ("clean_testset_wav", "noisy_testset_wav")}
LOG_FILES = {"train": ("log_trainset_28spk.txt", "log_trainset.txt"),
             "test": ("log_testset.txt",)}


def is_valentini_root(path) -> bool:
    path = os.fspath(path)
    return any(os.path.isdir(os.path.join(path, d)) for pair in SPLITS.values() for d in pair)


def _wavs(folder: str) -> dict[str, str]:
    """name (without extension) -> file name, for the .wav files of ``folder``."""
    return {os.path.splitext(f)[0]: f for f in os.listdir(folder) if f.lower().endswith(".wav")}


def _fmt(names, limit=5) -> str:
    names = sorted(names)
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def list_pairs(root, split: str = "test") -> list[tuple[str, str, str]]:
    """(name, clean_path, noisy_path) for every pair of ``split``, sorted by name."""
    root = os.fspath(root)
    if split not in SPLITS:
        raise UserError(f"unknown Valentini split {split!r}; use one of {', '.join(SPLITS)}")
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: no such folder (expected a VoiceBank-DEMAND copy)")
    clean_dir, noisy_dir = (os.path.join(root, d) for d in SPLITS[split])
    missing = [d for d in SPLITS[split] if not os.path.isdir(os.path.join(root, d))]
    if missing:
        raise UserError(f"{root}: missing folder(s) {', '.join(missing)} (the VoiceBank-DEMAND "
                        f"{split} split needs {SPLITS[split][0]}/ and {SPLITS[split][1]}/)")
    clean, noisy = _wavs(clean_dir), _wavs(noisy_dir)
    if not clean and not noisy:
        raise UserError(f"{root}: {SPLITS[split][0]}/ and {SPLITS[split][1]}/ contain no .wav files")
    problems = []
    only_clean, only_noisy = set(clean) - set(noisy), set(noisy) - set(clean)
    c, n = SPLITS[split]
    if only_clean:
        problems.append(f"{_fmt(only_clean)} in {c}/ but not in {n}/")
    if only_noisy:
        problems.append(f"{_fmt(only_noisy)} in {n}/ but not in {c}/")
    if problems:
        raise UserError(f"{root}: unpaired files: " + "; ".join(problems))
    return [(n, os.path.join(clean_dir, clean[n]), os.path.join(noisy_dir, noisy[n]))
            for n in sorted(clean)]


def read_snr_log(root, split: str = "test") -> dict:
    """name -> (noise type, snr_db) from the split's log file if present, else {}.

    Lines that do not read as ``name noise snr`` are ignored (the log files are informative).
    """
    root = os.fspath(root)
    for fname in LOG_FILES[split]:
        for p in (os.path.join(root, "logfiles", fname), os.path.join(root, fname)):
            if not os.path.isfile(p):
                continue
            out = {}
            with open(p, errors="replace") as fh:
                for line in fh:
                    parts = line.split()
                    if len(parts) >= 3:
                        try:
                            out[os.path.splitext(parts[0])[0]] = (parts[1], float(parts[2]))
                        except ValueError:
                            continue
            return out
    return {}


def load_pair(name: str, clean_path: str, noisy_path: str) -> tuple[np.ndarray, np.ndarray]:
    """Read one pair at 16 kHz; both must be mono, finite and of the same length."""
    clean = load_wav(clean_path, resample_ok=True, min_samples=1)
    noisy = load_wav(noisy_path, resample_ok=True, min_samples=1)
    if len(clean) != len(noisy):
        raise AudioError(f"{name}: clean and noisy lengths differ ({len(clean)} vs {len(noisy)} "
                         f"samples at {SAMPLE_RATE} Hz)")
    return noisy, clean


def load_split(root, split: str = "test", limit: int | None = None, note=True,
               progress: bool | None = None, dtype=np.float32):
    """Load a Valentini split: a list of ``TestItem`` (see :mod:`rnnse.data.pairs`).

    ``progress``: a progress bar on stderr (default: for more than 100 pairs).
    ``dtype``: ``np.float32`` (signals in [-1, 1]) or ``np.int16`` (16-bit PCM, rounded to
    nearest: a quarter of the memory of both float signals; the 28-speaker training set takes
    about 2.2 GB as int16).
    """
    from ..audio import to_pcm16

    import soundfile as sf
    from tqdm import tqdm

    from .pairs import TestItem

    if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.int16)):
        raise ValueError(f"dtype must be float32 or int16, got {np.dtype(dtype)}")
    pairs = list_pairs(root, split)
    if limit is not None:
        if limit < 1:
            raise UserError(f"limit must be positive, got {limit}")
        pairs = pairs[:limit]
    rates = set()
    log = read_snr_log(root, split)
    items = []
    if progress is None:
        progress = len(pairs) > 100
    for name, cp, np_ in tqdm(pairs, desc=f"VoiceBank-DEMAND {split}", unit="pair",
                              disable=not progress, file=sys.stderr, leave=False):
        for p in (cp, np_):
            if os.path.getsize(p) == 0:
                raise AudioError(f"{p}: empty file")
            try:
                rates.add(sf.info(p).samplerate)
            except Exception as exc:
                raise AudioError(f"{p}: unreadable or corrupt audio file ({exc})") from None
        noisy, clean = load_pair(name, cp, np_)
        if dtype == np.int16:
            noisy, clean = to_pcm16(noisy), to_pcm16(clean)
        noise_type, snr = log.get(name, (None, None))
        items.append(TestItem(name, noisy, clean, snr,
                              {"source": "valentini", "split": split, "noise_type": noise_type}))
    if note and rates - {SAMPLE_RATE}:
        print(f"note: resampled VoiceBank-DEMAND {split} audio from "
              f"{'/'.join(str(r) for r in sorted(rates - {SAMPLE_RATE}))} Hz to {SAMPLE_RATE} Hz",
              file=sys.stderr)
    return items
