"""Training: ``rnnse train --corpus data/corpus --cell lstm --out models/lstm256 --minutes 60``.

Batches are fresh mixtures drawn on every step (clean speech + noise at a random SNR and level), so
the model never sees the same mixture twice. The run is bounded by wall-clock minutes, with a cosine
learning-rate schedule over that budget; it checkpoints every few minutes (model, optimiser, RNG
states, elapsed time) and ``--resume`` continues an interrupted run exactly where it stopped.

Loss (documented in README): on compressed spectra, with M the mask, Y the noisy and S the clean STFT,
    L = (1-a) * mean(| |M Y|^p - |S|^p |^2) + a * mean(| |M Y|^p e^{j<Y} - |S|^p e^{j<S} |^2),
p = 0.3, a = 0.3: the magnitude term fits the spectral envelope, the complex term penalises passing
bins whose noisy phase is wrong (noise-dominated), which a magnitude-only loss cannot see.
An optional third term, weight b (``--over-suppression``, default 0), adds
    b * mean(max(0, |S|^p - |M Y|^p)^2),
which charges removed speech more than kept noise (the speech distortion that lowers STOI).
An optional fourth term, weight e (``--envelope``, default 0), adds e * (1 - r), r the mean
correlation between the enhanced and clean one-third-octave band envelopes over 375 ms segments
(the quantity STOI averages; ``envelope_loss``), so that the mask keeps the slow modulations of
speech intact where the other terms only see single frames.
An optional fifth term, weight r (``--residual-noise``, default 0), adds
    r * mean(|M N|^(2p)),   N = Y - S the noise STFT,
which charges the noise the mask lets through, in pauses and under speech alike (what DNSMOS BAK
hears); it is the counterweight of the over-suppression term.
``--init CHECKPOINT`` starts from trained weights (fine-tuning) instead of a random initialisation.
"""
from __future__ import annotations

import dataclasses
import math
import os
import random
import time

import numpy as np
import torch

from .config import SAMPLE_RATE
from .models import CheckpointError, ModelConfig, SEModel, read_torch_file, save_checkpoint
from .stft import stft_torch


@dataclasses.dataclass
class TrainConfig:
    minutes: float = 60.0
    steps: int = 0                 # > 0: a budget of optimiser steps instead of minutes
    batch: int = 32
    seg_seconds: float = 3.0
    lr: float = 1e-3
    lr_final: float = 5e-5
    weight_decay: float = 0.0
    grad_clip: float = 3.0
    power: float = 0.3           # spectral compression exponent of the loss
    complex_weight: float = 0.3  # share of the complex (phase-aware) term
    over_suppression: float = 0.0  # weight of the extra penalty on removed speech energy
    envelope: float = 0.0          # weight of the band-envelope correlation term
    residual_noise: float = 0.0    # weight of the penalty on the noise the mask lets through
    seed: int = 0
    ckpt_minutes: float = 3.0
    val_batches: int = 4           # fresh-mixture validation batches when no validation set is given
    val_seconds: float = 4.0       # validation pairs are cut or zero-padded to this length
    norm_batches: int = 8          # batches that set the input normalisation of a fresh model


def se_loss(mask: torch.Tensor, noisy_spec: torch.Tensor, clean_spec: torch.Tensor,
            power: float = 0.3, complex_weight: float = 0.3, over_suppression: float = 0.0,
            residual_noise: float = 0.0) -> torch.Tensor:
    eps = 1e-8
    ny_mag = noisy_spec.abs()
    est_mag = (mask * ny_mag + eps) ** power
    ref_mag = (clean_spec.abs() + eps) ** power
    loss = torch.mean((est_mag - ref_mag) ** 2)
    if complex_weight != 0:
        est_c = est_mag * noisy_spec / (ny_mag + eps)
        ref_c = ref_mag * clean_spec / (clean_spec.abs() + eps)
        loss = (1 - complex_weight) * loss + complex_weight * torch.mean((est_c - ref_c).abs() ** 2)
    if over_suppression != 0:
        loss = loss + over_suppression * torch.mean(torch.relu(ref_mag - est_mag) ** 2)
    if residual_noise != 0:
        kept = (mask * (noisy_spec - clean_spec).abs() + eps) ** power
        loss = loss + residual_noise * torch.mean(kept ** 2)
    return loss


_BANDS: dict = {}


def third_octave_bands(n_bins: int = 257, n_bands: int = 15, f_low: float = 150.0) -> np.ndarray:
    """[n_bands, n_bins] 0/1 matrix: the one-third-octave bands STOI uses (centres 150 Hz * 2^(k/3),
    edges at centre * 2^(+-1/6)) over the bins of a (n_bins - 1) * 2-point FFT at 16 kHz."""
    freqs = np.arange(n_bins) * SAMPLE_RATE / (2 * (n_bins - 1))
    cf = f_low * 2.0 ** (np.arange(n_bands) / 3.0)
    lo, hi = cf * 2.0 ** (-1 / 6), cf * 2.0 ** (1 / 6)
    return ((freqs[None, :] >= lo[:, None]) & (freqs[None, :] < hi[:, None])).astype(np.float32)


def envelope_loss(est_mag: torch.Tensor, clean_mag: torch.Tensor, seg: int = 60, step: int = 30,
                  floor_db: float = 40.0) -> torch.Tensor:
    """1 - mean correlation of band envelopes (B, T, F magnitudes -> scalar). Envelopes are the
    square roots of the band energies; each band of each ``seg``-frame segment is centred and
    normalised, the correlation averaged over bands and over the segments whose clean energy is
    within ``floor_db`` of the loudest segment of the clip (silence carries no envelope)."""
    key = (est_mag.shape[-1], est_mag.device, est_mag.dtype)
    if key not in _BANDS:
        _BANDS[key] = torch.from_numpy(third_octave_bands(est_mag.shape[-1])).to(est_mag.device, est_mag.dtype)
    bands = _BANDS[key]
    if est_mag.shape[1] < seg:
        seg = step = est_mag.shape[1]
    env = lambda m: torch.sqrt(m.pow(2) @ bands.T + 1e-10)  # noqa: E731  (B, T, bands)
    e, c = env(est_mag).unfold(1, seg, step), env(clean_mag).unfold(1, seg, step)  # (B, S, bands, seg)
    e, c = e - e.mean(-1, keepdim=True), c - c.mean(-1, keepdim=True)
    r = (e * c).sum(-1) / (e.norm(dim=-1) * c.norm(dim=-1) + 1e-8)          # (B, S, bands)
    energy = clean_mag.pow(2).sum(-1).unfold(1, seg, step).sum(-1)           # (B, S)
    live = (energy >= energy.amax(1, keepdim=True) * 10 ** (-floor_db / 10)).float()
    return 1.0 - (r.mean(-1) * live).sum() / live.sum().clamp_min(1.0)


def batch_loss(model: SEModel, noisy: np.ndarray, clean: np.ndarray, cfg: TrainConfig) -> torch.Tensor:
    dev = next(model.parameters()).device
    ny = stft_torch(torch.as_tensor(noisy).to(dev))
    cl = stft_torch(torch.as_tensor(clean).to(dev))
    mask, _ = model(ny.abs())
    loss = se_loss(mask, ny, cl, cfg.power, cfg.complex_weight, cfg.over_suppression, cfg.residual_noise)
    if cfg.envelope:
        loss = loss + cfg.envelope * envelope_loss(mask * ny.abs(), cl.abs())
    return loss


def lr_at(cfg: TrainConfig, frac: float) -> float:
    """Short linear warm-up, then cosine decay from lr to lr_final over the time budget."""
    warm = 0.02
    if frac < warm:
        return cfg.lr * max(frac / warm, 0.05)
    f = min(1.0, (frac - warm) / (1 - warm))
    return cfg.lr_final + 0.5 * (cfg.lr - cfg.lr_final) * (1 + math.cos(math.pi * f))


def _rng_state(rng: np.random.Generator):
    return {"numpy": rng.bit_generator.state, "torch": torch.get_rng_state(), "python": random.getstate()}


def _set_rng_state(rng: np.random.Generator, st):
    rng.bit_generator.state = st["numpy"]
    torch.set_rng_state(st["torch"])
    random.setstate(st["python"])


RESUME_KEYS = ("model", "optimizer", "rng", "state", "model_config")


def _resume(last_path: str, device, model_cfg: ModelConfig, model: SEModel, opt, rng) -> dict:
    """Restore the model, optimiser and RNG streams from ``last_path`` (read as data only);
    returns the run state. A file that does not fit this run raises CheckpointError."""
    ck = read_torch_file(last_path, map_location=device)
    missing = [k for k in RESUME_KEYS if k not in ck] if isinstance(ck, dict) else list(RESUME_KEYS)
    if missing:
        raise CheckpointError(f"{last_path}: not a training state (missing {', '.join(missing)})")
    if ck["model_config"] != dataclasses.asdict(model_cfg):
        raise ValueError(f"{last_path}: was trained with model config {ck['model_config']}, "
                         f"not {dataclasses.asdict(model_cfg)}")
    state = ck["state"]
    if not isinstance(state, dict) or not {"step", "elapsed", "best_val", "history"} <= set(state):
        raise CheckpointError(f"{last_path}: its run state lacks step, elapsed, best_val or history")
    try:
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        _set_rng_state(rng, {**ck["rng"], "torch": ck["rng"]["torch"].cpu()})
    except (RuntimeError, ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"{last_path}: training state does not fit this run ({first})") from None
    return state


def validation_pairs(items, seconds: float, batch: int) -> list:
    """Fixed validation batches from paired clips (``TestItem``s): each clip cut or zero-padded
    at the end to ``seconds``, grouped in batches of ``batch``."""
    n = int(seconds * SAMPLE_RATE)
    out = []
    for i in range(0, len(items), batch):
        chunk = items[i:i + batch]
        noisy = np.zeros((len(chunk), n), dtype=np.float32)
        clean = np.zeros_like(noisy)
        for k, it in enumerate(chunk):
            m = min(n, len(it.noisy))
            noisy[k, :m], clean[k, :m] = it.noisy[:m], it.clean[:m]
        out.append((noisy, clean))
    return out


def noisy_magnitudes(source, cfg: TrainConfig, n_batches: int, rng) -> torch.Tensor:
    """|STFT| of ``n_batches`` fresh noisy training batches (cfg.batch x cfg.seg_seconds each):
    the example frames of the input normalisation and of ``rnnse input-roots``."""
    seg = int(cfg.seg_seconds * SAMPLE_RATE)
    return torch.cat([stft_torch(torch.from_numpy(source.sample_batch(cfg.batch, seg, rng)[0])).abs()
                      for _ in range(n_batches)])


def train(source, model_cfg: ModelConfig, cfg: TrainConfig, out_dir: str, resume: bool = False,
          max_steps: int | None = None, progress: bool = True, log=print, init: str | None = None,
          valid=None) -> dict:
    """Train on batches from ``source.sample_batch(batch, seg_samples, rng)`` -> (noisy, clean).

    Writes ``out_dir/last.pt`` (resumable state) and ``out_dir/model.pt`` (best validation loss).
    ``init``: a checkpoint whose weights start the run (fine-tuning; its model config must match).
    ``valid``: paired validation clips (held-out speakers) whose loss chooses ``model.pt``;
    without it, fixed fresh mixtures of the training source are used.
    Returns a summary dict (steps, elapsed, losses).
    """
    from tqdm import tqdm

    os.makedirs(out_dir, exist_ok=True)
    last_path = os.path.join(out_dir, "last.pt")
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = SEModel(model_cfg).to(device)
    if init is not None:
        from .models import load_checkpoint

        start, _ = load_checkpoint(init)
        if dataclasses.asdict(start.config) != dataclasses.asdict(model_cfg):
            raise ValueError(f"{init}: was trained with model config {dataclasses.asdict(start.config)}, "
                             f"not {dataclasses.asdict(model_cfg)}")
        model.load_state_dict(start.state_dict())
    elif model_cfg.input_roots:
        mags = noisy_magnitudes(source, cfg, cfg.norm_batches, np.random.default_rng(cfg.seed + 20_000))
        model.set_input_norm(mags.to(device))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    seg = int(cfg.seg_seconds * SAMPLE_RATE)
    if valid is not None:
        val = validation_pairs(valid, cfg.val_seconds, cfg.batch)
    else:
        # a fixed validation set drawn from its own seed, so that "best" is comparable across
        # the run
        val_rng = np.random.default_rng(cfg.seed + 10_000)
        val = [source.sample_batch(cfg.batch, seg, val_rng) for _ in range(cfg.val_batches)]
    state = {"step": 0, "elapsed": 0.0, "best_val": math.inf, "history": []}
    if resume and os.path.exists(last_path):
        state = _resume(last_path, device, model_cfg, model, opt, rng)
        log(f"resumed from {last_path}: step {state['step']}, {state['elapsed'] / 60:.1f} min done")

    def validate() -> float:
        model.eval()
        with torch.no_grad():
            v = float(np.mean([batch_loss(model, n, c, cfg).item() for n, c in val]))
        model.train()
        return v

    def save_last():
        tmp = last_path + ".tmp"
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "rng": _rng_state(rng),
                    "state": state, "model_config": dataclasses.asdict(model_cfg),
                    "train_config": dataclasses.asdict(cfg)}, tmp)
        os.replace(tmp, last_path)

    budget = cfg.minutes * 60.0
    by_steps = cfg.steps > 0

    def progress_frac() -> float:
        return state["step"] / cfg.steps if by_steps else state["elapsed"] / budget

    model.train()
    if by_steps:
        bar = tqdm(total=cfg.steps, initial=min(state["step"], cfg.steps), unit="step",
                   desc=f"train {model_cfg.cell}", disable=not progress)
    else:
        bar = tqdm(total=round(budget), initial=min(round(state["elapsed"]), round(budget)),
                   unit="s", desc=f"train {model_cfg.cell}", disable=not progress)
    t_start = time.time() - state["elapsed"]
    last_ck = time.time()
    ema = None
    while progress_frac() < 1.0 and (max_steps is None or state["step"] < max_steps):
        lr = lr_at(cfg, progress_frac())
        for g in opt.param_groups:
            g["lr"] = lr
        noisy, clean = source.sample_batch(cfg.batch, seg, rng)
        loss = batch_loss(model, noisy, clean, cfg)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        state["step"] += 1
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        now = time.time()
        if by_steps:
            bar.update(1)
        else:
            bar.update(round(now - t_start) - bar.n if round(now - t_start) <= budget else 0)
        state["elapsed"] = now - t_start
        bar.set_postfix(loss=f"{ema:.4f}", lr=f"{lr:.1e}", step=state["step"])
        if now - last_ck >= cfg.ckpt_minutes * 60 or progress_frac() >= 1.0 or \
                (max_steps is not None and state["step"] >= max_steps):
            v = validate()
            state["history"].append({"step": state["step"], "minutes": state["elapsed"] / 60,
                                     "train_loss": ema, "val_loss": v, "lr": lr})
            if v < state["best_val"]:
                state["best_val"] = v
                save_checkpoint(os.path.join(out_dir, "model.pt"), model, step=state["step"],
                                minutes=round(state["elapsed"] / 60, 2), val_loss=v,
                                train_config=dataclasses.asdict(cfg))
            save_last()
            last_ck = now
            bar.write(f"step {state['step']}: train {ema:.4f}, val {v:.4f} (best {state['best_val']:.4f})")
    bar.close()
    return {"steps": state["step"], "minutes": state["elapsed"] / 60, "best_val": state["best_val"],
            "history": state["history"]}


def make_source(args):
    """Training data: the offline corpus (fresh mixtures) or a Valentini root (its fixed pairs)."""
    if args.valentini:
        from .data.mixing import PairedSegments
        from .data.valentini import load_split

        items = load_split(args.valentini, "train", dtype=np.int16)  # halves peak memory
        return PairedSegments([(it.noisy, it.clean) for it in items], gain_range=(-10.0, 10.0))
    from .data.mixing import OnlineMixer

    return OnlineMixer.from_corpus(args.corpus, group_weights=parse_speech_mix(args.speech_mix),
                                   p_narrowband=args.narrowband)


def parse_speech_mix(text: str | None) -> dict | None:
    """'prompts=0.4,letters=0.3,tts=0.3' -> {'prompts': 0.4, ...}; '' or 'uniform' -> None."""
    if not text or text == "uniform":
        return None
    out = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise ValueError(f"--speech-mix: expected GROUP=WEIGHT pairs separated by commas, "
                             f"got {part!r}")
    return out


def load_valid(args):
    """The validation pairs: --valid, else the corpus's held-out-speaker set when it has one."""
    from .data.pairs import load_test_set

    path = args.valid
    if path is None and not args.valentini:
        path = os.path.join(args.corpus, "valid")
        if not os.path.isdir(path):
            return None, None
    if path is None or path == "none":
        return None, None
    return load_test_set(path), path


def check_start_files(args) -> None:
    """A bad --init checkpoint or OUT/last.pt to resume fails here, before the data is read."""
    from .models import load_checkpoint

    if args.init is not None:
        load_checkpoint(args.init)
    last = os.path.join(args.out, "last.pt")
    if args.resume and os.path.exists(last):
        read_torch_file(last)


def cmd_train(args) -> int:
    torch.set_num_threads(args.threads)
    model_cfg = ModelConfig(cell=args.cell, hidden=args.hidden, n_rnn=args.layers, fc_in=args.fc,
                            fc_out=args.fc, input_roots=args.input_roots,
                            mask_floor=args.mask_floor)
    cfg = TrainConfig(minutes=args.minutes, steps=args.steps, batch=args.batch, seg_seconds=args.seg, lr=args.lr,
                      lr_final=min(args.lr, TrainConfig.lr_final), seed=args.seed,
                      over_suppression=args.over_suppression, envelope=args.envelope,
                      residual_noise=args.residual_noise)
    check_start_files(args)
    source = make_source(args)
    valid, valid_path = load_valid(args)
    if valid is not None:
        print(f"validation: {len(valid)} pairs of {valid_path} (their loss chooses model.pt)")
    summary = train(source, model_cfg, cfg, args.out, resume=args.resume, init=args.init,
                    valid=valid)
    print(f"done: {summary['steps']} steps in {summary['minutes']:.1f} min, best validation loss "
          f"{summary['best_val']:.4f} -> {os.path.join(args.out, 'model.pt')}")
    return 0


def cmd_input_roots(args) -> int:
    from tqdm import tqdm

    from .evaluate import resolve_checkpoint
    from .models import input_roots_config, load_checkpoint, refit_input

    torch.set_num_threads(args.threads)
    src = resolve_checkpoint(args.model)
    model, meta = load_checkpoint(src)
    try:
        input_roots_config(model, args.roots)   # refused before the data is read
    except ValueError as e:
        raise ValueError(f"{src}: {e}") from None
    mags = noisy_magnitudes(make_source(args), TrainConfig(), args.batches, np.random.default_rng(args.seed))
    bar = tqdm(total=args.steps, unit="step", desc="refit fc_in", dynamic_ncols=True)

    def tick(loss: float) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    new, r2 = refit_input(model, args.roots, mags, steps=args.steps, seed=args.seed, progress=tick)
    bar.close()
    save_checkpoint(args.output, new, **{**meta, "input_roots_set_from": os.path.basename(src),
                                         "input_refit_r2": r2})
    print(f"{args.output}: input_roots {args.roots}; fc_in refitted on {mags.shape[0] * mags.shape[1]} "
          f"frames, R^2 {r2:.3f} on held-out frames: fine-tune it with rnnse train --init "
          f"{args.output} --input-roots {args.roots}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("train", help="train an LSTM or GRU enhancement model (CPU, or GPU if present)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--corpus", default=os.path.join("data", "corpus"),
                     help="offline corpus built by 'rnnse data build' (default: data/corpus)")
    src.add_argument("--valentini", default=None, help="root of a local VoiceBank-DEMAND copy")
    p.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=2, help="recurrent layers")
    p.add_argument("--fc", type=int, default=256, help="width of the FC layers around the RNN")
    p.add_argument("--input-roots", type=int, default=0, choices=[0, 1, 2, 3],
                   help="network input |X|^(1/2^k) normalised per bin; 0 (default): the paper's "
                        "linear magnitude")
    p.add_argument("--speech-mix", default="uniform",
                   help="weights of the corpus speech groups, e.g. prompts=0.4,letters=0.3,"
                        "tts=0.3 (a group drawn by weight, then a clip by length); 'uniform' "
                        "(default): every clip equally likely")
    p.add_argument("--narrowband", type=float, default=0.0,
                   help="probability that a training item's speech (and target) is telephone "
                        "band (8 kHz and back) under wideband noise (default 0)")
    p.add_argument("--mask-floor", type=float, default=0.0,
                   help="train with the mask raised to at least this (the model's mask_floor, "
                        "docs/numerics.md; default 0: the paper's network)")
    p.add_argument("--valid", default=None,
                   help="paired validation set whose loss chooses model.pt (default: the "
                        "corpus's valid/ of held-out speakers; 'none': fresh training mixtures)")
    p.add_argument("--out", required=True, help="output model directory (model.pt, last.pt)")
    p.add_argument("--minutes", type=float, default=60.0, help="wall-clock training budget")
    p.add_argument("--steps", type=int, default=0,
                   help="a budget of optimiser steps instead of minutes (the learning-rate "
                        "schedule follows the steps; reproducible on a busy machine)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seg", type=float, default=3.0, help="segment length in seconds")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 1)),
                   help="CPU threads for PyTorch")
    p.add_argument("--over-suppression", type=float, default=0.0,
                   help="weight of the extra loss on removed speech energy (default 0)")
    p.add_argument("--envelope", type=float, default=0.0,
                   help="weight of the band-envelope correlation term (the quantity STOI averages)")
    p.add_argument("--residual-noise", type=float, default=0.0,
                   help="weight of the loss on the noise the mask lets through (default 0)")
    p.add_argument("--init", default=None, help="start from this checkpoint's weights (fine-tuning)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt if it exists")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("input-roots", help="move a trained model onto another input feature (fc_in refitted)",
                       description="Write a checkpoint of MODEL that takes |X|^(1/2^ROOTS) normalised per "
                                   "bin: every weight is kept but fc_in, fitted to follow the old first "
                                   "layer on fresh training mixtures. The result starts a fine-tune "
                                   "(rnnse train --init OUT --input-roots ROOTS), it is not one.")
    p.add_argument("model", help="model directory (with model.pt) or checkpoint file")
    p.add_argument("roots", type=int, choices=[0, 1, 2, 3], help="the new input_roots")
    p.add_argument("-o", "--output", required=True, help="output checkpoint")
    p.add_argument("--corpus", default=os.path.join("data", "corpus"),
                   help="offline corpus whose mixtures give the example frames (default: data/corpus)")
    p.add_argument("--narrowband", type=float, default=0.3,
                   help="share of telephone-band speech in the example mixtures (default 0.3)")
    p.add_argument("--batches", type=int, default=16,
                   help="noisy training batches (32 x 3 s mixtures each) of example frames (default 16)")
    p.add_argument("--steps", type=int, default=3000, help="Adam steps of the fit (default 3000)")
    p.add_argument("--seed", type=int, default=123)
    p.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 1)),
                   help="CPU threads for PyTorch")
    p.set_defaults(func=cmd_input_roots, valentini=None, speech_mix="uniform")

