"""``rnnse bench NAME [options]``: benchmarks that print a table and write JSON.

Each benchmark is a module ``rnnse.bench.<name>`` with ``main(argv) -> int``; its results go to
``benchmarks/results/<name>.json`` unless told otherwise. Benchmarks measure; tests check.
"""
from __future__ import annotations

import argparse
import importlib
import os
import pkgutil

RESULTS_DIR = os.path.join("benchmarks", "results")


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
