"""Audio file I/O with clear errors.

Every waveform inside rnnse is mono float32 in [-1, 1] at ``SAMPLE_RATE``.
Anything else is either converted explicitly (resampling, with ``resample=True``)
or refused with an :class:`AudioError` that names the problem.
"""
from __future__ import annotations

import io
import os
import sys
from fractions import Fraction

import numpy as np

from .config import SAMPLE_RATE, WIN_LENGTH


STDIO = "-"        # a file name that means standard input (reading) or standard output (writing)


def report_stream(output):
    """Where a command prints its report: standard error when its audio goes to standard output."""
    return sys.stderr if os.fspath(output) == STDIO else sys.stdout


class AudioError(ValueError):
    """Raised for audio input that rnnse cannot use as it is."""


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling (scipy) from ``sr_in`` to ``sr_out``."""
    if sr_in == sr_out:
        return np.asarray(x, dtype=np.float32)
    from scipy.signal import resample_poly

    ratio = Fraction(sr_out, sr_in)
    y = resample_poly(np.asarray(x, dtype=np.float64), ratio.numerator, ratio.denominator)
    return y.astype(np.float32)


def load_wav(path, sr: int = SAMPLE_RATE, resample_ok: bool = False, mono_ok: bool = False,
             min_samples: int = WIN_LENGTH) -> np.ndarray:
    """Read an audio file (``-``: a wav on standard input) as mono float32 at ``sr``.

    * ``resample_ok``: resample other rates to ``sr`` instead of refusing them.
    * ``mono_ok``: average multi-channel files to mono instead of refusing them.
    * ``min_samples``: shorter clips are refused (default: one analysis window).
    """
    import soundfile as sf

    path = os.fspath(path)
    source = path
    if path == STDIO:
        path = "stdin"
        source = io.BytesIO(sys.stdin.buffer.read())
        if not source.getbuffer().nbytes:
            raise AudioError("stdin: no audio (empty input)")
    elif not os.path.exists(path):
        raise AudioError(f"{path}: no such file")
    elif os.path.isdir(path):
        raise AudioError(f"{path}: is a directory, not an audio file")
    elif os.path.getsize(path) == 0:
        raise AudioError(f"{path}: empty file")
    try:
        check_wav_data(source, path)
        data, file_sr = sf.read(source, dtype="float32", always_2d=True)
    except AudioError:
        raise
    except Exception as exc:  # soundfile raises several types for corrupt data
        raise AudioError(f"{path}: unreadable or corrupt audio file ({exc})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: contains no samples")
    check_range(data, path)
    if data.shape[1] > 1:
        if not mono_ok:
            raise AudioError(f"{path}: has {data.shape[1]} channels; rnnse needs mono audio "
                             "(mix it down first, or pass --mono to average the channels)")
        data = data.mean(axis=1, keepdims=True)
    x = data[:, 0]
    if file_sr != sr:
        if not resample_ok:
            raise AudioError(f"{path}: sample rate is {file_sr} Hz, expected {sr} Hz "
                             "(pass --resample to convert it)")
        x = resample(x, file_sr, sr)
    if not np.all(np.isfinite(x)):
        raise AudioError(f"{path}: contains NaN or infinite samples")
    if x.shape[0] < min_samples:
        raise AudioError(f"{path}: {x.shape[0]} samples is shorter than one analysis window "
                         f"({min_samples} samples = {1000 * min_samples / sr:.1f} ms)")
    return np.ascontiguousarray(x, dtype=np.float32)


def check_range(data: np.ndarray, path: str) -> None:
    """Float samples outside [-1, 1] are refused: rnnse would clip them (integer formats cannot hold
    them). NaN and infinities are left to the caller's finiteness check."""
    over = np.isfinite(data) & (np.abs(data) > 1.0)
    out = int(np.count_nonzero(over))
    if out:
        peak = float(np.abs(data[over]).max())
        raise AudioError(f"{path}: {out} of {data.size} samples are outside [-1, 1] (peak {peak:.3g}); "
                         "rnnse does not clip its input: scale the file to [-1, 1]")


def check_wav_data(source, path: str) -> None:
    """A RIFF/WAVE file whose data chunk is shorter than its header says (a cut-off copy or
    download) is refused; libsndfile would read it short without a word. ``source``: a file name
    or a seekable binary file (left at its position). Other formats are left to libsndfile."""
    f = open(source, "rb") if isinstance(source, (str, bytes, os.PathLike)) else source
    start = f.tell()
    try:
        end = f.seek(0, io.SEEK_END)
        f.seek(start)
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return      # no data chunk: libsndfile says what is wrong
            size = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"data":
                have = end - f.tell()
                if size not in (0, 0xFFFFFFFF) and have < size:  # 0 and ~0: length unknown (a stream)
                    raise AudioError(f"{path}: truncated wav: its data chunk holds {have} bytes, the header "
                                     f"says {size}")
                return
            f.seek(size + (size & 1), io.SEEK_CUR)
    finally:
        if f is source:
            f.seek(start)
        else:
            f.close()


def save_wav(path, x: np.ndarray, sr: int = SAMPLE_RATE) -> None:
    """Write mono float audio as 16-bit PCM (clipped to [-1, 1]); ``-``: a wav on standard output.
    A file is written under a temporary name in its folder and renamed when complete."""
    import soundfile as sf

    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 1:
        raise AudioError(f"save_wav expects a mono 1-D signal, got shape {x.shape}")
    if os.fspath(path) == STDIO:
        buf = io.BytesIO()         # libsndfile seeks back to finish the header: not on a pipe
        sf.write(buf, to_pcm16(x), sr, format="WAV", subtype="PCM_16")
        sys.stdout.buffer.write(buf.getvalue())
        sys.stdout.buffer.flush()
        return
    # through to_pcm16 so that the file holds exactly what the rest of rnnse calls the int16
    # version of x (libsndfile would scale by 32767)
    with WavWriter(path, sr) as w:
        w.write(to_pcm16(x))


def check_output_wav(path, inputs=()) -> None:
    """Refuse, before any work is done, an output that cannot be a wav file or that is one of the
    ``inputs`` (the same file by any name). ``-`` (standard output) is always fine."""
    path = os.fspath(path)
    if path == STDIO:
        return
    if os.path.isdir(path):
        raise AudioError(f"{path}: is a directory; -o needs the name of a .wav file")
    ext = os.path.splitext(path)[1]
    if ext.lower() != ".wav":
        raise AudioError(f"{path}: the output is written as a wav file: name it *.wav "
                         f"({'not ' + ext if ext else 'it has no extension'})")
    for i in inputs:
        if i is not None and os.fspath(i) != STDIO and os.path.exists(path) and os.path.exists(i) \
                and os.path.samefile(path, i):
            raise AudioError(f"{path}: is the input {os.fspath(i)}; write the output to another file")


class WavWriter:
    """A mono 16-bit wav written to a temporary file in the destination folder and renamed to
    ``path`` when complete: a failed or interrupted run leaves no partial wav (leaving the
    ``with`` block by an exception, or ``discard()``, removes it). The temporary file is created at
    once, so an unwritable place fails before any work."""

    def __init__(self, path, sr: int = SAMPLE_RATE):
        import soundfile as sf

        self.path = os.fspath(path)
        self._file = None
        folder, name = os.path.split(os.path.abspath(self.path))
        try:
            os.makedirs(folder, exist_ok=True)
            self.tmp, fd = _create_beside(folder, name)
        except OSError as exc:
            raise AudioError(f"{self.path}: cannot write there ({exc.strerror or exc})") from None
        os.close(fd)
        try:
            self._file = sf.SoundFile(self.tmp, "w", sr, 1, subtype="PCM_16", format="WAV")
        except Exception as exc:
            self.discard()
            raise AudioError(f"{self.path}: cannot write there ({exc})") from None

    def write(self, pcm: np.ndarray) -> None:
        """Append int16 samples."""
        try:
            self._file.write(np.asarray(pcm, dtype=np.int16))
        except Exception as exc:  # a full disk, an I/O error
            self.discard()
            raise AudioError(f"{self.path}: writing failed ({exc}); nothing was written") from None

    def close(self) -> None:
        """Finish the file and rename it to its name."""
        try:
            self._file.close()
            os.replace(self.tmp, self.path)
        except Exception as exc:
            self.discard()
            raise AudioError(f"{self.path}: writing failed ({exc}); nothing was written") from None

    def discard(self) -> None:
        try:
            if self._file is not None:
                self._file.close()
        except Exception:
            pass
        if os.path.exists(self.tmp):
            os.remove(self.tmp)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        if exc_type is None:
            self.close()
        else:
            self.discard()


class StdoutWav:
    """WavWriter's counterpart for ``-``: the samples are collected and written to standard output
    as one wav when complete (libsndfile seeks back to finish a header: not on a pipe)."""

    path = STDIO

    def __init__(self, sr: int = SAMPLE_RATE):
        self.sr, self.blocks = sr, []

    def write(self, pcm: np.ndarray) -> None:
        self.blocks.append(np.asarray(pcm, dtype=np.int16))

    def close(self) -> None:
        save_wav(STDIO, from_pcm16(np.concatenate(self.blocks or [np.zeros(0, np.int16)])), self.sr)

    def discard(self) -> None:
        self.blocks = []

    __enter__, __exit__ = WavWriter.__enter__, WavWriter.__exit__


def open_output_wav(path, sr: int = SAMPLE_RATE):
    """A WavWriter for ``path``, or a StdoutWav for ``-``."""
    return StdoutWav(sr) if os.fspath(path) == STDIO else WavWriter(path, sr)


def _create_beside(folder: str, name: str):
    """(path, fd) of a new file ``.NAME.XXXXXXXX.tmp`` in ``folder`` (created with the usual
    permissions, unlike tempfile's private ones)."""
    for _ in range(100):
        tmp = os.path.join(folder, f".{name}.{os.urandom(4).hex()}.tmp")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"{folder}: no free temporary name")


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """Float [-1, 1] to int16 with rounding to nearest and saturation."""
    return np.clip(np.round(np.asarray(x, dtype=np.float64) * 32768.0), -32768, 32767).astype(np.int16)


def from_pcm16(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32) / 32768.0


def speech_like_pcm16(n: int, seed: int = 0) -> np.ndarray:
    """A deterministic speech-like int16 test signal of n samples at 16 kHz: the harmonics of a
    gliding 90-150 Hz pitch shaped by one formant near 700 Hz, amplitude-modulated at 3 Hz, plus
    white noise (seeded), peaking at 12000. For tests and benchmarks that need voiced input
    without the corpus."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / float(SAMPLE_RATE)
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / float(SAMPLE_RATE)
    x = sum(np.sin(k * phase) / k * np.exp(-((k * f0 - 700) / 400) ** 2 * 0.5) for k in range(1, 30))
    x = x * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2) + 0.3 * rng.standard_normal(n)
    return np.clip(x / np.abs(x).max() * 12000, -32768, 32767).astype(np.int16)
