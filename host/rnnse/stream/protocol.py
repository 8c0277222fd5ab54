"""Frame codec of the rnnse streaming protocol (see docs/protocol.md).

Frame, little-endian::

    0  sync  A5 5A
    2  u8    type
    3  u8    flags
    4  u16   seq
    6  u16   payload length (<= MAX_PAYLOAD)
    8  u16   header CRC-16/CCITT-FALSE over bytes 0..7
   10  bytes payload
 10+n  u32   CRC-32/ISO-HDLC (zlib.crc32) over bytes 0..9+n
"""
from __future__ import annotations

import binascii
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

VERSION = 2
SYNC = b"\xA5\x5A"
HEADER_BYTES = 10
TRAILER_BYTES = 4
OVERHEAD = HEADER_BYTES + TRAILER_BYTES
MAX_PAYLOAD = 4096
MAX_HOPS = 8
SEQ_NONE = 0xFFFF        # seq of unsolicited device messages; never an AUDIO seq
SEQ_MOD = 0xFFFF         # AUDIO seqs count 0, 1, .., 0xFFFE, 0, ..
HOP = 100
N_BINS = 257
ENHANCED_HEAD = 8        # u8 hops, u8 cost entries, u8 flags, u8 0, u32 CRC-32 of the AUDIO payload answered

# message types
HELLO, INFO, AUDIO, ENHANCED, ERROR, RESET, BYE = 1, 2, 3, 4, 5, 6, 7
TYPE_NAMES = {HELLO: "HELLO", INFO: "INFO", AUDIO: "AUDIO", ENHANCED: "ENHANCED", ERROR: "ERROR",
              RESET: "RESET", BYE: "BYE"}
FLAG_DEBUG = 0x01
FLAG_TAG_MASK = 0xF0      # AUDIO: the host's recovery round (mod 16), echoed in the answer's flags
TAG_SHIFT = 4

# error codes
E_CRC, E_TIMEOUT, E_LENGTH, E_TYPE, E_SEQ, E_VERSION, E_NET, E_FLAGS = 1, 2, 3, 4, 5, 6, 7, 8
ERROR_NAMES = {E_CRC: "damaged frame", E_TIMEOUT: "incomplete frame", E_LENGTH: "bad length",
               E_TYPE: "unknown type", E_SEQ: "out of sequence", E_VERSION: "protocol version",
               E_NET: "network failure", E_FLAGS: "unknown flags"}

# parser results (same values as firmware/app/proto.h)
NEED_MORE, FRAME, JUNK, BAD_HEADER, BAD_CRC = 0, 1, 2, 3, 4

# counter kinds in INFO
COUNTER_NAMES = {0: "ns", 1: "instructions", 2: "cycles"}


class ProtocolError(RuntimeError):
    """A message that is well framed but does not make sense."""


def seq_next(seq: int) -> int:
    """The AUDIO seq after ``seq`` (modulo SEQ_MOD, so that SEQ_NONE is never used)."""
    return (seq + 1) % SEQ_MOD


def seq_add(seq: int, n: int) -> int:
    return (seq + n) % SEQ_MOD


def seq_behind(a: int, b: int) -> int:
    """How far seq ``a`` lies behind seq ``b``: (b - a) mod SEQ_MOD."""
    return (b - a) % SEQ_MOD


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection); crc16(b"123456789") == 0x29B1.
    binascii.crc_hqx is this CRC with the initial value given."""
    return binascii.crc_hqx(data, 0xFFFF)


def crc16_bitwise(data: bytes) -> int:
    """The same CRC bit by bit, as firmware/app/proto_crc16.c computes it (for the tests)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def crc32(data: bytes) -> int:
    """CRC-32/ISO-HDLC (zlib); crc32(b"123456789") == 0xCBF43926."""
    return zlib.crc32(data) & 0xFFFFFFFF


@dataclass
class Frame:
    type: int
    flags: int
    seq: int
    payload: bytes


def encode(type_: int, seq: int, payload: bytes = b"", flags: int = 0) -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    head = SYNC + struct.pack("<BBHH", type_, flags, seq & 0xFFFF, len(payload))
    head += struct.pack("<H", crc16(head))
    body = head + bytes(payload)
    return body + struct.pack("<I", crc32(body))


def _find_sync(buf) -> int:
    i = buf.find(SYNC)
    if i >= 0:
        return i
    return len(buf) - 1 if len(buf) and buf[-1] == SYNC[0] else len(buf)


def parse(buf) -> tuple[int, int, Frame | None]:
    """(result, consumed, frame) for the bytes at the front of ``buf``; mirrors proto_parse(). With
    BAD_CRC, ``frame`` is the damaged frame's header (its CRC-16 held) with an empty payload."""
    skip = _find_sync(buf)
    if skip > 0:
        return JUNK, skip, None
    n = len(buf)
    if n < HEADER_BYTES:
        return NEED_MORE, 0, None
    type_, flags, seq, length, hcrc = struct.unpack_from("<BBHHH", buf, 2)
    if crc16(bytes(buf[:8])) != hcrc or length > MAX_PAYLOAD:
        return BAD_HEADER, 1, None
    body = HEADER_BYTES + length
    if n < body + TRAILER_BYTES:
        return NEED_MORE, 0, None
    if crc32(bytes(buf[:body])) != struct.unpack_from("<I", buf, body)[0]:
        return BAD_CRC, 1, Frame(type_, flags, seq, b"")      # the header (CRC-16 intact), no payload
    return FRAME, body + TRAILER_BYTES, Frame(type_, flags, seq, bytes(buf[HEADER_BYTES:body]))


@dataclass
class ParserStats:
    frames: int = 0
    junk_bytes: int = 0
    bad_header: int = 0
    bad_crc: int = 0


class Receiver:
    """Byte accumulator: ``feed(data)`` returns the list of events (result, frame-or-None)."""

    def __init__(self):
        self.buf = bytearray()
        self.stats = ParserStats()

    def feed(self, data: bytes) -> list[tuple[int, Frame | None]]:
        self.buf += data
        events = []
        while self.buf:
            result, used, frame = parse(self.buf)
            if result == NEED_MORE:
                break
            del self.buf[:used]
            if result == FRAME:
                self.stats.frames += 1
            elif result == JUNK:
                self.stats.junk_bytes += used
            elif result == BAD_HEADER:
                self.stats.bad_header += 1
            else:
                self.stats.bad_crc += 1
            events.append((result, frame))
        return events

    def clear(self) -> None:
        self.buf.clear()


# ---- payloads -------------------------------------------------------------------------------

STAT_NAMES = ("frames", "bad_header", "bad_crc", "junk_bytes", "timeouts", "duplicates", "seq_errors")
INFO_FIXED = "<HHIHBBBBHIHBB"     # 24 bytes, then 5 strings and 7 u32 statistics


@dataclass
class Info:
    version: int
    hop: int
    sample_rate: int
    n_bins: int
    cores: int
    max_hops: int
    counter: str
    n_costs: int
    max_payload: int
    checksum: int
    expected_seq: int
    format_version: int
    replay_depth: int
    model: str
    scheme: str
    target: str
    phases: list = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    # the fixed cost entries of each hop, before the per-phase ones (the firmware names them)
    fixed_costs: list = field(default_factory=lambda: ["total", "dsp", "network", "busiest"])


def _take_string(p: bytes, off: int) -> tuple[str, int]:
    if off >= len(p) or off + 1 + p[off] > len(p):
        raise ProtocolError("INFO string runs past the payload")
    n = p[off]
    return p[off + 1:off + 1 + n].decode("ascii", "replace"), off + 1 + n


def decode_info(p: bytes) -> Info:
    if len(p) < 24:
        raise ProtocolError(f"INFO payload of {len(p)} bytes is too short")
    (version, hop, sr, nb, cores, max_hops, counter, ncost, maxp, checksum,
     expected, fmt, depth) = struct.unpack_from(INFO_FIXED, p, 0)
    off = 24
    model, off = _take_string(p, off)
    scheme, off = _take_string(p, off)
    target, off = _take_string(p, off)
    phases, off = _take_string(p, off)
    fixed, off = _take_string(p, off)
    if len(p) != off + 4 * len(STAT_NAMES):
        raise ProtocolError(f"INFO payload of {len(p)} bytes, expected {off + 4 * len(STAT_NAMES)}")
    stats = dict(zip(STAT_NAMES, struct.unpack_from(f"<{len(STAT_NAMES)}I", p, off)))
    return Info(version, hop, sr, nb, cores, max_hops, COUNTER_NAMES.get(counter, f"kind {counter}"),
                ncost, maxp, checksum, expected, fmt, depth, model, scheme, target,
                [s for s in phases.split(",") if s], stats, [s for s in fixed.split(",") if s])


def encode_info(info: Info) -> bytes:
    """For tests: the INFO payload the firmware would send."""
    kinds = {v: k for k, v in COUNTER_NAMES.items()}
    p = struct.pack(INFO_FIXED, info.version, info.hop, info.sample_rate, info.n_bins, info.cores,
                    info.max_hops, kinds[info.counter], info.n_costs, info.max_payload, info.checksum,
                    info.expected_seq, info.format_version, info.replay_depth)
    for s in (info.model, info.scheme, info.target, ",".join(info.phases), ",".join(info.fixed_costs)):
        b = s.encode("ascii")
        p += bytes([len(b)]) + b
    return p + struct.pack(f"<{len(STAT_NAMES)}I", *(info.stats.get(k, 0) for k in STAT_NAMES))


@dataclass
class Enhanced:
    audio: np.ndarray            # (hops, 100) int16
    costs: np.ndarray            # (hops, n_costs) uint32
    mag: np.ndarray | None = None    # debug: (257,) float32 of the (single) hop
    mask: np.ndarray | None = None
    input_crc: int = 0           # CRC-32 of the AUDIO payload the device processed


def encode_audio(hops: np.ndarray) -> bytes:
    hops = np.asarray(hops)
    if hops.dtype != np.int16 or hops.ndim != 2 or hops.shape[1] != HOP or not 1 <= hops.shape[0] <= MAX_HOPS:
        raise ValueError(f"AUDIO takes 1..{MAX_HOPS} hops of {HOP} int16 samples, got {hops.dtype} {hops.shape}")
    return hops.astype("<i2").tobytes()


def decode_audio(p: bytes) -> np.ndarray:
    if len(p) == 0 or len(p) % (2 * HOP) or len(p) // (2 * HOP) > MAX_HOPS:
        raise ProtocolError(f"AUDIO payload of {len(p)} bytes is not 1..{MAX_HOPS} hops")
    return np.frombuffer(p, dtype="<i2").reshape(-1, HOP).astype(np.int16)


def encode_enhanced(e: Enhanced) -> bytes:
    hops, ncost = e.costs.shape
    debug = e.mag is not None
    p = struct.pack("<BBBBI", hops, ncost, FLAG_DEBUG if debug else 0, 0, e.input_crc)
    p += np.asarray(e.audio, dtype="<i2").tobytes() + np.asarray(e.costs, dtype="<u4").tobytes()
    if debug:
        p += np.asarray(e.mag, dtype="<f4").tobytes() + np.asarray(e.mask, dtype="<f4").tobytes()
    return p


def decode_enhanced(p: bytes) -> Enhanced:
    if len(p) < ENHANCED_HEAD:
        raise ProtocolError(f"ENHANCED payload of {len(p)} bytes is too short")
    hops, ncost, flags, _, input_crc = struct.unpack_from("<BBBBI", p, 0)
    debug = bool(flags & FLAG_DEBUG)
    need = ENHANCED_HEAD + hops * 2 * HOP + hops * ncost * 4 + (8 * N_BINS if debug else 0)
    if hops == 0 or len(p) != need:
        raise ProtocolError(f"ENHANCED payload of {len(p)} bytes, expected {need} for {hops} hops")
    off = ENHANCED_HEAD
    audio = np.frombuffer(p, dtype="<i2", count=hops * HOP, offset=off).reshape(hops, HOP).astype(np.int16)
    off += hops * 2 * HOP
    costs = np.frombuffer(p, dtype="<u4", count=hops * ncost, offset=off).reshape(hops, ncost).astype(np.uint32)
    off += hops * ncost * 4
    mag = mask = None
    if debug:
        mag = np.frombuffer(p, dtype="<f4", count=N_BINS, offset=off).astype(np.float32)
        mask = np.frombuffer(p, dtype="<f4", count=N_BINS, offset=off + 4 * N_BINS).astype(np.float32)
    return Enhanced(audio, costs, mag, mask, input_crc)


def encode_error(code: int, detail: int, text: str) -> bytes:
    return struct.pack("<HH", code, detail) + text.encode("ascii", "replace")


def decode_error(p: bytes) -> tuple[int, int, str]:
    if len(p) < 4:
        raise ProtocolError("ERROR payload too short")
    code, detail = struct.unpack_from("<HH", p, 0)
    return code, detail, p[4:].decode("ascii", "replace")
