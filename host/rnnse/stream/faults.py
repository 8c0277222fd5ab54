"""A loopback TCP proxy that damages a byte stream on purpose, to test the streaming protocol's
recovery (the tests use it between the client and the host build of the firmware).

    with FaultProxy(app_port, up=[Flip(2000, 0x10)], down=[Drop(5000, 7)]) as proxy:
        port = serial.serial_for_url(proxy.url)

``up`` faults act on the host -> device bytes, ``down`` faults on device -> host, at absolute byte
offsets of each direction's stream; faults must not overlap.
"""
from __future__ import annotations

import dataclasses
import socket
import threading


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
        src.settimeout(0.2)
        while not self._stop.is_set():
            try:
                data = src.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            if silent:
                continue
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
