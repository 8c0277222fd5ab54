"""The host build of the firmware kernels (``build/host/librnnse.so``), loaded through cffi.

    from rnnse import native
    lib = native.load()                          # builds the library with scons if missing or stale
    y = lib.layer(qlayer, x, tables=qmodel.tables, cores=2)        # one layer (rnnse_harness_layer)
    with lib.net(qmodel, cores=2) as net:        # the whole network (rnnse_net_init/step/reset)
        masks = net.run(mags)                    # (frames, 257) FP32 in, masks out, states carried

Everything handed to C goes through ``rnnse.export.pack_model``: the bytes the kernels run here
are the bytes ``rnnse export`` writes into the firmware.

Library variants (``load(variant)``):
  ``auto``      the default build if this CPU can run its vector code, else ``portable``
                (the environment variable RNNSE_NATIVE overrides ``auto``);
  ``default``   build/host/librnnse.so, SIMD path chosen at build time (AVX2 + F16C + FMA when
                the build machine has them, else portable C); the AVX2 build also carries
                AVX-512 VNNI int8 dot products, used when the CPU running it has them
                (``Library.simd_kernels``, ``Library.select_simd``);
  ``portable``  build/host/librnnse_portable.so, the portable C path;
  ``asan``, ``asan-portable``  the same under AddressSanitizer + UBSan (build/host-asan/); they
                can only be loaded into a process started with ``asan_env()`` (libasan preloaded).

The host platform keeps global state (the L1 arena, the team of threads): one layer call or one
network at a time per loaded library. ``Net`` objects notice when another call reused L1.
"""
from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import threading

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VARIANTS = {
    "default": ("build/host", "librnnse.so"),
    "portable": ("build/host", "librnnse_portable.so"),
    "asan": ("build/host-asan", "librnnse.so"),
    "asan-portable": ("build/host-asan", "librnnse_portable.so"),
}
SOURCE_GLOBS = ("firmware/kernels/*.c", "firmware/kernels/*.h", "firmware/harness/*.c", "firmware/harness/*.h",
                "firmware/platform/platform.h",
                "firmware/platform/host/*.c", "firmware/platform/host/*.h", "SConstruct",
                "firmware/targets/host/SConscript", "firmware/targets/host/*.c", "firmware/targets/host/*.h")

# enums of firmware/kernels/rnnse_model.h (same values as rnnse.export)
FC, LSTM, GRU, QUANT, DEQUANT = 1, 2, 3, 4, 5
FP32, FP16, INT8, INT16 = 1, 2, 3, 4
ERRORS = {0: "RNNSE_OK", -1: "RNNSE_ERR_ARG", -2: "RNNSE_ERR_MAGIC", -3: "RNNSE_ERR_VERSION",
          -4: "RNNSE_ERR_CHECKSUM", -5: "RNNSE_ERR_FORMAT", -6: "RNNSE_ERR_L1"}
ERR = {v: k for k, v in ERRORS.items()}
DMA_POISON = 0xA5
_NP_TYPE = {FP32: np.float32, FP16: np.float16, INT8: np.int8, INT16: np.int16}

# the cffi declarations, read from the C headers (rnnse.cheaders): no hand copy to keep in step
CDEF_SPEC = (
    ("firmware/kernels/rnnse_model.h", ["rnnse_layer_t", "rnnse_model_t", "rnnse_model_checksum",
                                        "rnnse_record_bytes", "rnnse_weights_in_range"]),
    ("firmware/kernels/rnnse_net.h", ["rnnse_net_t", "rnnse_net_init", "rnnse_net_step", "rnnse_net_reset",
                                      "rnnse_net_set_max_tile", "rnnse_strerror", "rnnse_net_set_weights_in_place"]),
    ("firmware/harness/rnnse_harness.h", ["rnnse_harness_layer", "rnnse_harness_act", "rnnse_harness_requant",
                                          "rnnse_harness_net_phases", "rnnse_harness_team", "rnnse_harness_dma",
                                          "rnnse_simd_name", "rnnse_harness_abi", "rnnse_harness_net_run"]),
    ("firmware/targets/host/simd_x86.h", ["rnnse_simd_kernels", "rnnse_simd_select"]),
    ("firmware/targets/host/read_floor.c", ["rnnse_host_read"]),
    ("firmware/platform/platform.h", ["plat_l1_reset", "plat_l1_budget", "plat_l1_used", "plat_l1_set_budget"]),
    ("firmware/platform/host/platform_host.h", ["plat_host_l1_capacity", "plat_host_dma_bytes",
                                                "plat_host_dma_transfers"]),
)
CDEF_OPAQUE = ("rnnse_net_t",)


def cdef() -> str:
    """The cffi declarations of the host library, from the firmware's headers."""
    from .cheaders import cdef as from_headers

    return from_headers(CDEF_SPEC, opaque=CDEF_OPAQUE)


class NativeError(RuntimeError):
    """An error code returned by the C library; ``code`` is the number, ``name`` its RNNSE_ERR_*."""

    def __init__(self, code: int, message: str):
        self.code = int(code)
        self.name = ERRORS.get(self.code, "unknown")
        super().__init__(f"{self.name} ({self.code}): {message}")


class NativeBuildError(RuntimeError):
    """The host library cannot be built or loaded."""


# ---------------------------------------------------------------------------------------------
# building

def _sources() -> list[str]:
    out = []
    for g in SOURCE_GLOBS:
        out += glob.glob(os.path.join(REPO_ROOT, g))
    return out


def library_path(variant: str = "default") -> str:
    if variant not in VARIANTS:
        raise ValueError(f"unknown library variant {variant!r}: expected one of {', '.join(VARIANTS)}")
    d, f = VARIANTS[variant]
    return os.path.join(REPO_ROOT, d, f)


def is_stale(variant: str = "default") -> bool:
    path = library_path(variant)
    if not os.path.exists(path):
        return True
    t = os.path.getmtime(path)
    return any(os.path.getmtime(s) > t for s in _sources())


def build(variant: str = "default", force: bool = False, quiet: bool = True) -> str:
    """Build a library variant with scons (rnnse.stream.build.run_scons: the one scons wrapper, one
    build at a time across processes) when it is missing or older than its sources."""
    from .stream.build import BuildError, run_scons

    path = library_path(variant)
    if not force and not is_stale(variant):
        return path
    cc = os.environ.get("CC", "gcc")
    if not shutil.which(cc):
        raise NativeBuildError(f"cannot build the host library: C compiler {cc!r} not found "
                               "(install gcc: scripts/debian-packages.txt)")
    rel = os.path.relpath(path, REPO_ROOT)
    try:
        out = run_scons((["asan=1"] if variant.startswith("asan") else []) + [rel], REPO_ROOT)
    except BuildError as exc:
        raise NativeBuildError(f"building {rel} failed: {exc}") from None
    if not os.path.exists(path):
        raise NativeBuildError(f"scons succeeded but {rel} was not built")
    if not quiet and out.strip():
        print(out.strip())
    os.utime(path)                       # scons may skip an unchanged link: mark it fresh
    return path


def cpu_flags() -> set:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def asan_env(env=None) -> dict:
    """Environment for a subprocess that loads an ``asan`` variant: libasan preloaded, leak
    checks off (the Python interpreter itself is not instrumented), errors abort."""
    env = dict(os.environ if env is None else env)
    cc = env.get("CC", "gcc")
    lib = subprocess.run([cc, "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    if not lib or not os.path.isabs(lib):
        raise NativeBuildError(f"{cc} does not know where libasan.so is (install libasan for gcc)")
    env["LD_PRELOAD"] = lib
    env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1:halt_on_error=1"
    env["UBSAN_OPTIONS"] = "halt_on_error=1:print_stacktrace=1"
    return env


# ---------------------------------------------------------------------------------------------
# packing (through rnnse.export, so that what is tested is what is exported)

def pack_layer(layer):
    """A ``rnnse.quant.Layer`` (fc, lstm or gru) -> ``rnnse.export.PackedLayer`` via pack_model.

    The layer is wrapped into a minimal model (int8 layers between a quant and a dequant step) so
    that pack_model fills in the input and output types as in a real network."""
    from .export import PackedLayer, pack_model
    from .quant.qmodel import Layer, QuantizedModel

    if isinstance(layer, PackedLayer):
        return layer
    if layer.kind not in ("fc", "lstm", "gru"):
        raise ValueError(f"pack_layer takes fc, lstm or gru layers, not {layer.kind!r} "
                         "(conversions: conversion_layer())")
    w = layer.arrays.get("w" if layer.kind == "fc" else "w_ih")
    if w is None or np.ndim(w) != 2:
        raise ValueError(f"layer {layer.name!r}: missing 2-D weights")
    K = int(np.shape(w)[1])
    layers = [layer]
    if layer.prec == "int8":
        layers = [Layer("quant", "q", "", {}, {"inv_scale": 1.0}), layer,
                  Layer("dequant", "dq", "", {}, {"scale": 1.0, "out": "fp32"})]
    scheme = "fp16" if layer.prec == "fp16" else "int8"
    from .quant.fixed import SIGMOID_TABLE, TANH_TABLE

    q = QuantizedModel(scheme, {"n_bins": K}, layers, {"sigmoid": SIGMOID_TABLE, "tanh": TANH_TABLE})
    pm = pack_model(q, name=layer.name)
    return pm.layers[1 if layer.prec == "int8" else 0]


def conversion_layer(kind: str, n: int, scale, in_type: int, out_type: int):
    """PackedLayer of a quant (scale = inv_scale: a number, or one per element) or dequant step;
    quant steps are packed by the exporter's own code."""
    from .export import PackedLayer, _pack_quant
    from .quant.qmodel import Layer

    if kind == "quant":
        per_element = np.ndim(scale) > 0
        lay = Layer("quant", "quant", "", {"inv_scale": np.asarray(scale, np.float32)} if per_element else {},
                    {} if per_element else {"inv_scale": float(scale)})
        f = _pack_quant(lay, in_type, n)
        records = f.pop("records", None)
        pl = PackedLayer(name=kind, kind=QUANT, prec=0, **f)
        if records is not None:
            pl.records, pl.rec_bytes = records.tobytes(), records.shape[1]
        pl.out_type = out_type
        return pl
    return PackedLayer(name=kind, kind=DEQUANT, prec=0, in_type=in_type, out_type=out_type, n_in=n, n_out=n,
                       scale=float(np.float32(scale)))


def _as_packed_model(model):
    from .export import PackedModel, pack_model

    if isinstance(model, PackedModel):
        return model
    return pack_model(model, name=getattr(model, "name", None) or "model")


class ModelImage:
    """A ``rnnse_model_t`` built in memory from a PackedModel (the struct ``rnnse export`` writes
    as C), with the buffers it points to kept alive. ``c`` is the cdata; tests may alter fields."""

    def __init__(self, ffi, packed):
        self.packed = packed
        self._keep = []
        m = ffi.new("rnnse_model_t *")
        if len(packed.layers) > 16:
            raise ValueError(f"{len(packed.layers)} layers: the firmware takes at most 16")
        m.magic = packed.magic
        m.version = packed.version
        self._name = ffi.new("char[]", packed.name.encode())
        self._scheme = ffi.new("char[]", packed.scheme.encode())
        m.name, m.scheme = self._name, self._scheme
        m.n_layers = len(packed.layers)
        m.input_roots = packed.input_roots
        m.mask_floor = packed.mask_floor
        for attr, t in (("sigmoid_table", packed.sigmoid_table), ("tanh_table", packed.tanh_table)):
            if t is not None:
                buf = ffi.new("int16_t[]", [int(v) for v in np.asarray(t, np.int16)])
                self._keep.append(buf)
                setattr(m, attr, buf)
        for i, pl in enumerate(packed.layers):
            _fill_layer(ffi, m.layers[i], pl, self._keep)
        m.checksum = packed.checksum()
        self.c = m


def _fill_layer(ffi, dst, pl, keep) -> None:
    for f in ("kind", "prec", "in_type", "out_type", "n_in", "n_out", "act", "table_mode", "c_mult",
              "c_shift", "ct_mult", "ct_shift", "c_bits", "rec_bytes"):
        setattr(dst, f, int(getattr(pl, f)))
    dst.scale = float(pl.scale)
    if pl.records:
        buf = ffi.new("uint8_t[]", len(pl.records))     # malloc: 16-byte aligned
        ffi.memmove(buf, pl.records, len(pl.records))
        keep.append(buf)
        dst.rec = buf
    else:
        dst.rec = ffi.NULL


# ---------------------------------------------------------------------------------------------
# the library

class Library:
    def __init__(self, path: str, variant: str):
        import cffi

        self.path, self.variant = path, variant
        self.ffi = cffi.FFI()
        self.ffi.cdef(cdef())
        try:
            self.lib = self.ffi.dlopen(path)
        except OSError as exc:
            hint = (" (an asan variant needs a process started with native.asan_env())"
                    if variant.startswith("asan") else "")
            raise NativeBuildError(f"cannot load {path}: {exc}{hint}") from None
        self._lock = threading.RLock()
        self._l1_epoch = 0
        self.simd = self.ffi.string(self.lib.rnnse_simd_name()).decode()
        self._check_abi()

    def __repr__(self):
        return f"<rnnse native library {self.variant} ({self.simd}) {self.path}>"

    @property
    def simd_kernels(self) -> str:
        """The int8 dot-product code in use now: ``avx512vnni``, ``avx2`` or ``portable`` (``simd``
        is what the library was built for: the x86 build takes AVX-512 VNNI at run time)."""
        return self.ffi.string(self.lib.rnnse_simd_kernels()).decode()

    def select_simd(self, name: str) -> str:
        """Use the int8 dot-product code ``name`` (``avx512vnni``, ``avx2``, ``portable`` or ``auto``);
        returns the previous one. ValueError when this library or CPU cannot run it."""
        with self._lock:
            old = self.simd_kernels
            if self.lib.rnnse_simd_select(name.encode()) != 0:
                raise ValueError(f"{self.variant} library ({self.simd}) cannot use {name!r} on this CPU")
            return old

    def read_bytes(self, buf, passes: int = 1) -> int:
        """Read every byte of ``buf`` (a contiguous numpy array or bytes) ``passes`` times as fast
        as this core streams memory (rnnse_host_read, firmware/targets/host/read_floor.c); returns
        its checksum: over the passes, the sum modulo 2^64 of the little-endian 64-bit words and of
        the bytes after the last whole word."""
        if passes < 1:
            raise ValueError(f"passes must be >= 1, got {passes}")
        view = self.ffi.from_buffer(buf)
        return int(self.lib.rnnse_host_read(view, len(view), int(passes)))

    @contextlib.contextmanager
    def simd_path(self, name: str):
        """``with lib.simd_path("avx2"): ...``: run with that dot-product code, then restore."""
        old = self.select_simd(name)
        try:
            yield self
        finally:
            self.select_simd(old)

    def _check_abi(self) -> None:
        ffi = self.ffi
        out = ffi.new("uint32_t[16]")
        n = self.lib.rnnse_harness_abi(out, 16)
        got = list(out)[:n]
        want = [ffi.sizeof("rnnse_layer_t"), ffi.sizeof("rnnse_model_t"), ffi.offsetof("rnnse_model_t", "layers"),
                ffi.offsetof("rnnse_model_t", "checksum"), ffi.offsetof("rnnse_layer_t", "rec")]
        from .export import FORMAT_MAGIC, FORMAT_VERSION, MAX_LAYERS

        if got[:5] != want or got[7:10] != [FORMAT_MAGIC, FORMAT_VERSION, MAX_LAYERS]:
            raise NativeBuildError(f"{self.path}: layout or format constants differ from the Python side "
                                   f"(C {got}, Python {want} + magic/version/layers "
                                   f"{[FORMAT_MAGIC, FORMAT_VERSION, MAX_LAYERS]}); rebuild")
        self.net_size = got[5]
        self.max_cores = got[6]

    # -- L1 -------------------------------------------------------------------------------------
    def _reset_l1(self) -> None:
        self.lib.plat_l1_reset()
        self._l1_epoch += 1

    @property
    def l1_budget_bytes(self) -> int:
        return int(self.lib.plat_l1_budget())

    def set_l1_budget(self, nbytes: int) -> int:
        """Change the L1 budget (clamped to the host arena's capacity); returns the old one."""
        with self._lock:
            self._reset_l1()
            return int(self.lib.plat_l1_set_budget(int(nbytes)))

    @contextlib.contextmanager
    def l1_budget(self, nbytes: int):
        old = self.set_l1_budget(nbytes)
        try:
            yield self
        finally:
            self.set_l1_budget(old)

    def dma_counters(self) -> tuple[int, int]:
        """(bytes, transfers) started by plat_dma_start since the library was loaded."""
        return int(self.lib.plat_host_dma_bytes()), int(self.lib.plat_host_dma_transfers())

    def _check_cores(self, cores: int) -> int:
        cores = int(cores)
        if not 1 <= cores <= self.max_cores:
            raise ValueError(f"cores must be 1..{self.max_cores}, got {cores}")
        return cores

    # -- one layer ------------------------------------------------------------------------------
    def layer(self, layer, x, h=None, c=None, *, tables=None, cores: int = 1, max_tile: int = 0,
              in_place: bool = False):
        """Run one layer (rnnse_harness_layer) on ``cores`` cores with at most ``max_tile`` records
        per DMA tile (0: as many as the L1 budget allows), or reading the weights in place.

        layer: a ``rnnse.quant.Layer`` (fc/lstm/gru, packed with pack_model) or a PackedLayer
        (e.g. ``conversion_layer``). x, h, c: numpy vectors of the layer's input/state types.
        Returns y (fc, quant, dequant), h' (gru) or (h', c') (lstm)."""
        ffi = self.ffi
        pl = pack_layer(layer)
        cores = self._check_cores(cores)
        L = ffi.new("rnnse_layer_t *")
        keep = []
        _fill_layer(ffi, L, pl, keep)
        xa = _vector(x, pl.in_type, pl.n_in, "x")
        rnn = pl.kind in (LSTM, GRU)
        ha = ca = None
        if rnn:
            ha = _vector(np.zeros(pl.n_out, _NP_TYPE[pl.out_type]) if h is None else h, pl.out_type,
                         pl.n_out, "h")
        if pl.kind == LSTM:
            ct = FP16 if pl.prec == FP16 else (INT16 if pl.c_bits == 16 else INT8)
            ca = _vector(np.zeros(pl.n_out, _NP_TYPE[ct]) if c is None else c, ct, pl.n_out, "c").copy()
        y = np.zeros(pl.n_out, _NP_TYPE[pl.out_type])
        sig, tanh = _tables(tables)
        with self._lock:
            self._reset_l1()
            rc = self.lib.rnnse_harness_layer(
                L, ffi.from_buffer("int16_t[]", sig), ffi.from_buffer("int16_t[]", tanh), cores,
                int(max_tile), int(bool(in_place)), ffi.from_buffer(xa),
                ffi.from_buffer(ha) if ha is not None else ffi.NULL,
                ffi.from_buffer(ca) if ca is not None else ffi.NULL, ffi.from_buffer(y))
        self._raise(rc)
        if pl.kind == LSTM:
            return y, ca
        return y

    def _raise(self, rc: int) -> None:
        if rc != 0:
            raise NativeError(rc, self.ffi.string(self.lib.rnnse_strerror(rc)).decode())

    ACT_FUNCTIONS = {"sigmoid_x8": 0, "tanh_x8": 1, "sigmoid": 2, "tanh": 3, "exp": 4}

    def activation(self, fn: str, x) -> np.ndarray:
        """The FP32 activations of the FP16 kernels (rnnse_harness_act): ``sigmoid_x8`` and
        ``tanh_x8`` through the SIMD path, ``sigmoid``, ``tanh``, ``exp`` through the scalar code."""
        x = np.ascontiguousarray(x, dtype=np.float32).ravel()
        n = len(x)
        if fn.endswith("_x8") and n % 8:
            x = np.concatenate([x, np.zeros(8 - n % 8, np.float32)])
        y = np.empty_like(x)
        rc = self.lib.rnnse_harness_act(self.ACT_FUNCTIONS[fn], self.ffi.from_buffer("float[]", x),
                                        self.ffi.from_buffer("float[]", y), len(x))
        self._raise(rc)
        return y[:n]

    def strerror(self, code: int) -> str:
        return self.ffi.string(self.lib.rnnse_strerror(int(code))).decode()

    # -- platform checks --------------------------------------------------------------------------
    def team_check(self, cores: int, rounds: int = 100):
        """(errors, ids, sizes) of rnnse_harness_team: core ids and team sizes each core saw."""
        cores = self._check_cores(cores)
        ids = self.ffi.new("int[]", [-1] * self.max_cores)
        sizes = self.ffi.new("int[]", [-1] * self.max_cores)
        with self._lock:
            err = self.lib.rnnse_harness_team(cores, int(rounds), ids, sizes)
        return int(err), list(ids)[:cores], list(sizes)[:cores]

    def dma_check(self, data: bytes):
        """(destination read before plat_dma_wait, after it) for a copy of ``data`` into L1."""
        src = bytes(data)
        before = bytearray(len(src))
        after = bytearray(len(src))
        with self._lock:
            self._reset_l1()
            rc = self.lib.rnnse_harness_dma(src, len(src), self.ffi.from_buffer(before),
                                            self.ffi.from_buffer(after))
        if rc != 0:
            raise NativeError(ERR["RNNSE_ERR_L1"], f"{len(src)} bytes do not fit the L1 budget")
        return bytes(before), bytes(after)

    # -- the network ----------------------------------------------------------------------------
    def model_image(self, model) -> ModelImage:
        """rnnse_model_t of a QuantizedModel or PackedModel (see ModelImage)."""
        return ModelImage(self.ffi, _as_packed_model(model))

    def net(self, model, cores: int = 1, max_tile: int = 0, in_place: bool = False) -> "Net":
        """Initialise the network of a QuantizedModel, PackedModel or ModelImage; in_place: read
        the weights where they are instead of through the DMA tiles (rnnse_net_set_weights_in_place)."""
        return Net(self, model, cores, max_tile, in_place)


def _tables(tables):
    from .quant.fixed import SIGMOID_TABLE, TANH_TABLE

    tables = tables or {}
    sig = np.ascontiguousarray(np.asarray(tables.get("sigmoid", SIGMOID_TABLE)), dtype=np.int16)
    tanh = np.ascontiguousarray(np.asarray(tables.get("tanh", TANH_TABLE)), dtype=np.int16)
    if sig.shape != (257,) or tanh.shape != (257,):
        raise ValueError("activation tables must have 257 entries")
    return sig, tanh


def _vector(a, type_, n, what):
    dt = _NP_TYPE[type_]
    a = np.asarray(a)
    if a.shape != (n,):
        raise ValueError(f"{what} must have shape ({n},), got {a.shape}")
    if a.dtype != dt:
        if np.dtype(dt).kind == "i" and a.dtype.kind in "iu":
            info = np.iinfo(dt)
            if a.size and (a.min() < info.min or a.max() > info.max):
                raise ValueError(f"{what} does not fit {np.dtype(dt).name}")
        elif np.dtype(dt).kind == "i":
            raise ValueError(f"{what} must be an integer array ({np.dtype(dt).name}), got {a.dtype}")
        a = a.astype(dt)
    return np.ascontiguousarray(a)


class Net:
    """One initialised network (rnnse_net_t); frames go through ``step`` or ``run``."""

    def __init__(self, library: Library, model, cores: int = 1, max_tile: int = 0, in_place: bool = False):
        self.lib = library
        ffi = library.ffi
        self.image = model if isinstance(model, ModelImage) else library.model_image(model)
        self.cores = library._check_cores(cores)
        self._mem = ffi.new("char[]", library.net_size)
        self._net = ffi.cast("rnnse_net_t *", self._mem)
        m = self.image.c
        self.n_in = int(m.layers[0].n_in) if m.n_layers else 0
        self.n_out = int(m.layers[m.n_layers - 1].n_out) if 0 < m.n_layers <= 16 else 0
        with library._lock:
            library._reset_l1()
            rc = library.lib.rnnse_net_init(self._net, m, self.cores)
            self._epoch = library._l1_epoch
            if rc == 0:
                library.lib.rnnse_net_set_max_tile(self._net, int(max_tile))
                library.lib.rnnse_net_set_weights_in_place(self._net, int(bool(in_place)))
        library._raise(rc)
        self.l1_used = int(library.lib.plat_l1_used())
        self.frame_ns = np.zeros(0, np.uint64)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        self._epoch = None

    def _check(self) -> None:
        if self._epoch is None:
            raise RuntimeError("network closed")
        if self._epoch != self.lib._l1_epoch:
            raise RuntimeError("the L1 arena of this network was reused by another layer or network "
                               "call; initialise the network again")

    def reset(self) -> None:
        with self.lib._lock:
            self._check()
            self.lib.lib.rnnse_net_reset(self._net)

    def set_weights_in_place(self, on: bool) -> None:
        with self.lib._lock:
            self._check()
            self.lib.lib.rnnse_net_set_weights_in_place(self._net, int(bool(on)))

    def phase_ns(self) -> list:
        """Time of each phase of the last step (plat_cycles: nanoseconds on the host)."""
        out = self.lib.ffi.new("uint64_t[18]")
        with self.lib._lock:
            self._check()
            n = self.lib.lib.rnnse_harness_net_phases(self._net, out, 18)
        return [int(v) for v in list(out)[:n]]

    def set_max_tile(self, records: int) -> None:
        with self.lib._lock:
            self._check()
            self.lib.lib.rnnse_net_set_max_tile(self._net, int(records))

    def step(self, mag) -> np.ndarray:
        return self.run(np.asarray(mag)[None])[0]

    def run(self, mags) -> np.ndarray:
        """Frames (T, n_in) FP32 -> masks (T, n_out) FP32, the states carried from the last call."""
        mags = np.asarray(mags)
        if mags.ndim != 2 or mags.shape[1] != self.n_in:
            raise ValueError(f"expected magnitudes of shape (frames, {self.n_in}), got {mags.shape}")
        if not np.all(np.isfinite(mags)):
            raise ValueError("magnitudes must be finite")
        mags = np.ascontiguousarray(mags, dtype=np.float32)
        out = np.empty((mags.shape[0], self.n_out), np.float32)
        ffi = self.lib.ffi
        ns = np.zeros(mags.shape[0], np.uint64)
        with self.lib._lock:
            self._check()
            rc = self.lib.lib.rnnse_harness_net_run(self._net, ffi.from_buffer("float[]", mags),
                                                   ffi.from_buffer("float[]", out), mags.shape[0],
                                                   ffi.from_buffer("uint64_t[]", ns))
        self.lib._raise(rc)
        self.frame_ns = ns           # time of each step (nanoseconds)
        return out


# ---------------------------------------------------------------------------------------------

_loaded: dict = {}
_load_lock = threading.Lock()


def vector_supported(simd: str, flags: set | None = None) -> bool:
    """Whether this CPU runs a library whose rnnse_simd_name() is ``simd``."""
    flags = cpu_flags() if flags is None else flags
    if simd == "portable":
        return True
    if simd == "avx2":
        return {"avx2", "f16c", "fma"} <= flags
    return False


def load(variant: str = "auto", rebuild: bool = True) -> Library:
    """The loaded library variant (built first when missing or stale; cached per process).

    With RNNSE_NATIVE_ASAN=1 in the environment (a process started with ``asan_env()``), every
    request is served by the AddressSanitizer counterpart: ``auto`` and ``default`` by ``asan``,
    ``portable`` by ``asan-portable``, so that unchanged tests run against the sanitized code."""
    if variant == "auto":
        variant = os.environ.get("RNNSE_NATIVE", "auto")
    if os.environ.get("RNNSE_NATIVE_ASAN") == "1":
        variant = {"auto": "asan", "default": "asan", "portable": "asan-portable"}.get(variant, variant)
    with _load_lock:
        if variant in _loaded:
            return _loaded[variant]
        if variant == "auto":
            # the default build uses AVX2 when the build machine has it: on a CPU without it
            # (a copied build directory), take the portable library instead
            lib = _load_locked("default" if vector_supported("avx2") else "portable", rebuild)
            if not vector_supported(lib.simd):
                lib = _load_locked("portable", rebuild)
            _loaded["auto"] = lib
            return lib
        return _load_locked(variant, rebuild)


def _load_locked(variant: str, rebuild: bool) -> Library:
    if variant not in _loaded:
        path = build(variant) if rebuild else library_path(variant)
        if not os.path.exists(path):
            raise NativeBuildError(f"{path} does not exist (build it: scons)")
        _loaded[variant] = Library(path, variant)
    return _loaded[variant]
