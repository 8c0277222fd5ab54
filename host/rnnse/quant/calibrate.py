"""Calibration: run the float model as a stream and pick the clipping range of every tensor.

The float network is evaluated frame by frame in float64 with its recurrent states fed back
(exactly the computation of ``SEModel.forward`` on the same frames), recording every tensor
that gets a scale: the network input, the FC outputs, each recurrent layer's input, its gate
pre-activations and (LSTM) its cell state.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from ..config import SAMPLE_RATE
from ..stft import input_feature, stft

METHODS = ("minmax", "percentile", "mse", "meanstd", "tanh")
_MAX_SAMPLES = 200_000   # values per tensor used by the percentile/MSE searches


def float_params(model) -> dict:
    """The model's parameters as float64 numpy arrays, keyed like its state_dict, with the input
    normalisation (if any) folded into fc_in: the form the quantizer and the firmware use."""
    if getattr(model.config, "input_roots", 0):
        import copy

        model = copy.deepcopy(model).fold_input_norm()
    return {k: v.detach().cpu().double().numpy() for k, v in model.state_dict().items()
            if k not in ("in_offset", "in_scale")}


def _sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def stream_float(params: dict, config: dict, mags: np.ndarray, record: dict | None = None):
    """Run the float network over one clip's magnitudes (T, n_bins) frame by frame, or over B
    clips of equal length side by side (T, B, n_bins).

    Returns the masks (same shape as ``mags``). If ``record`` is a dict, appends the recorded
    tensors to its lists: "input", "fc_in", "rnn{i}.x", "rnn{i}.pre", "rnn{i}.c", "rnn{i}.h",
    "fc_mid", "fc_out" (each (T, [B,] width)).
    """
    mags = np.asarray(mags, dtype=np.float64)
    single = mags.ndim == 2
    if single:
        mags = mags[:, None, :]
    H, cell = config["hidden"], config["cell"]
    T, B = mags.shape[:2]

    def rec(name, v):
        if record is not None:
            record.setdefault(name, []).append(np.asarray(v[:, 0] if single else v, dtype=np.float32))

    mags = input_feature(mags, int(config.get("input_roots", 0)))
    rec("input", mags)
    x = np.maximum(mags @ params["fc_in.weight"].T + params["fc_in.bias"], 0.0)
    rec("fc_in", x)
    for li in range(config["n_rnn"]):
        pre = f"rnns.{li}."
        w_ih, w_hh = params[pre + "weight_ih_l0"], params[pre + "weight_hh_l0"]
        b_ih, b_hh = params[pre + "bias_ih_l0"], params[pre + "bias_hh_l0"]
        w_hh_t = np.ascontiguousarray(w_hh.T)
        rec(f"rnn{li}.x", x)
        xp = x @ w_ih.T + b_ih
        hs = np.empty((T, B, H))
        pres = np.empty((T, B, w_ih.shape[0]))
        h = np.zeros((B, H))
        if cell == "lstm":
            c = np.zeros((B, H))
            cs = np.empty((T, B, H))
            for t in range(T):
                p = xp[t] + np.einsum("bk,kn->bn", h, w_hh_t) + b_hh
                pres[t] = p
                i, f = _sig(p[:, :H]), _sig(p[:, H:2 * H])
                g, o = np.tanh(p[:, 2 * H:3 * H]), _sig(p[:, 3 * H:])
                c = f * c + i * g
                h = o * np.tanh(c)
                cs[t], hs[t] = c, h
            rec(f"rnn{li}.c", cs)
        else:
            for t in range(T):
                hp = np.einsum("bk,kn->bn", h, w_hh_t) + b_hh
                r = _sig(xp[t, :, :H] + hp[:, :H])
                z = _sig(xp[t, :, H:2 * H] + hp[:, H:2 * H])
                npre = xp[t, :, 2 * H:] + r * hp[:, 2 * H:]
                pres[t, :, :2 * H] = xp[t, :, :2 * H] + hp[:, :2 * H]
                pres[t, :, 2 * H:] = npre
                h = (1.0 - z) * np.tanh(npre) + z * h
                hs[t] = h
        rec(f"rnn{li}.pre", pres)
        rec(f"rnn{li}.h", hs)
        x = hs
    x = np.maximum(x @ params["fc_mid.weight"].T + params["fc_mid.bias"], 0.0)
    rec("fc_mid", x)
    v = x @ params["fc_out.weight"].T + params["fc_out.bias"]
    rec("fc_out", v)
    m = _sig(v)
    return m[:, 0] if single else m


@dataclasses.dataclass
class Calibration:
    """What calibration recorded: every value of every tensor (``values[name]``, 1-D float32)
    and the per-feature means (``means[name]``, averaged over all frames of all clips)."""
    values: dict
    means: dict
    n_clips: int
    n_frames: int

    def __getitem__(self, name):
        return self.values[name]


def record_ranges(model, mags_list, batch: int = 16) -> Calibration:
    """Stream every clip (states start at zero per clip; clips of equal length run side by side)
    and collect what every quantized tensor took."""
    params = float_params(model)
    config = dataclasses.asdict(model.config)
    record: dict = {}
    by_len: dict = {}
    for m in mags_list:
        m = np.asarray(m)
        if m.ndim != 2 or m.shape[1] != config["n_bins"] or len(m) == 0:
            raise ValueError(f"calibration magnitudes must have shape (frames, {config['n_bins']}), "
                             f"got {m.shape}")
        if not np.all(np.isfinite(m)):
            raise ValueError("calibration magnitudes must be finite")
        by_len.setdefault(len(m), []).append(m)
    if not by_len:
        raise ValueError("no calibration data given")
    for T in sorted(by_len):
        group = by_len[T]
        for s in range(0, len(group), batch):
            stream_float(params, config, np.stack(group[s:s + batch], axis=1), record)
    values = {k: np.concatenate([a.ravel() for a in v]) for k, v in record.items()}
    means = {k: np.concatenate([a.reshape(-1, a.shape[-1]) for a in v]).mean(axis=0, dtype=np.float64)
             for k, v in record.items()}
    n_frames = sum(len(m) for g in by_len.values() for m in g)
    return Calibration(values, means, sum(len(g) for g in by_len.values()), n_frames)


def choose_clip(values, method: str = "minmax", n_levels: int = 127, percentile: float = 99.99,
                n_std: float = 3.0) -> float:
    """Clipping magnitude for a symmetric quantizer with ``n_levels`` positive levels."""
    a = np.abs(np.asarray(values, dtype=np.float64).ravel())
    if a.size == 0:
        raise ValueError("no calibration values recorded")
    vmax = float(a.max())
    if vmax == 0.0:
        return 1.0          # an all-zero tensor: any scale works
    if method == "minmax":
        return vmax
    if len(a) > _MAX_SAMPLES:    # deterministic subsample
        a = a[np.linspace(0, len(a) - 1, _MAX_SAMPLES).astype(np.int64)]
    if method == "percentile":
        return max(float(np.percentile(a, percentile)), vmax * 1e-3)
    if method == "meanstd":
        return min(vmax, float(a.mean() + n_std * a.std()))
    if method == "mse":
        best, best_err = vmax, np.inf
        for frac in np.linspace(0.02, 1.0, 50):
            clip = vmax * frac
            s = clip / n_levels
            err = np.mean((np.minimum(np.rint(a / s), n_levels) * s - a) ** 2)
            if err < best_err:
                best, best_err = clip, err
        return float(best)
    if method == "tanh":
        # an LSTM cell state is only seen through tanh(c) (and carried on through the cell update):
        # the range that minimises the squared error of tanh of the quantized state. Values beyond
        # a few units all give tanh = +-1, so a state that integrates without bound (units used as
        # counters) does not stretch the quantization step of the units that carry information.
        ref = np.tanh(a)
        best, best_err = vmax, np.inf
        for clip in np.geomspace(min(vmax, 0.5), vmax, 60):
            s = clip / n_levels
            err = np.mean((np.tanh(np.minimum(np.rint(a / s), n_levels) * s) - ref) ** 2)
            if err < best_err:
                best, best_err = clip, err
        return float(best)
    raise ValueError(f"unknown calibration method {method!r}: expected one of {METHODS}")


# ---------------------------------------------------------------------------------------------
# calibration clips

def _wavs_in(folder: str) -> list[str]:
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(".wav"))


def load_calib_clips(source, n_calib: int = 16, seconds: float = 4.0, seed: int = 0) -> list:
    """Calibration clips (float32 signals) from

    * a list of float arrays (used as they are, the first ``n_calib``);
    * a list of wav paths, or one wav path;
    * a corpus root (``train/speech`` + ``train/noise``) or its ``train`` folder (``speech`` +
      ``noise``): ``n_calib`` fresh mixtures of ``seconds`` each from the online mixer (seeded);
    * a folder with a ``noisy/`` subfolder (a test-set layout) or a folder of wavs: ``n_calib``
      files picked evenly over the sorted list.
    """
    from ..audio import load_wav

    if n_calib < 1:
        raise ValueError(f"n_calib must be at least 1, got {n_calib}")
    if source is None:
        raise ValueError("no calibration data given")
    if isinstance(source, (list, tuple)) and source and not isinstance(source[0], (str, os.PathLike)):
        clips = [np.asarray(c, dtype=np.float32) for c in source[:n_calib]]
        if any(c.ndim != 1 for c in clips):
            raise ValueError("calibration clips must be 1-D signals")
        return clips
    if isinstance(source, (str, os.PathLike)):
        source = os.fspath(source)
        if os.path.isdir(source):
            for speech, noise in ((os.path.join(source, "train", "speech"), os.path.join(source, "train", "noise")),
                                  (os.path.join(source, "speech"), os.path.join(source, "noise"))):
                if os.path.isdir(speech) and os.path.isdir(noise):
                    return _mixtures(speech, noise, n_calib, seconds, seed)
            folder = os.path.join(source, "noisy") if os.path.isdir(os.path.join(source, "noisy")) else source
            paths = _wavs_in(folder)
            if not paths:
                raise FileNotFoundError(f"{source}: no calibration wav files found")
            if len(paths) > n_calib:
                paths = [paths[i] for i in np.linspace(0, len(paths) - 1, n_calib).astype(int)]
        elif os.path.exists(source):
            paths = [source]
        else:
            raise FileNotFoundError(f"{source}: no such calibration file or folder")
    else:
        paths = [os.fspath(p) for p in source][:n_calib]
        if not paths:
            raise ValueError("no calibration data given")
    return [load_wav(p) for p in paths]


def _mixtures(speech_dir, noise_dir, n, seconds, seed):
    from ..data.mixing import OnlineMixer, load_wav_dir

    mixer = OnlineMixer(load_wav_dir(speech_dir), load_wav_dir(noise_dir))
    rng = np.random.default_rng(seed)
    return [mixer.sample(int(seconds * SAMPLE_RATE), rng)[0] for _ in range(n)]


def clips_to_mags(clips) -> list:
    return [np.abs(stft(c)) for c in clips]
