"""The single ``rnnse`` command line.

Each feature area owns a module with ``register(subparsers)``; it adds its subcommands and sets
``func`` on them. Errors that are the user's (bad files, bad options) print one clear line and
exit with status 2 instead of a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__

# feature modules, in the order their subcommands are listed
COMMAND_MODULES = [
    "rnnse.data.cli",        # rnnse data ...
    "rnnse.train",           # rnnse train
    "rnnse.evaluate",        # rnnse eval, rnnse enhance-fp32
    "rnnse.quant.cli",       # rnnse quantize
    "rnnse.export",          # rnnse export
    "rnnse.stream.cli",      # rnnse enhance (firmware targets)
    "rnnse.bench",           # rnnse bench
    "rnnse.report",          # rnnse report
]


class UserError(Exception):
    """An error caused by input the user gave; printed without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rnnse", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"rnnse {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue  # feature not present in this build
            raise
        mod.register(sub)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from .audio import AudioError

    try:
        rc = args.func(args)
    except (UserError, AudioError, FileNotFoundError, ValueError) as exc:
        print(f"rnnse {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rnnse {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
