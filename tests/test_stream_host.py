"""End to end on the host target: rnnse_app (built with scons) served on a loopback TCP port, the
StreamClient over pyserial's socket:// URL.

* the streamed output against the golden model in the Python signal chain, fed with the firmware's
  own magnitudes (DEBUG stream): INT8 masks bit-exact, FP16 masks within the spec's tolerance, audio
  within the on-device chain's bound (docs/numerics.md), for the shipped models' mixed scheme and
  small random models of several schemes;
* faults injected into the byte stream (flipped, dropped and inserted bytes, truncated frames, a
  silent peer, a disconnect, a device restart, a reset mid-stream): the output is bit for bit the
  fault-free one, or the stream fails with a clear error within bounded time;
* ``rnnse enhance`` itself, and its errors for bad input files.
"""
import contextlib
import os
import socket
import threading
import time

import numpy as np
import pytest
import serial
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_helpers import (AUDIO_HOP, DEMO, ROOT, SHIPPED, check_against_golden, down_sizes, frame_at, padded,
                            speech_like)

from rnnse.config import LATENCY
from rnnse.stream import protocol as P
from rnnse.stream import reference as R
from rnnse.stream.client import DeviceTimeout, LinkClosed, StreamClient, StreamError
from rnnse.stream.faults import Close, Drop, FaultProxy, Flip, Hit, Insert, Noise, Silence
from rnnse.stream.targets import start_host_app

REPLY_TIMEOUT = 0.4
FRAME_TIMEOUT_MS = 50


@contextlib.contextmanager
def running(exe):
    with start_host_app(exe, frame_timeout_ms=FRAME_TIMEOUT_MS) as (proc, port):
        yield proc, port


def connect(port_or_url, **kw):
    url = port_or_url if isinstance(port_or_url, str) else f"socket://127.0.0.1:{port_or_url}"
    ser = serial.serial_for_url(url, timeout=0)
    kw.setdefault("reply_timeout", REPLY_TIMEOUT)
    kw.setdefault("max_retries", 4)
    return ser, StreamClient(ser, **kw)


# ---- models and builds (small_models: conftest.py) -------------------------------------------

@pytest.fixture(scope="module")
def build():
    from rnnse.stream.build import build_firmware

    cache = {}

    def get(qmodel):
        if qmodel not in cache:
            cache[qmodel] = build_firmware("host", qmodel)
        return cache[qmodel]
    return get


@pytest.fixture(scope="module")
def fault_app(small_models, build):
    """The small LSTM int8 app, running, and its fault-free output for the fault tests' signal."""
    exe = build(small_models["lstm", "int8"])
    pcm = padded(speech_like(4000, 3))
    with running(exe) as (proc, port):
        ser, c = connect(port)
        clean = c.stream(pcm)
        info = c.info
        ser.close()
        yield dict(port=port, proc=proc, pcm=pcm, clean=clean.audio, info=info)


# ---- bit-exactness and bounds ---------------------------------------------------------------

@pytest.mark.parametrize("qmodel", SHIPPED, ids=["lstm256-mixed", "gru256-mixed"])
def test_shipped_models_match_the_golden_model(qmodel, build):
    if not os.path.exists(qmodel):
        pytest.skip(f"{os.path.relpath(qmodel, ROOT)} not in this checkout")
    exe = build(qmodel)
    signals = [padded(speech_like(24000, 1))]
    if os.path.exists(DEMO):
        from rnnse.audio import load_wav, to_pcm16

        signals.append(padded(to_pcm16(load_wav(DEMO))))
    with running(exe) as (_, port):
        ser, c = connect(port, debug=True)
        info = c.hello()
        assert info.scheme == "mixed" and info.model == os.path.basename(os.path.dirname(qmodel))
        results = [c.stream(pcm) for pcm in signals]
        ser.close()
        for pcm, r in zip(signals, results):
            check_against_golden(qmodel, r, pcm, exact_masks=False)
            assert r.mags.max() > 1.0 and 0.0 < r.masks.mean() < 1.0        # a real, non-trivial mask
        # the same stream without DEBUG, 8 hops per message and 8 messages in flight: same samples
        ser, c = connect(port, hops_per_message=8)
        fast = c.stream(signals[0])
        ser.close()
        np.testing.assert_array_equal(fast.audio[:len(results[0].audio)], results[0].audio)


@pytest.mark.parametrize("cell,scheme", [("lstm", "int8"), ("gru", "int8"), ("lstm", "mixed"), ("gru", "fp16")])
def test_small_models_match_the_golden_model(cell, scheme, small_models, build):
    qmodel = small_models[cell, scheme]
    pcm = padded(speech_like(6000, 2))
    with running(build(qmodel)) as (_, port):
        ser, c = connect(port, debug=True)
        r = c.stream(pcm)
        ser.close()
    check_against_golden(qmodel, r, pcm, exact_masks=(scheme == "int8"))
    assert r.info.fixed_costs == ["total", "dsp", "network", "busiest"]   # as the firmware states them
    assert r.info.counter == "ns" and r.costs.shape == (len(pcm) // 100 + (len(pcm) % 100 > 0), r.info.n_costs)
    assert np.all(r.costs[:, 0] >= r.costs[:, 2]) and np.all(r.costs[:, 2] > 0)


def test_passthrough_is_the_delayed_input(build):
    x = speech_like(7777, 4)
    with running(build(None)) as (_, port):
        for per, window in ((1, 1), (1, None), (8, 3)):
            ser, c = connect(port, hops_per_message=per, window=window)
            assert c.hello().model == "passthrough"
            r = c.stream(padded(x))
            np.testing.assert_array_equal(R.aligned(r.audio, len(x)), x)
            assert not r.audio[:LATENCY].any()
            assert r.stats.retransmitted == 0 and r.stats.device_errors == {}
            ser.close()


def test_reset_mid_stream_and_serving_after_a_disconnect(fault_app):
    port, pcm, clean = fault_app["port"], fault_app["pcm"], fault_app["clean"]

    class Abort(Exception):
        pass

    def stop_at(n):
        def cb(done):
            if done >= n:
                raise Abort
        return cb

    ser, c = connect(port)
    with pytest.raises(Abort):
        c.stream(pcm, on_progress=stop_at(15))          # leaves messages in flight
    r = c.stream(pcm)                                   # a reset, then a full fresh stream
    np.testing.assert_array_equal(r.audio, clean)
    with pytest.raises(Abort):
        c.stream(pcm, on_progress=stop_at(7))
    ser.close()                                         # disconnect mid-stream
    ser, c = connect(port)                              # the app serves the next connection, fresh
    np.testing.assert_array_equal(c.stream(pcm).audio, clean)
    ser.close()


# ---- fault injection ------------------------------------------------------------------------

UP_FAULTS = {
    "flip-type": [Flip(frame_at(5, 2), 0x01)],
    "flip-length": [Flip(frame_at(6, 7), 0x80)],
    "flip-payload": [Flip(frame_at(10, 120), 0x10)],
    "flip-crc": [Flip(frame_at(12, 212), 0x04)],
    "flip-sync": [Flip(frame_at(3, 0), 0xFF)],
    "drop-byte": [Drop(frame_at(7, 33), 1)],
    "drop-header": [Drop(frame_at(9, 0), 10)],
    "drop-frame": [Drop(frame_at(4, 0), AUDIO_HOP)],
    "truncated": [Drop(frame_at(6, 114), 100)],
    "insert-byte": [Insert(frame_at(13, 100), b"\x00")],
    "insert-fake-sync": [Insert(frame_at(11, 0), b"\xA5\x5A\x03\x00\x07\x00\xC8\x00\x12\x34")],
    "insert-junk": [Insert(frame_at(2, 0), bytes(range(256)) * 3)],
    "burst": [Flip(frame_at(k, 50 + k), 0x20) for k in range(3, 20, 2)],
}


@pytest.mark.parametrize("name", sorted(UP_FAULTS))
def test_host_to_device_faults_are_recovered(name, fault_app):
    with FaultProxy(fault_app["port"], up=UP_FAULTS[name]) as proxy:
        ser, c = connect(proxy.url)
        r = c.stream(fault_app["pcm"])
        ser.close()
    np.testing.assert_array_equal(r.audio, fault_app["clean"])        # nothing lost, doubled or altered
    assert r.stats.retransmitted > 0 and sum(r.stats.device_errors.values()) > 0, r.stats


def down_faults(info):
    i, e = down_sizes(info)
    at = lambda k, b=0: i + k * e + b  # noqa: E731
    return {
        "flip-payload": [Flip(at(4, 77), 0x40)],
        "flip-seq": [Flip(at(6, 4), 0x01)],
        "drop-header": [Drop(at(8, 0), 12)],
        "truncated": [Drop(at(10, 60), e - 60)],
        "drop-reply": [Drop(at(5, 0), e)],
        "insert-junk": [Insert(at(3, 0), b"\x5A\xA5\xA5" * 5)],
        "burst": [Flip(at(k, 30), 0x08) for k in range(2, 25, 3)],
    }


@pytest.mark.parametrize("name", ["flip-payload", "flip-seq", "drop-header", "truncated", "drop-reply",
                                  "insert-junk", "burst"])
def test_device_to_host_faults_are_recovered(name, fault_app):
    with FaultProxy(fault_app["port"], down=down_faults(fault_app["info"])[name]) as proxy:
        ser, c = connect(proxy.url)
        r = c.stream(fault_app["pcm"])
        ser.close()
    np.testing.assert_array_equal(r.audio, fault_app["clean"])
    assert r.stats.retransmitted > 0 and r.stats.timeouts == 0, r.stats      # recovered without waiting


def test_truncated_last_frame_is_reported_after_the_inter_byte_timeout(fault_app):
    """Stop-and-wait: nothing follows the cut frame, so only the device's time-out reveals it."""
    with FaultProxy(fault_app["port"], up=[Drop(frame_at(5, 194), 20)]) as proxy:
        ser, c = connect(proxy.url, window=1)
        r = c.stream(fault_app["pcm"])
        ser.close()
    np.testing.assert_array_equal(r.audio, fault_app["clean"])
    assert r.stats.device_errors.get("incomplete frame") == 1 and r.stats.timeouts == 0, r.stats


def stream_through(fault_app, up=(), down=(), **kw):
    with FaultProxy(fault_app["port"], up=up, down=down) as proxy:
        ser, c = connect(proxy.url, **kw)
        try:
            return c.stream(fault_app["pcm"])
        finally:
            ser.close()


@pytest.mark.parametrize("window", [1, 8])
@pytest.mark.parametrize("direction", ["up", "down"])
def test_a_damaged_resend_is_answered_at_once(direction, window, fault_app):
    """Message 10 (or its reply) and its first two resends damaged: each is reported or seen at
    once and sent again, never waited out."""
    hit = {direction: [Hit(10, times=3, type=P.AUDIO if direction == "up" else P.ENHANCED)]}
    r = stream_through(fault_app, window=window, **hit)
    np.testing.assert_array_equal(r.audio, fault_app["clean"])
    assert r.stats.timeouts == 0 and r.stats.recoveries >= 3, r.stats
    if direction == "up":
        assert r.stats.device_errors["damaged frame"] == 3, r.stats


@pytest.mark.parametrize("direction", ["up", "down"])
def test_a_damaged_control_message_is_sent_again_at_once(direction, fault_app):
    hit = {direction: [Hit(None, times=2, type=P.RESET if direction == "up" else P.INFO)]}
    t0 = time.monotonic()
    r = stream_through(fault_app, reply_timeout=2.0, **hit)
    np.testing.assert_array_equal(r.audio, fault_app["clean"])
    assert time.monotonic() - t0 < 1.5          # not a single 2 s reply time-out


@pytest.mark.parametrize("hops", [1, 8])
def test_continuous_bit_errors_are_recovered(hops, fault_app):
    ber = 1e-4 if hops == 1 else 2e-5
    t0 = time.monotonic()
    r = stream_through(fault_app, up=[Noise(ber=ber, seed=hops)], down=[Noise(ber=ber, seed=hops + 10)],
                       hops_per_message=hops)
    np.testing.assert_array_equal(r.audio[:len(fault_app["clean"])], fault_app["clean"])
    assert r.stats.retransmitted > 0 and r.stats.timeouts <= 1, r.stats
    assert time.monotonic() - t0 < 2 * REPLY_TIMEOUT + 1.0


@pytest.mark.parametrize("hops", [1, 8])
def test_duplicated_reordered_truncated_frames_and_garbage_are_recovered(hops, fault_app):
    faults = dict(dup=0.05, reorder=0.05, truncate=0.05, garbage=0.05)
    r = stream_through(fault_app, up=[Noise(**faults, seed=3), Hit(2)],
                       down=[Noise(**faults, seed=4), Hit(3, 1, P.ENHANCED)], hops_per_message=hops)
    np.testing.assert_array_equal(r.audio[:len(fault_app["clean"])], fault_app["clean"])
    assert r.stats.retransmitted > 0 and r.stats.duplicate_replies > 0, r.stats


def test_sequence_numbers_wrap_past_65535(fault_app):
    """A stream starting 20 messages before the wrap (0xFFFE is followed by 0), with a message and a
    reply damaged on each side of it."""
    first = P.SEQ_MOD - 20
    r = stream_through(fault_app, up=[Hit(P.SEQ_MOD - 1), Hit(1)], down=[Hit(P.SEQ_MOD - 2, 1, P.ENHANCED),
                                                                     Hit(0, 1, P.ENHANCED)], first_seq=first)
    np.testing.assert_array_equal(r.audio, fault_app["clean"])
    assert r.stats.messages > 20 and r.stats.timeouts == 0, r.stats
    assert r.stats.device_errors["damaged frame"] == 2 and r.stats.damaged_rx == 2, r.stats
    with pytest.raises(ValueError):
        StreamClient(None, first_seq=P.SEQ_NONE)


fault_kinds = st.sampled_from(["flip", "drop", "insert"])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(faults=st.lists(st.tuples(st.booleans(), fault_kinds, st.integers(0, 9000), st.integers(1, 255)),
                       min_size=1, max_size=4))
def test_random_faults_never_change_the_output(fault_app, faults):
    up, down = [], []
    used = []
    for is_up, kind, at, arg in faults:
        if any(abs(at - u) < 300 for u in used):      # faults must not overlap
            continue
        used.append(at)
        f = (Flip(at, arg) if kind == "flip" else Drop(at, arg % 40 + 1) if kind == "drop"
             else Insert(at, bytes([arg]) * (arg % 5 + 1)))
        (up if is_up else down).append(f)
    with FaultProxy(fault_app["port"], up=up, down=down) as proxy:
        ser, c = connect(proxy.url)
        r = c.stream(fault_app["pcm"])
        ser.close()
    np.testing.assert_array_equal(r.audio, fault_app["clean"])


def bounded(exc_type, fn, limit):
    t0 = time.monotonic()
    with pytest.raises(exc_type) as e:
        fn()
    elapsed = time.monotonic() - t0
    assert elapsed <= limit, f"took {elapsed:.2f} s"
    return e.value


def test_silent_peer_gives_a_clear_timeout():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    conns = []
    t = threading.Thread(target=lambda: conns.append(srv.accept()), daemon=True)
    t.start()
    ser, c = connect(srv.getsockname()[1], reply_timeout=0.2, max_retries=2)
    err = bounded(DeviceTimeout, c.hello, 3 * 0.2 + 1.0)
    assert "no answer to HELLO" in str(err)
    ser.close()
    srv.close()


@pytest.mark.parametrize("direction", ["up", "down"])
def test_peer_going_silent_mid_stream_gives_a_clear_timeout(direction, fault_app):
    faults = {direction: [Silence(frame_at(20) if direction == "up" else 3000)]}
    with FaultProxy(fault_app["port"], **faults) as proxy:
        ser, c = connect(proxy.url, reply_timeout=0.2, max_retries=2)
        err = bounded(DeviceTimeout, lambda: c.stream(fault_app["pcm"]), 3 * 0.2 + 1.5)
        ser.close()
    assert "stopped answering" in str(err)


@pytest.mark.parametrize("direction", ["up", "down"])
def test_disconnect_mid_stream_is_reported_and_the_app_serves_on(direction, fault_app):
    faults = {direction: [Close(frame_at(15) if direction == "up" else 2500)]}
    with FaultProxy(fault_app["port"], **faults) as proxy:
        ser, c = connect(proxy.url)
        err = bounded(LinkClosed, lambda: c.stream(fault_app["pcm"]), 5 * REPLY_TIMEOUT + 2.0)
        ser.close()
    assert "lost" in str(err) or "cannot write" in str(err)
    ser, c = connect(fault_app["port"])
    np.testing.assert_array_equal(c.stream(fault_app["pcm"]).audio, fault_app["clean"])
    ser.close()
    assert fault_app["proc"].poll() is None


def _eof_within(sock, limit):
    """Seconds until the peer closes ``sock`` (what it sends is dropped); fails after ``limit`` s."""
    t0 = time.monotonic()
    sock.settimeout(limit)
    while sock.recv(65536):
        assert time.monotonic() - t0 < limit, "the app kept the connection open"
    return time.monotonic() - t0


def test_an_idle_connection_is_dropped_and_the_next_client_served(build):
    with start_host_app(build(None), idle_timeout_s=1) as (proc, port):
        t0 = time.monotonic()
        idle = socket.create_connection(("127.0.0.1", port))          # says nothing
        ser, c = connect(port, reply_timeout=5.0)                       # waits in the backlog
        assert c.hello().model == "passthrough"                         # once the idle one is dropped
        assert 0.8 <= time.monotonic() - t0 <= 3.0
        _eof_within(idle, 1.0)
        np.testing.assert_array_equal(R.aligned(c.stream(padded(speech_like(1000, 1))).audio, 1000),
                                      speech_like(1000, 1))
        ser.close()
        idle.close()
        assert proc.poll() is None


@pytest.mark.parametrize("once", [False, True])
def test_bye_ends_the_connection_not_the_server_unless_once(once, build):
    with start_host_app(build(None), once=once) as (proc, port):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(P.encode(P.BYE, 5))
        assert _eof_within(sock, 3.0) < 3.0        # answered (INFO), then the connection ends
        sock.close()
        if once:
            assert proc.wait(timeout=5) == 0
            return
        ser, c = connect(port)
        assert c.hello().model == "passthrough" and proc.poll() is None
        ser.close()


def test_device_restart_or_lost_state_is_an_error_not_wrong_audio(fault_app):
    i, e = down_sizes(fault_app["info"])
    boot = P.encode(P.INFO, P.SEQ_NONE, P.encode_info(fault_app["info"]))
    # the ERROR names seq 12: right after the 12th reply the host's window starts there, whatever it
    # has sent by then (seq 13 raced: read in one chunk with the replies before it, before the host
    # had sent message 13, it named no message of the window and was ignored as stale)
    lost = P.encode(P.ERROR, 12, P.encode_error(P.E_SEQ, 0, "AUDIO out of sequence"))
    for fault, text in ((Insert(i + 12 * e, boot), "restarted"), (Insert(i + 12 * e, lost), "lost the stream")):
        with FaultProxy(fault_app["port"], down=[fault]) as proxy:
            ser, c = connect(proxy.url)
            err = bounded(StreamError, lambda: c.stream(fault_app["pcm"]), 5.0)
            ser.close()
        assert text in str(err)


def with_embedded_frame(pcm, k, at=20):
    """``pcm`` with a valid one-hop AUDIO frame of seq ``k`` hidden in its samples, starting ``at``
    bytes into message k's payload and ending in message k+1's (one hop per message): the frame
    carries message k's CRC and message k+1's header inside its own payload, so that a receiver that
    lost message k's sync marker finds it, valid, where message k should have been."""
    raw = bytearray(pcm.astype("<i2").tobytes())
    hop = 2 * P.HOP
    head = P.SYNC + bytes([P.AUDIO, 0]) + k.to_bytes(2, "little") + hop.to_bytes(2, "little")
    head += P.crc16(head).to_bytes(2, "little")
    raw[k * hop + at:k * hop + at + P.HEADER_BYTES] = head
    start = k * hop + at + P.HEADER_BYTES
    crc_k = P.encode(P.AUDIO, k, bytes(raw[k * hop:(k + 1) * hop]))[-4:]
    head_k1 = P.encode(P.AUDIO, k + 1, bytes(hop))[:P.HEADER_BYTES]
    tail = hop - (hop - at - P.HEADER_BYTES) - 4 - P.HEADER_BYTES        # of message k+1's payload
    body = bytes(raw[start:(k + 1) * hop]) + crc_k + head_k1 + bytes(raw[(k + 1) * hop:(k + 1) * hop + tail])
    assert len(body) == hop
    raw[(k + 1) * hop + tail:(k + 1) * hop + tail + 4] = P.crc32(head + body).to_bytes(4, "little")
    return np.frombuffer(bytes(raw), "<i2").astype(np.int16)


def test_a_frame_hidden_in_the_audio_never_yields_audio_of_other_input(fault_app):
    """Message k's sync byte damaged: the device finds the frame hidden in the samples and answers
    it; the reply names the input it was computed from, so the host stops with a clear error
    instead of accepting it (or, if the device never took the bait, gives the fault-free output)."""
    k = 10
    pcm = with_embedded_frame(fault_app["pcm"], k)
    rx = P.Receiver()       # the hidden frame is found once message k's sync marker is gone
    stream = b"".join(P.encode(P.AUDIO, i, P.encode_audio(pcm[i * 100:(i + 1) * 100][None])) for i in range(k + 2))
    cut = bytearray(stream[k * AUDIO_HOP:])
    cut[0] ^= 0xFF
    found = [f for r, f in rx.feed(bytes(cut)) if r == P.FRAME]
    assert found[0].seq == k and found[0].payload != P.encode_audio(pcm[k * 100:(k + 1) * 100][None])
    ser, c = connect(fault_app["port"])
    clean = c.stream(pcm).audio
    ser.close()
    with FaultProxy(fault_app["port"], up=[Flip(frame_at(k, 0), 0xFF)]) as proxy:
        ser, c = connect(proxy.url)
        err = bounded(StreamError, lambda: c.stream(pcm), 5.0)
        ser.close()
    assert "other input" in str(err) and f"message {k}" in str(err)
    assert not np.array_equal(clean, fault_app["clean"])      # the crafted input is streamed as it is


# ---- malformed replies behind valid CRCs ----------------------------------------------------------

FAKE_INFO = P.Info(P.VERSION, 100, 16000, 257, 1, 8, "ns", 4, 4096, 0, 0, 0, 8, "fake", "none", "host")


def _info(**kw):
    import dataclasses

    return P.encode_info(dataclasses.replace(FAKE_INFO, **kw))


def _enhanced(f, costs=4):
    hops = len(f.payload) // 200
    return P.encode_enhanced(P.Enhanced(np.zeros((hops, 100), np.int16), np.zeros((hops, costs), np.uint32),
                                        input_crc=P.crc32(f.payload)))


# kind: (type of the request answered badly, reply type, reply payload of that request)
MALFORMED = {
    "info-short": (P.HELLO, P.INFO, lambda f: _info()[:10]),
    "info-string-overrun": (P.HELLO, P.INFO, lambda f: _info()[:27]),
    "info-extra-bytes": (P.RESET, P.INFO, lambda f: _info() + b"\x00"),
    "info-cost-names": (P.HELLO, P.INFO, lambda f: _info(fixed_costs=["total"])),
    "error-short": (P.HELLO, P.ERROR, lambda f: b"\x01"),
    "enhanced-short": (P.AUDIO, P.ENHANCED, lambda f: b"\x01\x04\x00"),
    "enhanced-length": (P.AUDIO, P.ENHANCED, lambda f: _enhanced(f)[:-2]),
    "enhanced-no-hops": (P.AUDIO, P.ENHANCED, lambda f: bytes(8)),
    "enhanced-cost-entries": (P.AUDIO, P.ENHANCED, lambda f: _enhanced(f, costs=5)),
    "error-short-mid-stream": (P.AUDIO, P.ERROR, lambda f: b"\x01\x00"),
}


@contextlib.contextmanager
def fake_device(kind):
    """A device on a loopback port that answers correctly except for one kind of malformed reply."""
    bad_type, reply_type, payload_of = MALFORMED[kind]
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve():
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        rx = P.Receiver()
        with conn, contextlib.suppress(OSError):        # the client may hang up at any point
            while data := conn.recv(65536):
                for r, f in rx.feed(data):
                    if r != P.FRAME:
                        continue
                    tag = f.flags & P.FLAG_TAG_MASK
                    if f.type == bad_type:
                        seq = P.SEQ_NONE if reply_type == P.ERROR and f.type == P.AUDIO else f.seq
                        conn.sendall(P.encode(reply_type, seq, payload_of(f), tag))
                    elif f.type == P.AUDIO:
                        conn.sendall(P.encode(P.ENHANCED, f.seq, _enhanced(f), tag))
                    else:
                        conn.sendall(P.encode(P.INFO, f.seq, _info()))

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1]
    finally:
        srv.close()
        t.join(5)


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_replies_are_a_stream_error(kind):
    with fake_device(kind) as port:
        ser, c = connect(port, reply_timeout=1.0, max_retries=1)
        with pytest.raises(StreamError) as e:
            c.hello()
            c.stream(np.zeros(1000, np.int16))
        ser.close()
    assert not isinstance(e.value, DeviceTimeout) and "\n" not in str(e.value), str(e.value)
    assert "malformed" in str(e.value) or "cost entries" in str(e.value), str(e.value)


@pytest.mark.parametrize("kind", ["info-short", "enhanced-length", "error-short-mid-stream"])
def test_enhance_cli_reports_a_malformed_reply_on_one_line(kind, tmp_path, capsys):
    from rnnse.audio import from_pcm16, save_wav
    from rnnse.cli import main

    wav = tmp_path / "in.wav"
    save_wav(wav, from_pcm16(speech_like(3000, 1)))
    with fake_device(kind) as port:
        rc = main(["enhance", str(wav), "-o", str(tmp_path / "out.wav"), "--target", f"socket://127.0.0.1:{port}",
                   "--timeout", "1", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and "malformed" in err[-1] and "Traceback" not in "\n".join(err), err
    assert not (tmp_path / "out.wav").exists()


# ---- the command line ------------------------------------------------------------------------

def test_enhance_cli(small_models, tmp_path, capsys):
    from rnnse.audio import from_pcm16, load_wav, save_wav
    from rnnse.cli import main

    clean = speech_like(16000, 5)
    noisy = np.clip(clean.astype(np.int32) + np.random.default_rng(5).integers(-3000, 3000, len(clean)),
                    -32768, 32767).astype(np.int16)
    save_wav(tmp_path / "noisy.wav", from_pcm16(noisy))
    save_wav(tmp_path / "clean.wav", from_pcm16(clean))
    qmodel = small_models["gru", "int8"]
    rc = main(["enhance", str(tmp_path / "noisy.wav"), "-o", str(tmp_path / "out.wav"), "--target", "host",
               "--model", qmodel, "--clean", str(tmp_path / "clean.wav"), "--no-progress",
               "--json", str(tmp_path / "run.json")])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "PESQ-WB" in out.out and "STOI" in out.out and "SI-SDR" in out.out and "budget" in out.out
    import json

    from rnnse.metrics import si_sdr

    with open(tmp_path / "run.json") as f:
        got = json.load(f)["metrics"]
    assert got["noisy"]["si_sdr"] == pytest.approx(si_sdr(from_pcm16(clean), from_pcm16(noisy)), abs=1e-6)
    y = load_wav(tmp_path / "out.wav")
    assert len(y) == len(noisy)
    # the file holds the golden model's stream (INT8 scheme: exact masks, audio within the bound)
    from rnnse.quant import QuantizedModel

    ref, _ = R.golden_stream(QuantizedModel.load(qmodel), padded(noisy))
    ref = np.clip(R.aligned(ref, len(noisy)).astype(np.float64) * 32768, -32768, 32767)
    # the firmware's magnitudes may round an int8 input differently than numpy's: compare loosely
    # here (the exact comparison is test_small_models_match_the_golden_model)
    assert np.abs(y.astype(np.float64) * 32768 - ref).mean() < 2.0
    import json

    run = json.load(open(tmp_path / "run.json"))
    assert run["hops"] == -(-(len(noisy) + LATENCY) // 100) and run["link"]["retransmitted"] == 0
    assert set(run["metrics"]) == {"noisy", "enhanced"}


@pytest.mark.parametrize("case", ["missing", "stereo", "rate", "garbage", "short", "loud", "truncated"])
def test_enhance_cli_bad_input(case, tmp_path, capsys):
    import soundfile as sf

    from rnnse.cli import main

    path = tmp_path / "in.wav"
    expect = {"missing": "no such file", "stereo": "2 channels", "rate": "sample rate is 8000 Hz",
              "garbage": "unreadable or corrupt", "short": "shorter than one analysis window",
              "loud": "2 of 1600 samples are outside [-1, 1] (peak 8)",
              "truncated": "truncated wav: its data chunk holds 2400 bytes, the header says 3200"}[case]
    if case == "stereo":
        sf.write(path, np.zeros((1600, 2), np.float32), 16000)
    elif case == "rate":
        sf.write(path, np.zeros(1600, np.float32), 8000)
    elif case == "garbage":
        path.write_bytes(b"RIFF this is not audio at all" * 10)
    elif case == "short":
        sf.write(path, np.zeros(100, np.float32), 16000)
    elif case == "loud":
        sf.write(path, np.array([0.5] * 1598 + [8.0, -1.5], np.float32), 16000, subtype="FLOAT")
    elif case == "truncated":
        sf.write(path, np.zeros(1600, np.float32), 16000, subtype="PCM_16")
        path.write_bytes(path.read_bytes()[:-800])
    rc = main(["enhance", str(path), "-o", str(tmp_path / "out.wav"), "--target", "host", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and expect in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == (["in.wav"] if case != "missing" else [])


def test_enhance_cli_bad_target_and_model(tmp_path, capsys):
    from rnnse.audio import from_pcm16, save_wav
    from rnnse.cli import main

    save_wav(tmp_path / "in.wav", from_pcm16(speech_like(1600)))
    cases = [(["--target", "bogus"], "unknown target"),
             (["--target", "host", "--model", str(tmp_path / "nope")], "no such model"),
             (["--target", "host", "--model", str(tmp_path)], "quantize the model first"),
             (["--target", "serial:"], "give a port"),
             (["--target", "serial:/dev/null@fast"], "baud rate"),
             (["--target", "socket://127.0.0.1:1"], "cannot open")]
    for extra, expect in cases:
        rc = main(["enhance", str(tmp_path / "in.wav"), "-o", str(tmp_path / "o.wav"), "--no-progress", *extra])
        err = capsys.readouterr().err
        assert rc == 2 and expect in err, (extra, err)


def test_enhance_cli_output_path_errors_come_before_the_stream(tmp_path, capsys):
    """Each bad -o is one line and exit 2 before the target is opened (the target here cannot be
    reached: its error would come first otherwise), and nothing is written."""
    from rnnse.audio import from_pcm16, save_wav
    from rnnse.cli import main

    save_wav(tmp_path / "in.wav", from_pcm16(speech_like(1600)))
    before = (tmp_path / "in.wav").read_bytes()
    (tmp_path / "folder").mkdir()
    (tmp_path / "link.wav").symlink_to(tmp_path / "in.wav")
    cases = [(str(tmp_path / "folder"), "is a directory"),
             (str(tmp_path / "out.txt"), "name it *.wav (not .txt)"),
             (str(tmp_path / "out"), "name it *.wav (it has no extension)"),
             (str(tmp_path / "in.wav" / "out.wav"), "cannot write there"),
             (str(tmp_path / "in.wav"), "is the input"),
             (str(tmp_path / "link.wav"), "is the input"),
             (os.path.relpath(tmp_path / "in.wav"), "is the input"),
             (str(tmp_path / "folder" / ".." / "in.wav"), "is the input")]
    if os.geteuid() != 0:       # root writes anywhere
        (tmp_path / "locked").mkdir(mode=0o500)
        cases.append((str(tmp_path / "locked" / "out.wav"), "cannot write there (Permission denied)"))
    for out, expect in cases:
        rc = main(["enhance", str(tmp_path / "in.wav"), "-o", out, "--target", "socket://127.0.0.1:1",
                   "--no-progress"])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and len(err.splitlines()) == 1 and expect in err and out in err, (out, err)
    # the clean reference is an input too
    save_wav(tmp_path / "folder" / "c.wav", from_pcm16(speech_like(1600)))
    rc = main(["enhance", str(tmp_path / "in.wav"), "-o", str(tmp_path / "folder" / "c.wav"), "--clean",
               str(tmp_path / "folder" / "c.wav"), "--target", "socket://127.0.0.1:1", "--no-progress"])
    assert rc == 2 and "c.wav: is the input" in capsys.readouterr().err
    assert (tmp_path / "in.wav").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "in.wav", "link.wav"] + \
        (["locked"] if os.geteuid() != 0 else [])
    assert os.listdir(tmp_path / "folder") == ["c.wav"]


def test_enhance_cli_failure_leaves_no_partial_output(tmp_path, capsys):
    """A run that fails after the output was opened (here the target cannot be reached) leaves no
    temporary file, and an existing output as it was."""
    from rnnse.audio import from_pcm16, save_wav
    from rnnse.cli import main

    save_wav(tmp_path / "in.wav", from_pcm16(speech_like(1600)))
    (tmp_path / "out.wav").write_bytes(b"previous")
    rc = main(["enhance", str(tmp_path / "in.wav"), "-o", str(tmp_path / "out.wav"), "--target",
               "socket://127.0.0.1:1", "--no-progress"])
    assert rc == 2 and "cannot open" in capsys.readouterr().err
    assert (tmp_path / "out.wav").read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "out.wav"]


def test_enhance_cli_standard_input_and_output(small_models, tmp_path):
    import subprocess
    import sys

    from rnnse.audio import from_pcm16, load_wav, save_wav

    save_wav(tmp_path / "in.wav", from_pcm16(speech_like(3200)))
    args = ["enhance", "--target", "host", "--model", small_models["gru", "int8"], "--no-progress"]
    r = subprocess.run([sys.executable, "-m", "rnnse", *args, "-", "-o", "-"], cwd=ROOT, capture_output=True,
                       input=(tmp_path / "in.wav").read_bytes(), timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    (tmp_path / "piped.wav").write_bytes(r.stdout)
    r = subprocess.run([sys.executable, "-m", "rnnse", *args, str(tmp_path / "in.wav"), "-o",
                        str(tmp_path / "file.wav")], cwd=ROOT, capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    assert (tmp_path / "piped.wav").read_bytes() == (tmp_path / "file.wav").read_bytes()
    assert len(load_wav(tmp_path / "file.wav")) == 3200


def _tampered_copy(exe, out):
    """A copy of the app ``exe`` with one bit of its weights flipped (found in the executable by the
    first 64 bytes of a weight array of its exported model sources)."""
    import glob
    import re

    model_dir = os.path.join(ROOT, "build", "models", os.path.basename(os.path.dirname(exe)))
    src = "".join(open(f).read() for f in sorted(glob.glob(os.path.join(model_dir, "*.c"))))
    arrays = re.findall(r"uint8_t \w+\[(\d+)\][^=]*= \{([^}]*)\}", src)
    values = max(arrays, key=lambda a: int(a[0]))[1].replace("\n", " ").split(",")
    pattern = bytes(int(v, 0) for v in values[:64])
    data = bytearray(open(exe, "rb").read())
    assert data.count(pattern) == 1
    data[data.find(pattern) + 32] ^= 0x01
    with open(out, "wb") as f:
        f.write(data)
    os.chmod(out, 0o755)
    return str(out)


def test_start_up_refusal_is_reported_with_its_status_and_reason_every_time(small_models, build, tmp_path):
    """The host build refuses a model whose weights were changed after its checksum (exit 3); the
    launcher waits for the exit and reports the status and the app's reason on every start (it
    used to read the status before the process was reaped, about half the time)."""
    from rnnse.stream.targets import TargetError

    exe = _tampered_copy(build(small_models["gru", "int8"]), tmp_path / "rnnse_app")
    for _ in range(10):
        with pytest.raises(TargetError) as info, start_host_app(exe):
            pass
        assert str(info.value) == (f"{exe} exited before listening (exit status 3): rnnse_app: network "
                                   "initialisation failed: model descriptor checksum mismatch (corrupt or "
                                   "modified weights)")


@pytest.mark.parametrize("hops", [1, 3])
def test_enhance_cli_streams_what_the_client_streams(small_models, build, tmp_path, capsys, hops):
    """File to file, block by block, the output is the whole-signal stream's, bit for bit (a length
    that is no whole number of hops or messages), and the report's costs are the stream's."""
    import json

    from rnnse.audio import from_pcm16, load_wav, save_wav, to_pcm16
    from rnnse.cli import main

    qmodel = small_models["gru", "int8"]
    save_wav(tmp_path / "in.wav", from_pcm16(speech_like(12345, 7)))
    rc = main(["enhance", str(tmp_path / "in.wav"), "-o", str(tmp_path / "out.wav"), "--target", "host", "--model",
               qmodel, "--hops-per-message", str(hops), "--no-progress", "--json", str(tmp_path / "run.json")])
    assert rc == 0, capsys.readouterr().err
    pcm = to_pcm16(load_wav(tmp_path / "in.wav"))
    with running(build(qmodel)) as (_, port):
        ser, c = connect(port, hops_per_message=hops)
        r = c.stream(padded(pcm))
        ser.close()
    np.testing.assert_array_equal(to_pcm16(load_wav(tmp_path / "out.wav")), r.audio[LATENCY:LATENCY + len(pcm)])
    run = json.load(open(tmp_path / "run.json"))
    assert run["hops"] == len(r.costs) == -(-(len(pcm) + LATENCY) // (100 * hops)) * hops
    assert len(run["cost_mean"]) == r.costs.shape[1] and run["per_hop"]["hops"] == len(r.costs)


def _peak_rss_mb(args):
    """Peak resident memory of `rnnse ARGS` (its own process, not the app it starts) in MB: Linux's
    VmHWM (getrusage's maximum would carry this test process's over the fork and exec)."""
    import subprocess
    import sys

    code = ("import runpy, sys\nsys.argv = ['rnnse'] + sys.argv[1:]\ntry:\n"
            "    runpy.run_module('rnnse', run_name='__main__')\nfinally:\n"
            "    hwm = [t for t in open('/proc/self/status') if t.startswith('VmHWM:')][0]\n"
            "    print('peak', hwm.split()[1], file=sys.stderr)\n")
    r = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return int(r.stderr.rsplit("peak ", 1)[1]) / 1024


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads Linux's /proc")
def test_enhance_cli_memory_does_not_grow_with_the_input(small_models, tmp_path):
    """Two minutes of audio take no more memory than one second (it grew by about 0.4 MB per
    second of audio when the whole signal and every reply were held)."""
    from rnnse.audio import from_pcm16, save_wav

    x = from_pcm16(speech_like(16000 * 120, 8))
    save_wav(tmp_path / "long.wav", x)
    save_wav(tmp_path / "short.wav", x[:16000])
    common = ["--target", "host", "--model", small_models["gru", "int8"], "--no-progress"]
    short = _peak_rss_mb(["enhance", str(tmp_path / "short.wav"), "-o", str(tmp_path / "a.wav"), *common])
    long = _peak_rss_mb(["enhance", str(tmp_path / "long.wav"), "-o", str(tmp_path / "b.wav"), *common])
    assert long - short < 8, f"peak memory {short:.1f} MB for 1 s of audio, {long:.1f} MB for 120 s"


def test_fault_benchmark_rows():
    """rnnse bench faults on a 1 s clip (passthrough build, short time-outs): every row either gives
    the fault-free output or ends in an error within the bound; never another output."""
    from rnnse.bench.faults import CASES, measure, table

    rows = measure(None, padded(speech_like(16000, 5)), timeout=0.3, retries=2, hops=(1,))
    assert [r["case"] for r in rows] == ["fault-free"] + [c[0] for c in CASES]
    for r in rows:
        assert r["identical"] or r["error"], r
        # a link that cannot carry the stream ends in an error within the 10 s, never a hang
        # (the no-progress limit is (retries + 1) x time-out; start-up and the proxy add to the wall
        # time, more on a busy machine)
        assert r["wall_s"] < 10.0 or r["identical"], r
    by = {r["case"]: r for r in rows}
    for case in ("5% duplicated frames", "5% reordered frames", "garbage before 5% of frames"):
        assert by[case]["identical"], by[case]
    assert by["BER 1e-2 both ways"]["met"] and "DIFFERS" not in table(rows)
