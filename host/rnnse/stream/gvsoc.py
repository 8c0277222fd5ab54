"""The pulp-open firmware (``scons target=pulp``) on GVSoC, the PULP simulator.

GVSoC is not a Python package: ``scripts/setup-gvsoc.sh`` builds it from its public sources into
a cache folder (``${XDG_CACHE_HOME:-~/.cache}/rnnse/gvsoc``, or ``$RNNSE_GVSOC_HOME``) with a
wrapper launcher, ``bin/gvsoc``, that rnnse finds there by itself. The environment variable
``RNNSE_GVSOC`` overrides it (a launcher that runs with GVSoC's Python packages: the wrapper, or a
command of one's own); ``gvsoc`` on ``PATH`` comes last. docs/gvsoc.md says how.
:func:`unavailable` gives the reason when there is none (the tests skip with it).

Three ways to run a program, each bounded in time and always cleaning up after itself:

* :func:`run_elf`: one simulation of an ELF (the platform test program, for instance), with input
  files placed in its working directory (the firmware reads and writes them by semihosting) and
  its output files and console text returned;
* :func:`run_batch`: the batch program of a model (``rnnse_batch.elf``, firmware/targets/pulp/
  batch_pulp.c): network frames, whole DSP + network frames, or per-layer measurements;
* :func:`launch`: the streaming application (``rnnse_app.elf``) driven through GVSoC's proxy
  socket, exposed as a pyserial port on a loopback TCP port, so that ``rnnse enhance --target
  gvsoc`` streams through the simulated chip with the protocol of docs/protocol.md.

Streaming. GVSoC's proxy listens on a TCP port on *every* interface of the machine, and anyone who
reaches it can read and write the simulated memory. rnnse therefore starts GVSoC in a private
network namespace (``unshare --net``, unprivileged through a user namespace), whose only interface
is its own loopback; a helper inside it connects to the proxy and hands the connected socket back
over a Unix socket pair. Nothing outside that namespace can reach the proxy. Where namespaces are
not available the launch fails with that reason, unless ``RNNSE_GVSOC_NETNS=off`` accepts the
proxy on the host's network (then keep the port firewalled).

The firmware's side of the stream is a mailbox in L2 (firmware/platform/pulp/mailbox.h): when it
needs input, or its output buffer is full, it pauses the simulation (semihosting ``syscall_stop``);
the bridge reads the mailbox through the proxy, hands the output to the TCP client, puts what the
client sent into the input buffer (never more than fits, never dropping a byte) and resumes it.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from . import protocol as P
from .targets import TargetError

ENV_VAR = "RNNSE_GVSOC"
SRC_ENV_VAR = "RNNSE_GVSOC_SRC"          # optional: GVSoC's source checkout (commits in benchmarks)
HOME_ENV_VAR = "RNNSE_GVSOC_HOME"        # where scripts/setup-gvsoc.sh puts GVSoC
NETNS_ENV_VAR = "RNNSE_GVSOC_NETNS"      # "off": run the proxy on the host's network
TARGET = "pulp-open"
NM = "riscv64-unknown-elf-nm"
PREPARE_TIMEOUT = 180.0                  # GVSoC's configuration step (s)
RUN_TIMEOUT = 900.0                      # default bound of one simulation (s)
START_TIMEOUT = 60.0                     # proxy up, firmware announced (s)
STOP_TIMEOUT = 5.0
MAX_CORES = 8
NETNS_PROXY_PORT = 42951                 # inside the private namespace every port is free
FLASH = "hyperflash"                     # pulp-open's board flash (readfs preloaded by the launcher)

# firmware/platform/pulp/mailbox.h
MB_MAGIC = 0x424D5352
MB_VERSION = 1
MB_HEADER = 48
MB_READ, MB_FLUSH = 1, 2
(MB_OFF_MAGIC, MB_OFF_VERSION, MB_OFF_IN_CAP, MB_OFF_OUT_CAP, MB_OFF_IN_LEN, MB_OFF_OUT_LEN, MB_OFF_REASON,
 MB_OFF_TIMEOUT, MB_OFF_CLOSED, MB_OFF_CORES, MB_OFF_STOPS) = range(0, 44, 4)

# firmware/targets/pulp/batch_pulp.c
BATCH_IN_MAGIC = 0x49424E52
BATCH_OUT_MAGIC = 0x4F424E52
BATCH_VERSION = 1
BATCH_NET, BATCH_CHAIN, BATCH_LAYERS, BATCH_LAYER_IO = 1, 2, 3, 4
MAXPH = 24
STAT_NET = 3
STAT_TEAM = STAT_NET + 1 + MAXPH
BATCH_STATS = STAT_TEAM + 1 + 2 * MAXPH
BATCH_LAYER_FIELDS = 12
VARIANTS = ("streamed", "compute", "dma", "resident")
BATCH_ERRORS = {-100: "semihosting file I/O failed", -101: "bad batch input",
                -1: "invalid argument", -2: "not a model descriptor", -3: "descriptor version",
                -4: "descriptor checksum mismatch", -5: "inconsistent model descriptor",
                -6: "L1 budget too small"}


class GvsocError(TargetError):
    """GVSoC is missing, could not run the program, or the program failed."""


# ---- finding GVSoC ------------------------------------------------------------------------------

def home() -> str:
    """The folder of scripts/setup-gvsoc.sh: src/ (checkout), install/, venv/, bin/gvsoc (wrapper)."""
    v = os.environ.get(HOME_ENV_VAR, "").strip()
    if v:
        return os.path.abspath(v)
    cache = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "rnnse", "gvsoc")


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def find() -> str | None:
    """The GVSoC launcher command: $RNNSE_GVSOC (a path or a command name), else the wrapper of
    scripts/setup-gvsoc.sh, else ``gvsoc`` on PATH."""
    v = os.environ.get(ENV_VAR, "").strip()
    if v:
        if os.sep in v:
            return os.path.abspath(v) if _executable(v) else None
        return shutil.which(v)
    wrapper = os.path.join(home(), "bin", "gvsoc")
    if _executable(wrapper):
        return wrapper
    return shutil.which("gvsoc")


def unavailable() -> str | None:
    """None when GVSoC can be used, else why not (one sentence)."""
    v = os.environ.get(ENV_VAR, "").strip()
    if v and find() is None:
        return f"${ENV_VAR}={v} is not an executable GVSoC launcher (see docs/gvsoc.md)"
    if find() is None:
        return ("GVSoC not found: run scripts/setup-gvsoc.sh (it builds GVSoC into "
                f"{os.path.join(home(), '')}), or set ${ENV_VAR} to a GVSoC launcher (docs/gvsoc.md)")
    if shutil.which(NM) is None:
        return f"{NM} not found (Debian: apt-get install binutils-riscv64-unknown-elf)"
    return None


def require() -> str:
    reason = unavailable()
    if reason:
        raise GvsocError(reason)
    return find()


def _git_commits(path: str) -> dict:
    """{'gvsoc': HEAD, submodule path: commit, ...} of the git checkout holding ``path``, or {}."""
    try:
        top = subprocess.run(["git", "-C", path, "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, timeout=10)
        if top.returncode != 0:
            return {}
        root = top.stdout.strip()
        head = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
        subs = subprocess.run(["git", "-C", root, "submodule", "status"], capture_output=True, text=True,
                              timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if not head:
        return {}
    out = {"gvsoc": head}
    for line in subs.splitlines():
        parts = line.strip().lstrip("+-U").split()
        if len(parts) >= 2:
            out[parts[1]] = parts[0]
    return out


def gvsoc_commits() -> dict:
    """Commits of the GVSoC sources (for benchmark records): from $RNNSE_GVSOC_SRC (which must be a
    git checkout), else from the checkout of scripts/setup-gvsoc.sh beside the launcher's folder
    (``src/`` next to ``bin/gvsoc``), else from a git checkout holding the launcher (GVSoC's default
    install directory is inside its checkout); {} when none is found."""
    src = os.environ.get(SRC_ENV_VAR, "").strip()
    if src:
        out = _git_commits(src) if os.path.isdir(src) else {}
        if not out:
            raise GvsocError(f"${SRC_ENV_VAR}={src} is not a git checkout of GVSoC (benchmark records take "
                             f"their GVSoC commits from it)")
        return out
    exe = find()
    if not exe:
        return {}
    d = os.path.dirname(os.path.realpath(exe))
    cands = [os.path.join(os.path.dirname(d), "src")]
    for _ in range(4):
        cands.append(d)
        d = os.path.dirname(d)
    for c in cands:
        if os.path.isdir(c):
            out = _git_commits(c)
            if out:
                return out
    return {}


# ---- building -----------------------------------------------------------------------------------

def build(qmodel_path=None, *, portable: bool = False, l1_budget: int | None = None) -> dict:
    """``scons target=pulp [model=...]``; returns the ELF paths: 'app', 'batch' (with a model),
    'platform_test'."""
    from .build import export_model, repo_root, run_scons

    if shutil.which("riscv64-unknown-elf-gcc") is None:
        raise GvsocError("riscv64-unknown-elf-gcc not found (Debian: apt-get install gcc-riscv64-unknown-elf "
                         "picolibc-riscv64-unknown-elf)")
    root = repo_root()
    args = ["target=pulp"]
    name = "passthrough"
    if qmodel_path is not None:
        model_dir = export_model(qmodel_path, root)
        name = os.path.basename(model_dir)
        args.append(f"model={os.path.relpath(model_dir, root)}")
    if portable:
        args.append("simd=portable")
    if l1_budget is not None:
        args.append(f"l1_budget={int(l1_budget)}")
    run_scons(args, root)
    base = os.path.join(root, "build", "pulp-portable" if portable else "pulp")
    out = {"app": os.path.join(base, name, "rnnse_app.elf"),
           "platform_test": os.path.join(base, "tests", "platform_test.elf")}
    if qmodel_path is not None:
        out["batch"] = os.path.join(base, name, "rnnse_batch.elf")
    return out


def symbol_address(elf: str, name: str) -> int:
    """Address of a symbol of an ELF (binutils' nm)."""
    try:
        r = subprocess.run([NM, elf], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GvsocError(f"cannot run {NM}: {exc}") from None
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16)
    raise GvsocError(f"{elf} has no symbol {name}: not an rnnse pulp-open program")


# ---- one simulation ---------------------------------------------------------------------------

@dataclasses.dataclass
class Prepared:
    workdir: str
    config_path: str
    launcher: str
    env: dict


def prepare(elf: str, workdir: str, *, proxy_port: int | None = None, flash_files=(),
            timeout: float = PREPARE_TIMEOUT) -> Prepared:
    """GVSoC's configuration for running ``elf`` on pulp-open in ``workdir``; with ``proxy_port``
    the proxy socket is enabled on that port; ``flash_files``: files preloaded into the read-only
    file system (readfs) of the board's hyperflash (GVSoC's launcher builds the flash image in
    ``workdir``, the simulation starts with it)."""
    gv = require()
    if not os.path.isfile(elf):
        raise GvsocError(f"{elf}: no such program (build it with scons target=pulp)")
    cmd = [gv, f"--target={TARGET}", "--binary", os.path.abspath(elf), "--work-dir", workdir]
    for path in flash_files:
        if not os.path.isfile(path):
            raise GvsocError(f"{path}: no such file to preload into the hyperflash")
        cmd.append(f"--flash-property={os.path.abspath(path)}@{FLASH}:readfs:files")
    cmd += (["image", "flash"] if flash_files else []) + ["prepare"]
    try:
        r = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise GvsocError(f"GVSoC's configuration step did not finish within {timeout:.0f} s") from None
    except OSError as exc:
        raise GvsocError(f"cannot run {gv}: {exc}") from None
    path = os.path.join(workdir, "gvsoc_config.json")
    if r.returncode != 0 or not os.path.exists(path):
        missing = re.search(r"No module named '([^']+)'", r.stdout + r.stderr)
        if missing:
            raise GvsocError(f"{gv} runs without GVSoC's Python packages (no module {missing.group(1)!r}): use "
                             f"the wrapper of scripts/setup-gvsoc.sh ({os.path.join(home(), 'bin', 'gvsoc')}), or "
                             f"point ${ENV_VAR} at a script that puts GVSoC's virtual environment first on PATH "
                             f"(docs/gvsoc.md)")
        tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-15:])
        raise GvsocError(f"GVSoC could not configure {TARGET} (exit {r.returncode}):\n{tail}")
    with open(path) as f:
        config = json.load(f)
    gvc = config["target"]["gvsoc"]
    dirs = gvc.get("include_dirs") or []
    if not dirs:
        raise GvsocError("GVSoC's configuration names no installation directory (include_dirs)")
    install = os.path.dirname(os.path.abspath(dirs[0]))
    launcher = os.path.join(install, "bin", gvc.get("launchers", {}).get("default", "gvsoc_launcher"))
    if not os.access(launcher, os.X_OK):
        raise GvsocError(f"GVSoC's launcher {launcher} is missing")
    gvc["proxy"] = {"enabled": proxy_port is not None, "port": int(proxy_port or 0)}
    with open(path, "w") as f:
        json.dump(config, f)
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.path.join(install, "lib") + (":" + env["LD_LIBRARY_PATH"]
                                                              if env.get("LD_LIBRARY_PATH") else "")
    env["PATH"] = os.path.join(install, "bin") + ":" + env.get("PATH", "/usr/bin:/bin")
    return Prepared(workdir, path, launcher, env)


@dataclasses.dataclass
class RunResult:
    status: int                 # GVSoC's exit status (the firmware's main() return value)
    output: str                 # what the firmware and GVSoC printed
    files: dict                 # name -> bytes of the requested output files (absent ones missing)

    def trap(self) -> str | None:
        m = re.search(r"rnnse: trap on hart [^\n]*", self.output)
        return m.group(0) if m else None


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(timeout=STOP_TIMEOUT)
            return
        except subprocess.TimeoutExpired:
            continue


def run_elf(elf: str, *, inputs: dict | None = None, outputs=(), timeout: float = RUN_TIMEOUT,
            flash_files=()) -> RunResult:
    """Simulate ``elf`` on pulp-open until it ends (at most ``timeout`` s); ``inputs``: files
    (name -> bytes) put in its working directory, ``outputs``: names of files to return,
    ``flash_files``: files preloaded into the hyperflash's readfs (see :func:`prepare`)."""
    with tempfile.TemporaryDirectory(prefix="rnnse-gvsoc-") as wd:
        for name, data in (inputs or {}).items():
            with open(os.path.join(wd, name), "wb") as f:
                f.write(data)
        prep = prepare(elf, wd, flash_files=flash_files)
        log_path = os.path.join(wd, "rnnse-gvsoc.log")
        with open(log_path, "wb") as log:
            try:
                proc = subprocess.Popen([prep.launcher, f"--config={prep.config_path}"], cwd=wd, env=prep.env,
                                        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
            except OSError as exc:
                raise GvsocError(f"cannot start {prep.launcher}: {exc}") from None
            try:
                status = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                with open(log_path, "rb") as f:
                    tail = f.read()[-2000:].decode(errors="replace")
                raise GvsocError(f"the simulation of {os.path.basename(elf)} did not end within {timeout:.0f} s; "
                                 f"last output:\n{tail}") from None
            finally:
                _kill_group(proc)
        with open(log_path, "rb") as f:
            output = f.read().decode(errors="replace")
        files = {}
        for name in outputs:
            p = os.path.join(wd, name)
            if os.path.exists(p):
                with open(p, "rb") as f:
                    files[name] = f.read()
        return RunResult(status, output, files)


def parse_checks(output: str) -> tuple[dict, dict]:
    """The platform test program's lines: ({check: (ok, detail)}, {measure: value})."""
    checks, measures = {}, {}
    for line in output.splitlines():
        m = re.match(r"^(\w+): (ok|FAIL)(?: (.*))?$", line.strip())
        if m:
            checks[m.group(1)] = (m.group(2) == "ok", m.group(3) or "")
            continue
        m = re.match(r"^measure: (.*)$", line.strip())
        if m:
            words = m.group(1).split()
            for k, v in zip(words[::2], words[1::2]):
                try:
                    measures[k] = int(v)
                except ValueError:
                    pass
    return checks, measures


# ---- the batch program --------------------------------------------------------------------------

def _batch_header(mode: int, cores: int, frames: int, arg: int, arg2: int = 0) -> bytes:
    return struct.pack("<8I", BATCH_IN_MAGIC, BATCH_VERSION, mode, cores, frames, arg, arg2, 0)


def run_batch(elf: str, mode: int, cores: int, frames: int, arg: int, payload: bytes,
              timeout: float = RUN_TIMEOUT, arg2: int = 0, flash_files=()) -> tuple[bytes, str]:
    """Run the batch program (the pulp port's, or the PMSIS one with the model in ``flash_files``);
    returns (records bytes, console output). Errors -> GvsocError."""
    if not 1 <= cores <= MAX_CORES:
        raise GvsocError(f"cores must be within 1..{MAX_CORES}, got {cores}")
    res = run_elf(elf, inputs={"rnnse_in.bin": _batch_header(mode, cores, frames, arg, arg2) + payload},
                  outputs=("rnnse_out.bin",), timeout=timeout, flash_files=flash_files)
    trap = res.trap()
    if trap:
        raise GvsocError(f"{os.path.basename(elf)}: {trap}")
    boot = re.search(r"rnnse_batch: ([^\n]*)", res.output)
    if boot and res.status != 0:
        raise GvsocError(f"{os.path.basename(elf)}: {boot.group(1)}")
    data = res.files.get("rnnse_out.bin", b"")
    if len(data) < 32:
        raise GvsocError(f"{os.path.basename(elf)} wrote no result (exit {res.status}); output:\n"
                         f"{res.output[-1500:]}")
    final = struct.unpack_from("<8I", data, len(data) - 32)
    if final[0] != BATCH_OUT_MAGIC or final[1] != BATCH_VERSION:
        raise GvsocError(f"{os.path.basename(elf)}: malformed result file")
    status = struct.unpack("<i", struct.pack("<I", final[2]))[0]
    if status != 0:
        raise GvsocError(f"{os.path.basename(elf)} failed: {BATCH_ERRORS.get(status, f'status {status}')}")
    if len(data) < 64 or struct.unpack_from("<I", data, 0)[0] != BATCH_OUT_MAGIC:
        raise GvsocError(f"{os.path.basename(elf)}: malformed result file")
    return data[32:len(data) - 32], res.output


def net_frames(elf: str, mags: np.ndarray, cores: int = MAX_CORES, n_out: int = P.N_BINS,
               timeout: float = RUN_TIMEOUT, flash_files=()):
    """Network frames: mags (frames, n_in) FP32 -> (masks (frames, n_out) FP32, stats (frames, BATCH_STATS))."""
    mags = np.ascontiguousarray(mags, dtype="<f4")
    body, _ = run_batch(elf, BATCH_NET, cores, len(mags), 0, mags.tobytes(), timeout, flash_files=flash_files)
    rec = np.dtype([("mask", "<f4", (n_out,)), ("stats", "<u4", (BATCH_STATS,))])
    r = np.frombuffer(body, rec, count=len(mags))
    return r["mask"].copy(), r["stats"].copy()


def chain_frames(elf: str, hops: np.ndarray, cores: int = MAX_CORES, timeout: float = RUN_TIMEOUT,
                 flash_files=()):
    """DSP + network per hop: hops (n, 100) int16 -> (out (n, 100) int16, masks, mags, stats)."""
    hops = np.ascontiguousarray(hops, dtype="<i2")
    body, _ = run_batch(elf, BATCH_CHAIN, cores, len(hops), 0, hops.tobytes(), timeout, flash_files=flash_files)
    rec = np.dtype([("out", "<i2", (P.HOP,)), ("mask", "<f4", (P.N_BINS,)), ("mag", "<f4", (P.N_BINS,)),
                    ("stats", "<u4", (BATCH_STATS,))])
    r = np.frombuffer(body, rec, count=len(hops))
    return r["out"].copy(), r["mask"].copy(), r["mag"].copy(), r["stats"].copy()


LAYER_FIELDS = ("index", "kind", "prec", "cores", "variant", "cycles", "rec_bytes", "n_in", "n_out", "tile_bytes",
                "busiest", "dma_cycles")


def layer_measurements(elf: str, cores: int = MAX_CORES, reps: int = 2, timeout: float = RUN_TIMEOUT,
                       flash_files=()) -> list:
    """Per-layer cycle measurements (batch mode LAYERS): a list of dicts (LAYER_FIELDS)."""
    body, _ = run_batch(elf, BATCH_LAYERS, cores, 0, reps, b"", timeout, flash_files=flash_files)
    a = np.frombuffer(body, "<u4").reshape(-1, BATCH_LAYER_FIELDS)
    out = []
    for row in a:
        d = dict(zip(LAYER_FIELDS, (int(v) for v in row)))
        d["variant"] = VARIANTS[d["variant"]] if d["variant"] < len(VARIANTS) else str(d["variant"])
        out.append(d)
    return out


def layer_io(elf: str, index: int, cases: list, cores: int = MAX_CORES, max_tile: int = 0,
             timeout: float = RUN_TIMEOUT, flash_files=()) -> bytes:
    """Run layer ``index`` of the linked model on given inputs (batch mode LAYER_IO). ``cases``:
    a list of byte strings, each x | h | c (see batch_pulp.c); ``max_tile``: records per DMA tile
    (0: as many as fit); returns the concatenated outputs (y or h' | c per case)."""
    payload = b"".join(cases)
    body, _ = run_batch(elf, BATCH_LAYER_IO, cores, len(cases), index, payload, timeout, arg2=max_tile,
                        flash_files=flash_files)
    return body


# ---- the proxy socket -------------------------------------------------------------------------

class ProxyClient:
    """GVSoC's proxy protocol: ``req=ID;cmd=...`` lines, replies ``req=ID[;msg=...|;payload=N]``,
    events ``req=-1;msg=syscall_stop`` (the target paused itself) and ``req=-1;exit=N``."""

    def __init__(self, sock: socket.socket, timeout: float = 30.0):
        self.sock, self.timeout, self.buf, self.req = sock, timeout, b"", 0
        self.events: list = []
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _fill(self, deadline: float | None) -> None:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise GvsocError("GVSoC's proxy did not answer in time")
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            raise GvsocError("GVSoC's proxy did not answer in time")
        with contextlib.suppress(OSError, AttributeError):
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        data = self.sock.recv(1 << 16)
        if not data:
            raise GvsocError("GVSoC closed its proxy connection (the simulator exited)")
        self.buf += data

    def _line(self, deadline) -> str:
        while b"\n" not in self.buf:
            self._fill(deadline)
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode(errors="replace")

    def _exact(self, n: int, deadline) -> bytes:
        while len(self.buf) < n:
            self._fill(deadline)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    @staticmethod
    def _fields(line: str) -> dict:
        out = {}
        for part in line.split(";"):
            k, _, v = part.partition("=")
            out[k] = v
        return out

    def _event(self, f: dict) -> None:
        if "exit" in f:
            self.events.append(("exit", int(f["exit"])))
        else:
            self.events.append(("msg", f.get("msg", "")))

    def command(self, cmd: str, payload: bytes = b"", timeout: float | None = None) -> tuple[dict, bytes]:
        self.req += 1
        rid = str(self.req)
        self.sock.sendall(f"req={rid};cmd={cmd}\n".encode() + payload)
        deadline = time.monotonic() + (timeout or self.timeout)
        data = b""
        while True:
            f = self._fields(self._line(deadline))
            if f.get("req") == "-1":
                self._event(f)
                continue
            if f.get("req") != rid:
                continue
            if "payload" in f:
                data = self._exact(int(f["payload"]), deadline)
                continue
            return f, data

    def wait_event(self, timeout: float | None):
        """The next event: ('msg', 'syscall_stop') or ('exit', status)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.events:
            f = self._fields(self._line(deadline))
            if f.get("req") == "-1":
                self._event(f)
        return self.events.pop(0)


class Memory:
    """Debug reads and writes of the simulated memory (through the SoC's AXI interconnect: no
    simulated time passes)."""

    def __init__(self, proxy: ProxyClient, component: str = "chip/soc/axi_ico"):
        self.proxy = proxy
        f, _ = proxy.command(f"get_component {component}")
        ptr = f.get("msg", "0x0")
        if int(ptr, 16) == 0:
            raise GvsocError(f"GVSoC has no component {component}")
        self.ptr = ptr

    def read(self, addr: int, n: int) -> bytes:
        f, data = self.proxy.command(f"component {self.ptr} mem_read 0x{addr:x} 0x{n:x}")
        if f.get("msg") != "err=0" or len(data) != n:
            raise GvsocError(f"GVSoC could not read {n} bytes at 0x{addr:08x}")
        return data

    def write(self, addr: int, data: bytes) -> None:
        if not data:
            return
        f, _ = self.proxy.command(f"component {self.ptr} mem_write 0x{addr:x} 0x{len(data):x}", data)
        if f.get("msg") != "err=0":
            raise GvsocError(f"GVSoC could not write {len(data)} bytes at 0x{addr:08x}")

    def read32(self, addr: int) -> int:
        return struct.unpack("<I", self.read(addr, 4))[0]

    def write32(self, addr: int, v: int) -> None:
        self.write(addr, struct.pack("<I", v & 0xFFFFFFFF))


# ---- the proxy inside a private network namespace ---------------------------------------------

def _loopback_up() -> None:
    """Bring up 'lo' of the current (new) network namespace."""
    import fcntl

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = fcntl.ioctl(s, siocgifflags, struct.pack("16sh14x", b"lo", 0))
        flags = struct.unpack("16sh14x", ifr)[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sh14x", b"lo", flags | iff_up))


def _connect_proxy(proc: subprocess.Popen, port: int, deadline: float) -> socket.socket | None:
    """Connect to GVSoC's proxy on 127.0.0.1:port as soon as it listens (None: GVSoC exited or
    the deadline passed). GVSoC prints the port only on a buffered stdout, so the port is chosen
    here, not read from its output."""
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=2.0)
        except OSError:
            time.sleep(0.05)
    return None


def _netns_helper(fd: int, launcher: str, config: str) -> int:
    """Runs inside the namespace: start GVSoC, connect to its proxy, send the socket over fd,
    then wait for GVSoC and exit with its status."""
    chan = socket.socket(fileno=fd)
    try:
        _loopback_up()
    except OSError as exc:
        print(f"rnnse-gvsoc: cannot bring up the namespace's loopback: {exc}", flush=True)
        return 125
    proc = subprocess.Popen([launcher, f"--config={config}"], stdin=subprocess.DEVNULL)
    s = _connect_proxy(proc, NETNS_PROXY_PORT, time.monotonic() + START_TIMEOUT)
    if s is None:
        if proc.poll() is None:
            proc.kill()
        print(f"rnnse-gvsoc: GVSoC did not open its proxy (exit status {proc.wait()})", flush=True)
        return 124
    socket.send_fds(chan, [b"P"], [s.fileno()])
    s.close()
    chan.close()
    return proc.wait()


def _netns_prefix() -> list:
    if os.environ.get(NETNS_ENV_VAR, "").strip().lower() in ("off", "0", "no"):
        return []
    exe = shutil.which("unshare")
    if exe is None:
        raise GvsocError("unshare (util-linux) not found: rnnse starts GVSoC's proxy, which listens on every "
                         f"interface, only inside a private network namespace ({NETNS_ENV_VAR}=off accepts "
                         "the host's network)")
    return [exe, "--net"] if os.geteuid() == 0 else [exe, "--user", "--map-root-user", "--net"]


class Simulation:
    """A running GVSoC with its proxy connected (``proxy``, ``memory``); :meth:`stop` ends it."""

    def __init__(self, elf: str, workdir: str, flash_files=()):
        self.elf, self.workdir = elf, workdir
        self.log_path = os.path.join(workdir, "rnnse-gvsoc.log")
        self._log = open(self.log_path, "wb")
        prefix = _netns_prefix()
        if prefix:
            prep = prepare(elf, workdir, proxy_port=NETNS_PROXY_PORT, flash_files=flash_files)
            parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            pkg = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            env = dict(prep.env)
            env["PYTHONPATH"] = pkg + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
            cmd = prefix + [sys.executable, "-c",
                            "import sys; from rnnse.stream.gvsoc import _netns_helper as h; "
                            "sys.exit(h(int(sys.argv[1]), sys.argv[2], sys.argv[3]))",
                            str(child.fileno()), prep.launcher, prep.config_path]
            try:
                self.proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, pass_fds=(child.fileno(),),
                                             start_new_session=True)
            except OSError as exc:
                raise GvsocError(f"cannot start GVSoC in a network namespace: {exc}") from None
            finally:
                child.close()
            try:
                parent.settimeout(START_TIMEOUT)
                try:
                    _, fds, _, _ = socket.recv_fds(parent, 16, 1)
                except (socket.timeout, OSError):
                    fds = []
                if not fds:
                    self.stop()
                    raise GvsocError("GVSoC did not open its proxy inside the private network namespace "
                                     f"(unprivileged namespaces disabled? {NETNS_ENV_VAR}=off runs it on the host's "
                                     f"network); log:\n{self.log()}")
                self.sock = socket.socket(fileno=fds[0])
            finally:
                parent.close()
        else:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            prep = prepare(elf, workdir, proxy_port=port, flash_files=flash_files)
            self.proc = subprocess.Popen([prep.launcher, f"--config={prep.config_path}"], cwd=workdir, env=prep.env,
                                         stdout=self._log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
            sock = _connect_proxy(self.proc, port, time.monotonic() + START_TIMEOUT)
            if sock is None:
                self.stop()
                raise GvsocError(f"GVSoC did not open its proxy within {START_TIMEOUT:g} s; log:\n{self.log()}")
            self.sock = sock
        self.sock.settimeout(None)
        self.proxy = ProxyClient(self.sock)
        self.memory = Memory(self.proxy)

    def log(self, limit: int = 2000) -> str:
        with contextlib.suppress(OSError, ValueError):
            self._log.flush()
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-limit:].decode(errors="replace").strip()
        except OSError:
            return ""

    def stop(self) -> int | None:
        """End the simulation (proxy quit, then signals); every wait bounded."""
        sock = getattr(self, "sock", None)
        if sock is not None and self.proc.poll() is None:
            with contextlib.suppress(OSError, GvsocError):
                sock.settimeout(2.0)
                sock.sendall(b"req=999999;cmd=quit 0\n")
        try:
            self.proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            _kill_group(self.proc)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
        with contextlib.suppress(OSError):
            self._log.close()
        return self.proc.poll()


class Bridge(threading.Thread):
    """Moves bytes between a TCP client (pyserial's socket://) and the firmware's mailbox."""

    def __init__(self, sim: Simulation, mailbox: int, cores: int, listener: socket.socket):
        super().__init__(daemon=True)
        self.sim, self.mb, self.listener = sim, mailbox, listener
        self.cores = cores
        self.client: socket.socket | None = None
        self.pending = b""           # bytes from the client not yet in the mailbox
        self.closing = threading.Event()
        self.exit_status: int | None = None
        self.error: str | None = None
        self.stops = 0
        self.bytes_to_chip = 0       # what crossed the link each way (the bytes a UART would carry)
        self.bytes_from_chip = 0

    def _client_gone(self) -> bool:
        return self.client is None

    def _recv_client(self, timeout: float | None) -> None:
        """Wait up to timeout s (None: until data, disconnect or closing) for client bytes."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.client is not None and not self.closing.is_set():
            left = 0.2 if deadline is None else min(0.2, deadline - time.monotonic())
            if left < 0:
                return
            r, _, _ = select.select([self.client], [], [], left)
            if r:
                try:
                    data = self.client.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self._drop_client()
                    return
                self.pending += data
                return
            if deadline is not None and time.monotonic() >= deadline:
                return

    def _drop_client(self) -> None:
        if self.client is not None:
            with contextlib.suppress(OSError):
                self.client.close()
        self.client = None

    def run(self) -> None:
        mem, proxy = self.sim.memory, self.sim.proxy
        try:
            self.listener.settimeout(START_TIMEOUT)
            try:
                self.client, _ = self.listener.accept()
            except (socket.timeout, OSError):
                self.error = "no client connected to the bridge"
                return
            finally:
                self.listener.close()
            self.client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            mem.write(self.mb + MB_OFF_IN_LEN, struct.pack("<5I", 0, 0, 0, 0, 0))
            mem.write32(self.mb + MB_OFF_CORES, self.cores)
            proxy.command("run")
            while not self.closing.is_set():
                kind, value = proxy.wait_event(None)
                if kind == "exit":
                    self.exit_status = value
                    return
                if value != "syscall_stop":
                    continue
                self.stops += 1
                hdr = mem.read(self.mb, MB_HEADER)
                (magic, version, in_cap, out_cap, in_len, out_len, reason, timeout_ms, closed, _, _,
                 _) = struct.unpack("<6IIiIIII", hdr)
                if magic != MB_MAGIC or version != MB_VERSION:
                    self.error = "the firmware's mailbox is not initialised (magic/version)"
                    return
                if out_len:
                    data = mem.read(self.mb + MB_HEADER + in_cap, min(out_len, out_cap))
                    self.bytes_from_chip += len(data)
                    if self.client is not None:
                        try:
                            self.client.sendall(data)
                        except OSError:
                            self._drop_client()
                    mem.write32(self.mb + MB_OFF_OUT_LEN, 0)
                if reason == MB_READ:
                    if not self.pending and self.client is not None:
                        self._recv_client(None if timeout_ms < 0 else timeout_ms / 1000.0)
                    if self.pending:
                        chunk, self.pending = self.pending[:in_cap], self.pending[in_cap:]
                        mem.write(self.mb + MB_HEADER, chunk)
                        self.bytes_to_chip += len(chunk)
                        mem.write32(self.mb + MB_OFF_IN_LEN, len(chunk))
                    elif self.client is None or self.closing.is_set():
                        mem.write32(self.mb + MB_OFF_CLOSED, 1)
                proxy.command("run")
        except GvsocError as exc:
            self.error = str(exc)
        finally:
            self._drop_client()


@contextlib.contextmanager
def start(elf: str, cores: int = MAX_CORES, flash_files=()):
    """Start the streaming application ``elf`` on GVSoC (``flash_files`` preloaded into the
    hyperflash's readfs); yields (Simulation, Bridge, TCP port)."""
    require()
    if not 1 <= cores <= MAX_CORES:
        raise GvsocError(f"cores must be within 1..{MAX_CORES}, got {cores}")
    mailbox = symbol_address(elf, "pulp_mailbox")
    with tempfile.TemporaryDirectory(prefix="rnnse-gvsoc-") as wd:
        sim = Simulation(elf, wd, flash_files)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        bridge = Bridge(sim, mailbox, cores, listener)
        bridge.start()
        try:
            yield sim, bridge, port
        finally:
            bridge.closing.set()
            status = sim.stop()
            bridge.join(timeout=STOP_TIMEOUT)
            del status


def _read_ready(port, bridge: Bridge, sim: Simulation, deadline: float) -> P.Info:
    rx = P.Receiver()
    while time.monotonic() < deadline:
        stopped = bridge.error or not bridge.is_alive()      # before reading: what it sent is read first
        data = port.read(4096)
        if not data:
            if stopped:
                raise GvsocError(f"the simulation stopped before the firmware was ready: "
                                 f"{bridge.error or f'exit status {bridge.exit_status}'}; log:\n{sim.log()}")
            time.sleep(0.005)
            continue
        for result, frame in rx.feed(data):
            if result != P.FRAME:
                continue
            if frame.type == P.INFO:
                return _decoded(P.decode_info, frame.payload)
            if frame.type == P.ERROR:
                code, _, text = _decoded(P.decode_error, frame.payload)
                raise GvsocError(f"the firmware could not start: {P.ERROR_NAMES.get(code, code)}: {text}")
    raise GvsocError(f"the firmware did not announce itself within {START_TIMEOUT:g} s")


@contextlib.contextmanager
def launch(qmodel_path=None, cores: int = MAX_CORES, progress: bool = False):
    """Build the pulp-open application for ``qmodel_path`` (None: passthrough), run it on GVSoC and
    yield a pyserial port (socket:// on loopback) to it; everything is stopped when the block ends."""
    import serial

    require()
    if progress:
        print("building the pulp-open firmware ...", file=sys.stderr, flush=True)
    elf = build(qmodel_path)["app"]
    with start(elf, cores) as (sim, bridge, tcp):
        ser = serial.serial_for_url(f"socket://127.0.0.1:{tcp}", timeout=0)
        try:
            _read_ready(ser, bridge, sim, time.monotonic() + START_TIMEOUT)
            yield ser
        finally:
            with contextlib.suppress(Exception):
                ser.close()


def _decoded(decode, payload: bytes):
    """A start-up message's payload; one that does not make sense (behind a valid CRC) is a GvsocError."""
    try:
        return decode(payload)
    except P.ProtocolError as exc:
        raise GvsocError(f"the firmware's start-up message is malformed: {exc}") from None
