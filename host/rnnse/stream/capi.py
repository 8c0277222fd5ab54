"""cffi binding of the firmware's signal chain and protocol codec (``build/host/librnnse_app.so``).

Used by the tests to hold the C code against numpy and against the Python codec, and by anyone who
wants the on-device DSP on the host. The library is built on demand (scons) when missing or older
than its sources.
"""
from __future__ import annotations

import glob
import os
import threading

CDEF = """
#define DSP_HOP 100
#define DSP_WIN 400
#define DSP_NFFT 512
#define DSP_NBINS 257
typedef struct dsp_tables {
    float window[400];
    float synth_window[400];
    float tw[256];
    float split_tw[512];
    uint8_t bitrev[256];
    int ready;
} dsp_tables_t;
extern dsp_tables_t dsp_tables;
typedef struct dsp_chain {
    float in[400];
    float ola[400];
    float spec[514];
    float work[512];
} dsp_chain_t;
void dsp_tables_init(void);
void dsp_cfft256(float *z, int inverse);
void dsp_rfft512(const float *x, float *spec);
void dsp_irfft512(float *spec, float *x);
void dsp_window_frame(const float *in, float *frame);
void dsp_magnitude(const float *spec, float *mag, int n);
void dsp_apply_mask(float *spec, const float *mask, int n);
void dsp_synth_window(const float *x, float *frame);
void dsp_overlap_add(float *ola, const float *frame, float *out);
void dsp_pcm16_to_float(const int16_t *in, float *out, int n);
void dsp_float_to_pcm16(const float *in, int16_t *out, int n);
void dsp_chain_reset(dsp_chain_t *c);
void dsp_analyze(dsp_chain_t *c, const int16_t *hop, float *mag);
void dsp_synthesize(dsp_chain_t *c, const float *mask, int16_t *out);

typedef struct proto_frame {
    uint8_t type;
    uint8_t flags;
    uint16_t seq;
    uint16_t length;
    const uint8_t *payload;
} proto_frame_t;
uint16_t proto_crc16(const uint8_t *data, size_t n);
uint32_t proto_crc32(uint32_t crc, const uint8_t *data, size_t n);
size_t proto_encode(uint8_t *out, uint8_t type, uint8_t flags, uint16_t seq,
                    const uint8_t *payload, uint16_t length);
int proto_parse(const uint8_t *buf, size_t n, proto_frame_t *frame, size_t *consumed);
"""

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
            ffi.cdef(CDEF)
            _lib = (ffi, ffi.dlopen(path))
        return _lib
