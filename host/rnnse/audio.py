"""Audio file I/O with clear errors.

Every waveform inside rnnse is mono float32 in [-1, 1] at ``SAMPLE_RATE``.
Anything else is either converted explicitly (resampling, with ``resample=True``)
or refused with an :class:`AudioError` that names the problem.
"""
from __future__ import annotations

import io
import os
import struct
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
    name, source = _audio_source(path)
    return _load(name, source, sr, resample_ok, mono_ok, min_samples)


def _audio_source(path) -> tuple[str, object]:
    """(name for messages, what soundfile reads) of an input path; ``-``: standard input, read
    whole. Missing, directory and empty inputs are refused here."""
    path = os.fspath(path)
    if path == STDIO:
        source = io.BytesIO(sys.stdin.buffer.read())
        if not source.getbuffer().nbytes:
            raise AudioError("stdin: no audio (empty input)")
        return "stdin", source
    if not os.path.exists(path):
        raise AudioError(f"{path}: no such file")
    if os.path.isdir(path):
        raise AudioError(f"{path}: is a directory, not an audio file")
    if os.path.getsize(path) == 0:
        raise AudioError(f"{path}: empty file")
    return path, path


def _load(path: str, source, sr: int, resample_ok: bool, mono_ok: bool, min_samples: int) -> np.ndarray:
    import soundfile as sf

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
    _check_channels(path, data.shape[1], mono_ok)
    x = _mono(data)
    if file_sr != sr:
        _check_rate(path, file_sr, sr, resample_ok)
        x = resample(x, file_sr, sr)
    if not np.all(np.isfinite(x)):
        raise AudioError(f"{path}: contains NaN or infinite samples")
    _check_length(path, x.shape[0], sr, min_samples)
    return np.ascontiguousarray(x, dtype=np.float32)


def _mono(data: np.ndarray) -> np.ndarray:
    """The first channel of (frames, channels) data, or the mean of the channels."""
    return (data.mean(axis=1, keepdims=True) if data.shape[1] > 1 else data)[:, 0]


def _check_channels(path: str, channels: int, mono_ok: bool) -> None:
    if channels > 1 and not mono_ok:
        raise AudioError(f"{path}: has {channels} channels; rnnse needs mono audio "
                         "(mix it down first, or pass --mono to average the channels)")


def _check_rate(path: str, file_sr: int, sr: int, resample_ok: bool) -> None:
    if file_sr != sr and not resample_ok:
        raise AudioError(f"{path}: sample rate is {file_sr} Hz, expected {sr} Hz "
                         "(pass --resample to convert it)")


def _check_length(path: str, n: int, sr: int, min_samples: int) -> None:
    if n < min_samples:
        raise AudioError(f"{path}: {n} samples is shorter than one analysis window "
                         f"({min_samples} samples = {1000 * min_samples / sr:.1f} ms)")


class WavReader:
    """An input read block by block as the int16 samples that ``to_pcm16(load_wav(...))`` gives,
    in memory that does not grow with the file: the checks of load_wav are made first, in one
    pass over the file (``-``, standard input, is read whole into memory first). A file of
    another sample rate (with ``resample_ok``) is resampled whole, as load_wav does."""

    CHECK_BLOCK = 1 << 16

    def __init__(self, path, sr: int = SAMPLE_RATE, resample_ok: bool = False, mono_ok: bool = False,
                 min_samples: int = WIN_LENGTH):
        import soundfile as sf

        self.name, source = _audio_source(path)
        self._source, self._params = source, (sr, resample_ok, mono_ok, min_samples)
        self._whole = None
        try:
            check_wav_data(source, self.name)
            self._file = sf.SoundFile(source)
        except AudioError:
            raise
        except Exception as exc:  # soundfile raises several types for corrupt data
            raise AudioError(f"{self.name}: unreadable or corrupt audio file ({exc})") from None
        f = self._file
        if f.frames == 0:
            raise AudioError(f"{self.name}: contains no samples")
        _check_channels(self.name, f.channels, mono_ok)
        if f.samplerate != sr:
            _check_rate(self.name, f.samplerate, sr, resample_ok)
            f.close()
            if hasattr(source, "seek"):
                source.seek(0)
            self._whole = to_pcm16(_load(self.name, source, sr, resample_ok, mono_ok, min_samples))
            self.frames = len(self._whole)
            return
        _check_length(self.name, f.frames, sr, min_samples)
        self.frames = f.frames
        self._check_samples()

    def _check_samples(self) -> None:
        """Out-of-range and non-finite samples, in one pass over the file."""
        out, peak, total, finite = 0, 0.0, 0, True
        for data in self._file.blocks(self.CHECK_BLOCK, dtype="float32", always_2d=True):
            ok = np.isfinite(data)
            finite = finite and bool(ok.all())
            over = ok & (np.abs(data) > 1.0)
            out += int(np.count_nonzero(over))
            peak = max(peak, float(np.abs(data[over]).max())) if over.any() else peak
            total += data.size
        if out:             # the order of load_wav's checks
            raise AudioError(_range_message(self.name, out, total, peak))
        if not finite:
            raise AudioError(f"{self.name}: contains NaN or infinite samples")
        self._file.seek(0)

    def blocks(self, size: int):
        """The samples as int16 arrays of ``size`` (the last one shorter), in order."""
        if self._whole is not None:
            for i in range(0, self.frames, size):
                yield self._whole[i:i + size]
            return
        self._file.seek(0)
        for data in self._file.blocks(size, dtype="float32", always_2d=True):
            yield to_pcm16(_mono(data))

    def signal(self) -> np.ndarray:
        """The whole input as load_wav gives it (float32), for what needs it at once."""
        if hasattr(self._source, "seek"):
            self._source.seek(0)
        return _load(self.name, self._source, *self._params)

    def close(self) -> None:
        if self._whole is None:
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()


def check_range(data: np.ndarray, path: str) -> None:
    """Float samples outside [-1, 1] are refused: rnnse would clip them (integer formats cannot hold
    them). NaN and infinities are left to the caller's finiteness check."""
    over = np.isfinite(data) & (np.abs(data) > 1.0)
    out = int(np.count_nonzero(over))
    if out:
        raise AudioError(_range_message(path, out, data.size, float(np.abs(data[over]).max())))


def _range_message(path: str, out: int, total: int, peak: float) -> str:
    return (f"{path}: {out} of {total} samples are outside [-1, 1] (peak {peak:.3g}); rnnse does not clip "
            "its input: scale the file to [-1, 1]")


def check_wav_data(source, path: str) -> None:
    """A RIFF/WAVE file whose data chunk is shorter than its header says (a cut-off copy or
    download) is refused; libsndfile would read it short without a word. ``source``: a file name
    or a seekable binary file (left at its position). Other formats are left to libsndfile."""
    f = open(source, "rb") if isinstance(source, (str, bytes, os.PathLike)) else source
    if not f.seekable():        # a pipe given by name: libsndfile reads what comes
        if f is not source:
            f.close()
        return
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
    """WavWriter's counterpart for ``-``, standard output. With ``frames`` (the length, known in
    advance) the header goes first and each block as it comes, as libsndfile would write the
    whole file; without it, the blocks are collected and written as one wav when complete
    (libsndfile seeks back to finish a header: not on a pipe)."""

    path = STDIO

    def __init__(self, sr: int = SAMPLE_RATE, frames: int | None = None):
        self.sr, self.frames, self.blocks, self.written = sr, frames, [], 0

    def write(self, pcm: np.ndarray) -> None:
        pcm = np.asarray(pcm, dtype=np.int16)
        if self.frames is None:
            self.blocks.append(pcm)
            return
        if self.written + len(pcm) > self.frames:
            raise AudioError(f"stdout: {self.written + len(pcm)} samples for a wav of {self.frames}")
        out = sys.stdout.buffer
        if not self.written:
            out.write(wav_header(self.frames, self.sr))
        out.write(pcm.astype("<i2").tobytes())
        self.written += len(pcm)

    def close(self) -> None:
        if self.frames is None:
            save_wav(STDIO, from_pcm16(np.concatenate(self.blocks or [np.zeros(0, np.int16)])), self.sr)
            return
        if self.written != self.frames:
            raise AudioError(f"stdout: the wav ended after {self.written} of its {self.frames} samples")
        if not self.frames:
            sys.stdout.buffer.write(wav_header(0, self.sr))
        sys.stdout.buffer.flush()

    def discard(self) -> None:
        self.blocks = []

    __enter__, __exit__ = WavWriter.__enter__, WavWriter.__exit__


def wav_header(frames: int, sr: int = SAMPLE_RATE) -> bytes:
    """The 44-byte header of a mono 16-bit PCM wav of ``frames`` samples (libsndfile's)."""
    n = 2 * frames
    return (b"RIFF" + struct.pack("<I", 36 + n) + b"WAVE" + b"fmt " +
            struct.pack("<IHHIIHH", 16, 1, 1, sr, 2 * sr, 2, 16) + b"data" + struct.pack("<I", n))


def open_output_wav(path, sr: int = SAMPLE_RATE, frames: int | None = None):
    """A WavWriter for ``path``, or a StdoutWav for ``-`` (``frames``: its length, if known)."""
    return StdoutWav(sr, frames) if os.fspath(path) == STDIO else WavWriter(path, sr)


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
