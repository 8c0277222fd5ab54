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

from cluster_helpers import OUT_BOUND, check_layers, check_masks, magnitudes, small_models

pytestmark = pytest.mark.skipif(G.unavailable() is not None, reason=str(G.unavailable()))

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
speech_like = speech_like_pcm16


@pytest.fixture(scope="module")
def pulp_models(tmp_path_factory):
    """Random 48-unit LSTM and GRU models in the int8, mixed and fp16 schemes: {(cell, scheme): path}."""
    return small_models(tmp_path_factory)


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

@pytest.mark.parametrize("cell,scheme", [("lstm", "int8"), ("gru", "int8"), ("lstm", "mixed"), ("gru", "fp16"),
                                         ("lstm", "fp16")])
def test_layers_match_the_golden_model(cell, scheme, pulp_models, builds):
    from rnnse.quant import QuantizedModel

    qpath = pulp_models[cell, scheme]
    q = QuantizedModel.load(qpath)
    elf = builds(qpath)["batch"]
    check_layers(q, lambda i, cases, cores, tile: G.layer_io(elf, i, cases, cores=cores, max_tile=tile), scheme)


# ---- whole networks -------------------------------------------------------------------------------

@pytest.mark.parametrize("cell,scheme", [("lstm", "int8"), ("gru", "int8"), ("lstm", "mixed"), ("gru", "mixed"),
                                         ("lstm", "fp16"), ("gru", "fp16"), ("gru", "int8+")])
def test_small_networks_frame_by_frame(cell, scheme, pulp_models, builds):
    from rnnse.quant import QuantizedModel

    qpath = pulp_models[cell, scheme]
    mags = magnitudes(speech_like(4000, 5))[:30]
    q = QuantizedModel.load(qpath)
    for cores in (8, 3):
        masks, stats = G.net_frames(builds(qpath)["batch"], mags, cores=cores)
        check_masks(masks, q, mags, scheme in ("int8", "int8+"), f"{cell} {scheme} on {cores} cores")
        assert np.all(stats[:, 2] > 0)


@pytest.mark.parametrize("scheme", ["int8", "mixed"])
def test_shipped_lstm256_frame_by_frame(scheme, builds):
    from rnnse.quant import QuantizedModel

    qpath = os.path.join(ROOT, "models", "lstm256", f"quant-{scheme}.npz")
    if not os.path.exists(qpath):
        pytest.skip(f"{os.path.relpath(qpath, ROOT)} not in this checkout")
    mags = magnitudes(speech_like(2400, 6))[:12]
    masks, _ = G.net_frames(builds(qpath)["batch"], mags, cores=8)
    check_masks(masks, QuantizedModel.load(qpath), mags, scheme == "int8", f"lstm256 {scheme}")
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
