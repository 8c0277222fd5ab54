"""Offline audio and text sources for the corpus builder (all from Debian packages).

* recorded speech: ``asterisk-core-sounds-en-g722`` (one US female speaker, G.722 wideband prompts,
  decoded with ffmpeg), ``klettres-data`` (letters and syllables spoken by native speakers of
  20 languages, 44.1 kHz Ogg Vorbis) and three telephone-band prompt speakers
  (``asterisk-prompt-es-co``, ``asterisk-prompt-fr-armelle``, ``asterisk-prompt-it-menardi-wav``:
  8 kHz GSM or PCM, nothing above 4 kHz). Recorded speech comes from these packages only, and
  which speaker may serve training, validation or testing is fixed here (``SPEAKER_SPLIT``);
* synthetic speech: ``espeak-ng`` and ``flite`` reading sentences taken from ``fortunes``;
* recorded noise: ``sonic-pi-samples`` (ambiences, machine loops, vinyl hiss).

Every loader returns mono float32 at ``SAMPLE_RATE``.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

import numpy as np

from ..audio import resample
from ..cli import UserError
from ..config import SAMPLE_RATE

ASTERISK_DIR = "/usr/share/asterisk/sounds/en_US_f_Allison"
KLETTRES_DIR = "/usr/share/klettres"
SONIC_PI_DIR = "/usr/share/sonic-pi/samples"
FORTUNES_DIR = "/usr/share/games/fortunes"

# (what is needed, how it is found, Debian package that provides it); folders are looked up
# through the module constants at call time
REQUIREMENTS = [
    ("espeak-ng", "bin", "espeak-ng"),
    ("dpkg-query", "bin", "dpkg"),
    ("flite", "bin", "flite"),
    ("ffmpeg", "bin", "ffmpeg"),
    ("ASTERISK_DIR", "dir", "asterisk-core-sounds-en-g722"),
    ("KLETTRES_DIR", "dir", "klettres-data"),
    ("SONIC_PI_DIR", "dir", "sonic-pi-samples"),
    ("FORTUNES_DIR", "dir", "fortunes"),
    ("asterisk-prompt-es-co", "pkg", "asterisk-prompt-es-co"),
    ("asterisk-prompt-fr-armelle", "pkg", "asterisk-prompt-fr-armelle"),
    ("asterisk-prompt-it-menardi-wav", "pkg", "asterisk-prompt-it-menardi-wav"),
]
# the Debian packages whose versions decide the corpus bytes (recorded in the manifest)
SOURCE_PACKAGES = ["espeak-ng-data", "libespeak-ng1", "flite", "ffmpeg", "fortunes",
                   "asterisk-core-sounds-en-g722", "klettres-data", "sonic-pi-samples",
                   "asterisk-prompt-es-co", "asterisk-prompt-fr-armelle",
                   "asterisk-prompt-it-menardi-wav"]


def missing_packages() -> list[str]:
    """Debian packages whose files the corpus builder needs but cannot find."""
    missing = []
    for what, kind, pkg in REQUIREMENTS:
        if kind == "bin":
            found = shutil.which(what)
        elif kind == "pkg":
            found = bool(package_files(what))
        else:
            found = os.path.isdir(globals()[what])
        if not found and pkg not in missing:
            missing.append(pkg)
    return missing


def require_packages() -> None:
    missing = missing_packages()
    if missing:
        raise UserError("the corpus builder needs the Debian package(s) " + ", ".join(missing)
                        + "; install them with: sudo apt-get install " + " ".join(missing)
                        + " (or run scripts/setup.sh)")


def source_versions() -> dict:
    """Versions of everything that decides the corpus bytes: Debian packages and numerics.

    The corpus is byte-identical for the same seed and configuration only when these match.
    """
    import scipy
    import soundfile as sf

    out = {"numpy": np.__version__, "scipy": scipy.__version__,
           "libsndfile": sf.__libsndfile_version__}
    for pkg in SOURCE_PACKAGES:
        try:
            res = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                                 check=False)
            out[pkg] = res.stdout.decode().strip() if res.returncode == 0 else "unknown"
        except FileNotFoundError:
            out[pkg] = "unknown"
    return out


def _run(cmd: list[str], what: str) -> bytes:
    try:
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    except FileNotFoundError:
        raise UserError(f"{cmd[0]} is not installed ({what})") from None
    if res.returncode != 0:
        msg = res.stderr.decode(errors="replace").strip().splitlines()
        raise UserError(f"{what} failed: {cmd[0]} exited with {res.returncode}"
                        + (f" ({msg[-1]})" if msg else ""))
    return res.stdout


# ---------------------------------------------------------------------------------------------
# recorded speech

@dataclass(frozen=True)
class Recording:
    """One recorded clip: where it is, who speaks and how long it is (seconds, before trimming)."""
    path: str
    speaker: str
    seconds: float

    @property
    def rel(self) -> str:
        """The path inside its package's folder, with forward slashes."""
        if self.speaker == "allison":
            root = ASTERISK_DIR
        elif self.speaker.startswith("klettres-"):
            root = KLETTRES_DIR
        else:
            root = os.path.dirname(PROMPT_ROOTS.get(self.speaker, os.path.dirname(self.path)))
        return os.path.relpath(self.path, root).replace(os.sep, "/")

    @property
    def name(self) -> str:
        return os.path.splitext(self.rel)[0].replace("/", "-")


# asterisk files that are not speech: tones, recorded silence (a -80 dBFS noise floor that level
# normalisation would turn into a loud "clean" noise clip) and a recording of monkeys
NOT_SPEECH_PROMPTS = {"beep", "beeperr", "ascending-2tone", "descending-2tone", "tt-monkeys"}
NOT_SPEECH_FOLDERS = {"silence"}


def is_speech_prompt(rel_path: str) -> bool:
    """False for the asterisk files listed above (``rel_path`` relative to ``ASTERISK_DIR``)."""
    parts = os.path.splitext(rel_path)[0].split(os.sep)
    return parts[0] not in NOT_SPEECH_FOLDERS and parts[-1] not in NOT_SPEECH_PROMPTS


def asterisk_prompts() -> list[Recording]:
    """All spoken G.722 prompts, sorted by path. G.722 is 64 kbit/s: 8000 bytes per second."""
    out = []
    for root, _dirs, files in os.walk(ASTERISK_DIR):
        for f in files:
            p = os.path.join(root, f)
            if f.endswith(".g722") and is_speech_prompt(os.path.relpath(p, ASTERISK_DIR)):
                out.append(Recording(p, "allison", os.path.getsize(p) / 8000.0))
    return sorted(out, key=lambda r: r.path)


def klettres_clips(split: str | None = None) -> list[Recording]:
    """Klettres Ogg clips, sorted by path; the speaker is the language folder. ``split``
    ('train', 'valid', 'test') keeps the languages of that split only (``SPEAKER_SPLIT``)."""
    out = []
    for root, _dirs, files in os.walk(KLETTRES_DIR):
        for f in files:
            if f.endswith(".ogg"):
                p = os.path.join(root, f)
                lang = os.path.relpath(p, KLETTRES_DIR).split(os.sep)[0]
                out.append(Recording(p, f"klettres-{lang}", 0.0))
    if split is not None:
        out = [r for r in out if split_of_speaker(r.speaker) == split]
    return sorted(out, key=lambda r: r.path)


# ---------------------------------------------------------------------------------------------
# which recorded speaker serves what
#
# The split is by speaker: no voice of the validation or test speakers is training speech. A
# klettres language folder counts as one speaker (a few hold two voices). Genders are estimated
# from the median F0 of each folder (female above about 165 Hz). Of the prompt speakers, only
# Allison is wideband; the other three are telephone band (8 kHz recordings resampled to 16 kHz).
# No allowed source has male running speech: male voices come from klettres items.

# speaker -> (Debian package, language, gender, band)
PROMPT_SPEAKERS = {
    "allison": ("asterisk-core-sounds-en-g722", "en", "f", "wide"),
    "es-co": ("asterisk-prompt-es-co", "es", "f", "telephone"),
    "fr-armelle": ("asterisk-prompt-fr-armelle", "fr", "f", "telephone"),
    "it-menardi": ("asterisk-prompt-it-menardi-wav", "it", "f", "telephone"),
}
# the folder of each prompt speaker's running-speech prompts (sub-folders hold digits, letters)
PROMPT_ROOTS = {"allison": ASTERISK_DIR, "es-co": "/usr/share/asterisk/sounds/es",
                "fr-armelle": "/usr/share/asterisk/sounds/fr",
                "it-menardi": "/usr/share/asterisk/sounds/it_IT_f_Menardi"}
# klettres language folder -> estimated gender of its voice(s) ("fm": one of each)
KLETTRES_GENDER = {"ar": "f", "cs": "f", "da": "m", "de": "fm", "en": "m", "en_GB": "f", "es": "f",
                   "fr": "m", "he": "f", "hu": "m", "it": "f", "lt": "m", "ml": "m", "nb": "f",
                   "nds": "m", "nl": "f", "pt_BR": "f", "ru": "f", "tn": "f", "uk": "f"}
SPEAKER_SPLIT = {
    "valid": {"prompts": ["fr-armelle"], "klettres": ["cs", "da", "lt", "uk"]},
    "test": {"prompts": ["es-co", "it-menardi"], "klettres": ["hu", "nds", "nl", "ru"]},
}
TRAIN_PROMPT_SPEAKERS = ["allison"]


def klettres_language(rec: "Recording") -> str:
    return rec.speaker[len("klettres-"):]


def split_of_speaker(speaker: str) -> str:
    """'train', 'valid' or 'test' for a speaker name ("allison", "es-co", "klettres-hu", ...)."""
    for split, d in SPEAKER_SPLIT.items():
        if speaker in d["prompts"] or (speaker.startswith("klettres-")
                                       and speaker[len("klettres-"):] in d["klettres"]):
            return split
    return "train"


def speaker_info(speaker: str) -> dict:
    """Language, gender and band of a recorded speaker."""
    if speaker.startswith("klettres-"):
        lang = speaker[len("klettres-"):]
        return {"language": lang.split("_")[0], "gender": KLETTRES_GENDER.get(lang, "?"),
                "band": "wide"}
    _pkg, lang, gender, band = PROMPT_SPEAKERS[speaker]
    return {"language": lang, "gender": gender, "band": band}


_PACKAGE_FILES: dict = {}


def package_files(package: str) -> list[str]:
    """The files an installed Debian package owns (``dpkg -L``), sorted; [] if not installed."""
    if package not in _PACKAGE_FILES:
        try:
            res = subprocess.run(["dpkg-query", "-L", package], capture_output=True, check=False)
        except FileNotFoundError:
            return []
        files = [] if res.returncode != 0 else \
            [f for f in res.stdout.decode(errors="replace").splitlines() if os.path.isfile(f)]
        _PACKAGE_FILES[package] = sorted(files)
    return _PACKAGE_FILES[package]


# bytes per second of the prompt formats (duration estimates before decoding)
_BYTES_PER_SECOND = {".g722": 8000.0, ".gsm": 1650.0, ".wav": 16000.0}


def speaker_prompts(speaker: str, min_seconds: float = 0.0) -> list[Recording]:
    """The running-speech prompts of a prompt speaker: the files of its Debian package in the
    speaker's top folder (not the digits, letters, phonetic alphabet or silences), sorted."""
    if speaker == "allison":
        recs = [r for r in asterisk_prompts() if os.path.dirname(r.path) == ASTERISK_DIR]
    else:
        pkg, root = PROMPT_SPEAKERS[speaker][0], PROMPT_ROOTS[speaker]
        recs = []
        for p in package_files(pkg):
            ext = os.path.splitext(p)[1]
            if os.path.dirname(p) == root and ext in _BYTES_PER_SECOND and \
                    is_speech_prompt(os.path.basename(p)):
                recs.append(Recording(p, speaker, os.path.getsize(p) / _BYTES_PER_SECOND[ext]))
    return sorted((r for r in recs if r.seconds >= min_seconds), key=lambda r: r.path)


def decode_gsm(path: str) -> np.ndarray:
    pcm = _run(["ffmpeg", "-v", "error", "-nostdin", "-f", "gsm", "-i", path,
                "-ar", str(SAMPLE_RATE), "-ac", "1", "-f", "s16le", "-"], f"decoding {path}")
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def decode_g722(path: str) -> np.ndarray:
    pcm = _run(["ffmpeg", "-v", "error", "-nostdin", "-f", "g722", "-i", path,
                "-ar", str(SAMPLE_RATE), "-ac", "1", "-f", "s16le", "-"], f"decoding {path}")
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def read_any(path: str) -> np.ndarray:
    """Any file libsndfile reads (ogg, flac, wav): averaged to mono, resampled to 16 kHz."""
    import soundfile as sf

    try:
        data, sr = sf.read(path, dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises several types for missing or corrupt files
        raise UserError(f"{path}: unreadable audio file ({exc})") from None
    return resample(data.mean(axis=1), sr, SAMPLE_RATE)


def load_recording(rec: Recording) -> np.ndarray:
    if rec.path.endswith(".g722"):
        return decode_g722(rec.path)
    if rec.path.endswith(".gsm"):
        return decode_gsm(rec.path)
    return read_any(rec.path)


# ---------------------------------------------------------------------------------------------
# text and synthetic speech

_FORTUNE_SKIP = {"art", "ascii-art", "definitions", "perl", "linux", "linuxcookie", "startrek"}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_ALLOWED = re.compile(r"^[A-Za-z][A-Za-z ,.'!?;:-]*[.!?]$")


def fortune_sentences() -> list[str]:
    """Clean sentences from the fortunes files: ASCII prose only, 3-25 words, deduplicated, sorted.

    Fortunes that contain quotes of dialogue, code, tables or attributions are skipped as a
    whole; the rest is split at sentence ends.
    """
    out = set()
    for fname in sorted(os.listdir(FORTUNES_DIR)):
        path = os.path.join(FORTUNES_DIR, fname)
        if "." in fname or fname in _FORTUNE_SKIP or not os.path.isfile(path):
            continue
        with open(path, "rb") as fh:
            text = fh.read().decode("ascii", errors="replace")
        for fortune in text.split("\n%\n"):
            if "\ufffd" in fortune or "\t" in fortune or "--" in fortune or ":" in fortune[:30]:
                continue
            flat = " ".join(fortune.split())
            for s in _SENTENCE_END.split(flat):
                s = s.strip().replace('"', "")
                if not _ALLOWED.match(s):
                    continue
                if 3 <= len(s.split()) <= 25:
                    out.add(s)
    # keep one spelling per sentence ignoring case and punctuation, so that held-out splits are
    # disjoint in content and not only in spelling
    seen, unique = set(), []
    for s in sorted(out):
        key = sentence_key(s)
        if key not in seen:
            seen.add(key)
            unique.append(s)
    return unique


def sentence_key(s: str) -> str:
    return " ".join(re.sub(r"[^a-z ]", "", s.lower()).split())


ESPEAK_DIALECTS = ["en-us", "en-gb", "en-gb-x-rp", "en-gb-scotland", "en-029", "en-gb-x-gbclan",
                   "en-gb-x-gbcwmd"]
ESPEAK_VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
                   "Alex", "Andy", "Annie", "Denis", "Gene", "Hugo", "Jacky", "Lee", "Michael",
                   "adam", "anika", "aunty", "belinda", "benjamin", "boris", "caleb",
                   "david", "ed", "edward", "grandma", "grandpa", "iven", "john", "linda", "max",
                   "michel", "norbert", "paul", "pedro", "quincy", "rob", "robert", "shelby",
                   "steph", "travis", "victor", "announcer", "Storm", "Tweaky", "Marco", "Mario"]
FLITE_VOICES = ["awb", "rms", "slt", "kal16"]


def espeak_variants() -> set[str]:
    """Voice variants installed with espeak-ng (an unknown variant silently falls back to the
    default voice, which would make held-out voices identical to training voices)."""
    out = _run(["espeak-ng", "--voices=variant"], "listing espeak-ng voice variants")
    names = set()
    for line in out.decode(errors="replace").splitlines()[1:]:
        for field in line.split():
            if field.startswith("!v/"):
                names.add(field[3:])
    return names


def espeak_dialects() -> set[str]:
    out = _run(["espeak-ng", "--voices=en"], "listing espeak-ng voices")
    return {line.split()[1] for line in out.decode(errors="replace").splitlines()[1:]
            if len(line.split()) > 1}


def require_voices() -> None:
    """Every espeak-ng dialect and variant and every flite voice the corpus uses must exist."""
    missing = sorted(set(ESPEAK_VARIANTS) - espeak_variants())
    missing += sorted(set(ESPEAK_DIALECTS) - espeak_dialects())
    listed = _run(["flite", "-lv"], "listing flite voices").decode(errors="replace").split()
    missing += [f"flite:{v}" for v in FLITE_VOICES if v not in listed]
    if missing:
        raise UserError("espeak-ng/flite lack voice(s) the corpus uses: " + ", ".join(missing)
                        + " (the corpus needs the Debian espeak-ng 1.51 and flite 2.2 voice sets)")


def synthesize(voice: str, text: str, speed: int = 160, pitch: int = 50) -> np.ndarray:
    """Speak ``text`` with ``voice`` ("espeak:<dialect>+<variant>" or "flite:<name>")."""
    engine, _, name = voice.partition(":")
    if engine == "espeak":
        import soundfile as sf
        import io

        wav = _run(["espeak-ng", "-v", name, "-s", str(speed), "-p", str(pitch), "--stdout", text],
                   f"espeak-ng voice {name}")
        # espeak writes a streaming header with an unknown length: read the PCM that follows it
        data, sr = sf.read(io.BytesIO(_fix_stream_header(wav)), dtype="float32")
        return resample(data, sr, SAMPLE_RATE)
    if engine == "flite":
        with tempfile.TemporaryDirectory() as td:
            out = os.path.join(td, "u.wav")
            # flite has no pitch control that works for all its voices; duration_stretch sets
            # the speaking rate
            _run(["flite", "-voice", name, "--setf", f"duration_stretch={160.0 / speed:.3f}",
                  "-t", text, "-o", out], f"flite voice {name}")
            return read_any(out)
    raise ValueError(f"unknown TTS voice {voice!r}")


def _fix_stream_header(wav: bytes) -> bytes:
    """Patch the RIFF/data sizes of a wav written to a pipe (espeak leaves them 0x7fffffff)."""
    if len(wav) < 44 or wav[:4] != b"RIFF":
        raise UserError("espeak-ng produced no wav output")
    buf = bytearray(wav)
    pos = 12
    while pos + 8 <= len(buf):
        cid = bytes(buf[pos:pos + 4])
        size = int.from_bytes(buf[pos + 4:pos + 8], "little")
        if cid == b"data":
            buf[pos + 4:pos + 8] = (len(buf) - pos - 8).to_bytes(4, "little")
            break
        pos += 8 + size
    buf[4:8] = (len(buf) - 8).to_bytes(4, "little")
    return bytes(buf)


# ---------------------------------------------------------------------------------------------
# recorded noise

# Sonic Pi recordings that sound like background noise (ambiences, machines, hiss); the test set
# uses its own recordings, never heard in training.
NOISE_RECORDINGS_TRAIN = ["ambi_dark_woosh", "ambi_drone", "ambi_glass_hum", "ambi_lunar_land",
                          "ambi_soft_buzz", "loop_compus", "loop_industrial", "loop_mika",
                          "loop_drone_g_97", "loop_electric", "vinyl_hiss", "misc_cineboom",
                          "loop_tabla", "ambi_swoosh"]
NOISE_RECORDINGS_TEST = ["loop_3d_printer", "ambi_sauna", "ambi_haunted_hum", "loop_safari",
                         "loop_garzul"]
# recordings of the validation set's noise bank (heard neither in training nor in the test sets)
NOISE_RECORDINGS_VALID = ["ambi_glass_rub", "loop_weirdo", "loop_mehackit1"]
# short percussive recordings used as clatter in the test-only "cafe" noise
CLATTER_TEST = ["perc_bell", "perc_till", "perc_door", "perc_snap", "elec_tick", "drum_cowbell",
                "elec_wood", "perc_bell2"]


def sonic_pi(name: str) -> np.ndarray:
    path = os.path.join(SONIC_PI_DIR, name + ".flac")
    if not os.path.isfile(path):
        raise UserError(f"{path}: missing (is the Debian package sonic-pi-samples complete?)")
    return read_any(path)
