"""``rnnse data build`` / ``rnnse data info`` / ``rnnse data demo``."""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("data", help="build or inspect the offline training/test corpus")
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    p.set_defaults(func=lambda a: p.print_help() or 2)

    b = sub.add_parser("build", help="build the corpus from Debian packages (deterministic)")
    b.add_argument("--out", default="data/corpus", help="output folder (default: data/corpus)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--train-hours", type=float, default=2.0,
                   help="hours of clean training speech, recorded + TTS (default 2.0)")
    b.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    b.add_argument("--force", action="store_true",
                   help="replace an existing corpus built with another seed or configuration")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    # for quick test builds
    b.add_argument("--test-synthetic", type=int, default=200, help=argparse.SUPPRESS)
    b.add_argument("--test-real", type=int, default=128, help=argparse.SUPPRESS)
    b.add_argument("--noise-clips", type=int, default=6, help=argparse.SUPPRESS)
    b.add_argument("--noise-seconds", type=float, default=30.0, help=argparse.SUPPRESS)
    b.set_defaults(func=_build)

    i = sub.add_parser("info", help="summarise an existing corpus")
    i.add_argument("dir", nargs="?", default="data/corpus")
    i.set_defaults(func=_info)

    d = sub.add_parser("demo", help="write the demo clip pair (samples/demo_{noisy,clean}.wav)")
    d.add_argument("--out", default="samples")
    d.add_argument("--seconds", type=float, default=3.0)
    d.add_argument("--snr", type=float, default=5.0)
    d.set_defaults(func=_demo)


def _build(args) -> int:
    from ..cli import UserError
    from .corpus import BuildConfig, build

    for name in ("test_synthetic", "test_real", "noise_clips"):
        if getattr(args, name) < 0 or (name == "noise_clips" and args.noise_clips < 1):
            raise UserError(f"--{name.replace('_', '-')} must be positive")
    if args.noise_seconds < 1:
        raise UserError("--noise-seconds must be at least 1")
    cfg = BuildConfig(seed=args.seed, train_hours=args.train_hours,
                      n_test_synthetic=args.test_synthetic, n_test_real=args.test_real,
                      noise_clips=args.noise_clips, noise_seconds=args.noise_seconds)
    build(args.out, cfg, jobs=args.jobs, force=args.force, progress=not args.no_progress)
    return 0


def _info(args) -> int:
    from .corpus import info

    print(info(args.dir))
    return 0


def _demo(args) -> int:
    from .demo import make_demo

    for line in make_demo(args.out, seconds=args.seconds, snr=args.snr):
        print(line)
    return 0
