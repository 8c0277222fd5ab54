"""The streaming protocol's frame codec: the C parser/encoder (firmware/app/proto*.c, through cffi)
against the Python one (rnnse.stream.protocol), fuzzed with hypothesis, and the message payloads."""
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnse.stream import protocol as P


@pytest.fixture(scope="module")
def capi():
    from rnnse.stream.capi import load

    return load()


def c_parse(capi, data: bytes):
    ffi, lib = capi
    buf = ffi.new("uint8_t[]", max(1, len(data)))
    ffi.memmove(buf, data, len(data))
    frame = ffi.new("proto_frame_t *")
    used = ffi.new("size_t *")
    r = lib.proto_parse(buf, len(data), frame, used)
    f = None
    if r == P.FRAME:
        off = int(ffi.cast("uintptr_t", frame.payload)) - int(ffi.cast("uintptr_t", buf))
        assert off == P.HEADER_BYTES
        f = P.Frame(frame.type, frame.flags, frame.seq, bytes(ffi.buffer(frame.payload, frame.length)))
    elif r == P.BAD_CRC:
        f = P.Frame(frame.type, frame.flags, frame.seq, b"")
    return r, int(used[0]), f


def c_encode(capi, type_, seq, payload, flags):
    ffi, lib = capi
    out = ffi.new("uint8_t[]", len(payload) + P.OVERHEAD)
    n = lib.proto_encode(out, type_, flags, seq, payload, len(payload))
    return bytes(ffi.buffer(out, n))


def py_events(data: bytes):
    rx = P.Receiver()
    return [(r, f) for r, f in rx.feed(data)], rx


def c_events(capi, data: bytes):
    """The firmware's loop: parse, drop what the parser consumed, until it needs more."""
    events, pos = [], 0
    while pos < len(data):
        r, used, f = c_parse(capi, data[pos:])
        if r == P.NEED_MORE:
            break
        assert used > 0
        events.append((r, f))
        pos += used
    return events, pos


# ---- CRCs and encoding -----------------------------------------------------------------------

def test_crc_check_values(capi):
    ffi, lib = capi
    assert P.crc16(b"123456789") == 0x29B1 == lib.proto_crc16(b"123456789", 9)
    assert P.crc32(b"123456789") == 0xCBF43926 == lib.proto_crc32(0, b"123456789", 9)
    assert lib.proto_crc32(lib.proto_crc32(0, b"1234", 4), b"56789", 5) == 0xCBF43926


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=600))
def test_crcs_match_zlib_and_reference(capi, data):
    ffi, lib = capi
    assert lib.proto_crc32(0, data, len(data)) == zlib.crc32(data)
    assert lib.proto_crc16(data, len(data)) == P.crc16(data) == P.crc16_bitwise(data)


frames = st.tuples(st.integers(0, 255), st.integers(0, 0xFFFF), st.binary(max_size=300), st.integers(0, 255))


@settings(max_examples=200, deadline=None)
@given(fr=frames)
def test_c_and_python_encode_identically(capi, fr):
    type_, seq, payload, flags = fr
    data = P.encode(type_, seq, payload, flags)
    assert c_encode(capi, type_, seq, payload, flags) == data
    assert len(data) == len(payload) + P.OVERHEAD
    r, used, f = c_parse(capi, data)
    assert (r, used, f) == (P.FRAME, len(data), P.Frame(type_, flags, seq, payload))


@settings(max_examples=50, deadline=None)
@given(fr=frames, new_flags=st.integers(0, 255))
def test_restamped_frame_is_the_frame_encoded_with_the_new_flags(capi, fr, new_flags):
    ffi, lib = capi
    type_, seq, payload, flags = fr
    buf = ffi.from_buffer("uint8_t[]", bytearray(P.encode(type_, seq, payload, flags)))
    lib.proto_restamp(buf, len(buf), new_flags)
    assert bytes(buf) == P.encode(type_, seq, payload, new_flags)


def test_encode_refuses_oversized_payload(capi):
    ffi, lib = capi
    with pytest.raises(ValueError):
        P.encode(P.AUDIO, 0, bytes(P.MAX_PAYLOAD + 1))
    out = ffi.new("uint8_t[]", P.MAX_PAYLOAD + P.OVERHEAD + 1)
    assert lib.proto_encode(out, P.AUDIO, 0, 0, ffi.NULL, P.MAX_PAYLOAD + 1) == 0
    assert len(P.encode(P.AUDIO, 0, bytes(P.MAX_PAYLOAD))) == P.MAX_PAYLOAD + P.OVERHEAD


# ---- the parser, fuzzed ----------------------------------------------------------------------

@st.composite
def byte_streams(draw):
    """Valid frames, junk, and valid frames damaged by flips, cuts and insertions, concatenated."""
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["frame", "junk", "flip", "cut", "insert", "header"]))
        type_, seq, payload, flags = draw(frames)
        f = bytearray(P.encode(type_, seq, payload, flags))
        if kind == "junk":
            f = bytearray(draw(st.binary(max_size=40)))
        elif kind == "flip":
            i = draw(st.integers(0, len(f) - 1))
            f[i] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            i = draw(st.integers(0, len(f) - 1))
            j = draw(st.integers(i + 1, len(f)))
            del f[i:j]
        elif kind == "insert":
            i = draw(st.integers(0, len(f)))
            f[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "header":   # a header with a valid CRC and a length that lies
            n = draw(st.integers(0, 0xFFFF))
            h = bytearray(P.SYNC + struct.pack("<BBHH", type_, flags, seq, n))
            f = h + struct.pack("<H", P.crc16(bytes(h))) + bytearray(draw(st.binary(max_size=30)))
        parts.append(bytes(f))
    return b"".join(parts)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=byte_streams())
def test_c_and_python_parsers_agree_on_any_bytes(capi, data):
    c_ev, c_pos = c_events(capi, data)
    py_ev, rx = py_events(data)
    assert c_ev == py_ev
    assert len(data) - c_pos == len(rx.buf)
    for r, f in c_ev:              # whatever is accepted is a frame someone encoded
        if r == P.FRAME:
            assert P.encode(f.type, f.seq, f.payload, f.flags) in data


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200))
def test_parsers_agree_on_random_bytes(capi, data):
    assert c_events(capi, data)[0] == py_events(data)[0]


@settings(max_examples=200, deadline=None)
@given(fr=st.lists(frames, min_size=1, max_size=5), cut=st.integers(0, 10**6), chunks=st.integers(1, 7))
def test_undamaged_frames_survive_and_chunking_does_not_matter(capi, fr, cut, chunks):
    """Every frame after a damaged one is recovered, however the bytes are split up."""
    encoded = [P.encode(t, s, p, fl) for t, s, p, fl in fr]
    first = bytearray(encoded[0])
    first[cut % len(first)] ^= 0x40          # damage the first frame
    data = bytes(first) + b"".join(encoded[1:])
    rx = P.Receiver()
    got = []
    step = max(1, len(data) // chunks)
    for i in range(0, len(data), step):
        got += [f for r, f in rx.feed(data[i:i + step]) if r == P.FRAME]
    # a header claiming more bytes than the damaged frame had swallows the next frames until the
    # CRC fails; the parser then moves on one byte at a time, so every later frame is found
    assert got == [P.Frame(t, fl, s, p) for t, s, p, fl in fr[1:]]


def test_parser_reports_each_result_kind(capi):
    f = P.encode(P.AUDIO, 7, bytes(200))
    assert c_parse(capi, b"xyz" + f)[:2] == (P.JUNK, 3)
    assert c_parse(capi, f[:9])[:2] == (P.NEED_MORE, 0)
    assert c_parse(capi, f[:-1])[:2] == (P.NEED_MORE, 0)
    bad = bytearray(f)
    bad[5] ^= 1                     # seq: header CRC fails
    assert c_parse(capi, bytes(bad))[:2] == (P.BAD_HEADER, 1)
    bad = bytearray(P.encode(P.AUDIO, 7, bytes(200), 0x30))
    bad[100] ^= 1                   # payload: frame CRC fails; the intact header names the frame
    assert c_parse(capi, bytes(bad)) == P.parse(bad) == (P.BAD_CRC, 1, P.Frame(P.AUDIO, 0x30, 7, b""))
    big = bytearray(P.SYNC + struct.pack("<BBHH", 3, 0, 0, P.MAX_PAYLOAD + 1))
    big += struct.pack("<H", P.crc16(bytes(big)))
    assert c_parse(capi, bytes(big))[:2] == (P.BAD_HEADER, 1)    # length over the maximum
    assert c_parse(capi, b"\xA5")[:2] == (P.NEED_MORE, 0)        # maybe the start of a sync
    assert c_parse(capi, b"\x00\xA5")[:2] == (P.JUNK, 1)


# ---- payloads and sequence numbers -------------------------------------------------------------

def test_seq_arithmetic_skips_seq_none():
    assert P.seq_next(0xFFFE) == 0 and P.seq_next(5) == 6
    assert P.seq_behind(0xFFFE, 1) == 2 and P.seq_behind(3, 3) == 0
    s, seen = 0xFFF0, set()
    for _ in range(40):
        seen.add(s)
        s = P.seq_next(s)
    assert P.SEQ_NONE not in seen


def test_info_round_trip():
    info = P.Info(1, 100, 16000, 257, 8, 8, "instructions", 20, 4096, 0xDEADBEEF, 17, 1, 8,
                  "lstm256", "mixed", "virt", ["input", "fc", "quant", "lstm", "lstm", "output"],
                  dict(zip(P.STAT_NAMES, range(7))), ["total", "dsp", "network", "busiest"])
    assert P.decode_info(P.encode_info(info)) == info
    with pytest.raises(P.ProtocolError):
        P.decode_info(P.encode_info(info)[:-1])
    with pytest.raises(P.ProtocolError):
        P.decode_info(b"\x01" * 10)


def test_enhanced_and_audio_payloads():
    rng = np.random.default_rng(0)
    audio = rng.integers(-32768, 32768, (3, 100)).astype(np.int16)
    costs = rng.integers(0, 2**32, (3, 6)).astype(np.uint32)
    e = P.decode_enhanced(P.encode_enhanced(P.Enhanced(audio, costs, input_crc=0xCBF43926)))
    assert e.input_crc == 0xCBF43926
    np.testing.assert_array_equal(e.audio, audio)
    np.testing.assert_array_equal(e.costs, costs)
    assert e.mag is None
    mag, mask = rng.random(257).astype(np.float32), rng.random(257).astype(np.float32)
    e = P.decode_enhanced(P.encode_enhanced(P.Enhanced(audio[:1], costs[:1], mag, mask)))
    np.testing.assert_array_equal(e.mag, mag)
    np.testing.assert_array_equal(e.mask, mask)
    with pytest.raises(P.ProtocolError):
        P.decode_enhanced(P.encode_enhanced(P.Enhanced(audio, costs))[:-2])
    np.testing.assert_array_equal(P.decode_audio(P.encode_audio(audio)), audio)
    for bad in (audio.astype(np.int32), np.zeros((9, 100), np.int16), np.zeros((1, 99), np.int16)):
        with pytest.raises(ValueError):
            P.encode_audio(bad)
    with pytest.raises(P.ProtocolError):
        P.decode_audio(b"\x00" * 150)
    assert P.decode_error(P.encode_error(P.E_SEQ, 12, "AUDIO out of sequence")) == (
        P.E_SEQ, 12, "AUDIO out of sequence")
