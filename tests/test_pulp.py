"""The pulp-open port (``scons target=pulp``) on GVSoC against the golden model.

Skipped, with the reason, when no GVSoC is installed ($RNNSE_GVSOC or ``gvsoc`` on PATH; see
docs/gvsoc.md). With GVSoC:

* the port's own checks (firmware/targets/pulp/tests/platform_test.c): boot, team and event-unit
  barriers, cluster DMA, the Zfinx float entry points, the Xpulp int8 and FP16 dot products and
  the FPU activations against the portable C code, the INT8 kernels' integer primitives against the
  64-bit requant, the FPU forms of the FP32/FP16 scalar steps and the signal chain on the cluster
  against the portable C (bit for bit);
* every layer of small random LSTM/GRU models, run alone on the simulated cluster (batch program,
  LAYER_IO) with many DMA rounds: INT8 layers bit for bit equal to rnnse.quant.golden, FP16 layers
  within the bound of docs/numerics.md;
* whole networks frame by frame (int8 bit-exact; mixed and fp16 within the end-to-end tolerance),
  the shipped LSTM-256 int8 and mixed models included, and the DSP + network chain;
* the streaming application through GVSoC's proxy socket (``rnnse.stream.gvsoc.launch``).
"""
import os

import numpy as np
import pytest

from rnnse.audio import speech_like_pcm16
from rnnse.config import LATENCY
from rnnse.stream import gvsoc as G
from rnnse.stream import reference as R

from stream_helpers import check_fp16_masks, golden_orders

pytestmark = pytest.mark.skipif(G.unavailable() is not None, reason=str(G.unavailable()))

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
U32 = 2.0 ** -24
OUT_BOUND = 0.5 + 1.0 / 16               # LSB, on-device chain vs StreamingChain with the same masks


speech_like = speech_like_pcm16


def magnitudes(pcm):
    from rnnse.stft import stft

    return np.abs(stft(pcm / 32768.0)).astype(np.float32)


@pytest.fixture(scope="module")
def pulp_models(tmp_path_factory):
    """Random 48-unit LSTM and GRU models in the int8, mixed and fp16 schemes: {(cell, scheme): path}."""
    import torch

    from rnnse.models import SEModel
    from rnnse.quant import quantize

    mags = [magnitudes(speech_like(16000, s)) for s in range(2)]
    out = {}
    for cell in ("lstm", "gru"):
        torch.manual_seed(2)
        model = SEModel(cell=cell, hidden=48, fc_in=48, fc_out=48)
        d = tmp_path_factory.mktemp(f"pulp-{cell}")
        for scheme in ("int8", "mixed", "fp16") + (("int8+",) if cell == "gru" else ()):
            path = d / f"quant-{scheme}.npz"
            quantize(model, scheme, calib_mags=mags).save(path)
            out[cell, scheme] = str(path)
    return out


@pytest.fixture(scope="module")
def builds():
    cache = {}

    def get(qmodel=None):
        if qmodel not in cache:
            cache[qmodel] = G.build(qmodel)
        return cache[qmodel]
    return get


# ---- the port's own checks --------------------------------------------------------------------

def test_platform_checks(builds):
    res = G.run_elf(builds()["platform_test"], timeout=300)
    checks, measures = G.parse_checks(res.output)
    assert res.trap() is None, res.trap()
    for name in ("boot", "team", "dma", "dma_off", "dma_fc", "float", "sdot", "fdot", "activations", "fixed",
                 "fpscalar", "dsp"):
        assert name in checks, f"{name}: no result in the output:\n{res.output[-2000:]}"
        assert checks[name][0], f"{name}: {checks[name][1]}"
    assert res.status == 0 and "failures: 0" in res.output
    # the DMA moved 32 kB, and the barrier and fork costs are those of the event unit, not of polling
    assert 0 < measures["dma_cycles"] < measures["dma_bytes"]
    assert 0 < measures["fork_join_cycles"] < 2000


# ---- layers alone ---------------------------------------------------------------------------------

def _layer_bytes(layer, x, h=None, c=None):
    out = np.ascontiguousarray(x).tobytes()
    if h is not None:
        out += np.ascontiguousarray(h).tobytes()
    if c is not None:
        out += np.ascontiguousarray(c).tobytes()
    return out


def _inputs(rng, q, i, layer):
    """Random inputs of layer i (the types the exported chain gives it)."""
    n_in = (layer.w if layer.kind == "fc" else layer.w_ih).shape[1]
    prev_int8 = i > 0 and (q.layers[i - 1].kind == "quant" or q.layers[i - 1].prec == "int8")
    if layer.prec == "int8":
        x = rng.integers(0 if prev_int8 and q.layers[i - 1].kind == "fc" else -128, 128, n_in).astype(np.int8)
    else:
        x = np.abs(rng.standard_normal(n_in)).astype(np.float16) if i > 0 else \
            (rng.standard_normal(n_in) * 2).astype(np.float16)
    if layer.kind == "fc":
        return x, None, None
    H = layer.w_hh.shape[1]
    if layer.prec == "int8":
        h = rng.integers(-128, 128, H).astype(np.int8)
        c = None
        if layer.kind == "lstm":
            lim = 128 if layer.c_bits == 8 else 32768
            c = rng.integers(-lim, lim, H).astype(np.int8 if layer.c_bits == 8 else np.int16)
    else:
        h = (rng.uniform(-1, 1, H)).astype(np.float16)
        c = (rng.standard_normal(H) * 2).astype(np.float16) if layer.kind == "lstm" else None
    return x, h, c


def _fp16_bound(layer, x, h, ref):
    """The per-output bound of docs/numerics.md ("FP16 layers"), first order, for one step."""
    ulp16 = 2.0 ** (np.floor(np.log2(np.maximum(np.abs(ref.astype(np.float64)), 2.0 ** -14))) - 10)
    if layer.kind == "fc":
        w, b = layer.w.astype(np.float64), np.abs(layer.b.astype(np.float64))
        mag = b + np.abs(w) @ np.abs(x.astype(np.float64))
        return ulp16 + 2 * (w.shape[1] + 1) * U32 * mag + 1e-6
    K, H = layer.w_ih.shape[1], layer.w_hh.shape[1]
    mag = (np.abs(layer.b.astype(np.float64)) + np.abs(layer.w_ih.astype(np.float64)) @ np.abs(x.astype(np.float64))
           + np.abs(layer.w_hh.astype(np.float64)) @ np.abs(h.astype(np.float64)))
    e = 2 * (K + H + 1) * U32 * mag
    G_ = 4 if layer.kind == "lstm" else 3
    per_unit = e.reshape(G_, H).sum(axis=0)
    if layer.kind == "gru":
        per_unit = per_unit + 2 * (H + 1) * U32 * np.abs(layer.b_hn.astype(np.float64))
    return 2 * ulp16 + 2 * per_unit + 1e-6


@pytest.mark.parametrize("cell,scheme", [("lstm", "int8"), ("gru", "int8"), ("lstm", "mixed"), ("gru", "fp16"),
                                         ("lstm", "fp16")])
def test_layers_match_the_golden_model(cell, scheme, pulp_models, builds):
    from rnnse.quant import QuantizedModel, golden

    qpath = pulp_models[cell, scheme]
    q = QuantizedModel.load(qpath)
    elf = builds(qpath)["batch"]
    rng = np.random.default_rng(7)
    for i, layer in enumerate(q.layers):
        if layer.kind not in ("fc", "lstm", "gru"):
            continue
        cases = [_inputs(rng, q, i, layer) for _ in range(3)]
        for cores, tile in ((8, 1), (3, 2)):
            out = G.layer_io(elf, i, [_layer_bytes(layer, *c) for c in cases], cores=cores, max_tile=tile)
            p = layer.params()
            pos = 0
            for x, h, c in cases:
                if layer.kind == "fc":
                    ref = (golden.fc_int8 if layer.prec == "int8" else golden.fc_fp16)(x, **p)
                    ref_c = None
                elif layer.kind == "lstm":
                    step = golden.lstm_int8_step if layer.prec == "int8" else golden.lstm_fp16_step
                    ref, ref_c = step(x, h, c, **p)
                else:
                    ref = (golden.gru_int8_step if layer.prec == "int8" else golden.gru_fp16_step)(x, h, **p)
                    ref_c = None
                ref = np.asarray(ref)
                got = np.frombuffer(out, ref.dtype, count=ref.size, offset=pos)
                pos += ref.nbytes
                got_c = None
                if ref_c is not None:
                    ref_c = np.asarray(ref_c)
                    got_c = np.frombuffer(out, ref_c.dtype, count=ref_c.size, offset=pos)
                    pos += ref_c.nbytes
                what = f"{scheme} layer {i} ({layer.kind} {layer.prec}) on {cores} cores"
                if layer.prec == "int8":
                    np.testing.assert_array_equal(got, ref, err_msg=what)
                    if ref_c is not None:
                        np.testing.assert_array_equal(got_c, ref_c, err_msg=what + " (cell state)")
                else:
                    d = np.abs(got.astype(np.float64) - ref.astype(np.float64))
                    bound = _fp16_bound(layer, x, h, ref)
                    assert np.all(d <= bound), (what, d.max(), bound[np.argmax(d - bound)])
                    if ref_c is not None:
                        dc = np.abs(got_c.astype(np.float64) - ref_c.astype(np.float64))
                        assert np.all(dc <= 4 * bound + 2e-3 * np.abs(ref_c)), (what + " (cell)", dc.max())
            assert pos == len(out)


# ---- whole networks -------------------------------------------------------------------------------

def _check_masks(got, q, mags, exact, what):
    """INT8 networks bit-exact, FP16 and mixed ones within the tolerance of either golden order."""
    refs = (g.run(mags) for g in golden_orders(q))
    if exact:
        np.testing.assert_array_equal(got, next(refs), err_msg=what)
    else:
        check_fp16_masks(got, refs, what)


@pytest.mark.parametrize("cell,scheme", [("lstm", "int8"), ("gru", "int8"), ("lstm", "mixed"), ("gru", "mixed"),
                                         ("lstm", "fp16"), ("gru", "fp16"), ("gru", "int8+")])
def test_small_networks_frame_by_frame(cell, scheme, pulp_models, builds):
    from rnnse.quant import QuantizedModel

    qpath = pulp_models[cell, scheme]
    mags = magnitudes(speech_like(4000, 5))[:30]
    q = QuantizedModel.load(qpath)
    for cores in (8, 3):
        masks, stats = G.net_frames(builds(qpath)["batch"], mags, cores=cores)
        _check_masks(masks, q, mags, scheme in ("int8", "int8+"), f"{cell} {scheme} on {cores} cores")
        assert np.all(stats[:, 2] > 0)


@pytest.mark.parametrize("scheme", ["int8", "mixed"])
def test_shipped_lstm256_frame_by_frame(scheme, builds):
    from rnnse.quant import QuantizedModel

    qpath = os.path.join(ROOT, "models", "lstm256", f"quant-{scheme}.npz")
    if not os.path.exists(qpath):
        pytest.skip(f"{os.path.relpath(qpath, ROOT)} not in this checkout")
    mags = magnitudes(speech_like(2400, 6))[:12]
    masks, _ = G.net_frames(builds(qpath)["batch"], mags, cores=8)
    _check_masks(masks, QuantizedModel.load(qpath), mags, scheme == "int8", f"lstm256 {scheme}")
    assert 0.0 < masks.mean() < 1.0


def test_dsp_and_network_chain(pulp_models, builds):
    """DSP + network per hop on the chip: masks identical to the golden model fed with the
    firmware's magnitudes, audio within the on-device chain's bound of the Python chain."""
    from rnnse.quant import QuantizedModel

    qpath = pulp_models["lstm", "int8"]
    pcm = np.concatenate([speech_like(3000, 8), np.zeros(LATENCY, np.int16)])
    hops = np.zeros((-(-len(pcm) // 100), 100), np.int16)
    hops.reshape(-1)[:len(pcm)] = pcm
    out, masks, mags, stats = G.chain_frames(builds(qpath)["batch"], hops, cores=8)
    _, ref_masks = R.golden_stream(QuantizedModel.load(qpath), pcm, mags=mags)
    np.testing.assert_array_equal(masks, ref_masks)
    ref, ref_mags = R.chain_stream(pcm, masks)
    d = np.abs(out.reshape(-1).astype(np.float64) - np.clip(ref.astype(np.float64) * 32768, -32768, 32767))
    assert d.max() <= OUT_BOUND, d.max()
    assert np.allclose(mags, ref_mags, rtol=1e-5, atol=1e-3)
    assert np.all(stats[:, 0] >= stats[:, 1]) and np.all(stats[:, 1] > 0)


def test_bad_batch_input_is_a_clear_error(builds, pulp_models):
    elf = builds(pulp_models["lstm", "int8"])["batch"]
    with pytest.raises(G.GvsocError, match="bad batch input"):
        G.layer_io(elf, 99, [b""], cores=8)
    with pytest.raises(G.GvsocError, match="cores"):
        G.net_frames(elf, np.zeros((1, 257), np.float32), cores=9)


# ---- streaming through the proxy socket ------------------------------------------------------------

def test_stream_through_the_proxy(pulp_models):
    from rnnse.quant import QuantizedModel
    from rnnse.stream.client import StreamClient

    x = speech_like(2500, 9)
    with G.launch(None, cores=8) as ser:
        c = StreamClient(ser, reply_timeout=30, max_retries=2)
        info = c.hello()
        assert info.target == "pulp" and info.counter == "cycles" and info.cores == 8
        r = c.stream(np.concatenate([x, np.zeros(LATENCY, np.int16)]))
        np.testing.assert_array_equal(R.aligned(r.audio, len(x)), x)
        c8 = StreamClient(ser, reply_timeout=30, max_retries=2, hops_per_message=8)
        r8 = c8.stream(np.concatenate([x, np.zeros(LATENCY, np.int16)]))
        np.testing.assert_array_equal(r8.audio[:len(r.audio)], r.audio)
        assert r.stats.retransmitted == 0 and r8.stats.retransmitted == 0
    qpath = pulp_models["gru", "int8"]
    pcm = np.concatenate([speech_like(2000, 10), np.zeros(LATENCY, np.int16)])
    with G.launch(qpath, cores=8) as ser:
        c = StreamClient(ser, reply_timeout=30, max_retries=2, debug=True)
        r = c.stream(pcm)
    _, ref_masks = R.golden_stream(QuantizedModel.load(qpath), pcm, mags=r.mags)
    np.testing.assert_array_equal(r.masks, ref_masks)
    assert r.costs.shape[0] == len(pcm) // 100 and np.all(r.costs[:, 2] > 0)


def test_proxy_is_not_reachable_from_outside_its_namespace():
    """GVSoC's proxy listens on every interface: the launcher keeps it in a private network
    namespace, so nothing on this machine's network reaches its port."""
    import socket

    if os.environ.get(G.NETNS_ENV_VAR, "").lower() in ("off", "0", "no"):
        pytest.skip(f"{G.NETNS_ENV_VAR}=off")
    with G.start(G.build(None)["app"], cores=8) as (sim, bridge, port):
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", G.NETNS_PROXY_PORT), timeout=1.0).close()
        # the bridge's own port is on loopback and serves the firmware
        s = socket.create_connection(("127.0.0.1", port), timeout=5.0)
        s.close()
