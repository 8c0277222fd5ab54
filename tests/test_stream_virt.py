"""End to end on the virt target: the RISC-V firmware (scons target=virt) on QEMU's virt machine,
one controller hart and 8 worker harts, started by the real launcher (rnnse.stream.virt) and
streamed over the emulated 16550 UART (QEMU's TCP serial back-end).

* the streamed output, magnitudes and masks bit for bit equal to the host reference (the same C
  signal chain and portable kernels run on the host: stream_helpers.host_reference), and against
  the golden model in the Python chain as in test_stream_host (INT8 masks identical, FP16-carrying
  schemes within the spec's tolerance, audio within the chain's bound): the shipped models'
  mixed scheme and small random int8 / mixed models; in icount (serial team) and parallel mode;
* faults on the virt link (flipped, dropped and inserted bytes, a truncated last frame, a silent
  link, QEMU dying) and a reset or a disconnect mid-stream: the fault-free output bit for bit, or a
  clear error in bounded time; the firmware serves on;
* the icount mode's instruction counts: identical in two runs, positive and consistent per layer;
* ``rnnse enhance --target virt``: the file it writes and its instruction report.

QEMU (qemu-system-misc) and the RISC-V toolchain come with scripts/setup.sh; without them these
tests skip, except under CI (environment variable CI set), where that is a failure.
"""
import contextlib
import os
import shutil
import time

import numpy as np
import pytest
import serial

from stream_helpers import (ROOT, SHIPPED, check_against_golden, down_sizes, frame_at, host_reference, padded,
                            speech_like)

from rnnse.config import LATENCY
from rnnse.stream import virt
from rnnse.stream.client import DeviceTimeout, LinkClosed, StreamClient, StreamError
from rnnse.stream.faults import Drop, FaultProxy, Flip, Insert, Silence

REPLY_TIMEOUT = 5.0     # s; a hop of the 256-unit models takes milliseconds even on a loaded machine


def _missing_tools():
    if not shutil.which(virt.QEMU):
        return f"{virt.QEMU} not installed (Debian: {virt.QEMU_PACKAGE})"
    try:
        virt.check_toolchain()
    except virt.VirtError as exc:
        return str(exc)
    return None


_missing = _missing_tools()
if _missing and os.environ.get("CI"):
    raise RuntimeError(f"the virt tests need QEMU and the RISC-V toolchain (scripts/setup.sh): {_missing}")
pytestmark = pytest.mark.skipif(_missing is not None, reason=f"virt target unavailable: {_missing}")


def connect(machine_or_url, **kw):
    """A client on a new connection to QEMU's serial port (it takes one connection at a time and
    listens again when it closes) or to a URL (a fault proxy in front of it)."""
    url = machine_or_url if isinstance(machine_or_url, str) else f"socket://127.0.0.1:{machine_or_url.tcp_port}"
    ser = serial.serial_for_url(url, timeout=0)
    kw.setdefault("reply_timeout", REPLY_TIMEOUT)
    kw.setdefault("max_retries", 3)
    return ser, StreamClient(ser, **kw)


@contextlib.contextmanager
def machine(elf, icount=True):
    """QEMU on ``elf``; its first connection (the launcher's) closed, so tests connect anew."""
    with virt.start(elf, icount=icount) as m:
        m.port.close()
        yield m


@pytest.fixture(scope="module")
def build():
    cache = {}

    def get(qmodel):
        if qmodel not in cache:
            cache[qmodel] = virt.build(qmodel)
        return cache[qmodel]
    return get


def assert_same_as_host(result, ref):
    audio, mags, masks = ref
    np.testing.assert_array_equal(result.audio, audio)
    if result.mags is not None:
        np.testing.assert_array_equal(result.mags, mags)
        np.testing.assert_array_equal(result.masks, masks)


def check_costs(r):
    """Instruction counts of a stream (icount mode): positive and consistent per layer."""
    info, c = r.info, r.costs.astype(np.int64)
    n_ph = len(info.phases)
    assert info.counter == "instructions" and info.cores == virt.MAX_CORES
    assert info.fixed_costs == ["total", "dsp", "network", "busiest"]     # as the firmware states them
    assert c.shape == (len(r.audio) // 100, 4 + 2 * n_ph) and info.n_costs == c.shape[1]
    total, dsp, net, busiest = c[:, 0], c[:, 1], c[:, 2], c[:, 3]
    ph_total, ph_busy = c[:, 4:4 + n_ph], c[:, 4 + n_ph:]
    assert np.all(dsp > 0) and np.all(ph_busy > 0)
    assert np.all(total >= dsp + net)                       # every hart's instructions in the hop
    assert np.all(ph_total.sum(axis=1) <= net)              # the phases lie within the network step
    assert np.all(ph_busy <= ph_total)                      # one hart's share of a phase ...
    assert np.all(ph_total <= info.cores * ph_busy + 2000)  # ... and no hart more (+ barrier code)
    # the busiest worker over the hop: at least its busiest phase, at most every phase's busiest
    assert np.all(busiest <= ph_busy.sum(axis=1)) and np.all(busiest >= ph_busy.max(axis=1))


# ---- bit-exactness and bounds ---------------------------------------------------------------

@pytest.mark.parametrize("qmodel", SHIPPED, ids=["lstm256-mixed", "gru256-mixed"])
def test_shipped_models_match_the_host_reference_and_the_golden_model(qmodel, build):
    if not os.path.exists(qmodel):
        pytest.skip(f"{os.path.relpath(qmodel, ROOT)} not in this checkout")
    pcm = padded(speech_like(12000, 1))
    ref = host_reference(qmodel, pcm)
    elf = build(qmodel)
    with machine(elf, icount=True) as m:
        ser, c = connect(m, debug=True)
        info = c.hello()
        assert (info.target, info.scheme, info.model) == ("virt", "mixed", os.path.basename(os.path.dirname(qmodel)))
        r = c.stream(pcm)
        ser.close()
    assert_same_as_host(r, ref)
    check_against_golden(qmodel, r, pcm, exact_masks=False)
    assert r.mags.max() > 1.0 and 0.0 < r.masks.mean() < 1.0      # a real, non-trivial mask
    check_costs(r)
    if "lstm" in qmodel:
        # the team in parallel (one host thread per hart), 8 hops per message: the same samples
        with machine(elf, icount=False) as m:
            ser, c = connect(m, hops_per_message=8)
            fast = c.stream(pcm)
            ser.close()
        assert fast.info.counter == "ns"
        np.testing.assert_array_equal(fast.audio[:len(r.audio)], r.audio)


@pytest.mark.parametrize("cell,scheme", [("gru", "int8"), ("lstm", "mixed")])
def test_small_models_match_the_host_reference_and_the_golden_model(cell, scheme, small_models, build):
    qmodel = small_models[cell, scheme]
    pcm = padded(speech_like(6000, 2))
    with machine(build(qmodel)) as m:
        ser, c = connect(m, debug=True)
        r = c.stream(pcm)
        ser.close()
    assert_same_as_host(r, host_reference(qmodel, pcm))
    check_against_golden(qmodel, r, pcm, exact_masks=(scheme == "int8"))


def test_passthrough_is_the_delayed_input(build):
    x = speech_like(3333, 4)
    with machine(build(None)) as m:
        for per, window in ((1, None), (8, 2)):
            ser, c = connect(m, hops_per_message=per, window=window)
            assert c.hello().model == "passthrough"
            r = c.stream(padded(x))
            ser.close()
            np.testing.assert_array_equal(r.audio[LATENCY:LATENCY + len(x)], x)
            assert not r.audio[:LATENCY].any() and r.stats.retransmitted == 0


# ---- instruction counts -----------------------------------------------------------------------

def test_icount_instruction_counts_are_deterministic(small_models, build):
    """Two QEMU runs of the same stream report the same instructions for every hop and layer.
    One message in flight: the link is quiet while the team works, so no host I/O interleaves the
    harts (with more in flight a hop's phase totals may trade a few instructions at a boundary)."""
    qmodel = small_models["lstm", "mixed"]
    pcm = padded(speech_like(3000, 6))
    runs = []
    for _ in range(2):
        with machine(build(qmodel)) as m:
            ser, c = connect(m, window=1)
            runs.append(c.stream(pcm))
            ser.close()
    a, b = runs
    np.testing.assert_array_equal(a.audio, b.audio)
    np.testing.assert_array_equal(a.costs, b.costs)
    check_costs(a)
    # 8 messages in flight (the host's bytes arrive while the team works): the same counts but for a
    # few instructions at a phase boundary; the controller takes no part in the team's counts
    with machine(build(qmodel)) as m:
        ser, c = connect(m)
        busy = c.stream(pcm)
        ser.close()
    np.testing.assert_array_equal(busy.audio, a.audio)
    assert np.abs(busy.costs.astype(np.int64) - a.costs).max() <= 100
    assert a.info.phases == ["input", "fc", "quant", "lstm", "lstm", "dequant", "fc", "fc", "output"]


# ---- faults on the virt link -----------------------------------------------------------------

@pytest.fixture(scope="module")
def fault_vm(small_models, build):
    """The small LSTM int8 firmware on QEMU (icount mode), and its fault-free output, which is the
    host reference's bit for bit."""
    qmodel = small_models["lstm", "int8"]
    pcm = padded(speech_like(4000, 3))
    with machine(build(qmodel)) as m:
        ser, c = connect(m)
        clean = c.stream(pcm)
        ser.close()
        assert_same_as_host(clean, host_reference(qmodel, pcm))
        yield dict(machine=m, pcm=pcm, clean=clean.audio, info=clean.info)


def stream_through(fault_vm, up=(), down=(), **kw):
    with FaultProxy(fault_vm["machine"].tcp_port, up=up, down=down) as proxy:
        ser, c = connect(proxy.url, **kw)
        try:
            return c.stream(fault_vm["pcm"])
        finally:
            ser.close()


UP_FAULTS = {
    "flip-payload": [Flip(frame_at(10, 120), 0x10)],
    "flip-length": [Flip(frame_at(6, 7), 0x80)],
    "drop-byte": [Drop(frame_at(7, 33), 1)],
    "truncated": [Drop(frame_at(6, 114), 100)],
    "insert-junk": [Insert(frame_at(2, 0), bytes(range(256)))],
}


@pytest.mark.parametrize("name", sorted(UP_FAULTS))
def test_host_to_device_faults_are_recovered(name, fault_vm):
    r = stream_through(fault_vm, up=UP_FAULTS[name])
    np.testing.assert_array_equal(r.audio, fault_vm["clean"])        # nothing lost, doubled or altered
    assert r.stats.retransmitted > 0 and sum(r.stats.device_errors.values()) > 0, r.stats


@pytest.mark.parametrize("name", ["flip-payload", "drop-reply"])
def test_device_to_host_faults_are_recovered(name, fault_vm):
    i, e = down_sizes(fault_vm["info"])
    faults = {"flip-payload": [Flip(i + 4 * e + 77, 0x40)], "drop-reply": [Drop(i + 5 * e, e)]}[name]
    r = stream_through(fault_vm, down=faults)
    np.testing.assert_array_equal(r.audio, fault_vm["clean"])
    assert r.stats.retransmitted > 0 and r.stats.timeouts == 0, r.stats      # recovered without waiting


def test_truncated_last_frame_is_reported_after_the_inter_byte_timeout(fault_vm):
    """Stop-and-wait: nothing follows the cut frame, so only the firmware's time-out reveals it."""
    r = stream_through(fault_vm, up=[Drop(frame_at(5, 194), 20)], window=1)
    np.testing.assert_array_equal(r.audio, fault_vm["clean"])
    assert r.stats.device_errors.get("incomplete frame") == 1 and r.stats.timeouts == 0, r.stats


def bounded(exc_type, fn, limit):
    t0 = time.monotonic()
    with pytest.raises(exc_type) as e:
        fn()
    elapsed = time.monotonic() - t0
    assert elapsed <= limit, f"took {elapsed:.2f} s"
    return e.value


def test_silent_link_gives_a_clear_timeout_and_the_firmware_serves_on(fault_vm):
    err = bounded(DeviceTimeout, lambda: stream_through(fault_vm, up=[Silence(frame_at(12))], reply_timeout=0.5,
                                                        max_retries=2), 3 * 0.5 + 3.0)
    assert "stopped answering" in str(err)
    ser, c = connect(fault_vm["machine"])
    np.testing.assert_array_equal(c.stream(fault_vm["pcm"]).audio, fault_vm["clean"])
    ser.close()


def test_reset_and_disconnect_mid_stream_then_serving_on(fault_vm):
    m, pcm, clean = fault_vm["machine"], fault_vm["pcm"], fault_vm["clean"]

    class Abort(Exception):
        pass

    def stop_at(n):
        def cb(done):
            if done >= n:
                raise Abort
        return cb

    ser, c = connect(m)
    with pytest.raises(Abort):
        c.stream(pcm, on_progress=stop_at(15))          # leaves messages in flight
    np.testing.assert_array_equal(c.stream(pcm).audio, clean)   # a RESET, then a full fresh stream
    with pytest.raises(Abort):
        c.stream(pcm, on_progress=stop_at(7))
    ser.close()                                         # disconnect mid-stream
    ser, c = connect(m)                                 # QEMU listens again; the firmware serves on
    np.testing.assert_array_equal(c.stream(pcm).audio, clean)
    ser.close()
    assert m.alive()


def test_qemu_dying_mid_stream_is_a_clear_error(small_models, build):
    pcm = padded(speech_like(4000, 3))
    t0 = time.monotonic()
    with pytest.raises(virt.VirtError) as e:
        with virt.start(build(small_models["lstm", "int8"]), icount=True) as m:
            c = StreamClient(m.port, reply_timeout=1.0, max_retries=2)

            def kill_at(done):
                if done >= 10:
                    m.kill()
            c.stream(pcm, on_progress=kill_at)
    assert time.monotonic() - t0 <= 30
    assert "QEMU exited while the stream was open (killed by SIGKILL)" in str(e.value)
    assert isinstance(e.value.__cause__, (LinkClosed, DeviceTimeout, StreamError))


# ---- the command line ------------------------------------------------------------------------

def test_enhance_cli_on_virt_reports_instructions(small_models, tmp_path, capsys):
    import json

    from rnnse.audio import from_pcm16, load_wav, save_wav
    from rnnse.cli import main

    noisy = speech_like(8000, 5)
    save_wav(tmp_path / "noisy.wav", from_pcm16(noisy))
    qmodel = small_models["gru", "int8"]
    rc = main(["enhance", str(tmp_path / "noisy.wav"), "-o", str(tmp_path / "out.wav"), "--target", "virt",
               "--model", qmodel, "--json", str(tmp_path / "run.json")])
    out = capsys.readouterr()
    assert rc == 0, out.err
    # the file holds the host reference's samples (delay removed)
    y = load_wav(tmp_path / "out.wav")
    ref, _, _ = host_reference(qmodel, padded(noisy))
    np.testing.assert_array_equal(np.round(y * 32768).astype(np.int16), ref[LATENCY:LATENCY + len(noisy)])
    # deterministic instruction counts per layer against the 1.5 M budget, not emulated time
    assert "instructions per hop" in out.out and "1.5 M instructions" in out.out
    for layer in ("fc_in", "gru_0", "gru_1", "fc_mid", "fc_out", "busiest hart"):
        assert layer in out.out, layer
    assert "real time" not in out.out.split("link:")[0]
    # not a terminal: a compact progress report, not a redrawn bar
    assert out.err.count("\r") == 0 and len(out.err.splitlines()) <= 12, out.err
    run = json.load(open(tmp_path / "run.json"))
    assert run["counter"] == "instructions" and run["hops"] == -(-(len(noisy) + LATENCY) // 100)
    layers = run["per_hop"]["layers"]
    assert [L["name"] for L in layers if L["kind"] not in ("quant", "dequant", "output")] == \
        ["fc_in", "gru_0", "gru_1", "fc_mid", "fc_out"]
    assert all(L["busiest"] > 0 for L in layers)
