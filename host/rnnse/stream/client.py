"""Host side of the streaming protocol (docs/protocol.md): stream audio through the firmware.

:class:`StreamClient` talks to the device over any pyserial port (``serial.serial_for_url``:
``socket://127.0.0.1:PORT``, ``/dev/ttyUSB0``, ``rfc2217://...``). It sends AUDIO messages with a
window of up to ``replay_depth`` messages in flight, matches ENHANCED replies by sequence number,
and recovers from every link fault by sending the unanswered messages again (the device answers a
repeated AUDIO from its reply cache, so nothing is processed twice). Every wait is bounded:
``reply_timeout`` seconds without a reply while messages are in flight count as one retry, and
after ``max_retries`` retries without progress the stream fails with :class:`DeviceTimeout`.
"""
from __future__ import annotations

import dataclasses
import math
import os
import random
import select
import socket
import time

import numpy as np

from . import protocol as P


class StreamError(RuntimeError):
    """The stream cannot go on (the device failed, restarted or lost its state)."""


class DeviceTimeout(StreamError):
    """The device did not answer within the time-outs."""


class LinkClosed(StreamError):
    """The connection to the device was closed."""


@dataclasses.dataclass
class LinkStats:
    """What the host saw on the link during a stream."""
    messages: int = 0             # AUDIO messages in the stream
    sent: int = 0                 # AUDIO messages sent, retransmissions included
    retransmitted: int = 0        # AUDIO messages sent again
    recoveries: int = 0           # times the host went back to resend
    timeouts: int = 0             # reply time-outs
    device_errors: dict = dataclasses.field(default_factory=dict)  # ERROR code name -> count
    duplicate_replies: int = 0    # ENHANCED for a message already answered (ignored)
    damaged_rx: int = 0           # damaged frames received from the device (dropped)
    junk_rx: int = 0              # bytes skipped looking for a sync marker

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class StreamResult:
    audio: np.ndarray            # int16, n_messages * hops_per_message * HOP samples (delayed by LATENCY)
    costs: np.ndarray            # (hops, n_costs) uint32, unit info.counter
    info: P.Info
    stats: LinkStats
    wall_s: float
    mags: np.ndarray | None = None    # debug: (hops, 257) float32
    masks: np.ndarray | None = None


def _no_delay(fd: int) -> None:
    """TCP ports (socket://): send small frames at once (no Nagle delay); other ports: nothing."""
    try:
        dup = os.dup(fd)
    except OSError:
        return
    try:
        s = socket.socket(fileno=dup)
    except OSError:
        os.close(dup)
        return
    try:
        if s.type == socket.SOCK_STREAM and s.family in (socket.AF_INET, socket.AF_INET6):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass
    finally:
        s.close()


class Link:
    """Frames over a pyserial port with bounded reads."""

    def __init__(self, port, write_timeout: float = 5.0):
        self.port = port
        self.rx = P.Receiver()
        try:
            port.timeout = 0
            port.write_timeout = write_timeout
        except (AttributeError, ValueError):
            pass
        try:
            self._fd = port.fileno()
        except (AttributeError, OSError, ValueError):
            self._fd = None
        if self._fd is not None:
            _no_delay(self._fd)

    def write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except Exception as exc:  # pyserial raises SerialException / SerialTimeoutException / OSError
            raise LinkClosed(f"cannot write to the device: {exc}") from None

    def _read_available(self) -> bytes:
        try:
            return self.port.read(65536)
        except Exception as exc:
            raise LinkClosed(f"connection to the device lost: {exc}") from None

    def read_events(self, timeout: float) -> list:
        """Parser events [(result, frame-or-None)] of the bytes arriving within ``timeout`` s
        (returns as soon as something arrived)."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            data = self._read_available()
            if data:
                return self.rx.feed(data)
            left = deadline - time.monotonic()
            if left <= 0:
                return []
            if self._fd is not None:
                try:
                    select.select([self._fd], [], [], left)
                except (OSError, ValueError) as exc:
                    raise LinkClosed(f"connection to the device lost: {exc}") from None
            else:
                time.sleep(min(left, 0.001))

    def drain(self, quiet: float = 0.05, limit: float = 1.0) -> None:
        """Drop whatever arrives until the line has been quiet for ``quiet`` s (at most ``limit`` s)."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            if not self.read_events(quiet):
                break
        self.rx.clear()


class StreamClient:
    """Protocol client. ``hello()`` checks the device, ``reset()`` starts a stream, ``stream()`` runs it."""

    def __init__(self, port, *, reply_timeout: float = 2.0, max_retries: int = 5, window: int | None = None,
                 hops_per_message: int = 1, debug: bool = False, progress: bool = False):
        if not 1 <= hops_per_message <= P.MAX_HOPS:
            raise ValueError(f"hops per message must be within 1..{P.MAX_HOPS}, got {hops_per_message}")
        if debug and hops_per_message != 1:
            raise ValueError("debug streams (magnitudes and masks returned) take 1 hop per message")
        if window is not None and window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        if not (math.isfinite(reply_timeout) and reply_timeout > 0):
            raise ValueError(f"reply timeout must be a finite number of seconds > 0, got {reply_timeout}")
        if int(max_retries) != max_retries or max_retries < 0:
            raise ValueError(f"retries must be a non-negative integer, got {max_retries}")
        self.link = Link(port)
        self.reply_timeout = float(reply_timeout)
        self.max_retries = int(max_retries)
        self.window = window
        self.hops_per_message = hops_per_message
        self.debug = debug
        self.progress = progress
        self.info: P.Info | None = None
        self._ctl_seq = random.Random(os.getpid() ^ time.monotonic_ns()).randrange(0, P.SEQ_MOD)

    # -- control messages ---------------------------------------------------------------------
    def _control(self, type_: int, payload: bytes = b"") -> P.Info:
        """Send a control message and wait for the INFO that answers it (same seq)."""
        name = P.TYPE_NAMES[type_]
        for attempt in range(self.max_retries + 1):
            self._ctl_seq = P.seq_next(self._ctl_seq)
            seq = self._ctl_seq
            self.link.write(P.encode(type_, seq, payload))
            deadline = time.monotonic() + self.reply_timeout
            while (left := deadline - time.monotonic()) > 0:
                for result, f in self.link.read_events(left):
                    if result != P.FRAME or f.seq != seq:
                        continue        # damage, stale replies, unsolicited INFO: not ours
                    if f.type == P.INFO:
                        info = P.decode_info(f.payload)
                        self._check_info(info)
                        return info
                    if f.type == P.ERROR:
                        code, detail, text = P.decode_error(f.payload)
                        if code == P.E_VERSION:
                            raise StreamError(f"the device speaks protocol version {detail}, this host "
                                              f"version {P.VERSION}")
                        raise StreamError(f"the device refused {name}: {P.ERROR_NAMES.get(code, code)} "
                                          f"({text})")
        raise DeviceTimeout(f"no answer to {name} after {self.max_retries + 1} attempts of "
                            f"{self.reply_timeout:g} s: is the device running and on this port?")

    @staticmethod
    def _check_info(info: P.Info) -> None:
        if info.version != P.VERSION:
            raise StreamError(f"the device speaks protocol version {info.version}, this host version {P.VERSION}")
        if info.hop != P.HOP or info.n_bins != P.N_BINS or info.sample_rate != 16000:
            raise StreamError(f"the device's signal chain (hop {info.hop}, {info.n_bins} bins, "
                              f"{info.sample_rate} Hz) is not rnnse's (hop {P.HOP}, {P.N_BINS} bins, 16000 Hz)")
        if info.replay_depth < 1:
            raise StreamError("the device keeps no replies (replay depth 0)")

    def hello(self) -> P.Info:
        """Check the device (protocol version, signal chain); returns its INFO."""
        self.info = self._control(P.HELLO, P.VERSION.to_bytes(2, "little"))
        return self.info

    def reset(self) -> P.Info:
        """Start a new stream: the device clears its network state, signal chain and sequence."""
        info = self._control(P.RESET)
        if info.expected_seq != 0:
            raise StreamError(f"the device expects seq {info.expected_seq} after a reset (should be 0)")
        self.info = info
        return info

    def bye(self) -> None:
        """Tell the device that the session ends (best effort, no retries)."""
        try:
            self._ctl_seq = P.seq_next(self._ctl_seq)
            self.link.write(P.encode(P.BYE, self._ctl_seq))
        except LinkClosed:
            pass

    # -- streaming ----------------------------------------------------------------------------
    def stream(self, pcm: np.ndarray, on_progress=None) -> StreamResult:
        """Stream int16 samples (padded with zeros to whole messages) through the device from a fresh
        state; returns the device's output (delayed by the chain's latency) and per-hop costs."""
        pcm = np.asarray(pcm)
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise ValueError(f"stream() takes a 1-D int16 signal, got {pcm.dtype} {pcm.shape}")
        per = self.hops_per_message
        n_msgs = self.messages_for(len(pcm))
        hops = np.zeros(n_msgs * per * P.HOP, np.int16)
        hops[:len(pcm)] = pcm
        hops = hops.reshape(n_msgs, per, P.HOP)
        rs = []
        info, stats, wall = self.stream_messages(n_msgs, hops.__getitem__, lambda i, e: rs.append(e), on_progress)
        audio = np.concatenate([r.audio.reshape(-1) for r in rs])
        costs = np.concatenate([r.costs for r in rs])
        mags = masks = None
        if self.debug:
            mags = np.stack([r.mag for r in rs])
            masks = np.stack([r.mask for r in rs])
        return StreamResult(audio, costs, info, stats, wall, mags, masks)

    def messages_for(self, samples: int) -> int:
        """AUDIO messages that carry ``samples`` samples (the last one padded with zeros)."""
        return max(1, -(-samples // (P.HOP * self.hops_per_message)))

    def stream_messages(self, n_msgs: int, message, on_reply, on_progress=None):
        """Stream ``n_msgs`` AUDIO messages through the device from a fresh state, holding only the
        messages in flight: ``message(i)`` gives message i's hops (``(hops_per_message, HOP)``
        int16), asked once per message and in order; ``on_reply(i, enhanced)`` receives the
        device's replies in order, each once. Returns (info, link stats, wall seconds)."""
        info = self.reset()
        per = self.hops_per_message
        window = min(self.window or info.replay_depth, info.replay_depth)
        flags = P.FLAG_DEBUG if self.debug else 0

        stats = LinkStats(messages=n_msgs)
        frames = {}           # message index -> encoded AUDIO frame (while unanswered)
        crcs = {}             # message index -> CRC-32 of its AUDIO payload (while unanswered)
        replies = {}          # message index -> Enhanced (answered, not yet handed to on_reply)
        base = nxt = 0        # oldest unanswered message, next message to send
        recover_at = None     # while set: errors are consequences of the fault being recovered
        retries = 0
        t0 = last_rx = time.monotonic()

        def send(i: int) -> None:
            if i not in frames:
                payload = P.encode_audio(message(i))
                frames[i] = P.encode(P.AUDIO, i % P.SEQ_MOD, payload, flags)
                crcs[i] = P.crc32(payload)
            self.link.write(frames[i])
            stats.sent += 1

        def go_back() -> None:
            nonlocal recover_at, last_rx
            todo = [i for i in range(base, nxt) if i not in replies]
            if not todo:
                return
            stats.recoveries += 1
            for i in todo:
                send(i)
                stats.retransmitted += 1
            recover_at = todo[0]
            last_rx = time.monotonic()

        def index_of(seq: int) -> int | None:
            """Message index of an AUDIO seq within [base, nxt], else None."""
            i = base + P.seq_behind(base % P.SEQ_MOD, seq)
            return i if i <= nxt else None

        def device_error(f) -> None:
            code, detail, text = P.decode_error(f.payload)
            name = P.ERROR_NAMES.get(code, f"code {code}")
            stats.device_errors[name] = stats.device_errors.get(name, 0) + 1
            if code in (P.E_CRC, P.E_TIMEOUT):
                if recover_at is None:
                    go_back()
            elif code == P.E_SEQ:
                i = index_of(detail)
                if i is None or i < base:
                    raise StreamError(f"the device expects AUDIO seq {detail} but the host is at message "
                                      f"{base} (seq {base % P.SEQ_MOD}): the device lost the stream (was it "
                                      f"reset by someone else?)")
                if i < nxt and recover_at is None:
                    go_back()
            elif code == P.E_NET:
                raise StreamError(f"the device's network failed at message {index_of(f.seq)}: {text}")
            else:
                raise StreamError(f"the device rejected a message: {name} (detail {detail}): {text}")

        while base < n_msgs:
            while nxt < n_msgs and nxt - base < window:
                send(nxt)
                nxt += 1
            events = self.link.read_events(max(0.0, last_rx + self.reply_timeout - time.monotonic()))
            if not events:
                if time.monotonic() - last_rx >= self.reply_timeout:
                    stats.timeouts += 1
                    retries += 1
                    if retries > self.max_retries:
                        raise DeviceTimeout(
                            f"the device stopped answering at message {base} of {n_msgs}: no reply in "
                            f"{retries} x {self.reply_timeout:g} s")
                    recover_at = None
                    go_back()
                continue
            damaged = False
            for result, f in events:
                if result == P.JUNK:
                    stats.junk_rx += 1
                    damaged = True
                    continue
                if result != P.FRAME:
                    stats.damaged_rx += 1
                    damaged = True
                    continue
                last_rx = time.monotonic()
                if f.type == P.ENHANCED:
                    i = index_of(f.seq)
                    if i is None or i >= nxt or i < base or i in replies:
                        stats.duplicate_replies += 1
                        continue
                    e = P.decode_enhanced(f.payload)
                    if e.audio.shape[0] != per or (e.mag is not None) != self.debug:
                        raise StreamError(f"the reply to message {i} has {e.audio.shape[0]} hops "
                                          f"(debug {e.mag is not None}); sent {per} (debug {self.debug})")
                    if e.input_crc != crcs[i]:
                        raise StreamError(f"the reply to message {i} was computed from other input than "
                                          f"the host sent (input CRC-32 0x{e.input_crc:08x}, sent "
                                          f"0x{crcs[i]:08x}): the device's stream state is no longer "
                                          f"the input's, stopped")
                    replies[i] = e
                    frames.pop(i, None)
                    crcs.pop(i, None)
                    if recover_at is not None and i >= recover_at:
                        recover_at = None
                    elif recover_at is None and i > base:
                        go_back()     # replies come in order: the one for ``base`` was lost
                    if i == base:
                        while base in replies and base < n_msgs:
                            on_reply(base, replies.pop(base))
                            base += 1
                        retries = 0
                        if on_progress is not None:
                            on_progress(base * per)
                elif f.type == P.ERROR:
                    if f.seq == P.SEQ_NONE or index_of(f.seq) is not None:
                        device_error(f)
                elif f.type == P.INFO and f.seq == P.SEQ_NONE:
                    raise StreamError(f"the device restarted during the stream (at message {base} of {n_msgs})")
            if damaged and recover_at is None:
                go_back()     # a reply may have been lost on the way back

        wall = time.monotonic() - t0
        stats.device_errors = dict(sorted(stats.device_errors.items()))
        return info, stats, wall
