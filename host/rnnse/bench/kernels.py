"""The C kernels on the host, per frame, against PyTorch and ONNX Runtime: ``rnnse bench kernels``.

``rnnse bench kernels [--models lstm256 gru256] [--schemes fp16 mixed mixed+ int8 int8+]
[--threads 1 2] [--frames N] [--requantize]``

One network step per STFT frame (the streaming case: batch 1, one frame, states carried), on the
same model and the same input frames (the demo clip's magnitudes) for every contender:

* C: the firmware kernels of the host library (``rnnse.native``, the bytes ``rnnse export``
  writes) on a team of 1 or 2 threads, each quantization scheme; weights read in place (the host
  mode; ``--weights dma`` adds the MCU mode, weights streamed through the L1 tiles). Whole-step
  time per frame measured in C around rnnse_net_step over back-to-back frames; per-layer time
  from the step's phase timer (code between team barriers, seen by core 0) over single steps;
* PyTorch eager, frame by frame (``model(frame, state)`` under ``torch.inference_mode``) with
  oneDNN on (the default) and off (``torch.backends.mkldnn.enabled``);
* TorchScript: trace and script, each plain and frozen, of a step module with the states as
  tensors; the fastest of a short trial runs in the comparison;
* ONNX Runtime: the same step module exported to ONNX (states as inputs and outputs), FP32 and
  ``onnxruntime.quantization.quantize_dynamic`` INT8 weights (dynamic quantization covers the
  LSTM and MatMul operators; ONNX Runtime's GRU stays FP32).

PyTorch and ONNX Runtime figures include their Python call per frame; they are what a Python user
gets. Contenders run interleaved (repeat r of every contender before repeat r + 1 of any), each
block after a warm-up, and the figures are medians over the repeats, so that noise from other
work on the machine hits all alike; the load average is recorded. Compare ratios of one run.

Targets (LSTM-256 and GRU-256, 1 thread): the C ``mixed`` and ``int8`` steps faster than ONNX
Runtime INT8 and at least 20x faster than PyTorch eager (oneDNN on); INT8 recurrent layers at
least 2x faster than FP16 ones.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

from . import cpu_name, write_results

SCHEMES = ("fp16", "mixed", "mixed+", "int8", "int8+")
TARGET_VS_ORT_INT8 = 1.0       # C mixed / int8 step: faster than ONNX Runtime INT8
TARGET_VS_EAGER = 20.0         # ... and at least this many times faster than PyTorch eager
TARGET_INT8_VS_FP16 = 2.0      # INT8 recurrent layers at least this many times faster than FP16


def _median(v) -> float:
    return float(np.median(np.asarray(v, np.float64))) if len(v) else float("nan")


# ---------------------------------------------------------------------------------------------
# inputs and models

def _frames(n: int) -> np.ndarray:
    """(n, 257) FP32 magnitudes of the demo clip (repeated as needed), else of noise."""
    from ..stft import stft

    demo = os.path.join("samples", "demo_noisy.wav")
    if os.path.exists(demo):
        from ..audio import load_wav

        x = load_wav(demo)
    else:
        x = (np.random.default_rng(0).standard_normal(16000 * 4) * 0.1).astype(np.float32)
    mags = np.abs(stft(x)).astype(np.float32)
    return np.ascontiguousarray(np.resize(mags, (n, mags.shape[1])))


def _model_dir(m: str) -> str:
    return m if os.path.isdir(m) else os.path.join("models", m)


def _check_model_dir(d: str, schemes: list) -> None:
    """A model directory must hold model.pt or a quant-SCHEME.npz of a scheme asked for."""
    from ..cli import UserError

    if not os.path.isdir(d):
        raise UserError(f"{d}: no such model directory")
    files = ["model.pt"] + [f"quant-{s}.npz" for s in schemes]
    if not any(os.path.exists(os.path.join(d, f)) for f in files):
        raise UserError(f"{d}: no model.pt nor quant-{{{','.join(schemes)}}}.npz in this model directory")


def _load_qmodel(d: str, scheme: str, model, requantize: bool = False):
    """models/NAME/quant-SCHEME.npz (unless ``requantize``), else a fresh quantization of model.pt
    calibrated on data/corpus (16 clips, not saved), else None with the reason."""
    from ..quant import QuantizedModel, quantize

    path = os.path.join(d, f"quant-{scheme}.npz")
    if os.path.exists(path) and not requantize:
        return QuantizedModel.load(path), None
    if model is None:
        return None, f"{path} missing and no model.pt to quantize"
    calib = os.path.join("data", "corpus")
    if scheme != "fp16" and not os.path.isdir(calib):
        return None, f"{path} missing and no {calib} to calibrate a quantization on"
    try:
        print(f"quantizing {os.path.join(d, 'model.pt')} ({scheme}, calibration on {calib})", flush=True)
        return quantize(model, scheme, calib if scheme != "fp16" else None, n_calib=16), None
    except (FileNotFoundError, ValueError) as exc:
        return None, f"cannot quantize {scheme}: {exc}"


def _weights_differ(model, q) -> float:
    """Largest difference between the quantized model's last FC weights (dequantized) and the
    float model's, relative to the largest float weight: ~1e-3 when q was made from this model.
    (The last layer, because calibration may rescale the first one: the ``equalize`` option.)"""
    lay = q.layer("fc_out")
    w = model.fc_out.weight.detach().numpy().astype(np.float64)
    wq = lay.w.astype(np.float64)
    if lay.prec == "int8":
        if "w_scale" not in lay.arrays:
            return float("nan")
        wq = wq * np.asarray(lay.arrays["w_scale"], np.float64).reshape(-1, 1)
    if wq.shape != w.shape:
        return float("inf")
    return float(np.abs(wq - w).max() / max(np.abs(w).max(), 1e-30))


# ---------------------------------------------------------------------------------------------
# contenders: block(mags, warm) -> (per-frame microseconds, masks, per-phase microseconds or None)

class Contender:
    family = ""

    def __init__(self, name: str, model: str, threads: int):
        self.name, self.model, self.threads = name, model, threads
        self.blocks: list = []          # per repeat: median us/frame of the block
        self.layer_blocks: list = []    # per repeat: median us per phase
        self.error: str | None = None
        self.info: dict = {}
        self.mask_diff: tuple | None = None    # (max, mean) |mask - PyTorch float mask|

    def block(self, mags: np.ndarray, warm: int):
        raise NotImplementedError


class CNet(Contender):
    family = "C"

    def __init__(self, model, threads, lib, qmodel, scheme, in_place, simd, layer_steps):
        mode = "" if in_place else " dma"
        tag = "" if simd == "auto" else f" [{simd}]"
        super().__init__(f"C {scheme}{mode}{tag}", model, threads)
        self.lib, self.scheme, self.in_place, self.simd = lib, scheme, in_place, simd
        self.qmodel = qmodel
        self.image = lib.model_image(qmodel)
        self.layer_steps = layer_steps
        from .. import native

        names = [lay.name for lay in qmodel.layers]
        fp16_in = int(self.image.c.layers[0].in_type) == native.FP16    # a conversion phase first
        self.phases = (["in"] if fp16_in else []) + names + ["out"]
        self.macs = {lay.name: _layer_macs(lay) for lay in qmodel.layers}
        self.rnn_layers = [lay.name for lay in qmodel.layers if lay.kind in ("lstm", "gru")]

    def block(self, mags, warm):
        lib = self.lib
        ctx = lib.simd_path(self.simd) if self.simd != "auto" else contextlib.nullcontext()
        with ctx, lib.net(self.image, cores=self.threads, in_place=self.in_place) as net:
            net.run(mags[:warm])
            net.reset()
            masks = net.run(mags)
            us = net.frame_ns.astype(np.float64) / 1e3
            phases = []
            for i in range(self.layer_steps):
                net.run(mags[i:i + 1])
                phases.append(net.phase_ns())
        return us, masks, np.median(np.asarray(phases, np.float64), axis=0) / 1e3


class ReadFloor(Contender):
    """One thread reading a buffer of the model's weight size once per frame (rnnse_host_read):
    the memory floor of any 1-thread step that reads each weight once per frame."""
    family = "floor"

    def __init__(self, model, lib, qmodel, scheme):
        from ..export import pack_model

        super().__init__(f"read the {scheme} weights once", model, 1)
        self.lib = lib
        self.nbytes = int(pack_model(qmodel).weight_bytes())
        self.buf = np.random.default_rng(0).integers(0, 256, self.nbytes, dtype=np.uint8)
        self.info = {"scheme": scheme, "weight_bytes": self.nbytes}

    def block(self, mags, warm):
        n = len(mags)
        self.lib.read_bytes(self.buf, max(warm, 1))
        t0 = time.perf_counter_ns()
        self.lib.read_bytes(self.buf, n)
        us = (time.perf_counter_ns() - t0) / 1e3 / n
        return np.full(n, us), None, None


def _layer_macs(lay) -> int:
    if lay.kind == "fc":
        n, k = lay.w.shape
        return int(n * k)
    if lay.kind in ("lstm", "gru"):
        g, k = lay.w_ih.shape
        return int(g * (k + lay.w_hh.shape[1]))
    return 0


def _step_module(model):
    """A torch module stepping the network one frame with tensor states (h, and c for LSTM, of
    shape (n_rnn, 1, 1, H)), for TorchScript and ONNX export."""
    import torch
    from torch import nn

    lstm = model.config.cell == "lstm"

    class StepLSTM(nn.Module):
        def __init__(self, m):
            super().__init__()
            self.fc_in, self.rnns, self.fc_mid, self.fc_out = m.fc_in, m.rnns, m.fc_mid, m.fc_out

        def forward(self, mag, h, c):
            x = torch.relu(self.fc_in(mag))
            hs, cs = [], []
            i = 0
            for rnn in self.rnns:
                x, (hn, cn) = rnn(x, (h[i], c[i]))
                hs.append(hn)
                cs.append(cn)
                i += 1
            return torch.sigmoid(self.fc_out(torch.relu(self.fc_mid(x)))), torch.stack(hs), torch.stack(cs)

    class StepGRU(nn.Module):
        def __init__(self, m):
            super().__init__()
            self.fc_in, self.rnns, self.fc_mid, self.fc_out = m.fc_in, m.rnns, m.fc_mid, m.fc_out

        def forward(self, mag, h):
            x = torch.relu(self.fc_in(mag))
            hs = []
            i = 0
            for rnn in self.rnns:
                x, hn = rnn(x, h[i])
                hs.append(hn)
                i += 1
            return torch.sigmoid(self.fc_out(torch.relu(self.fc_mid(x)))), torch.stack(hs)

    return (StepLSTM if lstm else StepGRU)(model).eval()


def _zero_state(model):
    import torch

    c = model.config
    z = torch.zeros(c.n_rnn, 1, 1, c.hidden)
    return [z, z.clone()] if c.cell == "lstm" else [z]


@contextlib.contextmanager
def _torch_threads(threads: int, mkldnn: bool = True):
    import torch

    old_t, old_m = torch.get_num_threads(), torch.backends.mkldnn.enabled
    torch.set_num_threads(threads)
    torch.backends.mkldnn.enabled = mkldnn
    try:
        yield
    finally:
        torch.set_num_threads(old_t)
        torch.backends.mkldnn.enabled = old_m


class TorchEager(Contender):
    family = "PyTorch"

    def __init__(self, model_name, threads, model, mkldnn: bool):
        super().__init__(f"PyTorch eager (oneDNN {'on' if mkldnn else 'off'})", model_name, threads)
        self.net, self.mkldnn = model, mkldnn

    def block(self, mags, warm):
        import torch

        x = torch.from_numpy(mags)[:, None, None, :]
        out = np.empty_like(mags)
        us = np.empty(len(mags))
        with _torch_threads(self.threads, self.mkldnn), torch.inference_mode():
            state = self.net.init_state(1)
            for t in range(warm):
                _, state = self.net(x[t], state)
            state = self.net.init_state(1)
            for t in range(len(mags)):
                t0 = time.perf_counter_ns()
                y, state = self.net(x[t], state)
                us[t] = (time.perf_counter_ns() - t0) / 1e3
                out[t] = y.numpy().reshape(-1)
        return us, out, None


class TorchScript(Contender):
    family = "PyTorch"

    def __init__(self, model_name, threads, model, fn, how):
        super().__init__(f"TorchScript ({how})", model_name, threads)
        self.fn, self.zero = fn, _zero_state(model)
        self.info["form"] = how

    def block(self, mags, warm):
        import torch

        x = torch.from_numpy(mags)[:, None, None, :]
        out = np.empty_like(mags)
        us = np.empty(len(mags))
        with _torch_threads(self.threads), torch.no_grad():
            state = list(self.zero)
            for t in range(warm):
                state = list(self.fn(x[t], *state)[1:])
            state = list(self.zero)
            for t in range(len(mags)):
                t0 = time.perf_counter_ns()
                r = self.fn(x[t], *state)
                us[t] = (time.perf_counter_ns() - t0) / 1e3
                state = list(r[1:])
                out[t] = r[0].numpy().reshape(-1)
        return us, out, None


def _script_forms(model) -> dict:
    """name -> TorchScript callable of the step module (the forms that compile)."""
    import torch

    step = _step_module(model)
    mag = torch.rand(1, 1, model.config.n_bins)
    args = (mag, *_zero_state(model))
    forms = {}
    makers = {
        "trace": lambda: torch.jit.trace(step, args),
        "trace+freeze": lambda: torch.jit.freeze(torch.jit.trace(step, args).eval()),
        "script": lambda: torch.jit.script(step),
        "script+freeze": lambda: torch.jit.freeze(torch.jit.script(step).eval()),
    }
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        for name, make in makers.items():
            try:
                fn = make()
                for _ in range(3):     # profiling runs of the executor
                    fn(*args)
                forms[name] = fn
            except Exception as exc:   # noqa: BLE001 - a form that does not compile is left out
                forms[name] = exc
    return forms


class OrtStep(Contender):
    family = "ONNX Runtime"

    def __init__(self, model_name, threads, path, label, n_state):
        super().__init__(f"ONNX Runtime {label}", model_name, threads)
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        self.state_names = ["h", "c"][:n_state]
        self.shape = self.sess.get_inputs()[1].shape

    def block(self, mags, warm):
        x = mags[:, None, None, :]
        out = np.empty_like(mags)
        us = np.empty(len(mags))
        zero = {n: np.zeros(self.shape, np.float32) for n in self.state_names}
        run = self.sess.run
        feed = {"mag": x[0], **zero}
        for t in range(warm):
            feed["mag"] = x[t]
            r = run(None, feed)
            feed.update(zip(self.state_names, r[1:]))
        feed = {"mag": x[0], **zero}
        for t in range(len(mags)):
            feed["mag"] = x[t]
            t0 = time.perf_counter_ns()
            r = run(None, feed)
            us[t] = (time.perf_counter_ns() - t0) / 1e3
            feed.update(zip(self.state_names, r[1:]))
            out[t] = r[0].reshape(-1)
        return us, out, None


def _export_onnx(model, d: str) -> tuple[str, str, dict]:
    """(fp32 path, int8 path, info) of the step module exported into directory d."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    step = _step_module(model)
    state = _zero_state(model)
    names = ["h", "c"][:len(state)]
    fp32 = os.path.join(d, "step.onnx")
    int8 = os.path.join(d, "step-int8.onnx")
    args = (torch.rand(1, 1, model.config.n_bins), *state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(step, args, fp32, input_names=["mag", *names],
                          output_names=["mask", *[n + "_out" for n in names]], opset_version=17, dynamo=False)
        import logging

        logging.getLogger().setLevel(logging.ERROR)     # quantize_dynamic's pre-processing hint
        quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8)
    import onnx

    ops = sorted({n.op_type for n in onnx.load(int8).graph.node})
    return fp32, int8, {"int8_ops": ops, "opset": 17, "exporter": "torch.onnx.export(dynamo=False)"}


# ---------------------------------------------------------------------------------------------

def _versions() -> dict:
    v = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("torch", "onnxruntime", "onnx"):
        try:
            v[mod] = __import__(mod).__version__
        except ImportError:
            v[mod] = None
    try:
        cc = os.environ.get("CC", "gcc")
        v["cc"] = cc + " " + subprocess.run([cc, "-dumpfullversion"], capture_output=True, text=True).stdout.strip()
    except OSError:
        v["cc"] = None
    return v


def _machine(lib) -> dict:
    from .. import native

    flags = native.cpu_flags()
    return {"cpu": cpu_name(), "cpus": os.cpu_count(),
            "cpu_flags": sorted(f for f in ("avx2", "f16c", "fma", "avx512f", "avx512bw", "avx512vl",
                                            "avx512_vnni", "avx_vnni") if f in flags),
            "library": os.path.relpath(lib.path), "simd_build": lib.simd, "simd_kernels": lib.simd_kernels,
            "platform": platform.platform()}


def _speed(us: float, macs: int) -> str:
    return f"{macs / us / 1e3:6.2f}" if macs and us == us and us > 0 else f"{'-':>6s}"


def table(rows: list, ref: dict) -> str:
    """Whole-step rows; the ratios are against the 1-thread ONNX Runtime int8 and PyTorch eager
    (oneDNN on) figures of the same model, the yardsticks the targets name."""
    head = (f"{'model':8s} {'contender':34s} {'thr':>3s} {'us/frame':>9s} {'GMAC/s':>6s} "
            f"{'vs ORT int8':>11s} {'vs eager':>9s} {'mask diff max/mean':>18s}")
    out = [head, "-" * len(head)]
    for r in rows:
        if r.get("error"):
            thr = f"{r['threads']:3d}" if r.get("threads") else f"{'-':>3s}"
            out.append(f"{r['model']:8s} {r['contender']:34s} {thr} {'-':>9s}  {r['error']}")
            continue
        us = r["us_per_frame"]
        ort = ref.get((r["model"], "ort_int8"))
        eag = ref.get((r["model"], "eager"))
        vo = f"{ort / us:10.2f}x" if ort else f"{'-':>11s}"
        ve = f"{eag / us:8.1f}x" if eag else f"{'-':>9s}"
        md = (f"{r['mask_max_diff']:9.2e}/{r['mask_mean_diff']:8.1e}" if r.get("mask_max_diff") is not None
              else f"{'-':>18s}")
        out.append(f"{r['model']:8s} {r['contender']:34s} {r['threads']:3d} {us:9.1f} {_speed(us, r.get('macs', 0))} "
                   f"{vo} {ve} {md}")
    return "\n".join(out)


def layer_table(layers: list) -> str:
    out = []
    for lt in layers:
        out.append(f"{lt['model']} {lt['contender']} ({lt['threads']} thread{'s' if lt['threads'] > 1 else ''}): "
                   "us per frame [GMAC/s]")
        cells = []
        for name, us, macs in zip(lt["phases"], lt["us"], lt["macs"]):
            cells.append(f"{name} {us:.1f}" + (f" [{macs / us / 1e3:.1f}]" if macs and us > 0 else ""))
        out.append("  " + ", ".join(cells) + f"; sum {sum(lt['us']):.1f}")
    return "\n".join(out)


def main(argv=None) -> int:
    from .. import native
    from ..cli import UserError
    from . import RESULTS_DIR

    p = argparse.ArgumentParser(prog="rnnse bench kernels", description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["lstm256", "gru256"],
                   help="model directories under models/ (or paths) with model.pt and quant-SCHEME.npz")
    p.add_argument("--schemes", nargs="+", default=list(SCHEMES), choices=SCHEMES)
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2], help="team sizes / library threads")
    p.add_argument("--frames", type=int, default=200, help="frames per timed block (default 200)")
    p.add_argument("--repeats", type=int, default=7, help="interleaved blocks per contender (median)")
    p.add_argument("--warmup", type=int, default=20, help="untimed frames before each block")
    p.add_argument("--layer-steps", type=int, default=30, help="single steps per block for per-layer times")
    p.add_argument("--weights", nargs="+", default=["in-place"], choices=["in-place", "dma"],
                   help="C weight access: in place (host) and/or through L1 tiles by DMA (the MCU mode)")
    p.add_argument("--simd", nargs="+", default=["auto"], choices=["auto", "avx512vnni", "avx2", "portable"],
                   help="C dot-product code: auto (the best this CPU runs), a forced x86 path, or the "
                        "portable C library")
    p.add_argument("--requantize", action="store_true",
                   help="quantize model.pt (calibration on data/corpus) instead of using quant-SCHEME.npz")
    p.add_argument("--no-torch", action="store_true", help="leave out PyTorch and TorchScript")
    p.add_argument("--no-onnx", action="store_true", help="leave out ONNX Runtime")
    p.add_argument("-o", "--output", default=os.path.join(RESULTS_DIR, "kernels.json"))
    args = p.parse_args(argv)
    if args.frames < 10 or args.repeats < 1 or args.warmup < 0 or args.layer_steps < 1:
        raise UserError("--frames must be >= 10, --repeats and --layer-steps >= 1, --warmup >= 0")
    for m in args.models:
        _check_model_dir(_model_dir(m), args.schemes)
    lib = native.load()
    if any(not 1 <= t <= lib.max_cores for t in args.threads):
        raise UserError(f"--threads must be within 1..{lib.max_cores}")
    libs = {}
    for s in args.simd:
        if s == "portable":
            libs[s] = native.load("portable")
        else:
            try:
                with lib.simd_path(s):
                    pass
                libs[s] = lib
            except ValueError as exc:
                print(f"skipping --simd {s}: {exc}")
    mags = _frames(args.frames)
    notes: list = []
    unavailable: list = []      # (model, contender, why): printed as rows

    torch_ok = onnx_ok = False
    if not args.no_torch:
        try:
            import torch  # noqa: F401

            torch_ok = True
        except ImportError:
            unavailable.append(("-", "PyTorch eager / TorchScript", "not installed (pip install -r requirements.txt)"))
    if not args.no_onnx:
        try:
            import onnx  # noqa: F401
            import onnxruntime  # noqa: F401

            onnx_ok = True
        except ImportError as exc:
            unavailable.append(("-", "ONNX Runtime", f"not installed ({exc.name}: pip install -r requirements.txt)"))

    contenders: list = []
    skipped: list = []
    script_trials: dict = {}
    tmp = tempfile.TemporaryDirectory(prefix="rnnse-bench-")
    t_start = time.time()
    load0 = os.getloadavg()
    for m in args.models:
        d = _model_dir(m)
        name = os.path.basename(os.path.normpath(d))
        model = None
        ckpt = os.path.join(d, "model.pt")
        if os.path.exists(ckpt) and (torch_ok or onnx_ok or args.requantize or not all(
                os.path.exists(os.path.join(d, f"quant-{s}.npz")) for s in args.schemes)):
            from ..models import load_checkpoint

            model, _ = load_checkpoint(ckpt)
        elif torch_ok or onnx_ok:
            notes.append(f"{name}: {ckpt} missing: no PyTorch / ONNX Runtime rows")
        mismatched = []
        for s in args.schemes:
            q, why = _load_qmodel(d, s, model, args.requantize)
            if q is None:
                print(f"skipping {name} {s}: {why}")
                skipped.append({"model": name, "scheme": s, "reason": why})
                continue
            if model is not None:
                diff = _weights_differ(model, q)
                if not diff <= 0.02:
                    mismatched.append((s, diff))
            for simd, slib in libs.items():
                for w in args.weights:
                    for t in args.threads:
                        contenders.append(CNet(name, t, slib, q, s, w == "in-place", simd, args.layer_steps))
            if 1 in args.threads and lib.simd != "portable":
                contenders.append(ReadFloor(name, lib, q, s))
        if mismatched:
            notes.append(f"{name}: {', '.join(f'quant-{s}.npz' for s, _ in mismatched)} not made from model.pt "
                         f"(fc_in weights differ by up to {max(v for _, v in mismatched):.0%} of their range): the "
                         "C rows run other weights of the same network, and their mask diff includes that "
                         "difference (--requantize quantizes model.pt instead)")
        if model is None:
            continue
        for t in args.threads:
            if torch_ok:
                contenders.append(TorchEager(name, t, model, mkldnn=True))
                contenders.append(TorchEager(name, t, model, mkldnn=False))
        if torch_ok:
            forms = _script_forms(model)
            trial = {}
            for how, fn in forms.items():
                if isinstance(fn, Exception):
                    trial[how] = f"does not compile: {type(fn).__name__}: {str(fn).splitlines()[0][:120]}"
                    continue
                c = TorchScript(name, 1, model, fn, how)
                trial[how] = _median([_median(c.block(mags[:60], 10)[0]) for _ in range(3)])
            script_trials[name] = trial
            timed = {k: v for k, v in trial.items() if isinstance(v, float)}
            if timed:
                best = min(timed, key=timed.get)
                for t in args.threads:
                    contenders.append(TorchScript(name, t, model, forms[best], best))
        if onnx_ok:
            try:
                d_onnx = os.path.join(tmp.name, name)
                os.makedirs(d_onnx, exist_ok=True)
                fp32, int8, info = _export_onnx(model, d_onnx)
                n_state = len(_zero_state(model))
                for t in args.threads:
                    for path, label in ((fp32, "fp32"), (int8, "int8 (dynamic)")):
                        c = OrtStep(name, t, path, label, n_state)
                        c.info.update(info)
                        contenders.append(c)
            except Exception as exc:   # noqa: BLE001 - exporter or runtime failure: reported as a row
                why = f"export or InferenceSession failed: {type(exc).__name__}: {exc}"
                unavailable.append((name, "ONNX Runtime", why))

    # reference masks (PyTorch float, frame by frame) for the mask-difference column
    ref_masks = {}
    for c in contenders:
        if isinstance(c, TorchEager) and c.mkldnn and c.model not in ref_masks:
            ref_masks[c.model] = c.block(mags, 0)[1]

    for r in range(args.repeats):
        for c in contenders:
            if c.error:
                continue
            try:
                us, masks, phases = c.block(mags, args.warmup)
            except Exception as exc:   # noqa: BLE001
                c.error = f"{type(exc).__name__}: {exc}"
                continue
            c.blocks.append(_median(us))
            if phases is not None:
                c.layer_blocks.append(phases)
            if r == 0 and c.model in ref_masks and masks is not None:
                d = np.abs(masks.astype(np.float64) - ref_masks[c.model])
                c.mask_diff = (float(d.max()), float(d.mean()))
        print(f"repeat {r + 1}/{args.repeats} done", file=sys.stderr, flush=True)
    load1 = os.getloadavg()
    tmp.cleanup()

    rows, layers = [], []
    ref: dict = {}
    for c in contenders:
        row = {"model": c.model, "contender": c.name, "family": c.family, "threads": c.threads,
               "error": c.error, "blocks_us": c.blocks, "us_per_frame": _median(c.blocks) if c.blocks else None,
               "mask_max_diff": c.mask_diff[0] if c.mask_diff else None,
               "mask_mean_diff": c.mask_diff[1] if c.mask_diff else None, **c.info}
        if isinstance(c, CNet):
            row.update(scheme=c.scheme, weights="in-place" if c.in_place else "dma", simd=c.simd,
                       simd_kernels=(c.lib.simd_kernels if c.simd == "auto" else c.simd),
                       macs=sum(c.macs.values()))
            if c.layer_blocks:
                ph = np.median(np.asarray(c.layer_blocks), axis=0)
                lt = {"model": c.model, "contender": c.name, "scheme": c.scheme, "threads": c.threads,
                      "weights": row["weights"], "simd": c.simd, "phases": c.phases[:len(ph)],
                      "us": [float(v) for v in ph], "macs": [c.macs.get(n, 0) for n in c.phases[:len(ph)]],
                      "rnn_us": float(sum(v for n, v in zip(c.phases, ph) if n in c.rnn_layers))}
                layers.append(lt)
                row["layers_us"] = dict(zip(lt["phases"], lt["us"]))
                row["rnn_layers_us"] = lt["rnn_us"]
        elif isinstance(c, ReadFloor):
            row["macs"] = 0
        else:
            macs = {c2.model: sum(c2.macs.values()) for c2 in contenders if isinstance(c2, CNet)}
            row["macs"] = macs.get(c.model, 0)
        rows.append(row)
        if row["us_per_frame"] and c.threads == 1:
            if c.name == "ONNX Runtime int8 (dynamic)":
                ref[(c.model, "ort_int8")] = row["us_per_frame"]
            if c.name == "PyTorch eager (oneDNN on)":
                ref[(c.model, "eager")] = row["us_per_frame"]
    for m, who, why in unavailable:
        rows.append({"model": m, "contender": who, "family": who.split()[0], "threads": 0, "error": why,
                     "us_per_frame": None})

    print(table(rows, ref))
    print()
    print(layer_table(layers))
    targets = _targets(rows, layers)
    print()
    machine = _machine(lib)
    print(f"{args.frames} frames per block, {args.repeats} interleaved blocks per row (median); load average "
          f"{load0[0]:.1f} -> {load1[0]:.1f} on {os.cpu_count()} CPUs ({machine['cpu']}); C library "
          f"{machine['simd_build']} build, dot products {machine['simd_kernels']}")
    print("targets (1 thread):")
    for t in targets:
        print(f"{'PASS' if t['pass'] else 'MISS'}  {t['text']}")
    floors = _floors(rows, ref)
    for f in floors:
        print(f["text"])
    for n in notes:
        print(f"note: {n}")
    result = {"benchmark": "kernels", "frames": args.frames, "repeats": args.repeats, "warmup": args.warmup,
              "layer_steps": args.layer_steps, "weights": args.weights, "simd": args.simd,
              "machine": {**machine, "load_before": load0[0], "load_after": load1[0]},
              "versions": _versions(), "script_trials": script_trials,
              "targets": {"vs_ort_int8": TARGET_VS_ORT_INT8, "vs_eager": TARGET_VS_EAGER,
                          "int8_vs_fp16_rnn": TARGET_INT8_VS_FP16, "checks": targets, "floors": floors},
              "elapsed_s": time.time() - t_start, "rows": rows, "layers": layers, "skipped": skipped,
              "notes": notes}
    write_results(args.output, result)
    return 0


def _floors(rows: list, ref: dict) -> list:
    """Per model and scheme: the 1-thread time budget of the PyTorch eager target against the time
    one thread takes just to read the scheme's weights once (ReadFloor)."""
    out = []
    for r in rows:
        if r.get("family") != "floor" or not r.get("us_per_frame"):
            continue
        eager = ref.get((r["model"], "eager"))
        if not eager:
            continue
        budget = eager / TARGET_VS_EAGER
        floor = r["us_per_frame"]
        out.append({"model": r["model"], "scheme": r["scheme"], "weight_bytes": r["weight_bytes"],
                    "floor_us": floor, "budget_us": budget, "max_vs_eager": eager / floor,
                    "text": f"floor: {r['model']} {r['scheme']}: reading its {r['weight_bytes'] / 1e6:.2f} MB of "
                            f"weights once takes {floor:.1f} us on one thread, against {budget:.1f} us for "
                            f"{TARGET_VS_EAGER:.0f}x PyTorch eager: at most {eager / floor:.1f}x on one thread"})
    return out


def _targets(rows: list, layers: list) -> list:
    """The checks the targets name (1 thread)."""
    out = []
    by = {(r["model"], r["contender"], r["threads"]): r for r in rows if r.get("us_per_frame")}
    models = sorted({r["model"] for r in rows if r.get("family") == "C"}, key=lambda m: (m.startswith("gru"), m))
    t = 1
    for m in models:
        ort = by.get((m, "ONNX Runtime int8 (dynamic)", t))
        eager = by.get((m, "PyTorch eager (oneDNN on)", t))
        for s in ("mixed", "int8"):
            c = by.get((m, f"C {s}", t))
            if not c:
                continue
            if ort:
                ratio = ort["us_per_frame"] / c["us_per_frame"]
                out.append({"model": m, "threads": t, "check": f"C {s} vs ONNX Runtime int8", "ratio": ratio,
                            "target": TARGET_VS_ORT_INT8, "pass": ratio > TARGET_VS_ORT_INT8,
                            "text": f"{m}: C {s} {c['us_per_frame']:.1f} us vs ONNX Runtime int8 "
                                    f"{ort['us_per_frame']:.1f} us: {ratio:.2f}x faster (target > 1x)"})
            if eager:
                ratio = eager["us_per_frame"] / c["us_per_frame"]
                out.append({"model": m, "threads": t, "check": f"C {s} vs PyTorch eager", "ratio": ratio,
                            "target": TARGET_VS_EAGER, "pass": ratio >= TARGET_VS_EAGER,
                            "text": f"{m}: C {s} vs PyTorch eager (oneDNN on) {eager['us_per_frame']:.1f} us: "
                                    f"{ratio:.1f}x faster (target >= {TARGET_VS_EAGER:.0f}x)"})
        lt = {lay["scheme"]: lay for lay in layers if lay["model"] == m and lay["threads"] == t
              and lay["weights"] == "in-place" and lay["simd"] == "auto"}
        if "fp16" in lt:
            for s in ("int8", "mixed"):
                if s in lt and lt[s]["rnn_us"] > 0:
                    ratio = lt["fp16"]["rnn_us"] / lt[s]["rnn_us"]
                    out.append({"model": m, "threads": t, "check": f"recurrent layers {s} vs fp16",
                                "ratio": ratio, "target": TARGET_INT8_VS_FP16, "pass": ratio >= TARGET_INT8_VS_FP16,
                                "text": f"{m}: INT8 recurrent layers ({s}) {lt[s]['rnn_us']:.1f} us vs FP16 "
                                        f"{lt['fp16']['rnn_us']:.1f} us: {ratio:.2f}x faster (target >= "
                                        f"{TARGET_INT8_VS_FP16:.0f}x)"})
    return out
