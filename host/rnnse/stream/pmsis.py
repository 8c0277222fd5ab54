"""The PMSIS firmware (``scons target=pmsis``) on GVSoC's pulp-open, with the model in flash.

The firmware is built against the public PMSIS runtime, pulp-sdk, found through
``$RNNSE_PULP_SDK`` or in the cache folder of ``scripts/setup-pulp-sdk.sh``
(``${XDG_CACHE_HOME:-~/.cache}/rnnse/pulp-sdk``); it runs on the GVSoC of
:mod:`rnnse.stream.gvsoc`. It holds no model: each simulation starts with the model's flash image
(:mod:`rnnse.flash`) preloaded into the board's hyperflash, which the firmware reads at boot.

* :func:`launch`: the streaming application through GVSoC's proxy, as ``rnnse enhance --target
  pmsis`` uses it (the same mailbox bridge as the bare-metal port, docs/gvsoc.md);
* :func:`run_wav`: the file mode, a wav in and a wav out through the host file system;
* :func:`boot_check`: boot with an image and report the INFO the firmware sends (``rnnse flash``).

:func:`unavailable` gives the reason when the SDK or GVSoC is missing (the tests skip with it).
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import sys
import time
import wave

import numpy as np

from . import gvsoc as G
from .targets import TargetError

SDK_ENV = "RNNSE_PULP_SDK"
SDK_COMMIT = "d4b5bcdd6e416a402a6e22a3e04f29402424cb21"     # scripts/setup-pulp-sdk.sh
WAV_IN, WAV_OUT = "rnnse_in.wav", "rnnse_out.wav"            # firmware/targets/pmsis/main_wav.c


def sdk_home() -> str:
    v = os.environ.get(SDK_ENV, "").strip()
    if v:
        return os.path.abspath(v)
    cache = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "rnnse", "pulp-sdk")


def sdk_unavailable() -> str | None:
    """None when the pulp-sdk checkout is there, else why not (one sentence)."""
    home = sdk_home()
    if not os.path.isfile(os.path.join(home, "rtos", "pulpos", "common", "include", "pmsis.h")):
        where = f"${SDK_ENV}={home}" if os.environ.get(SDK_ENV, "").strip() else home
        return (f"pulp-sdk (the PMSIS runtime) not found at {where}: run scripts/setup-pulp-sdk.sh, or set "
                f"${SDK_ENV} to a pulp-sdk checkout (docs/board.md)")
    if shutil.which("riscv64-unknown-elf-gcc") is None:
        return "riscv64-unknown-elf-gcc not found (Debian: apt-get install gcc-riscv64-unknown-elf)"
    return None


def sdk_commit() -> str | None:
    """The pulp-sdk checkout's commit (benchmark records), or None."""
    import subprocess

    try:
        r = subprocess.run(["git", "-C", sdk_home(), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() or None


def unavailable() -> str | None:
    """None when the PMSIS firmware can be built and simulated, else why not."""
    return sdk_unavailable() or G.unavailable()


def build(*, portable: bool = False, l1_budget: int | None = None) -> dict:
    """``scons target=pmsis``; returns the ELF paths: 'app', 'wav', 'batch', 'platform_test'."""
    from .build import repo_root, run_scons

    reason = sdk_unavailable()
    if reason:
        raise G.GvsocError(reason)
    root = repo_root()
    args = ["target=pmsis"] + (["simd=portable"] if portable else [])
    if l1_budget is not None:
        args.append(f"l1_budget={int(l1_budget)}")
    run_scons(args, root)
    base = os.path.join(root, "build", "pmsis-portable" if portable else "pmsis")
    return {"app": os.path.join(base, "rnnse_app.elf"), "wav": os.path.join(base, "rnnse_wav.elf"),
            "batch": os.path.join(base, "rnnse_batch.elf"),
            "platform_test": os.path.join(base, "tests", "platform_test.elf")}


def image(qmodel_path: str) -> str:
    """The flash image of a quantized model (written under build/flash/)."""
    from ..flash import write_image

    return write_image(qmodel_path)[0]


@contextlib.contextmanager
def start_with_image(image_path: str, cores: int = G.MAX_CORES):
    """The streaming application on GVSoC with ``image_path`` in its flash: yields a pyserial port
    once the firmware announced itself (a refused image raises GvsocError with its reason)."""
    import serial

    elf = build()["app"]
    with G.start(elf, cores, flash_files=(image_path,)) as (sim, bridge, tcp):
        ser = serial.serial_for_url(f"socket://127.0.0.1:{tcp}", timeout=0)
        try:
            G._read_ready(ser, bridge, sim, time.monotonic() + G.START_TIMEOUT)
            yield ser
        finally:
            with contextlib.suppress(Exception):
                ser.close()


@contextlib.contextmanager
def launch(qmodel_path, cores: int = G.MAX_CORES, progress: bool = False):
    """Build the PMSIS firmware and the model's flash image, boot it on GVSoC and yield a pyserial
    port to it (``rnnse enhance --target pmsis``)."""
    reason = unavailable()
    if reason:
        raise G.GvsocError(reason)
    if qmodel_path is None:
        raise TargetError("the pmsis target reads its model from flash: give a model (--model, --scheme)")
    if progress:
        print("building the PMSIS firmware and the model's flash image ...", file=sys.stderr, flush=True)
    path = image(qmodel_path)
    with start_with_image(path, cores) as ser:
        yield ser


def boot_check(image_path: str, cores: int = G.MAX_CORES):
    """Boot the streaming firmware with ``image_path`` in flash; the INFO it answers to HELLO."""
    from .client import StreamClient

    with start_with_image(image_path, cores) as ser:
        c = StreamClient(ser, reply_timeout=30, max_retries=2)
        info = c.hello()
        c.bye()
    return info


def wav_bytes(pcm: np.ndarray) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.ascontiguousarray(pcm, "<i2").tobytes())
    return buf.getvalue()


def run_wav(image_path: str, wav: bytes, timeout: float = G.RUN_TIMEOUT) -> tuple[np.ndarray, dict]:
    """The file mode: ``wav`` (bytes of a wav file) in, (int16 samples out, {'hops', 'mean', 'max',
    'dsp', 'network'} cycles per hop) back. A refused input or image raises GvsocError."""
    elf = build()["wav"]
    res = G.run_elf(elf, inputs={WAV_IN: wav}, outputs=(WAV_OUT,), timeout=timeout, flash_files=(image_path,))
    trap = res.trap()
    if trap:
        raise G.GvsocError(f"rnnse_wav: {trap}")
    m = re.search(r"rnnse_wav: (\d+) samples, (\d+) hops, cycles per hop: mean (\d+), max (\d+), dsp (\d+), "
                  r"network (\d+)", res.output)
    if res.status != 0 or not m:
        err = re.search(r"rnnse_wav: ([^\n]*)", res.output)
        raise G.GvsocError(f"rnnse_wav: {err.group(1) if err else f'exit status {res.status}'}")
    out = res.files.get(WAV_OUT, b"")
    with wave.open(io.BytesIO(out), "rb") as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").copy()
    keys = ("samples", "hops", "mean", "max", "dsp", "network")
    return pcm, dict(zip(keys, (int(v) for v in m.groups())))
