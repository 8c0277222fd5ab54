"""The PMSIS port (``scons target=pmsis``) with the public PMSIS runtime (pulp-sdk) on GVSoC's
pulp-open, the model booted from the simulated hyperflash, against the golden model.

Skipped, with the reason, when pulp-sdk (scripts/setup-pulp-sdk.sh, $RNNSE_PULP_SDK) or GVSoC
(scripts/setup-gvsoc.sh) is absent. With both, the same checks as the bare-metal port's
(test_pulp.py, helpers shared in cluster_helpers.py), every model read from its flash image:

* the port's own checks (firmware/targets/pmsis/tests/platform_test.c): cluster opened through
  PMSIS, team and barriers, phases, the PMSIS cluster DMA, L1 arena, the L2 beyond the SDK's view;
* every layer of small random LSTM/GRU models alone: INT8 bit for bit, FP16 within the bound;
* whole networks frame by frame, the shipped LSTM-256 int8 and mixed models included, and the
  signal chain + network, whose output is also bit for bit the bare-metal port's;
* the model in flash: a corrupted image and a missing one are refused with the reason, by the
  batch program and over the streaming link (nonzero exit);
* the streaming application through the mailbox bridge, and the file mode (wav in, wav out).
"""
import os

import numpy as np
import pytest

from rnnse import flash as F
from rnnse.config import LATENCY
from rnnse.stream import gvsoc as G
from rnnse.stream import pmsis as PM
from rnnse.stream import reference as R

from cluster_helpers import OUT_BOUND, check_layers, check_masks, magnitudes, small_models, speech_like

pytestmark = pytest.mark.skipif(PM.unavailable() is not None, reason=str(PM.unavailable()))

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The 48-unit models of test_pulp.py: {(cell, scheme): path}."""
    return small_models(tmp_path_factory)


@pytest.fixture(scope="module")
def elfs():
    return PM.build()


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Flash images, one per quantized model: get(qpath) -> path of its rnnse_model.bin."""
    cache = {}

    def get(qpath):
        if qpath not in cache:
            cache[qpath] = F.write_image(qpath, str(tmp_path_factory.mktemp("flash")))[0]
        return cache[qpath]
    return get


def hops_of(pcm):
    hops = np.zeros((-(-len(pcm) // 100), 100), np.int16)
    hops.reshape(-1)[:len(pcm)] = pcm
    return hops


# ---- the port's own checks --------------------------------------------------------------------

def test_platform_checks(elfs):
    res = G.run_elf(elfs["platform_test"], timeout=300)
    checks, measures = G.parse_checks(res.output)
    for name in ("boot", "team", "phases", "dma", "dma_long", "dma_off", "dma_fc", "l1", "l2", "stacks"):
        assert name in checks, f"{name}: no result in the output:\n{res.output[-2000:]}"
        assert checks[name][0], f"{name}: {checks[name][1]}"
    assert res.status == 0 and "failures: 0" in res.output
    # the PMSIS DMA moved 32 kB at close to the DMA's 8 B/cycle; a fork from the FC (a cluster task
    # and the team's fork) costs a few hundred cycles more than the bare-metal port's 250
    assert 0 < measures["dma_cycles"] < measures["dma_bytes"] / 6
    assert 0 < measures["fork_join_cycles"] < 2000
    assert measures["l1_arena"] > 48 * 1024


# ---- layers and networks, the model read from flash ---------------------------------------------

@pytest.mark.parametrize("cell,scheme", [("lstm", "int8"), ("gru", "int8"), ("lstm", "mixed"), ("gru", "fp16")])
def test_layers_match_the_golden_model(cell, scheme, models, elfs, images):
    from rnnse.quant import QuantizedModel

    qpath = models[cell, scheme]
    img = images(qpath)
    check_layers(QuantizedModel.load(qpath),
                 lambda i, cases, cores, tile: G.layer_io(elfs["batch"], i, cases, cores=cores, max_tile=tile,
                                                          flash_files=(img,)), scheme)


@pytest.mark.parametrize("cell,scheme", [("lstm", "int8"), ("gru", "int8"), ("lstm", "mixed"), ("gru", "mixed"),
                                         ("lstm", "fp16"), ("gru", "int8+")])
def test_small_networks_frame_by_frame(cell, scheme, models, elfs, images):
    from rnnse.quant import QuantizedModel

    qpath = models[cell, scheme]
    mags = magnitudes(speech_like(4000, 5))[:30]
    q = QuantizedModel.load(qpath)
    for cores in (8, 3):
        masks, stats = G.net_frames(elfs["batch"], mags, cores=cores, flash_files=(images(qpath),))
        check_masks(masks, q, mags, scheme in ("int8", "int8+"), f"{cell} {scheme} on {cores} cores")
        assert np.all(stats[:, 2] > 0)


@pytest.mark.parametrize("scheme", ["int8", "mixed"])
def test_shipped_lstm256_from_flash(scheme, elfs, images):
    """The shipped model (1.3-1.5 MB) read from the hyperflash into L2 and run frame by frame."""
    from rnnse.quant import QuantizedModel

    qpath = os.path.join(ROOT, "models", "lstm256", f"quant-{scheme}.npz")
    if not os.path.exists(qpath):
        pytest.skip(f"{os.path.relpath(qpath, ROOT)} not in this checkout")
    mags = magnitudes(speech_like(2400, 6))[:12]
    masks, _ = G.net_frames(elfs["batch"], mags, cores=8, flash_files=(images(qpath),))
    check_masks(masks, QuantizedModel.load(qpath), mags, scheme == "int8", f"lstm256 {scheme}")
    assert 0.0 < masks.mean() < 1.0


def test_dsp_and_network_chain(models, elfs, images):
    """DSP + network per hop: masks identical to the golden model fed with the firmware's
    magnitudes, audio within the chain's bound of the Python chain, and every output bit for bit
    the bare-metal port's (the same kernels and signal chain on another runtime)."""
    from rnnse.quant import QuantizedModel

    qpath = models["lstm", "int8"]
    pcm = np.concatenate([speech_like(3000, 8), np.zeros(LATENCY, np.int16)])
    out, masks, mags, stats = G.chain_frames(elfs["batch"], hops_of(pcm), cores=8, flash_files=(images(qpath),))
    _, ref_masks = R.golden_stream(QuantizedModel.load(qpath), pcm, mags=mags)
    np.testing.assert_array_equal(masks, ref_masks)
    ref, ref_mags = R.chain_stream(pcm, masks)
    d = np.abs(out.reshape(-1).astype(np.float64) - np.clip(ref.astype(np.float64) * 32768, -32768, 32767))
    assert d.max() <= OUT_BOUND, d.max()
    assert np.allclose(mags, ref_mags, rtol=1e-5, atol=1e-3)
    assert np.all(stats[:, 0] >= stats[:, 1]) and np.all(stats[:, 1] > 0)
    out_b, masks_b, mags_b, _ = G.chain_frames(G.build(qpath)["batch"], hops_of(pcm), cores=8)
    np.testing.assert_array_equal(out, out_b)
    np.testing.assert_array_equal(masks, masks_b)
    np.testing.assert_array_equal(mags, mags_b)


# ---- the model in flash: refusals -------------------------------------------------------------------

def test_corrupt_or_missing_image_is_refused(models, elfs, tmp_path):
    qpath = models["gru", "int8"]
    bad, _ = F.write_image(qpath, str(tmp_path / "bad"), corrupt=True)
    with pytest.raises(G.GvsocError, match="corrupt: its payload does not match its CRC-32"):
        G.net_frames(elfs["batch"], np.zeros((1, 257), np.float32), flash_files=(bad,))
    with pytest.raises(G.GvsocError, match="no model in flash"):
        G.net_frames(elfs["batch"], np.zeros((1, 257), np.float32))
    # another file of that name: not an image
    other = tmp_path / "other" / F.IMAGE_FILE
    other.parent.mkdir()
    other.write_bytes(b"RIFF" + bytes(60))
    with pytest.raises(G.GvsocError, match="not an rnnse model image"):
        G.net_frames(elfs["batch"], np.zeros((1, 257), np.float32), flash_files=(str(other),))
    # over the streaming link: ERROR with the reason, then the program ends with status 4
    import time

    import serial

    with G.start(elfs["app"], 8, flash_files=(bad,)) as (sim, bridge, tcp):
        ser = serial.serial_for_url(f"socket://127.0.0.1:{tcp}", timeout=0)
        with pytest.raises(G.GvsocError, match="could not start: network failure: the model image in flash is "
                                               "corrupt: its payload does not match its CRC-32"):
            G._read_ready(ser, bridge, sim, time.monotonic() + G.START_TIMEOUT)
        ser.close()
        bridge.join(timeout=30)
        assert bridge.exit_status == 4


# ---- streaming and the file mode --------------------------------------------------------------------

def test_stream_from_flash(models, images):
    """The streaming application: the model's checksum in INFO is the image's, masks bit for bit
    the golden model's, hop batches of 8 give the same audio."""
    from rnnse.export import pack_model
    from rnnse.quant import QuantizedModel
    from rnnse.stream.client import StreamClient

    qpath = models["gru", "int8"]
    q = QuantizedModel.load(qpath)
    pcm = np.concatenate([speech_like(2000, 10), np.zeros(LATENCY, np.int16)])
    with PM.start_with_image(images(qpath), cores=8) as ser:
        c = StreamClient(ser, reply_timeout=30, max_retries=2, debug=True)
        info = c.hello()
        assert info.target == "pmsis" and info.counter == "cycles" and info.cores == 8
        assert info.checksum == pack_model(q).checksum()
        r = c.stream(pcm)
        c8 = StreamClient(ser, reply_timeout=30, max_retries=2, hops_per_message=8)
        r8 = c8.stream(pcm)
    np.testing.assert_array_equal(r8.audio[:len(r.audio)], r.audio)
    _, ref_masks = R.golden_stream(q, pcm, mags=r.mags)
    np.testing.assert_array_equal(r.masks, ref_masks)
    assert r.costs.shape[0] == len(pcm) // 100 and np.all(r.costs[:, 2] > 0)
    assert r.stats.retransmitted == 0


def test_file_mode(models, elfs, images):
    """wav in, wav out through the host file system: the audio the chain gives for the same input
    (batch program), aligned with the input; a wav of another format is refused in one line."""
    qpath = models["lstm", "int8"]
    img = images(qpath)
    x = speech_like(2345, 11)
    out, figures = PM.run_wav(img, PM.wav_bytes(x))
    assert len(out) == len(x) and figures["samples"] == len(x)
    assert figures["hops"] == -(-(len(x) + LATENCY) // 100) and 0 < figures["dsp"] < figures["mean"]
    ref, *_ = G.chain_frames(elfs["batch"], hops_of(np.concatenate([x, np.zeros(LATENCY, np.int16)])), cores=8,
                             flash_files=(img,))
    np.testing.assert_array_equal(out, ref.reshape(-1)[LATENCY:LATENCY + len(x)])
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(bytes(400))
    with pytest.raises(G.GvsocError, match="must be 16 kHz mono 16-bit PCM"):
        PM.run_wav(img, buf.getvalue())
