"""The paper's speech-enhancement networks (TinyDenoiser family).

    magnitude (257) -> FC(257->fc_in) + ReLU -> RNN(hidden) x n_rnn -> FC(hidden->fc_out) + ReLU
                    -> FC(fc_out->257) -> sigmoid mask

RNN is LSTM or GRU (PyTorch gate conventions). With the defaults (256 everywhere, two RNN layers)
the LSTM model has 1,250,561 parameters and the GRU model 987,393.
The recurrent state lives outside the network and is passed in and out explicitly, so the same
module serves whole-utterance training and frame-by-frame streaming.
"""
from __future__ import annotations

import dataclasses
import os

import torch
from torch import nn

from .config import N_BINS


@dataclasses.dataclass
class ModelConfig:
    cell: str = "lstm"         # "lstm" or "gru"
    hidden: int = 256          # recurrent units per layer
    n_rnn: int = 2             # recurrent layers
    fc_in: int = 256           # width of the input FC layer
    fc_out: int = 256          # width of the FC layer after the RNN
    n_bins: int = N_BINS

    def __post_init__(self):
        if self.cell not in ("lstm", "gru"):
            raise ValueError(f"unknown cell type {self.cell!r}: expected 'lstm' or 'gru'")
        for f in ("hidden", "n_rnn", "fc_in", "fc_out", "n_bins"):
            if int(getattr(self, f)) < 1:
                raise ValueError(f"model config: {f} must be a positive integer")


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
        x = torch.relu(self.fc_in(mag))
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
