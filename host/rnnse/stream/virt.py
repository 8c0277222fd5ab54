"""The RISC-V firmware on QEMU's ``virt`` machine, as an open pyserial port.

``with launch("models/lstm256/quant-mixed.npz") as ser: ...`` builds the firmware
(``scons target=virt``, :func:`rnnse.stream.build.build_firmware`), starts ::

    qemu-system-riscv32 -machine virt -smp CORES+1 -m 128M -bios none -kernel rnnse_app.elf
        -nographic -monitor none -serial tcp:127.0.0.1:PORT,server=on,wait=on
        -append "rnnse [icount]" [-icount shift=0]

on a free loopback port, connects (QEMU holds the guest until then), waits for the firmware's
unsolicited INFO (it announces readiness only after setting up its UART, so nothing the host
sends is lost), and yields the port. Hart 0 is the controller, harts 1..CORES the team.
With ``icount=True`` QEMU counts instructions deterministically (``-icount shift=0``) and the
firmware reports per-frame costs in instructions, exact per core (firmware/platform/virt/virt.h);
otherwise costs are nanoseconds of host time. QEMU is always stopped when the block ends; if it
dies while the block runs, :class:`VirtError` says how (its exit status and last output).

:func:`start` is the same without the build and with the :class:`Machine` itself (tests use it to
see QEMU's exit status or to kill it mid-stream).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from . import protocol as P
from .targets import TargetError

QEMU = "qemu-system-riscv32"
QEMU_PACKAGE = "qemu-system-misc"
GCC = "riscv64-unknown-elf-gcc"
TOOLCHAIN_PACKAGES = "gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf"
MAX_CORES = 8                  # PLAT_MAX_CORES of the firmware
START_TIMEOUT = 20.0           # QEMU listening + firmware booted and announced (s)
STOP_TIMEOUT = 5.0             # for each of: exit by itself, SIGTERM, SIGKILL (s)
RAM = "128M"

# QEMU's exit status as the firmware sets it (firmware/platform/virt/virt.h)
EXIT_STATUS = {0: "passed (BYE)", 3: "the network could not start", 4: "the stream ended without BYE",
               126: "no usable device tree", 127: "thread-local storage too large"}
TRAP_NAMES = {0: "misaligned instruction", 1: "instruction access fault", 2: "illegal instruction",
              3: "breakpoint", 4: "misaligned load", 5: "load access fault", 6: "misaligned store",
              7: "store access fault", 11: "environment call"}


class VirtError(TargetError):
    """QEMU or the cross toolchain is missing, QEMU did not start, or it died."""


def describe_exit(status: int | None) -> str:
    """Words for QEMU's exit status."""
    if status is None:
        return "still running"
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    if 64 <= status < 128 and status not in EXIT_STATUS:
        cause = status - 64
        return f"firmware trap: {TRAP_NAMES.get(cause, f'exception {cause}')}"
    return EXIT_STATUS.get(status, f"exit status {status}")


def check_qemu() -> str:
    path = shutil.which(QEMU)
    if not path:
        raise VirtError(f"{QEMU} not found: the virt target needs QEMU's RISC-V system emulator "
                        f"(Debian: apt-get install {QEMU_PACKAGE})")
    return path


def check_toolchain() -> None:
    gcc = shutil.which(GCC)
    if not gcc:
        raise VirtError(f"{GCC} not found: building the virt firmware needs the RISC-V cross compiler "
                        f"and picolibc (Debian: apt-get install {TOOLCHAIN_PACKAGES})")
    try:
        specs = subprocess.run([gcc, "-print-file-name=picolibc.specs"], capture_output=True, text=True,
                               timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise VirtError(f"cannot run {gcc}: {exc}") from None
    if not os.path.isabs(specs):
        raise VirtError(f"{GCC} has no picolibc (picolibc.specs not found): Debian: apt-get install "
                        f"picolibc-riscv64-unknown-elf")


def build(qmodel_path=None, progress: bool = False) -> str:
    """Build the virt firmware linked against ``qmodel_path`` (None: passthrough); its ELF path."""
    from .build import build_firmware

    check_toolchain()
    return build_firmware("virt", qmodel_path, progress=progress)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def qemu_command(elf: str, port: int, cores: int = MAX_CORES, icount: bool = False) -> list:
    cmd = [QEMU, "-machine", "virt", "-smp", str(cores + 1), "-m", RAM, "-bios", "none", "-kernel", elf,
           "-nographic", "-monitor", "none", "-serial", f"tcp:127.0.0.1:{port},server=on,wait=on",
           "-append", "rnnse icount" if icount else "rnnse"]
    if icount:
        cmd += ["-icount", "shift=0"]
    return cmd


class Machine:
    """A running QEMU: ``port`` (pyserial, non-blocking), ``proc``, ``info`` (the readiness INFO)."""

    def __init__(self, proc: subprocess.Popen, log, port, tcp_port: int, info: P.Info):
        self.proc, self._log, self.port, self.tcp_port, self.info = proc, log, port, tcp_port, info

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_exit(self, timeout: float) -> int | None:
        """QEMU's exit status, waiting at most ``timeout`` s (None: still running)."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def log(self, limit: int = 2000) -> str:
        """The last ``limit`` characters QEMU wrote to stdout/stderr."""
        try:
            self._log.flush()
            self._log.seek(0)
            text = self._log.read().decode(errors="replace")
        except (OSError, ValueError):
            return ""
        return text[-limit:].strip()

    def kill(self) -> None:
        """Kill QEMU at once (tests: a device that dies mid-stream)."""
        if self.alive():
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> int | None:
        """Close the port and end QEMU: a moment to exit by itself (after BYE), then SIGTERM,
        then SIGKILL; every wait bounded. Returns the exit status."""
        try:
            self.port.close()
        except Exception:   # noqa: BLE001 - closing a dead socket may fail in many ways
            pass
        status = self.wait_exit(0.2)
        if status is None:
            self.proc.terminate()
            status = self.wait_exit(STOP_TIMEOUT)
        if status is None:
            self.proc.kill()
            status = self.wait_exit(STOP_TIMEOUT)
        return status


def _read_ready(port, proc: subprocess.Popen, deadline: float) -> P.Info:
    """Wait for the firmware's unsolicited INFO; ERROR (network failure) or exit -> VirtError."""
    rx = P.Receiver()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise VirtError(f"QEMU exited before the firmware was ready ({describe_exit(proc.returncode)})")
        try:
            data = port.read(4096)
        except Exception as exc:   # noqa: BLE001 - pyserial raises several types
            if _wait(proc, 1.0) is not None:
                raise VirtError(f"QEMU exited before the firmware was ready "
                                f"({describe_exit(proc.returncode)})") from None
            raise VirtError(f"connection to QEMU lost before the firmware was ready: {exc}") from None
        if not data:
            time.sleep(0.005)
            continue
        for result, frame in rx.feed(data):
            if result != P.FRAME:
                continue
            if frame.type == P.INFO:
                return _decoded(P.decode_info, frame.payload)
            if frame.type == P.ERROR:
                code, _, text = _decoded(P.decode_error, frame.payload)
                raise VirtError(f"the firmware could not start: {P.ERROR_NAMES.get(code, code)}: {text}")
    raise VirtError("the firmware did not announce itself within "
                    f"{START_TIMEOUT:g} s of QEMU starting")


def _wait(proc: subprocess.Popen, timeout: float) -> int | None:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def _spawn(elf: str, cores: int, icount: bool):
    """Start QEMU on a free port and connect; retries when another process took the port."""
    import serial

    for attempt in range(3):
        port_no = _free_port()
        log = tempfile.TemporaryFile()
        try:
            proc = subprocess.Popen(qemu_command(elf, port_no, cores, icount), stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            log.close()
            raise VirtError(f"cannot start {QEMU}: {exc}") from None
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                return proc, log, serial.serial_for_url(f"socket://127.0.0.1:{port_no}", timeout=0), port_no, \
                    deadline
            except (serial.SerialException, OSError, ValueError):
                pass
            status = proc.poll()
            if status is not None:
                log.seek(0)
                text = log.read().decode(errors="replace").strip()
                log.close()
                if "bind" in text.lower() or "address already in use" in text.lower():
                    break       # port taken in the meantime: try another one
                raise VirtError(f"{QEMU} exited at start ({describe_exit(status)}): {text[-1500:]}")
            if time.monotonic() > deadline:
                proc.kill()
                _wait(proc, STOP_TIMEOUT)
                log.close()
                raise VirtError(f"{QEMU} did not listen on 127.0.0.1:{port_no} within {START_TIMEOUT:g} s")
            time.sleep(0.02)
    raise VirtError(f"{QEMU} could not bind a loopback port (3 tries)")


@contextlib.contextmanager
def start(elf: str, cores: int = MAX_CORES, icount: bool = False):
    """Start QEMU on a built firmware image and yield a :class:`Machine` (see the module doc)."""
    if not isinstance(cores, int) or not 1 <= cores <= MAX_CORES:
        raise VirtError(f"cores must be an integer within 1..{MAX_CORES}, got {cores!r}")
    if not os.path.isfile(elf):
        raise VirtError(f"{elf}: no such firmware image (build it: scons target=virt)")
    check_qemu()
    proc, log, port, port_no, deadline = _spawn(elf, cores, icount)
    machine = None
    try:
        try:
            info = _read_ready(port, proc, deadline)
        except VirtError as exc:
            tail = _log_tail(log)
            raise VirtError(f"{exc}{': ' + tail if tail else ''}") from None
        machine = Machine(proc, log, port, port_no, info)
        try:
            yield machine
        except Exception as exc:
            status = _wait(proc, 0.5)
            if status is not None:   # the failure is QEMU's end: say so
                tail = machine.log(1500)
                raise VirtError(f"QEMU exited while the stream was open ({describe_exit(status)})"
                                f"{': ' + tail if tail else ''}; the host saw: {exc}") from exc
            raise
    finally:
        if machine is not None:
            machine.stop()
        else:
            try:
                port.close()
            except Exception:   # noqa: BLE001
                pass
            if proc.poll() is None:
                proc.kill()
                _wait(proc, STOP_TIMEOUT)
        log.close()


def _log_tail(log, limit: int = 1500) -> str:
    try:
        log.flush()
        log.seek(0)
        return log.read().decode(errors="replace")[-limit:].strip()
    except (OSError, ValueError):
        return ""


@contextlib.contextmanager
def launch(qmodel_path=None, cores: int = MAX_CORES, icount: bool = False, *, progress: bool = False):
    """Build the firmware for ``qmodel_path`` (None: the passthrough network), start it on QEMU
    with ``cores`` worker harts and yield the open pyserial port (see the module doc)."""
    if not isinstance(cores, int) or not 1 <= cores <= MAX_CORES:
        raise VirtError(f"cores must be an integer within 1..{MAX_CORES}, got {cores!r}")
    check_qemu()
    elf = build(qmodel_path, progress=progress)
    with start(elf, cores=cores, icount=icount) as machine:
        yield machine.port


def _decoded(decode, payload: bytes):
    """A start-up message's payload; one that does not make sense (behind a valid CRC) is a VirtError."""
    try:
        return decode(payload)
    except P.ProtocolError as exc:
        raise VirtError(f"the firmware's start-up message is malformed: {exc}") from None
