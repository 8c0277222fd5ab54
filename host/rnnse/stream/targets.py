"""Where the firmware runs, as an open pyserial port: ``open_target(spec, qmodel_path)``.

* ``host``             build the native application (``scons target=host``) and start it on a free
                       loopback TCP port (``socket://127.0.0.1:PORT``);
* ``virt``             the RISC-V firmware on QEMU's virt machine (``rnnse.stream.virt.launch``);
* ``gvsoc``            the pulp-open firmware on the GVSoC simulator, through its proxy socket
                       (``rnnse.stream.gvsoc.launch``; docs/gvsoc.md);
* ``pmsis``            the PMSIS firmware (pulp-sdk's runtime) on GVSoC, the model read from its
                       simulated flash (``rnnse.stream.pmsis.launch``; docs/board.md);
* ``serial:PORT[@BAUD]`` a device on a serial port (default 921600 baud);
* any pyserial URL     ``socket://HOST:PORT``, ``rfc2217://HOST:PORT``, ... (a device already running).
"""
from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import time

DEFAULT_BAUD = 921600
START_TIMEOUT = 10.0


class TargetError(RuntimeError):
    """The target could not be built, started or opened."""


def _open_url(url: str, **kw):
    import serial

    try:
        return serial.serial_for_url(url, **kw)
    except (serial.SerialException, ValueError, OSError) as exc:
        raise TargetError(f"cannot open {url}: {exc}") from None


def describe(spec: str) -> str:
    if spec == "host":
        return "host (native build on a loopback TCP port)"
    if spec == "virt":
        return "virt (RISC-V firmware on QEMU)"
    if spec == "gvsoc":
        return "gvsoc (pulp-open firmware on the GVSoC simulator)"
    if spec == "pmsis":
        return "pmsis (PMSIS firmware on GVSoC's pulp-open, the model booted from its flash)"
    if spec == "pmsis-file":
        return "pmsis-file (PMSIS firmware's file mode on GVSoC: wav in, wav out by semihosting)"
    return spec


def parse_serial(spec: str) -> tuple[str, int]:
    """'serial:PORT[@BAUD]' -> (PORT, BAUD)."""
    rest = spec[len("serial:"):]
    port, _, baud = rest.partition("@")
    if not port:
        raise TargetError(f"{spec!r}: give a port, as in serial:/dev/ttyUSB0 or serial:/dev/ttyUSB0@921600")
    if baud:
        try:
            b = int(baud)
        except ValueError:
            b = 0
        if b <= 0:
            raise TargetError(f"{spec!r}: the baud rate must be a positive integer, got {baud!r}")
        return port, b
    return port, DEFAULT_BAUD


@contextlib.contextmanager
def start_host_app(exe: str, cores: int = 1, frame_timeout_ms: int | None = None, idle_timeout_s: int | None = None,
                   once: bool = False):
    """Start ``rnnse_app --port 0`` and yield (process, port number); stops it on exit. The app
    serves one connection after the other (a BYE or ``idle_timeout_s`` of silence, 30 s unless
    given, ends a connection), or only the first with ``once``."""
    cmd = [exe, "--port", "0", "--exit-with-parent", "--cores", str(cores)]
    if frame_timeout_ms is not None:
        cmd += ["--frame-timeout-ms", str(int(frame_timeout_ms))]
    if idle_timeout_s is not None:
        cmd += ["--idle-timeout-s", str(int(idle_timeout_s))]
    if once:
        cmd.append("--once")
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        raise TargetError(f"cannot start {exe}: {exc}") from None
    try:
        line = b""
        deadline = time.monotonic() + START_TIMEOUT
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
                if proc.poll() is not None:
                    raise TargetError(_start_failure(exe, proc))
                raise TargetError(f"{exe} did not report its port within {START_TIMEOUT:g} s")
            c = os.read(proc.stdout.fileno(), 1)
            if not c:       # its standard output closed: it is exiting
                raise TargetError(_start_failure(exe, proc))
            line += c
        text = line.decode(errors="replace").strip()
        try:
            port = int(text.rsplit(":", 1)[1])
        except (IndexError, ValueError):
            raise TargetError(f"{exe}: unexpected first line {text!r}") from None
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        for f in (proc.stdout, proc.stderr):
            if f is not None:
                f.close()


def _start_failure(exe: str, proc) -> str:
    """Why the app stopped before listening, once it has exited (waited for, START_TIMEOUT at most):
    its exit status and what it wrote to standard error, on one line."""
    try:
        status = proc.wait(timeout=START_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
        return f"{exe} closed its output before listening and did not exit within {START_TIMEOUT:g} s (killed)"
    err = " / ".join(t for t in proc.stderr.read().decode(errors="replace").strip().splitlines() if t.strip())
    return f"{exe} exited before listening ({_status_text(status)}): {err or 'no message'}"


def _status_text(status: int) -> str:
    """'exit status 3', or 'killed by signal SIGSEGV' for a negative Popen return code."""
    if status >= 0:
        return f"exit status {status}"
    try:
        return f"killed by signal {signal.Signals(-status).name}"
    except ValueError:
        return f"killed by signal {-status}"


@contextlib.contextmanager
def open_target(spec: str, qmodel_path=None, *, cores: int | None = None, progress: bool = False,
                frame_timeout_ms: int | None = None, icount: bool = False):
    """Yield an open pyserial port to the firmware named by ``spec`` (see the module doc)."""
    if spec == "host":
        from .build import build_firmware

        exe = build_firmware("host", qmodel_path, progress=progress)
        with start_host_app(exe, cores=cores or 1, frame_timeout_ms=frame_timeout_ms) as (_, port):
            ser = _open_url(f"socket://127.0.0.1:{port}", timeout=0)
            try:
                yield ser
            finally:
                ser.close()
    elif spec == "virt":
        try:
            from . import virt
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.endswith("virt"):
                raise TargetError("the virt target is not available: this checkout has no "
                                  "rnnse.stream.virt (the QEMU launcher)") from None
            raise
        with virt.launch(qmodel_path, cores=cores or 8, icount=icount) as ser:
            yield ser
    elif spec == "gvsoc":
        from . import gvsoc

        with gvsoc.launch(qmodel_path, cores=cores or gvsoc.MAX_CORES, progress=progress) as ser:
            yield ser
    elif spec == "pmsis":
        from . import pmsis

        with pmsis.launch(qmodel_path, cores=cores or pmsis.G.MAX_CORES, progress=progress) as ser:
            yield ser
    elif spec.startswith("serial:"):
        port, baud = parse_serial(spec)
        ser = _open_url(port, baudrate=baud, timeout=0)
        try:
            yield ser
        finally:
            ser.close()
    elif "://" in spec:
        ser = _open_url(spec, timeout=0)
        try:
            yield ser
        finally:
            ser.close()
    else:
        raise TargetError(f"unknown target {spec!r}: use host, virt, gvsoc, pmsis, pmsis-file, serial:PORT[@BAUD] "
                          f"or a pyserial URL "
                          f"(socket://HOST:PORT, rfc2217://HOST:PORT, ...)")
