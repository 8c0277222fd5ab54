"""cffi binding of the firmware's signal chain and protocol codec (``build/host/librnnse_app.so``).

Used by the tests to hold the C code against numpy and against the Python codec, and by anyone who
wants the on-device DSP on the host. The library is built on demand (scons) when missing or older
than its sources.
"""
from __future__ import annotations

import glob
import os
import threading

# the cffi declarations, read from the C headers (rnnse.cheaders): no hand copy to keep in step
CDEF_SPEC = (
    ("firmware/dsp/dsp.h", ["dsp_tables_t", "dsp_tables", "dsp_chain_t", "dsp_tables_init", "dsp_cfft256",
                            "dsp_rfft512", "dsp_irfft512", "dsp_window_frame", "dsp_magnitude", "dsp_apply_mask",
                            "dsp_synth_window", "dsp_overlap_add", "dsp_pcm16_to_float", "dsp_float_to_pcm16",
                            "dsp_chain_reset", "dsp_analyze", "dsp_synthesize"]),
    ("firmware/app/proto.h", ["proto_frame_t", "proto_crc16", "proto_crc32", "proto_encode", "proto_parse",
                              "proto_restamp"]),
)
CDEF_DEFINES = ("DSP_HOP", "DSP_WIN", "DSP_NFFT", "DSP_NBINS")


def cdef() -> str:
    """The cffi declarations of librnnse_app.so, from the firmware's headers."""
    from ..cheaders import cdef as from_headers

    return from_headers(CDEF_SPEC, defines=CDEF_DEFINES)

_lock = threading.Lock()
_lib = None


def _library_path() -> str:
    from .build import repo_root

    return os.path.join(repo_root(), "build", "host", "librnnse_app.so")


def _stale(path: str) -> bool:
    from .build import repo_root

    if not os.path.exists(path):
        return True
    root = repo_root()
    sources = glob.glob(os.path.join(root, "firmware", "dsp", "*.[ch]"))
    sources += glob.glob(os.path.join(root, "firmware", "app", "proto*.[ch]"))
    t = os.path.getmtime(path)
    return any(os.path.getmtime(s) > t for s in sources)


def load():
    """(ffi, lib) of librnnse_app.so, building it first when needed."""
    global _lib
    with _lock:
        if _lib is None:
            from cffi import FFI

            from .build import repo_root, run_scons

            path = _library_path()
            if _stale(path):
                run_scons(["target=host", os.path.relpath(path, repo_root())])
            ffi = FFI()
            ffi.cdef(cdef())
            _lib = (ffi, ffi.dlopen(path))
        return _lib
