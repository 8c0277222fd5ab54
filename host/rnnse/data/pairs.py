"""One interface to every paired (noisy, clean) test set, used by evaluation.

``load_test_set(x)`` accepts

* a corpus test folder with ``clean/`` and ``noisy/`` (``data/corpus/test_speakers``,
  ``data/corpus/test_real``, ``data/corpus/test_synthetic``, ``data/corpus/valid``); SNRs and
  metadata come from the corpus ``manifest.json``;
* a VoiceBank-DEMAND root (its test split; 48 kHz resampled to 16 kHz);
* the short names ``speakers`` / ``real`` / ``synthetic`` / ``valid`` (or the folder names),
  resolved in the default corpus ``data/corpus``.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

from ..audio import AudioError, load_wav
from ..cli import UserError
from . import valentini

DEFAULT_CORPUS = os.path.join("data", "corpus")
NAMES = {"real": "test_real", "synthetic": "test_synthetic", "speakers": "test_speakers",
         "valid": "valid", "test_real": "test_real", "test_synthetic": "test_synthetic",
         "test_speakers": "test_speakers"}


@dataclass
class TestItem:
    """One test pair: 16 kHz mono float32 signals of equal length."""
    __test__ = False  # not a pytest class

    name: str
    noisy: np.ndarray
    clean: np.ndarray
    snr_db: float | None = None
    meta: dict = field(default_factory=dict)


def resolve(path_or_name, corpus: str = DEFAULT_CORPUS) -> str:
    s = os.fspath(path_or_name)
    if s in NAMES and not os.path.exists(s):
        return os.path.join(corpus, NAMES[s])
    return s


def load_test_set(path_or_name, limit: int | None = None,
                  corpus: str = DEFAULT_CORPUS) -> list[TestItem]:
    """Load every pair (sorted by name; the first ``limit`` if given)."""
    path = resolve(path_or_name, corpus)
    if not os.path.exists(path):
        hint = (" (build the corpus with `rnnse data build`)" if os.fspath(path_or_name) in NAMES
                else "")
        raise FileNotFoundError(f"{path}: no such test set{hint}")
    if not os.path.isdir(path):
        raise UserError(f"{path}: a test set is a folder, not a file")
    if limit is not None and limit < 1:
        raise UserError(f"limit must be positive, got {limit}")
    if valentini.is_valentini_root(path):
        return valentini.load_split(path, "test", limit=limit)
    if os.path.isdir(os.path.join(path, "clean")) and os.path.isdir(os.path.join(path, "noisy")):
        return _load_corpus_split(path, limit)
    if os.path.exists(os.path.join(path, "manifest.json")):
        raise UserError(f"{path}: is a whole corpus; name one of its test sets, e.g. "
                        f"{os.path.join(path, 'test_real')} or {os.path.join(path, 'test_synthetic')}")
    raise UserError(f"{path}: not a test set (expected clean/ and noisy/ folders, or a "
                    "VoiceBank-DEMAND root with clean_testset_wav/ and noisy_testset_wav/)")


def _load_corpus_split(path: str, limit) -> list[TestItem]:
    clean_dir, noisy_dir = os.path.join(path, "clean"), os.path.join(path, "noisy")
    clean = {os.path.splitext(f)[0] for f in os.listdir(clean_dir) if f.endswith(".wav")}
    noisy = {os.path.splitext(f)[0] for f in os.listdir(noisy_dir) if f.endswith(".wav")}
    if clean != noisy:
        odd = sorted(clean ^ noisy)
        raise UserError(f"{path}: unpaired files: {', '.join(odd[:5])}"
                        + (f" and {len(odd) - 5} more" if len(odd) > 5 else ""))
    if not clean:
        raise UserError(f"{path}: clean/ and noisy/ contain no .wav files")
    meta = _manifest_entries(path)
    items = []
    for name in sorted(clean)[:limit]:
        c = load_wav(os.path.join(clean_dir, name + ".wav"), min_samples=1)
        n = load_wav(os.path.join(noisy_dir, name + ".wav"), min_samples=1)
        if len(c) != len(n):
            raise AudioError(f"{path}: {name}: clean and noisy lengths differ "
                             f"({len(c)} vs {len(n)} samples)")
        m = dict(meta.get(name, {}))
        items.append(TestItem(name, n, c, m.get("snr_db"), m))
    return items


def _manifest_entries(split_dir: str) -> dict:
    """The manifest entries of a corpus test folder (empty if there is no manifest)."""
    split_dir = os.path.normpath(split_dir)
    mpath = os.path.join(os.path.dirname(split_dir), "manifest.json")
    if not os.path.isfile(mpath):
        return {}
    try:
        with open(mpath) as fh:
            manifest = json.load(fh)
    except ValueError as exc:
        raise UserError(f"{mpath}: not valid JSON ({exc})") from None
    return manifest.get("splits", {}).get(os.path.basename(split_dir), {})
