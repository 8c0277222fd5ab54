"""The firmware application's protocol handling, on the host build over stdin/stdout (passthrough
network, built with AddressSanitizer and UBSan): replies and errors for every message kind, the
reply cache, and a fuzzed byte stream (hypothesis) that must never crash it, never make it send
anything but valid frames, and never stop it from answering."""
import os
import select
import subprocess
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnse.stream import protocol as P

TIMEOUT = 5.0
FRAME_TIMEOUT_MS = 30


@pytest.fixture(scope="module")
def app_exe():
    from rnnse.stream.build import build_firmware

    return build_firmware("host", None, asan=True)


SANITIZERS = dict(os.environ, ASAN_OPTIONS="abort_on_error=1:detect_leaks=1",
                  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")


class StdioApp:
    def __init__(self, exe):
        self.proc = subprocess.Popen([exe, "--stdio", "--frame-timeout-ms", str(FRAME_TIMEOUT_MS)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=SANITIZERS)
        self.rx = P.Receiver()
        self.pending = []
        first = self.next_frame()
        assert first.type == P.INFO and first.seq == P.SEQ_NONE     # unsolicited: ready

    def send(self, data: bytes):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def next_frame(self, timeout=TIMEOUT):
        """The next valid frame from the app; the app must send nothing else."""
        deadline = time.monotonic() + timeout
        while not self.pending:
            left = deadline - time.monotonic()
            assert left > 0, "the app did not answer in time"
            if select.select([self.proc.stdout], [], [], left)[0]:
                data = os.read(self.proc.stdout.fileno(), 65536)
                assert data, f"the app exited: {self.proc.wait(1)} {self.proc.stderr.read()!r}"
                for r, f in self.rx.feed(data):
                    assert r == P.FRAME, "the app sent bytes that are not a valid frame"
                    self.pending.append(f)
        return self.pending.pop(0)

    def request(self, type_, seq, payload=b"", flags=0):
        self.send(P.encode(type_, seq, payload, flags))
        return self.next_frame()

    def quiet(self, wait=0.1):
        """Nothing (more) arrives within ``wait`` s."""
        if self.pending:
            return False
        return not select.select([self.proc.stdout], [], [], wait)[0]

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr = self.proc.stderr.read().decode(errors="replace")
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()


@pytest.fixture
def app(app_exe):
    a = StdioApp(app_exe)
    yield a
    a.close()
    assert a.proc.returncode == 0, f"the app failed with status {a.proc.returncode}:\n{a.stderr}"


def hop(seed, n=1):
    return np.random.default_rng(seed).integers(-20000, 20000, (n, 100)).astype(np.int16)


def error_of(f):
    assert f.type == P.ERROR, P.TYPE_NAMES.get(f.type, f.type)
    return P.decode_error(f.payload)


def test_hello_info_and_errors(app):
    f = app.request(P.HELLO, 77, P.VERSION.to_bytes(2, "little"))
    assert (f.type, f.seq) == (P.INFO, 77)
    info = P.decode_info(f.payload)
    assert (info.version, info.hop, info.sample_rate, info.n_bins) == (P.VERSION, 100, 16000, 257)
    assert (info.model, info.scheme, info.target, info.counter) == ("passthrough", "none", "host", "ns")
    assert info.replay_depth == 8 and info.max_hops == P.MAX_HOPS and info.expected_seq == 0
    assert error_of(app.request(P.HELLO, 5, (P.VERSION + 1).to_bytes(2, "little")))[:2] == (P.E_VERSION, P.VERSION)
    assert error_of(app.request(P.HELLO, 6, b"\x01"))[0] == P.E_LENGTH
    assert error_of(app.request(0x42, 7))[:2] == (P.E_TYPE, 0x42)
    assert error_of(app.request(P.AUDIO, 0, bytes(150)))[:2] == (P.E_LENGTH, 150)
    assert error_of(app.request(P.AUDIO, 0, bytes(0)))[0] == P.E_LENGTH
    assert error_of(app.request(P.AUDIO, 0, bytes(200 * 9)))[0] == P.E_LENGTH
    assert error_of(app.request(P.AUDIO, 0, bytes(400), P.FLAG_DEBUG))[0] == P.E_LENGTH   # debug: 1 hop
    assert error_of(app.request(P.AUDIO, 0, bytes(200), 0x02))[:2] == (P.E_FLAGS, 0x02)
    assert error_of(app.request(P.RESET, 4, b"\x01"))[:2] == (P.E_LENGTH, 1)
    assert error_of(app.request(P.RESET, 4, b"\xff\xff"))[:2] == (P.E_LENGTH, 2)     # SEQ_NONE is no AUDIO seq
    assert error_of(app.request(P.AUDIO, 3, bytes(200)))[:2] == (P.E_SEQ, 0)
    assert error_of(app.request(P.AUDIO, P.SEQ_NONE, bytes(200)))[:2] == (P.E_SEQ, 0)
    # none of that changed the stream: seq 0 is still expected
    f = app.request(P.AUDIO, 0, P.encode_audio(hop(0)))
    assert (f.type, f.seq) == (P.ENHANCED, 0)
    info = P.decode_info(app.request(P.HELLO, 8, P.VERSION.to_bytes(2, "little")).payload)
    assert info.expected_seq == 1 and info.stats["seq_errors"] == 2


def test_audio_replies_cache_and_reset(app):
    x = hop(1, 12)
    replies = []
    for i in range(12):
        f = app.request(P.AUDIO, i, P.encode_audio(x[i:i + 1]))
        assert (f.type, f.seq) == (P.ENHANCED, i)
        replies.append(P.encode(f.type, f.seq, f.payload))
    # the passthrough output is the input delayed by 300 samples (3 hops)
    out = np.concatenate([P.decode_enhanced(r[10:-4]).audio for r in replies])
    np.testing.assert_array_equal(out[3:].reshape(-1), x[:9].reshape(-1))
    # the last 8 replies come back byte for byte when their AUDIO is sent again; not reprocessed;
    # the reply's flags are the repeat's tag
    for i in range(4, 12):
        tag = (i % 16) << P.TAG_SHIFT
        f = app.request(P.AUDIO, i, P.encode_audio(x[i:i + 1]), tag)
        assert P.encode(f.type, f.seq, f.payload) == replies[i] and f.flags == tag
    f = app.request(P.AUDIO, 3, P.encode_audio(x[3:4]), 0x50)
    assert error_of(f)[:2] == (P.E_SEQ, 12) and (f.seq, f.flags) == (3, 0x50)     # too old; tag echoed
    f = app.request(P.AUDIO, 12, P.encode_audio(hop(2)))     # the stream goes on where it was
    assert (f.type, f.seq) == (P.ENHANCED, 12)
    np.testing.assert_array_equal(P.decode_enhanced(f.payload).audio[0], x[9])
    # reset: fresh stream from seq 0, silent history
    f = app.request(P.RESET, 900)
    assert (f.type, f.seq) == (P.INFO, 900) and P.decode_info(f.payload).expected_seq == 0
    assert error_of(app.request(P.AUDIO, 5, P.encode_audio(x[5:6])))[:2] == (P.E_SEQ, 0)   # cache cleared
    f = app.request(P.AUDIO, 0, P.encode_audio(x[:1]), 0x30)
    assert not P.decode_enhanced(f.payload).audio.any() and f.flags == 0x30
    assert P.decode_enhanced(f.payload).input_crc == P.crc32(P.encode_audio(x[:1]))
    # multi-hop and debug replies
    f = app.request(P.AUDIO, 1, P.encode_audio(x[1:9]))
    e = P.decode_enhanced(f.payload)
    assert e.audio.shape == (8, 100) and e.costs.shape == (8, 4) and np.all(e.costs[:, 0] > 0)
    np.testing.assert_array_equal(e.audio[2:].reshape(-1), x[:6].reshape(-1))   # stream hops 1..8
    f = app.request(P.AUDIO, 2, P.encode_audio(x[9:10]), P.FLAG_DEBUG)
    e = P.decode_enhanced(f.payload)
    assert e.mag.shape == (257,) and np.all(e.mask == 1.0) and e.mag.max() > 0


def test_bye_ends_the_session(app):
    f = app.request(P.BYE, 11)
    assert (f.type, f.seq) == (P.INFO, 11)
    assert app.proc.wait(timeout=5) == 0


def test_damage_is_reported_and_the_stream_goes_on(app):
    x = hop(3, 4)
    good = P.encode(P.AUDIO, 0, P.encode_audio(x[:1]))
    bad = bytearray(good)
    bad[50] ^= 0x08
    app.send(bytes(bad) + b"junk")
    f = app.next_frame()        # the damaged AUDIO's header is intact: it is named; no AUDIO before it
    assert error_of(f)[:2] == (P.E_CRC, P.SEQ_NONE) and (f.seq, f.flags) == (0, 0)
    assert app.quiet()
    # a truncated frame: reported after the inter-byte time-out, then the same AUDIO goes through
    app.send(good[:100])
    t0 = time.monotonic()
    assert error_of(app.next_frame())[0] == P.E_TIMEOUT
    assert time.monotonic() - t0 >= FRAME_TIMEOUT_MS / 1000 * 0.9
    f = app.request(P.AUDIO, 0, P.encode_audio(x[:1]), 0x70)
    assert (f.type, f.seq) == (P.ENHANCED, 0)
    bad_head = bytearray(P.encode(P.AUDIO, 1, P.encode_audio(x[1:2]), 0x20))
    bad_head[4] ^= 0x01                     # seq: the header names nothing
    app.send(bytes(bad_head))
    f = app.next_frame()                    # then the report names the last AUDIO before the damage
    assert error_of(f)[:2] == (P.E_CRC, 0) and (f.seq, f.flags) == (P.SEQ_NONE, 0x70)
    bad_payload = bytearray(P.encode(P.AUDIO, 1, P.encode_audio(x[1:2]), 0x20))
    bad_payload[100] ^= 0x01
    app.send(bytes(bad_payload))
    f = app.next_frame()
    assert error_of(f)[:2] == (P.E_CRC, 0) and (f.seq, f.flags) == (1, 0x20)
    # a frame hidden behind a damaged header that claims more bytes: found after the time-out
    lying = bytearray(P.encode(P.AUDIO, 1, P.encode_audio(x[1:2])))
    lying[210] ^= 1                  # payload damage; its header still claims 200 bytes
    nxt = P.encode(P.AUDIO, 1, P.encode_audio(x[1:2]))
    app.send(bytes(lying[:150]) + nxt)      # the cut frame swallows the start of the next one
    kinds = [app.next_frame() for _ in range(2)]
    assert error_of(kinds[0])[0] in (P.E_CRC, P.E_TIMEOUT)
    assert (kinds[1].type, kinds[1].seq) == (P.ENHANCED, 1)
    info = P.decode_info(app.request(P.HELLO, 9, P.VERSION.to_bytes(2, "little")).payload)
    assert info.stats["bad_crc"] + info.stats["bad_header"] + info.stats["timeouts"] >= 3


@st.composite
def fuzz_input(draw):
    parts = []
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["junk", "frame", "damaged", "header"]))
        t = draw(st.sampled_from([P.HELLO, P.AUDIO, P.RESET, P.INFO, P.ENHANCED, P.ERROR, 0, 0x99]))
        payload = draw(st.one_of(st.binary(max_size=64), st.just(bytes(200)), st.just(bytes(1600))))
        f = bytearray(P.encode(t, draw(st.integers(0, 0xFFFF)), payload, draw(st.sampled_from([0, 1, 2, 0xFF]))))
        if kind == "junk":
            f = bytearray(draw(st.binary(min_size=1, max_size=64)))
        elif kind == "damaged":
            i = draw(st.integers(0, len(f) - 1))
            f[i] ^= draw(st.integers(1, 255))
            f = f[:draw(st.integers(1, len(f)))]
        elif kind == "header":
            f = f[:draw(st.integers(2, 12))]
        parts.append(bytes(f))
    return b"".join(parts)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=fuzz_input())
def test_fuzzed_input_never_breaks_the_app(app, data):
    app.send(data)
    seq = 1000
    app.send(P.encode(P.RESET, seq))
    deadline = time.monotonic() + TIMEOUT
    while True:            # whatever the fuzz provoked, the RESET gets its INFO
        f = app.next_frame(max(0.01, deadline - time.monotonic()))
        if f.type == P.INFO and f.seq == seq:
            break
    assert app.proc.poll() is None
    f = app.request(P.AUDIO, 0, P.encode_audio(hop(4)))
    assert (f.type, f.seq) == (P.ENHANCED, 0)
