"""The single ``rnnse`` command line.

Each feature area owns a module with ``register(subparsers)``; it adds its subcommands and sets
``func`` on them. Errors that are the user's (bad files, bad options) print one clear line and
exit with status 2 instead of a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import math
import sys
import traceback

from . import __version__

# every command, the feature module that registers it (``register(subparsers)`` adds the command's
# parser and sets ``func``) and its one-line help, in the order they are listed. Only the module of
# the command being run is imported, so that ``rnnse --version`` or ``rnnse enhance`` never pay for
# PyTorch; tests/test_cli.py holds this table to what the modules register.
COMMANDS = [
    ("data", "rnnse.data.cli", "build or inspect the offline training/test corpus"),
    ("train", "rnnse.train", "train an LSTM or GRU enhancement model (CPU, or GPU if present)"),
    ("eval", "rnnse.evaluate", "score a model (any scheme) and the peers on test sets: "
     "PESQ-WB, STOI, SI-SDR, DNSMOS"),
    ("dnsmos", "rnnse.evaluate", "DNSMOS of real recordings (no clean reference) before and after our "
     "models and the peers"),
    ("enhance-ref", "rnnse.evaluate", "enhance a wav on the host with the PyTorch or golden model"),
    ("quantize", "rnnse.quant.cli",
     "quantize a checkpoint (fp16, mixed, mixed+, int8, int8+) into a golden-model file"),
    ("quant-ablation", "rnnse.quant.cli", "measure quantization design choices one by one on test clips"),
    ("mask-floor", "rnnse.models", "set a model's mask floor (attenuation limit) in its checkpoint"),
    ("input-roots", "rnnse.train", "move a trained model onto another input feature (fc_in refitted)"),
    ("export", "rnnse.export", "write a quantized model as C for the firmware"),
    ("flash", "rnnse.flash", "write the model into a flash image and boot the PMSIS firmware from it "
     "(GVSoC's hyperflash, or a GAP9 board through its SDK)"),
    ("enhance", "rnnse.stream.cli",
     "enhance a wav file on the firmware (host build, QEMU virt or a device on a serial port)"),
    ("bench", "rnnse.bench", "run a benchmark (prints a table, writes JSON): faults, gvsoc, kernels, stream, "
     "virt"),
    ("report", "rnnse.report", "write models/REPORT.md from the models' eval.json and ablation.json"),
]
COMMAND_MODULES = list(dict.fromkeys(module for _, module, _ in COMMANDS))


class UserError(Exception):
    """An error caused by input the user gave; printed without a traceback."""


class Parser(argparse.ArgumentParser):
    """argparse with its errors (a bad or missing option) as one line, like every other error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (options: {self.prog} --help)\n")


def int_within(low: int, high: int | None = None):
    """argparse type: an integer in low..high (no upper limit when ``high`` is None)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            limits = f"within {low}..{high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"must be {limits}, got {value}")
        return value
    return parse


def number_within(low: float, high: float, low_included: bool = True):
    """argparse type: a finite number in [low, high] (``low_included`` False: (low, high])."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or value < low or value > high or (value == low and not low_included):
            limits = f"{'[' if low_included else '('}{low:g}, {high:g}]"
            raise argparse.ArgumentTypeError(f"must be a finite number in {limits}, got {text!r}")
        return value
    return parse


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line; the parser of ``command`` (and of the other commands of its module) is
    the real one, the others are listed with their help only (``None``: all real, for the tests)."""
    p = Parser(prog="rnnse", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"rnnse {__version__}")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="on an error, print the Python traceback too (for a bug report)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    wanted = COMMAND_MODULES if command is None else [m for n, m, _ in COMMANDS if n == command]
    loaded = set()
    for name, module, text in COMMANDS:
        if module in loaded:
            continue
        if module in wanted:
            try:
                mod = importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name is not None and module.startswith(exc.name):
                    continue  # feature not present in this build
                raise
            mod.register(sub)
            loaded.add(module)
        else:
            sub.add_parser(name, help=text)
    return p


def _command_of(argv: list) -> str | None:
    """The command named on the command line (the first word that is not an option)."""
    for a in argv:
        if not a.startswith("-"):
            return a
    return None


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command_of(argv) or "")
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from .audio import AudioError

    try:
        rc = args.func(args)
    except (UserError, AudioError, FileNotFoundError, ValueError) as exc:
        if args.verbose:
            traceback.print_exc()
        print(f"rnnse {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rnnse {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
