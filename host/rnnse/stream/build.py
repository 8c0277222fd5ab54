"""Build the firmware application for a target, linked against a quantized model.

``build_firmware("host", "models/lstm256/quant-mixed.npz")``:

1. exports the quantized model (:func:`rnnse.export.export`) into ``build/models/<model>-<scheme>/``
   where ``<model>`` is the model directory's name for ``DIR/quant-<scheme>.npz`` files (else the
   file's stem);
2. runs ``scons target=<target> model=build/models/<model>-<scheme>``, which builds
   ``build/<target>/<model>-<scheme>/rnnse_app`` (host) or ``.../rnnse_app.elf`` (virt).

Without a model (``qmodel_path=None``) the application is built around the passthrough network
(mask = 1) into ``build/<target>/passthrough/``. scons runs are serialised with a lock file, since
several processes (tests, benchmarks) may ask for builds at the same time and share scons's
signature database.
"""
from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
import time

TARGETS = ("host", "virt")
APP_FILE = {"host": "rnnse_app", "virt": "rnnse_app.elf"}
PASSTHROUGH = "passthrough"
# the host and virt builds keep every weight in (emulated) L2 memory: be generous
L2_BUDGET = 64 * 1024 * 1024


class BuildError(RuntimeError):
    """The firmware could not be built (the message carries scons's output)."""


def repo_root() -> str:
    """The checkout holding SConstruct (the package lives in <root>/host/rnnse)."""
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(os.path.join(here, "..", "..", ".."))
    if not os.path.exists(os.path.join(root, "SConstruct")):
        raise BuildError(f"no SConstruct in {root}: the firmware can only be built from an rnnse checkout")
    return root


def model_build_name(qmodel_path, scheme: str) -> str:
    """'<model>-<scheme>' for a quantized-model file (see the module doc)."""
    path = os.path.abspath(os.fspath(qmodel_path))
    stem = os.path.splitext(os.path.basename(path))[0]
    model = os.path.basename(os.path.dirname(path)) if stem.startswith("quant-") else stem
    model = re.sub(r"[^A-Za-z0-9_.+-]", "_", model) or "model"
    return f"{model}-{scheme}"


def _scons_command() -> list:
    exe = os.path.join(os.path.dirname(sys.executable), "scons")
    if os.path.exists(exe):
        return [exe]
    return [sys.executable, "-m", "SCons"]


def run_scons(args: list, root: str | None = None, timeout: float = 900.0) -> str:
    """Run scons with ``args`` in the checkout under a lock; returns its output, raises BuildError."""
    root = root or repo_root()
    os.makedirs(os.path.join(root, "build"), exist_ok=True)
    cmd = _scons_command() + ["-Q", f"-j{max(1, min(4, os.cpu_count() or 1))}", *args]
    with open(os.path.join(root, "build", ".native-build.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            r = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BuildError(f"scons {' '.join(args)} did not finish within {timeout:.0f} s") from None
        except OSError as exc:
            raise BuildError(f"cannot run scons ({exc}); is the virtual environment set up?") from None
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    out = r.stdout + r.stderr
    if r.returncode != 0:
        tail = "\n".join(out.strip().splitlines()[-30:])
        raise BuildError(f"scons {' '.join(args)} failed (exit {r.returncode}):\n{tail}")
    return out


def export_model(qmodel_path, root: str | None = None) -> str:
    """Export a quantized model for the firmware; returns build/models/<model>-<scheme>."""
    from ..export import export
    from ..quant.qmodel import QuantizedModel

    root = root or repo_root()
    q = QuantizedModel.load(qmodel_path)
    name = model_build_name(qmodel_path, q.scheme)
    out = os.path.join(root, "build", "models", name)
    export(q, out, name=name.rsplit("-", 1)[0], l2_budget=L2_BUDGET)
    return out


def app_path(target: str, build_name: str, root: str | None = None, asan: bool = False) -> str:
    root = root or repo_root()
    variant = target + ("-asan" if asan else "")
    return os.path.join(root, "build", variant, build_name, APP_FILE[target])


def _newest_source(root: str, model_dir: str | None) -> float:
    """Time stamp of the newest file the application is built from."""
    newest = max(os.path.getmtime(os.path.join(root, f)) for f in ("SConstruct",))
    dirs = [os.path.join(root, "firmware")] + ([model_dir] if model_dir else [])
    for d in dirs:
        for dirpath, _, files in os.walk(d):
            for f in files:
                if f.endswith((".c", ".h", ".S", ".ld", ".scons")) or f == "SConscript":
                    newest = max(newest, os.path.getmtime(os.path.join(dirpath, f)))
    return newest


def build_firmware(target: str, qmodel_path=None, *, asan: bool = False, extra_args=(),
                   progress: bool = False, force: bool = False) -> str:
    """Build the application for ``target`` ('host' or 'virt') linked against the quantized model
    ``qmodel_path`` (None: the passthrough network); returns the path of the executable.
    ``asan``: host only, the AddressSanitizer + UBSan build (build/host-asan/...)."""
    if asan and target != "host":
        raise ValueError("the AddressSanitizer build exists for the host target only")
    if target not in TARGETS:
        raise ValueError(f"unknown firmware target {target!r}: expected one of {', '.join(TARGETS)}")
    root = repo_root()
    t0 = time.time()
    model_dir = None
    if qmodel_path is None:
        build_name, args = PASSTHROUGH, [f"target={target}"]
    else:
        model_dir = export_model(qmodel_path, root)
        build_name = os.path.basename(model_dir)
        args = [f"target={target}", f"model={os.path.relpath(model_dir, root)}"]
    exe = app_path(target, build_name, root, asan)
    if not force and not extra_args and os.path.exists(exe) and \
            os.path.getmtime(exe) >= _newest_source(root, model_dir):
        return exe      # up to date (scons alone takes seconds to find that out)
    args += (["asan=1"] if asan else []) + list(extra_args) + [os.path.relpath(exe, root)]
    if progress:
        print(f"building {os.path.relpath(exe, root)} ...", file=sys.stderr, flush=True)
    run_scons(args, root)
    if os.path.exists(exe):
        os.utime(exe)   # scons may skip an unchanged link: mark it fresh
    else:
        raise BuildError(f"scons succeeded but {exe} was not built (is the {target} application "
                         f"wired into firmware/targets/{target}?)")
    if progress:
        print(f"built {os.path.relpath(exe, root)} in {time.time() - t0:.1f} s", file=sys.stderr, flush=True)
    return exe
