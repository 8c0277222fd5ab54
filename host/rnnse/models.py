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
The recurrent state lives outside the network and is passed in and out explicitly, so the same
module serves whole-utterance training and frame-by-frame streaming.
"""
from __future__ import annotations

import dataclasses
import os

import torch
from torch import nn

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

    def __post_init__(self):
        if self.cell not in ("lstm", "gru"):
            raise ValueError(f"unknown cell type {self.cell!r}: expected 'lstm' or 'gru'")
        for f in ("hidden", "n_rnn", "fc_in", "fc_out", "n_bins"):
            if int(getattr(self, f)) < 1:
                raise ValueError(f"model config: {f} must be a positive integer")
        if self.input_roots not in MAX_INPUT_ROOTS_RANGE:
            raise ValueError(f"model config: input_roots must be 0..{MAX_INPUT_ROOTS_RANGE[-1]}, "
                             f"got {self.input_roots}")


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
        return torch.sigmoid(self.fc_out(x)), new_state

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
    """Returns (model in eval mode, meta dict)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such checkpoint")
    ck = torch.load(path, map_location=map_location, weights_only=False)
    if not isinstance(ck, dict) or ck.get("format") != "rnnse-checkpoint-1":
        raise ValueError(f"{path}: not an rnnse checkpoint")
    model = SEModel(ModelConfig(**ck["config"]))
    model.load_state_dict(ck["state_dict"])
    model.eval()
    return model, ck.get("meta", {})
