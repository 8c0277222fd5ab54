"""``rnnse data build`` / ``rnnse data info`` / ``rnnse data demo``."""
from __future__ import annotations

import argparse
import os


def register(subparsers) -> None:
    p = subparsers.add_parser("data", help="build or inspect the offline training/test corpus")
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    p.set_defaults(func=lambda a: p.print_help() or 2)

    b = sub.add_parser("build", help="build the corpus from Debian packages (deterministic)",
                       description="Build the offline corpus (training speech and noise pools, "
                       "a synthetic and a real-speech test set) from Debian packages. The output "
                       "depends only on the seed and the configuration, not on --jobs.")
    b.add_argument("--out", default="data/corpus", help="output folder (default: data/corpus)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--train-hours", type=float, default=2.0,
                   help="hours of clean training speech, recorded + TTS (default 2.0)")
    b.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="worker processes (default: one per CPU)")
    b.add_argument("--force", action="store_true",
                   help="replace an existing corpus built with another seed or configuration")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    # for quick test builds
    b.add_argument("--test-synthetic", type=int, default=200, help=argparse.SUPPRESS)
    b.add_argument("--test-real", type=int, default=120, help=argparse.SUPPRESS)
    b.add_argument("--noise-clips", type=int, default=6, help=argparse.SUPPRESS)
    b.add_argument("--noise-seconds", type=float, default=30.0, help=argparse.SUPPRESS)
    b.set_defaults(func=_build)

    i = sub.add_parser("info", help="summarise an existing corpus")
    i.add_argument("dir", nargs="?", default="data/corpus")
    i.add_argument("--verify", action="store_true",
                   help="re-hash every file against manifest.json (exit status 2 on a mismatch)")
    i.set_defaults(func=_info)

    d = sub.add_parser("demo", help="write the demo clip pair (samples/demo_{noisy,clean}.wav)",
                       description="Mix a recorded prompt of the real test set with a test-only "
                       "recorded noise into demo_noisy.wav and demo_clean.wav.")
    d.add_argument("--out", default="samples")
    d.add_argument("--seconds", type=float, default=3.0, help="target length (default 3)")
    d.add_argument("--snr", type=float, default=5.0, help="SNR in dB (default 5)")
    d.set_defaults(func=_demo)


def _build(args) -> int:
    from .corpus import BuildConfig, build

    cfg = BuildConfig(seed=args.seed, train_hours=args.train_hours,
                      n_test_synthetic=args.test_synthetic, n_test_real=args.test_real,
                      noise_clips=args.noise_clips, noise_seconds=args.noise_seconds)
    build(args.out, cfg, jobs=args.jobs, force=args.force, progress=not args.no_progress)
    return 0


def _info(args) -> int:
    from .corpus import info

    print(info(args.dir, check=args.verify, progress=args.verify))
    return 0


def _demo(args) -> int:
    from .demo import make_demo

    for line in make_demo(args.out, seconds=args.seconds, snr=args.snr):
        print(line)
    return 0
