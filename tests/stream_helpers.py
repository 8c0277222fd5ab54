"""Shared by the end-to-end stream tests (test_stream_host.py, test_stream_virt.py): test signals,
the small random models, the checks against the golden model and the references computed on the
host, and the byte offsets the fault-injection tests aim at."""
import os

import numpy as np

from rnnse.audio import speech_like_pcm16
from rnnse.config import LATENCY
from rnnse.stream import protocol as P
from rnnse.stream import reference as R

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "samples", "demo_noisy.wav")
OUT_BOUND = 0.5 + 1.0 / 16          # LSB: on-device chain vs StreamingChain, same masks
MASK_MAX, MASK_MEAN = 2e-3, 2e-4    # FP16 end-to-end tolerance of the numerics spec
AUDIO_HOP = 214                     # bytes of a one-hop AUDIO frame
SHIPPED = [os.path.join(ROOT, "models", m, "quant-mixed.npz") for m in ("lstm256", "gru256")]


speech_like = speech_like_pcm16


def padded(pcm):
    return np.concatenate([pcm, np.zeros(LATENCY, np.int16)])


def make_small_models(tmp_path_factory):
    """Random 64-unit LSTM and GRU models quantized in several schemes: {(cell, scheme): path}."""
    import torch

    from rnnse.models import SEModel
    from rnnse.quant import quantize
    from rnnse.stft import stft

    mags = [np.abs(stft(speech_like(16000, s) / 32768.0)) for s in range(2)]
    out = {}
    for cell in ("lstm", "gru"):
        torch.manual_seed(1)
        model = SEModel(cell=cell, hidden=64, fc_in=64, fc_out=64)
        d = tmp_path_factory.mktemp(f"stream-small-{cell}", numbered=False)
        for scheme in ("int8", "mixed", "fp16"):
            path = d / f"quant-{scheme}.npz"
            quantize(model, scheme, calib_mags=mags).save(path)
            out[cell, scheme] = str(path)
    return out


def golden_orders(q):
    """The golden model in the FP16 summation orders of docs/numerics.md ("End-to-end
    tolerance"), lazily: the portable kernels' sequential order, FP32 sums in BLAS order (which
    depends on the machine's BLAS), then order-independent sums."""
    from rnnse.quant import GoldenModel

    yield GoldenModel(q, accum="seq")
    yield GoldenModel(q)
    yield GoldenModel(q, accum="fp64")


def check_fp16_masks(got, refs, what=""):
    """Masks of an FP16 or mixed network within the spec's tolerance of one of the golden
    model's orders (refs: their masks, in golden_orders' order, consumed lazily); returns the
    index of the first that holds them."""
    worst = []
    for i, ref in enumerate(refs):
        d = np.abs(np.asarray(got, np.float64) - ref)
        if d.max() <= MASK_MAX and d.mean() <= MASK_MEAN:
            return i
        worst.append((float(d.max()), float(d.mean())))
    raise AssertionError(f"{what}: masks outside the FP16 tolerance of every golden order (max, mean): {worst}")


def check_against_golden(qmodel_path, result, pcm, exact_masks: bool):
    """A DEBUG stream's masks against the golden model fed with the firmware's own magnitudes
    (identical, or within the FP16 tolerance), and its audio within the on-device chain's bound of
    the Python chain (docs/numerics.md). Returns the audio differences in LSB."""
    from rnnse.quant import QuantizedModel

    q = QuantizedModel.load(qmodel_path)
    if exact_masks:
        out, masks = R.golden_stream(q, pcm, mags=result.mags)
        np.testing.assert_array_equal(result.masks, masks)
    else:
        streams = []

        def masks_of_each_order():
            for g in golden_orders(q):
                streams.append(R.golden_stream(g, pcm, mags=result.mags))
                yield streams[-1][1]

        out, masks = streams[check_fp16_masks(result.masks, masks_of_each_order())]
    # audio: the firmware's output against the Python chain with the firmware's own masks
    ref, _ = R.chain_stream(pcm, result.masks)
    diff = np.abs(result.audio.astype(np.float64) - np.clip(ref.astype(np.float64) * 32768, -32768, 32767))
    assert diff.max() <= OUT_BOUND, diff.max()
    # and against the golden model's own stream: mask differences move each output sample by at
    # most 4/3 max|dmask| max_k ||x_k||_2 (docs/numerics.md)
    from rnnse.stft import WINDOW

    frames = np.lib.stride_tricks.sliding_window_view(
        np.concatenate([np.zeros(LATENCY), R.pcm16_hops(pcm).reshape(-1).astype(np.float64)]), 400)[::100]
    norms = np.linalg.norm(frames * WINDOW, axis=1)
    dm = np.abs(result.masks - masks).max()
    bound = OUT_BOUND + 32768 * (4 / 3) * dm * norms.max()
    gd = np.abs(result.audio.astype(np.float64) - np.clip(out.astype(np.float64) * 32768, -32768, 32767))
    assert gd.max() <= bound, (gd.max(), bound)
    return diff


def host_reference(qmodel_path, pcm):
    """The firmware's computation on the host, from the same C sources: the signal chain of
    build/host/librnnse_app.so (cffi) around the portable kernels of build/host/librnnse_portable.so
    (rnnse.native), hop by hop from a fresh state. Returns (audio int16, mags, masks)."""
    from rnnse import native
    from rnnse.quant import QuantizedModel
    from rnnse.stream.capi import load

    ffi, lib = load()
    lib.dsp_tables_init()
    chain = ffi.new("dsp_chain_t *")
    lib.dsp_chain_reset(chain)
    net = native.load("portable").net(QuantizedModel.load(qmodel_path), cores=1)
    hops = np.zeros(-(-len(pcm) // P.HOP) * P.HOP, np.int16)
    hops[:len(pcm)] = pcm
    hops = hops.reshape(-1, P.HOP)
    mags = np.zeros((len(hops), P.N_BINS), np.float32)
    masks = np.zeros((len(hops), P.N_BINS), np.float32)
    audio = np.zeros_like(hops)
    for k in range(len(hops)):
        lib.dsp_analyze(chain, ffi.from_buffer("int16_t[]", hops[k]), ffi.from_buffer("float[]", mags[k]))
        masks[k] = net.run(mags[k:k + 1])[0]       # the network's states carry from hop to hop
        lib.dsp_synthesize(chain, ffi.from_buffer("float[]", masks[k]), ffi.from_buffer("int16_t[]", audio[k]))
    return audio.reshape(-1), mags, masks


def frame_at(k, byte=0, handshake=14):
    """Offset of ``byte`` in the k-th one-hop AUDIO frame of the host -> device stream (after RESET)."""
    return handshake + k * AUDIO_HOP + byte


def down_sizes(info):
    """Bytes of the INFO answering RESET and of a one-hop ENHANCED reply (device -> host)."""
    info_len = len(P.encode_info(info)) + P.OVERHEAD
    return info_len, P.OVERHEAD + P.ENHANCED_HEAD + 200 + 4 * info.n_costs
