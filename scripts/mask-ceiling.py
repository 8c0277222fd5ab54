"""What a magnitude mask can reach at a given mask floor: the ideal ratio mask against a model.

    python scripts/mask-ceiling.py [--model models/gru256] [--test-set valid] [--every 1]
                                   [--floors 0,0.03,0.05,0.1] [--json out.json]

For every clip of a paired test set it applies, at each floor f, (a) the ideal ratio mask
min(|S| / |Y|, 1) and (b) the model's float mask, both raised to at least f, to the noisy STFT
and scores the result (PESQ-WB, STOI, SI-SDR, DNSMOS SIG / BAK / OVRL) exactly as ``rnnse eval``
does. The ideal mask needs the clean reference, so its rows are a ceiling, not a system: they show
how much of DNSMOS BAK the floor alone gives away, whatever the network does.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "host"))

from rnnse.evaluate import (DNSMOS_METRICS, METRICS, fp32_mask_fn, load_items,  # noqa: E402
                            resolve_checkpoint, resolve_test_set, score_signal)
from rnnse.stft import istft, stft  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=os.path.join("models", "gru256"))
    ap.add_argument("--test-set", default="valid")
    ap.add_argument("--every", type=int, default=1, help="score every Nth clip (default: all)")
    ap.add_argument("--floors", default="0,0.03,0.05,0.1")
    ap.add_argument("--json", default=None, help="write the means here")
    args = ap.parse_args(argv)

    import torch
    from rnnse.models import load_checkpoint

    torch.set_num_threads(1)
    floors = [float(f) for f in args.floors.split(",")]
    model, _ = load_checkpoint(resolve_checkpoint(args.model))
    model.config = dataclasses.replace(model.config, mask_floor=0.0)   # floors applied below
    model_mask = fp32_mask_fn(model)
    _, path = resolve_test_set(args.test_set)
    items = load_items(path)[::args.every]
    rows: dict[str, list] = {}
    for i, it in enumerate(items):
        y, s = stft(it.noisy), stft(it.clean)
        ideal = np.minimum(np.abs(s) / np.maximum(np.abs(y), 1e-9), 1.0)
        for name, mask in (("ideal", ideal), ("model", model_mask(np.abs(y)))):
            for f in floors:
                out = istft(y * np.maximum(mask, f), length=len(it.noisy))
                rows.setdefault(f"{name} mask, floor {f:g}", []).append(score_signal(it.clean, out))
        print(f"\r{i + 1}/{len(items)} clips", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    keys = METRICS + DNSMOS_METRICS
    means = {k: {m: float(np.mean([r[m] for r in v])) for m in keys} for k, v in rows.items()}
    print(f"{args.test_set}, {len(items)} clips; model {args.model}")
    print("| mask | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for k, v in means.items():
        print(f"| {k} | " + " | ".join(f"{v[m]:.3f}" for m in keys) + " |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"test_set": args.test_set, "clips": len(items), "model": args.model,
                       "means": means}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
