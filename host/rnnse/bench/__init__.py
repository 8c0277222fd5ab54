"""``rnnse bench NAME [options]``: benchmarks that print a table and write JSON.

Each benchmark is a module ``rnnse.bench.<name>`` with ``main(argv) -> int``; its results go to
``benchmarks/results/<name>.json`` unless told otherwise. Benchmarks measure; tests check.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import platform
import subprocess
import sys

RESULTS_DIR = os.path.join("benchmarks", "results")


def cpu_name() -> str:
    """The CPU's model name (for the machine record of every benchmark)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> dict:
    """The checkout's commit and the firmware sources modified against it (None: not a git checkout)."""
    from ..stream.build import repo_root

    def git(*args):
        try:
            r = subprocess.run(["git", *args], cwd=repo_root(), capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    status = git("status", "--porcelain", "--", "firmware", "SConstruct")
    modified = sorted(line.split(None, 1)[1] for line in status.splitlines() if line.strip()) if status else []
    return {"commit": git("rev-parse", "HEAD"), "firmware_sources_modified": modified if status is not None else None}


def write_results(path: str, doc: dict, file=sys.stdout) -> None:
    """Write a benchmark's JSON record (creating its folder; with the checkout's commit under
    ``git`` unless the benchmark set it) and say where."""
    doc.setdefault("git", git_commit())
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    print(f"wrote {path}", file=file)


def available() -> list[str]:
    here = os.path.dirname(__file__)
    return sorted(m.name for m in pkgutil.iter_modules([here]) if not m.name.startswith("_"))


def _run(args) -> int:
    names = available()
    if args.name not in names:
        from ..cli import UserError

        raise UserError(f"unknown benchmark {args.name!r}: expected one of {', '.join(names) or '(none)'}")
    mod = importlib.import_module(f"rnnse.bench.{args.name}")
    return int(mod.main(args.rest) or 0)


def register(sub) -> None:
    p = sub.add_parser("bench", help="run a benchmark (prints a table, writes JSON): "
                       + ", ".join(available()))
    p.add_argument("name", help="benchmark: " + ", ".join(available()))
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options of that benchmark (NAME --help)")
    p.set_defaults(func=_run)
