"""The paper's speech-enhancement networks (TinyDenoiser family).

    magnitude (257) -> FC(257->fc_in) + ReLU -> RNN(hidden) x n_rnn -> FC(hidden->fc_out) + ReLU
                    -> FC(fc_out->257) -> sigmoid mask

RNN is LSTM or GRU (PyTorch gate conventions). With the defaults (256 everywhere, two RNN layers)
the LSTM model has 1,250,561 parameters and the GRU model 987,393.

Input feature (``input_roots``): 0 feeds the linear magnitude |X| as the paper does. k > 0 feeds
|X|^(1/2^k), computed as k successive square roots (exact IEEE operations, so the firmware and
the golden model agree bit for bit), normalised per bin with a fixed offset and scale measured on
training data before training (buffers ``in_offset``, ``in_scale``). The compression squeezes the
~80 dB range of speech spectra into a range a small network resolves evenly (k = 2: 20 dB), and
the normalisation puts the weak high-frequency bins on the scale of the strong low ones. For the
firmware the normalisation is folded into fc_in (``fold_input_norm``).
Mask floor (``mask_floor`` f): the mask is raised to at least f (clamp_min; an attenuation limit
of -20 log10 f dB), on every target alike (docs/numerics.md). 0, the default, is the paper's network.
The recurrent state lives outside the network and is passed in and out explicitly, so the same
module serves whole-utterance training and frame-by-frame streaming.
"""
from __future__ import annotations

import dataclasses
import math
import os
import pickle
import re
import warnings

import torch
from torch import nn

from .cli import UserError
from .config import N_BINS
from .stft import input_feature


@dataclasses.dataclass
class ModelConfig:
    cell: str = "lstm"         # "lstm" or "gru"
    hidden: int = 256          # recurrent units per layer
    n_rnn: int = 2             # recurrent layers
    fc_in: int = 256           # width of the input FC layer
    fc_out: int = 256          # width of the FC layer after the RNN
    n_bins: int = N_BINS
    input_roots: int = 0       # network input |X|^(1/2^input_roots); 0: the paper's |X|
    mask_floor: float = 0.0    # the mask is at least this (an attenuation limit); 0: the paper's

    def __post_init__(self):
        if self.cell not in ("lstm", "gru"):
            raise ValueError(f"unknown cell type {self.cell!r}: expected 'lstm' or 'gru'")
        for f in ("hidden", "n_rnn", "fc_in", "fc_out", "n_bins"):
            if int(getattr(self, f)) < 1:
                raise ValueError(f"model config: {f} must be a positive integer")
        if self.input_roots not in MAX_INPUT_ROOTS_RANGE:
            raise ValueError(f"model config: input_roots must be 0..{MAX_INPUT_ROOTS_RANGE[-1]}, "
                             f"got {self.input_roots}")
        if not 0.0 <= self.mask_floor < 1.0:
            raise ValueError(f"model config: mask_floor must be in [0, 1), got {self.mask_floor}")


MAX_INPUT_ROOTS_RANGE = (0, 1, 2, 3)


class SEModel(nn.Module):
    def __init__(self, config: ModelConfig | None = None, **kw):
        super().__init__()
        self.config = config or ModelConfig(**kw)
        c = self.config
        self.fc_in = nn.Linear(c.n_bins, c.fc_in)
        rnn_cls = nn.LSTM if c.cell == "lstm" else nn.GRU
        self.rnns = nn.ModuleList(
            [rnn_cls(c.fc_in if i == 0 else c.hidden, c.hidden, batch_first=True) for i in range(c.n_rnn)])
        self.fc_mid = nn.Linear(c.hidden, c.fc_out)
        self.fc_out = nn.Linear(c.fc_out, c.n_bins)
        if c.input_roots:
            self.register_buffer("in_offset", torch.zeros(c.n_bins))
            self.register_buffer("in_scale", torch.ones(c.n_bins))

    def features(self, mag: torch.Tensor) -> torch.Tensor:
        """The normalised network input of magnitudes (..., n_bins)."""
        if not self.config.input_roots:
            return mag
        return (input_feature(mag, self.config.input_roots) - self.in_offset) * self.in_scale

    @torch.no_grad()
    def set_input_norm(self, mags: torch.Tensor) -> None:
        """Per-bin offset and scale from example magnitudes (..., n_bins): mean and 1/std of the
        compressed magnitude."""
        if not self.config.input_roots:
            return
        f = input_feature(mags.reshape(-1, mags.shape[-1]).double(), self.config.input_roots)
        self.in_offset.copy_(f.mean(0).float())
        self.in_scale.copy_((1.0 / f.std(0).clamp_min(1e-4)).float())

    @torch.no_grad()
    def fold_input_norm(self) -> "SEModel":
        """Absorb the input normalisation into fc_in (offset 0, scale 1 afterwards): the same
        function, in the form the quantizer and the firmware use. Returns self."""
        if self.config.input_roots:
            w = self.fc_in.weight.double() * self.in_scale.double()[None, :]
            self.fc_in.bias.copy_((self.fc_in.bias.double() - w @ self.in_offset.double()).float())
            self.fc_in.weight.copy_(w.float())
            self.in_offset.zero_()
            self.in_scale.fill_(1.0)
        return self

    def init_state(self, batch: int = 1):
        """Zero recurrent state: per layer (h, c) for LSTM, h for GRU, each (1, batch, hidden)."""
        c = self.config
        z = lambda: torch.zeros(1, batch, c.hidden)  # noqa: E731
        if c.cell == "lstm":
            return [(z(), z()) for _ in range(c.n_rnn)]
        return [z() for _ in range(c.n_rnn)]

    def forward(self, mag: torch.Tensor, state=None):
        """mag: (batch, frames, n_bins) linear STFT magnitude -> (mask, new_state)."""
        if state is None:
            state = self.init_state(mag.shape[0])
        x = torch.relu(self.fc_in(self.features(mag)))
        new_state = []
        for rnn, s in zip(self.rnns, state):
            x, s = rnn(x, s)
            new_state.append(s)
        x = torch.relu(self.fc_mid(x))
        mask = torch.sigmoid(self.fc_out(x))
        if self.config.mask_floor:
            mask = torch.clamp_min(mask, self.config.mask_floor)   # in float32, as the firmware
        return mask, new_state

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def save_checkpoint(path, model: SEModel, **meta) -> None:
    d = os.path.dirname(os.fspath(path))
    if d:
        os.makedirs(d, exist_ok=True)
    tmp = os.fspath(path) + ".tmp"
    torch.save({"format": "rnnse-checkpoint-1", "config": dataclasses.asdict(model.config),
                "state_dict": model.state_dict(), "meta": meta}, tmp)
    os.replace(tmp, path)  # atomic: an interrupted save never leaves a broken checkpoint


def load_checkpoint(path, map_location="cpu"):
    """Returns (model in eval mode, meta dict). The file is read as data only (tensors and plain
    Python values; nothing in it is run) and checked against the model it describes: any other
    file raises CheckpointError naming the file and the problem."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such checkpoint")
    ck = read_torch_file(path, map_location)
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not an rnnse checkpoint (no format {CHECKPOINT_FORMAT!r})")
    config = _checked_config(path, ck.get("config"))
    state = ck.get("state_dict")
    _check_state_dict(path, config, state)
    meta = ck.get("meta", {})
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: checkpoint meta is a {type(meta).__name__}, not a dict")
    model = SEModel(config)
    model.load_state_dict(state)
    model.eval()
    return model, meta


CHECKPOINT_FORMAT = "rnnse-checkpoint-1"


class CheckpointError(UserError, ValueError):
    """A model file that cannot be used (corrupt, not a checkpoint, another architecture)."""


def read_torch_file(path: str, map_location="cpu"):
    """The contents of a file written by torch.save, loaded as data only: tensors and plain Python
    values; a file holding anything else (code, other objects) is refused without running it."""
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        with f, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols of foreign files
            return torch.load(f, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{path}: {_refusal(str(exc))}") from None
    except EOFError:
        raise CheckpointError(f"{path}: empty or truncated file, not a PyTorch checkpoint") from None
    except Exception as exc:  # torch raises many kinds on bytes that are not its format
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0].split(". ")[0]
        raise CheckpointError(f"{path}: corrupt or not a PyTorch checkpoint ({first})") from None


def _refusal(message: str) -> str:
    """One line for torch's refusal of a file that is not plain data."""
    found = re.search(r"GLOBAL (\S+)", message)
    if found:
        return (f"refused: the file asks to run or build {found.group(1)} (a model file holds only "
                "tensors and plain data; nothing was run)")
    return "corrupt or not a PyTorch checkpoint (it is not a pickle of tensors and plain data)"


def _checked_config(path: str, config) -> ModelConfig:
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: checkpoint has no model config dict")
    unknown = sorted(set(config) - {f.name for f in dataclasses.fields(ModelConfig)}, key=str)
    if unknown:
        raise CheckpointError(f"{path}: unknown model config keys {', '.join(map(repr, unknown))}")
    for name, value in config.items():
        want = {"cell": str, "mask_floor": float}.get(name, int)
        if type(value) is not want:
            kind = {str: "a string", float: "a number"}.get(want, "an integer")
            raise CheckpointError(f"{path}: model config {name} is {value!r}, not {kind}")
    try:
        c = ModelConfig(**config)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    if c.n_bins != N_BINS:
        raise CheckpointError(f"{path}: model has {c.n_bins} frequency bins, not the {N_BINS} of the STFT")
    return c


def _check_state_dict(path: str, config: ModelConfig, state) -> None:
    """The weights must be exactly those of the model ``config`` describes: same names, shapes,
    floating-point and finite."""
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: checkpoint has no state_dict")
    try:
        with torch.device("meta"):  # the expected shapes, without allocating the weights
            want = {k: tuple(v.shape) for k, v in SEModel(config).state_dict().items()}
    except RuntimeError:
        raise CheckpointError(f"{path}: model config {dataclasses.asdict(config)} is too large") from None
    missing = [k for k in want if k not in state]
    extra = [str(k) for k in state if k not in want]
    problems = ([f"missing {', '.join(missing[:3])}"] if missing else []) + \
               ([f"unexpected {', '.join(extra[:3])}"] if extra else [])
    if problems:
        raise CheckpointError(f"{path}: weights do not match the {config.cell} model of its config: "
                              f"{'; '.join(problems)}")
    for k, shape in want.items():
        v = state[k]
        if not isinstance(v, torch.Tensor) or not v.is_floating_point():
            raise CheckpointError(f"{path}: {k} is not a floating-point tensor")
        if tuple(v.shape) != shape:
            raise CheckpointError(f"{path}: {k} has shape {tuple(v.shape)}, the config says {shape}")
        if not bool(torch.isfinite(v).all()):
            raise CheckpointError(f"{path}: {k} holds non-finite values")


def set_mask_floor(path: str, mask_floor: float, out: str) -> dict:
    """Copy of the checkpoint at ``path`` with the model's mask floor set (the weights unchanged;
    meta records the change). Returns the new config."""
    model, meta = load_checkpoint(path)
    config = dataclasses.replace(model.config, mask_floor=float(mask_floor))  # checks the range
    floored = SEModel(config)
    floored.load_state_dict(model.state_dict())
    save_checkpoint(out, floored, **{**meta, "mask_floor_set_from": os.path.basename(path)})
    return dataclasses.asdict(config)


def input_roots_config(model: SEModel, roots: int) -> ModelConfig:
    """The config of ``model`` moved onto input_roots = roots (ValueError: the same input, or a
    roots out of range)."""
    if roots == model.config.input_roots:
        raise ValueError(f"the model already takes input_roots = {roots}")
    return dataclasses.replace(model.config, input_roots=int(roots))   # checks the range


def refit_input(model: SEModel, roots: int, mags: torch.Tensor, steps: int = 3000, lr: float = 1e-3,
                batch: int = 4096, seed: int = 0, progress=None) -> tuple[SEModel, float]:
    """A trained model moved onto another input feature (``input_roots`` = roots): every weight
    is kept except fc_in, which is fitted so that relu(fc_in(new feature)) follows the old model's
    relu(fc_in(old feature)) frame by frame, on example magnitudes ``mags`` (..., n_bins). The fit
    starts from the ridge least-squares solution of the pre-activation and refines it with Adam on
    the post-activation error (fc_in is linear, so no fc_in reproduces a linear-magnitude layer
    from a compressed one exactly: this is the starting point of a fine-tune, not its result).
    The per-bin input normalisation is set from the first three quarters of the frames, the fit
    uses them too; returns (new model, R^2 of the relu output on the last quarter)."""
    new = SEModel(input_roots_config(model, roots))
    state = {k: v for k, v in model.state_dict().items() if k not in ("in_offset", "in_scale")}
    new.load_state_dict(state, strict=False)
    frames = mags.reshape(-1, mags.shape[-1]).float()
    n_fit = len(frames) * 3 // 4
    if n_fit < 4 * frames.shape[1]:
        raise ValueError(f"{len(frames)} frames are too few to fit fc_in (at least "
                         f"{4 * frames.shape[1] * 4 // 3 + 1})")
    new.set_input_norm(frames[:n_fit])
    with torch.no_grad():
        pre = model.fc_in(model.features(frames))
        target = torch.relu(pre)
        feat = new.features(frames).contiguous()
        a = torch.cat([feat[:n_fit].double(), torch.ones(n_fit, 1, dtype=torch.float64)], 1)
        ridge = 1e-3 * torch.eye(a.shape[1], dtype=torch.float64)
        sol = torch.linalg.solve(a.T @ a + ridge, a.T @ pre[:n_fit].double())
        new.fc_in.weight.copy_(sol[:-1].T.float())
        new.fc_in.bias.copy_(sol[-1].float())
    opt = torch.optim.Adam(new.fc_in.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, n_fit, (batch,), generator=gen)
        loss = (torch.relu(new.fc_in(feat[idx])) - target[idx]).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if progress is not None:
            progress(float(loss.detach()))
    with torch.no_grad():
        held, want = torch.relu(new.fc_in(feat[n_fit:])), target[n_fit:]
        r2 = 1.0 - float((held - want).pow(2).sum() / (want - want.mean(0)).pow(2).sum().clamp_min(1e-30))
    return new.eval(), r2


def _cmd_mask_floor(args) -> int:
    from .evaluate import resolve_checkpoint

    src = resolve_checkpoint(args.model)
    out = args.output or src
    f = set_mask_floor(src, args.floor, out)["mask_floor"]   # a bad floor: ValueError, one line
    limit = f"at most {-20 * math.log10(f):.1f} dB of attenuation" if f else "no attenuation limit"
    print(f"{out}: mask_floor {f} ({limit})")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("mask-floor", help="set a model's mask floor (attenuation limit) in its checkpoint",
                              description="Write the checkpoint with its mask floor set: the mask is raised "
                                          "to at least FLOOR on every target (docs/numerics.md); the weights "
                                          "are unchanged. Quantize again afterwards.")
    p.add_argument("model", help="model directory (with model.pt) or checkpoint file")
    p.add_argument("floor", type=float, help="0 <= FLOOR < 1 (0.1: at most 20 dB of attenuation; 0: none)")
    p.add_argument("-o", "--output", help="output checkpoint (default: replace the input)")
    p.set_defaults(func=_cmd_mask_floor)
