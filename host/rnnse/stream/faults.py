"""A loopback TCP proxy that damages a byte stream on purpose, to test the streaming protocol's
recovery (the tests use it between the client and the host build of the firmware).

    with FaultProxy(app_port, up=[Flip(2000, 0x10)], down=[Drop(5000, 7)]) as proxy:
        port = serial.serial_for_url(proxy.url)

``up`` faults act on the host -> device bytes, ``down`` faults on device -> host, at absolute byte
offsets of each direction's stream; faults must not overlap.

A direction may instead take one :class:`Noise` (random faults at given rates, frame by frame:
bit errors, dropped bytes, duplicated, reordered and truncated frames, garbage between frames) and
any :class:`Hit` (damage the first transmissions of one message), seeded, so a run can be repeated:

    with FaultProxy(app_port, up=[Noise(ber=1e-4, seed=1)], down=[Noise(ber=1e-4, seed=2)]) as proxy:
"""
from __future__ import annotations

import dataclasses
import socket
import threading
import time

import numpy as np

from . import protocol as P


@dataclasses.dataclass
class Flip:
    at: int
    mask: int = 0x01


@dataclasses.dataclass
class Drop:
    at: int
    n: int = 1


@dataclasses.dataclass
class Insert:
    at: int
    data: bytes = b"\x00"


@dataclasses.dataclass
class Silence:
    """Forward nothing more from this offset on (the connection stays open)."""
    at: int


@dataclasses.dataclass
class Close:
    """Close both connections when this offset is reached."""
    at: int


@dataclasses.dataclass
class Noise:
    """Random faults, each at its rate: ``ber`` bit errors per bit, ``drop`` dropped bytes per byte,
    and per frame ``dup`` (sent twice), ``reorder`` (swapped with the frame after it), ``truncate``
    (cut at a random point, the rest lost), ``garbage`` (1..64 random bytes before it)."""
    ber: float = 0.0
    drop: float = 0.0
    dup: float = 0.0
    reorder: float = 0.0
    truncate: float = 0.0
    garbage: float = 0.0
    seed: int = 0


@dataclasses.dataclass
class Hit:
    """Flip a bit of the first ``times`` transmissions of the frame of ``type`` with ``seq`` (a message
    and its resends; None: any seq), in the middle of its payload (its CRC when it has none)."""
    seq: int | None
    times: int = 1
    type: int = P.AUDIO


FRAME_FAULTS = (Noise, Hit)


class Mangler:
    """Frame-level faults of one direction (its input is the sender's clean frame stream)."""

    def __init__(self, faults):
        noise = [f for f in faults if isinstance(f, Noise)]
        self.noise = noise[0] if noise else Noise()
        self.hits = [dataclasses.replace(f) for f in faults if isinstance(f, Hit)]
        self.rng = np.random.default_rng(self.noise.seed)
        self.buf = bytearray()
        self.held = None          # a frame waiting to be sent after the next one (reordering)
        self.held_since = 0.0
        self.counts = {k: 0 for k in ("frames", "bit_errors", "dropped", "dup", "reorder", "truncate", "garbage",
                                      "hit")}

    def feed(self, data: bytes) -> bytes:
        self.buf += data
        out = bytearray()
        while self.buf:
            result, used, frame = P.parse(self.buf)
            if result == P.NEED_MORE:
                break
            raw = bytes(self.buf[:used])
            del self.buf[:used]
            out += self._frame(raw, frame) if result == P.FRAME else raw
        return self._bytes(bytes(out))

    def flush(self, idle: float = 0.02) -> bytes:
        """A held frame whose successor did not come within ``idle`` s, sent as it is."""
        if self.held is None or time.monotonic() - self.held_since < idle:
            return b""
        raw, self.held = self.held, None
        return self._bytes(raw)

    def _chance(self, rate: float) -> bool:
        return rate > 0 and self.rng.random() < rate

    def _frame(self, raw: bytes, frame) -> bytes:
        n = self.noise
        self.counts["frames"] += 1
        for h in self.hits:
            if h.times > 0 and frame.type == h.type and h.seq in (None, frame.seq):
                h.times -= 1
                self.counts["hit"] += 1
                raw = bytearray(raw)
                raw[P.HEADER_BYTES + len(frame.payload) // 2] ^= 0x10
                raw = bytes(raw)
        if self._chance(n.truncate):
            self.counts["truncate"] += 1
            raw = raw[:int(self.rng.integers(1, len(raw)))]
        if self._chance(n.garbage):
            self.counts["garbage"] += 1
            raw = self.rng.integers(0, 256, int(self.rng.integers(1, 65)), dtype=np.uint8).tobytes() + raw
        if self._chance(n.dup):
            self.counts["dup"] += 1
            raw = raw + raw
        if self.held is not None:
            raw, self.held = raw + self.held, None
        elif self._chance(n.reorder):
            self.counts["reorder"] += 1
            self.held, self.held_since = raw, time.monotonic()
            return b""
        return raw

    def _bytes(self, data: bytes) -> bytes:
        """Bit errors and dropped bytes over a run of bytes."""
        n = self.noise
        if not data or (n.ber <= 0 and n.drop <= 0):
            return data
        a = np.frombuffer(data, np.uint8).copy()
        if n.ber > 0:
            flips = int(self.rng.binomial(8 * len(a), n.ber))
            if flips:
                bits = self.rng.integers(0, 8 * len(a), flips)
                np.bitwise_xor.at(a, bits // 8, (1 << (bits % 8)).astype(np.uint8))
                self.counts["bit_errors"] += flips
        if n.drop > 0:
            keep = self.rng.random(len(a)) >= n.drop
            self.counts["dropped"] += int((~keep).sum())
            a = a[keep]
        return a.tobytes()


def apply_faults(faults, offset: int, chunk: bytes):
    """(bytes to forward, 'silence' | 'close' | None) for a chunk starting at ``offset``."""
    out = bytearray()
    end = offset + len(chunk)
    pos = offset
    # faults in offset order; Drop may span chunks, so it is tracked through .n
    for f in sorted((f for f in faults if offset <= f.at < end or (isinstance(f, Drop) and f.at < offset
                                                                      and f.at + f.n > offset)),
                    key=lambda f: max(f.at, offset)):
        at = max(f.at, offset)
        out += chunk[pos - offset:at - offset]
        pos = at
        if isinstance(f, Flip):
            out.append(chunk[at - offset] ^ f.mask)
            pos = at + 1
        elif isinstance(f, Drop):
            pos = min(end, f.at + f.n)
        elif isinstance(f, Insert):
            out += f.data
        elif isinstance(f, Silence):
            return bytes(out), "silence"
        elif isinstance(f, Close):
            return bytes(out), "close"
    out += chunk[pos - offset:]
    return bytes(out), None


class FaultProxy:
    def __init__(self, target_port: int, up=(), down=()):
        self.target_port = target_port
        self.faults = {"up": list(up), "down": list(down)}
        self.counts = {"up": 0, "down": 0}
        self.manglers = {}        # direction -> Mangler, where that direction's faults are frame-level
        for d, faults in self.faults.items():
            if any(isinstance(f, FRAME_FAULTS) for f in faults):
                if not all(isinstance(f, FRAME_FAULTS) for f in faults):
                    raise ValueError("a direction takes byte-offset faults or Noise/Hit, not both")
                self.manglers[d] = Mangler(faults)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.url = f"socket://127.0.0.1:{self.port}"
        self._socks = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._stop.set()
        for s in self._socks + [self.listener]:
            try:
                s.close()
            except OSError:
                pass
        self._thread.join(timeout=5)

    def _run(self):
        self.listener.settimeout(10)
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        device = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
        self._socks += [client, device]
        pumps = [threading.Thread(target=self._pump, args=(client, device, "up"), daemon=True),
                 threading.Thread(target=self._pump, args=(device, client, "down"), daemon=True)]
        for t in pumps:
            t.start()
        for t in pumps:
            t.join()

    def _pump(self, src, dst, direction):
        silent = False
        mangler = self.manglers.get(direction)
        src.settimeout(0.2 if mangler is None else 0.005)
        while not self._stop.is_set():
            try:
                data = src.recv(65536)
            except socket.timeout:
                late = mangler.flush() if mangler is not None else b""
                if late:
                    try:
                        dst.sendall(late)
                    except OSError:
                        break
                continue
            except OSError:
                break
            if not data:
                break
            if silent:
                continue
            if mangler is not None:
                out, action = mangler.feed(data), None
            else:
                out, action = apply_faults(self.faults[direction], self.counts[direction], data)
            self.counts[direction] += len(data)
            try:
                if out:
                    dst.sendall(out)
            except OSError:
                break
            if action == "silence":
                silent = True
            elif action == "close":
                self._stop.set()
                for s in self._socks:
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                break
