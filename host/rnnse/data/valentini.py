"""A local copy of VoiceBank-DEMAND (Valentini et al. 2016) in its standard layout.

::

    ROOT/clean_trainset_28spk_wav/p226_001.wav ...   noisy_trainset_28spk_wav/ (same names)
    ROOT/clean_testset_wav/p232_001.wav ...          noisy_testset_wav/        (same names)
    ROOT/logfiles/log_testset.txt  (optional: "p232_001 <noise> <snr>" per line)

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


def is_valentini_root(path) -> bool:
    path = os.fspath(path)
    return any(os.path.isdir(os.path.join(path, d)) for pair in SPLITS.values() for d in pair)


def _wavs(folder: str) -> set[str]:
    return {os.path.splitext(f)[0] for f in os.listdir(folder) if f.lower().endswith(".wav")}


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
    if clean - noisy:
        problems.append(f"no noisy file for {_fmt(clean - noisy)} (in {SPLITS[split][0]}/)")
    if noisy - clean:
        problems.append(f"no clean file for {_fmt(noisy - clean)} (in {SPLITS[split][1]}/)")
    if problems:
        raise UserError(f"{root}: unpaired files: " + "; ".join(problems))
    return [(n, os.path.join(clean_dir, n + ".wav"), os.path.join(noisy_dir, n + ".wav"))
            for n in sorted(clean)]


def read_snr_log(root, split: str = "test") -> dict:
    """name -> (noise type, snr_db) from ``logfiles/log_<split>set.txt`` if present, else {}."""
    root = os.fspath(root)
    for p in (os.path.join(root, "logfiles", f"log_{split}set.txt"),
              os.path.join(root, f"log_{split}set.txt")):
        if os.path.isfile(p):
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


def load_split(root, split: str = "test", limit: int | None = None, note=True):
    """Load a Valentini split: a list of ``TestItem`` (see :mod:`rnnse.data.pairs`)."""
    import soundfile as sf

    from .pairs import TestItem

    pairs = list_pairs(root, split)
    if limit is not None:
        pairs = pairs[:limit]
    rates = set()
    log = read_snr_log(root, split)
    items = []
    for name, cp, np_ in pairs:
        for p in (cp, np_):
            try:
                rates.add(sf.info(p).samplerate)
            except Exception as exc:
                raise AudioError(f"{p}: unreadable or corrupt audio file ({exc})") from None
        noisy, clean = load_pair(name, cp, np_)
        noise_type, snr = log.get(name, (None, None))
        items.append(TestItem(name, noisy, clean, snr,
                              {"source": "valentini", "split": split, "noise_type": noise_type}))
    if note and rates - {SAMPLE_RATE}:
        print(f"note: resampled VoiceBank-DEMAND {split} audio from "
              f"{'/'.join(str(r) for r in sorted(rates - {SAMPLE_RATE}))} Hz to {SAMPLE_RATE} Hz",
              file=sys.stderr)
    return items
