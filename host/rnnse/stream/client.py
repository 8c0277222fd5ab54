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


CONTROL_EARLY_RESENDS = 16     # control messages sent again at once on damage, at most


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


def decoded(decode, payload: bytes, what: str):
    """``decode(payload)``; a payload that does not make sense (behind a valid CRC) is a StreamError."""
    try:
        return decode(payload)
    except P.ProtocolError as exc:
        raise StreamError(f"malformed {what} from the device: {exc}") from None


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
                 hops_per_message: int = 1, debug: bool = False, progress: bool = False, first_seq: int = 0):
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
        if not 0 <= first_seq < P.SEQ_MOD:
            raise ValueError(f"the first AUDIO seq must be within 0..{P.SEQ_MOD - 1}, got {first_seq}")
        self.link = Link(port)
        self.reply_timeout = float(reply_timeout)
        self.max_retries = int(max_retries)
        self.window = window
        self.hops_per_message = hops_per_message
        self.debug = debug
        self.progress = progress
        self.first_seq = first_seq      # the seq of a stream's first AUDIO (0; others test the wrap)
        self.info: P.Info | None = None
        self._ctl_seq = random.Random(os.getpid() ^ time.monotonic_ns()).randrange(0, P.SEQ_MOD)

    # -- control messages ---------------------------------------------------------------------
    def _control(self, type_: int, payload: bytes = b"") -> P.Info:
        """Send a control message and wait for the INFO that answers it (same seq). It is sent again
        after ``reply_timeout`` s without an answer, and at once when damage shows that the message
        or its answer may have been lost; (max_retries + 1) x reply_timeout s in all."""
        name = P.TYPE_NAMES[type_]
        end = time.monotonic() + (self.max_retries + 1) * self.reply_timeout
        attempts = 0
        while (left := end - time.monotonic()) > 0:
            attempts += 1
            self._ctl_seq = P.seq_next(self._ctl_seq)
            seq = self._ctl_seq
            self.link.write(P.encode(type_, seq, payload))
            early = attempts <= CONTROL_EARLY_RESENDS       # beyond: a link this bad is not flooded
            info = self._await_control(name, seq, min(left, self.reply_timeout), early)
            if info is not None:
                return info
        raise DeviceTimeout(f"no answer to {name} after {attempts} attempts in "
                            f"{(self.max_retries + 1) * self.reply_timeout:g} s: is the device running and on "
                            f"this port?")

    def _await_control(self, name: str, seq: int, wait: float, early: bool) -> P.Info | None:
        """The INFO answering control message ``seq``; None after ``wait`` s, or on damage if ``early``."""
        deadline = time.monotonic() + wait
        damaged = False     # the message or its answer may be lost: send it again
        while not (damaged and early) and (left := deadline - time.monotonic()) > 0:
            for result, f in self.link.read_events(left):
                if result != P.FRAME:
                    damaged = True
                    continue
                if f.type == P.ERROR and f.seq == P.SEQ_NONE:
                    damaged |= decoded(P.decode_error, f.payload, "ERROR")[0] in (P.E_CRC, P.E_TIMEOUT)
                if f.seq != seq:
                    continue            # stale replies, unsolicited INFO: not ours
                if f.type == P.INFO:
                    info = decoded(P.decode_info, f.payload, f"INFO answering {name}")
                    self._check_info(info)
                    return info
                if f.type == P.ERROR:
                    code, detail, text = decoded(P.decode_error, f.payload, f"ERROR answering {name}")
                    if code == P.E_VERSION:
                        raise StreamError(f"the device speaks protocol version {detail}, this host "
                                          f"version {P.VERSION}")
                    raise StreamError(f"the device refused {name}: {P.ERROR_NAMES.get(code, code)} ({text})")
        return None

    @staticmethod
    def _check_info(info: P.Info) -> None:
        if info.version != P.VERSION:
            raise StreamError(f"the device speaks protocol version {info.version}, this host version {P.VERSION}")
        if info.hop != P.HOP or info.n_bins != P.N_BINS or info.sample_rate != 16000:
            raise StreamError(f"the device's signal chain (hop {info.hop}, {info.n_bins} bins, "
                              f"{info.sample_rate} Hz) is not rnnse's (hop {P.HOP}, {P.N_BINS} bins, 16000 Hz)")
        if info.replay_depth < 1:
            raise StreamError("the device keeps no replies (replay depth 0)")
        if info.max_hops < 1:
            raise StreamError(f"the device takes {info.max_hops} hops per AUDIO message")
        missing = {"total", "dsp", "network", "busiest"} - set(info.fixed_costs)
        if missing or info.n_costs < len(info.fixed_costs):
            raise StreamError(f"the device's INFO names the cost entries {info.fixed_costs} (lacking "
                              f"{sorted(missing) or 'none'}) for {info.n_costs} entries per hop")

    def hello(self) -> P.Info:
        """Check the device (protocol version, signal chain); returns its INFO."""
        self.info = self._control(P.HELLO, P.VERSION.to_bytes(2, "little"))
        return self.info

    def reset(self, first_seq: int = 0) -> P.Info:
        """Start a new stream: the device clears its network state, signal chain and sequence, and
        expects AUDIO seq ``first_seq`` next."""
        info = self._control(P.RESET, first_seq.to_bytes(2, "little") if first_seq else b"")
        if info.expected_seq != first_seq:
            raise StreamError(f"the device expects seq {info.expected_seq} after a reset (should be {first_seq})")
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
        info = self.reset(self.first_seq)
        if self.hops_per_message > info.max_hops:
            raise StreamError(f"the device takes at most {info.max_hops} hops per message, asked for "
                              f"{self.hops_per_message}")
        window = min(self.window or info.replay_depth, info.replay_depth)
        w = _Window(self, n_msgs, message, window)
        t0 = time.monotonic()
        while w.base < n_msgs:
            w.fill()
            events = self.link.read_events(max(0.0, w.next_deadline() - time.monotonic()))
            if not events:
                w.quiet()
                continue
            for result, f in events:
                w.event(result, f)
            w.hand_on(on_reply, on_progress)
        wall = time.monotonic() - t0
        w.stats.device_errors = dict(sorted(w.stats.device_errors.items()))
        return info, w.stats, wall


class _Window:
    """The sending side of one stream: messages in flight, their replies, and recovery.

    Recovery is "go back": every unanswered message in flight is sent again, in order, as round
    r + 1 (its tag, r mod 16, rides in the AUDIO flags and the device echoes it in the reply or
    error). A fault that hit a transmission of the latest round makes the host go back at once;
    one that hit an older round is a consequence of a fault already being recovered, and is
    ignored. Which transmission a fault hit: a sequence error or reply names it; damage does when
    the damaged frame's header was intact (the parser hands it over); otherwise the damage came
    after the last valid frame (its cause), and the host goes back when that was of the latest
    round, the last transmission before it, or (up) the same as when it last went back for damage
    (nothing valid reached the device since, so the new damage is in the resend)."""

    def __init__(self, client: StreamClient, n_msgs: int, message, window: int):
        self.c = client
        self.n_msgs, self.message, self.window = n_msgs, message, window
        self.flags = P.FLAG_DEBUG if client.debug else 0
        self.first = client.first_seq
        self.stats = LinkStats(messages=n_msgs)
        self.frames = {}          # message index -> (AUDIO payload, its CRC-32) while unanswered
        self.replies = {}         # message index -> Enhanced (answered, not yet handed on)
        self.base = self.nxt = 0  # oldest unanswered message, next message to send
        self.round = 0            # go-backs so far; the tag is round mod 16
        self.last_tx = None       # (seq, tag) of the latest AUDIO sent
        self.boundary = None      # last_tx when the latest round began
        self.last_cause = None    # (seq, tag) of the AUDIO the latest valid device frame answered
        self.acted = None         # the cause of the up damage the host last went back for
        self.in_damage = False    # damaged bytes from the device since the last valid frame
        self.suspect_at = None    # when damage the host could not attribute was left unanswered
        self.suspect_wait = client.reply_timeout / 10
        self.retries = 0
        self.last_rx = self.progress_at = time.monotonic()
        # the longest the stream may go without a reply handed on, answered or not
        self.patience = (client.max_retries + 1) * client.reply_timeout

    # -- sending ------------------------------------------------------------------------------
    def seq_of(self, i: int) -> int:
        return (self.first + i) % P.SEQ_MOD

    def index_of(self, seq: int) -> int | None:
        """Message index of an AUDIO seq within [base, nxt], else None."""
        i = self.base + P.seq_behind(self.seq_of(self.base), seq)
        return i if i <= self.nxt else None

    @property
    def tag(self) -> int:
        return (self.round % 16) << P.TAG_SHIFT

    def send(self, i: int) -> None:
        if i not in self.frames:
            payload = P.encode_audio(self.message(i))
            self.frames[i] = (payload, P.crc32(payload))
        self.c.link.write(P.encode(P.AUDIO, self.seq_of(i), self.frames[i][0], self.flags | self.tag))
        self.last_tx = (self.seq_of(i), self.tag)
        self.stats.sent += 1

    def fill(self) -> None:
        while self.nxt < self.n_msgs and self.nxt - self.base < self.window:
            self.send(self.nxt)
            self.nxt += 1

    def go_back(self, start: int = 0) -> None:
        """Send every unanswered message in flight again (from message ``start`` on, where the device
        said it has processed those before), as a new round."""
        self.suspect_at = None
        todo = [i for i in range(max(self.base, start), self.nxt) if i not in self.replies]
        if not todo:
            return
        stuck = time.monotonic() - self.progress_at
        if stuck > self.patience:
            raise StreamError(f"no progress at message {self.base} of {self.n_msgs} in {stuck:.1f} s although the "
                              f"device answers ({self.stats.retransmitted} messages resent): the link damages "
                              f"or loses nearly every frame")
        self.stats.recoveries += 1
        self.boundary = self.last_tx
        self.round += 1
        for i in todo:
            self.send(i)
            self.stats.retransmitted += 1
        self.last_rx = time.monotonic()

    def next_deadline(self) -> float:
        """When to act if nothing arrives: the reply time-out, or sooner after unattributed damage."""
        deadline = self.last_rx + self.c.reply_timeout
        return deadline if self.suspect_at is None else min(deadline, self.suspect_at + self.suspect_wait)

    def quiet(self) -> None:
        """Nothing arrived until next_deadline(): damage followed by silence was the answer to the
        latest round (nothing came after it), so go back; or a reply time-out."""
        if self.suspect_at is not None and time.monotonic() >= self.suspect_at + self.suspect_wait:
            self.go_back()
            return
        self.timed_out()

    def timed_out(self) -> None:
        if time.monotonic() - self.last_rx < self.c.reply_timeout:
            return
        self.stats.timeouts += 1
        self.retries += 1
        if self.retries > self.c.max_retries:
            raise DeviceTimeout(f"the device stopped answering at message {self.base} of {self.n_msgs}: no reply "
                                f"in {self.retries} x {self.c.reply_timeout:g} s")
        self.go_back()

    # -- receiving ----------------------------------------------------------------------------
    def latest(self, cause) -> bool:
        """Whether what the device reports about ``cause`` (an AUDIO's (seq, tag), None: none yet)
        belongs to the latest round: a transmission of it, or bytes after the last one before it."""
        return cause is None or cause[1] == self.tag or cause == self.boundary

    def event(self, result: int, f) -> None:
        if result != P.FRAME:
            self.damaged_rx(result, f)
            return
        self.in_damage = False
        self.last_rx = time.monotonic()
        if f.type == P.ENHANCED:
            self.enhanced(f)
        elif f.type == P.ERROR:
            if f.seq == P.SEQ_NONE or self.index_of(f.seq) is not None:
                self.device_error(f)
        elif f.type == P.INFO and f.seq == P.SEQ_NONE:
            raise StreamError(f"the device restarted during the stream (at message {self.base} of {self.n_msgs})")

    def damaged_rx(self, result: int, f) -> None:
        """Damaged bytes from the device: a reply of the latest round may have been lost."""
        if result == P.JUNK:
            self.stats.junk_rx += 1
        else:
            self.stats.damaged_rx += 1
        if result == P.BAD_CRC and f.type in (P.ENHANCED, P.ERROR):
            if f.flags & P.FLAG_TAG_MASK == self.tag:       # its header is intact: it names the round
                self.go_back()
        elif not self.in_damage and self.latest(self.last_cause):
            self.go_back()
        elif self.suspect_at is None:
            self.suspect_at = time.monotonic()      # unattributed: go back if nothing follows it
        self.in_damage = True

    def enhanced(self, f) -> None:
        i = self.index_of(f.seq)
        cause = (f.seq, f.flags & P.FLAG_TAG_MASK)
        if cause[1] == self.tag:
            self.suspect_at = None      # the latest round is answered after the damage
        if i is None or i >= self.nxt or i < self.base:
            self.stats.duplicate_replies += 1
            return
        self.last_cause = cause
        if i in self.replies:
            self.stats.duplicate_replies += 1
        else:
            e = self.decode(i, f.payload)
            self.replies[i] = e
            self.frames.pop(i, None)
        if i > self.base and self.base not in self.replies and cause[1] == self.tag:
            self.go_back()         # replies come in order: the latest round's answer to ``base`` was lost

    def decode(self, i: int, payload: bytes) -> P.Enhanced:
        e = decoded(P.decode_enhanced, payload, f"ENHANCED answering message {i}")
        per = self.c.hops_per_message
        if e.audio.shape[0] != per or (e.mag is not None) != self.c.debug:
            raise StreamError(f"the reply to message {i} has {e.audio.shape[0]} hops "
                              f"(debug {e.mag is not None}); sent {per} (debug {self.c.debug})")
        if e.costs.shape[1] != self.c.info.n_costs:
            raise StreamError(f"the reply to message {i} has {e.costs.shape[1]} cost entries per hop, the "
                              f"device's INFO said {self.c.info.n_costs}")
        sent = self.frames[i][1]
        if e.input_crc != sent:
            raise StreamError(f"the reply to message {i} was computed from other input than the host sent "
                              f"(input CRC-32 0x{e.input_crc:08x}, sent 0x{sent:08x}): the device's stream "
                              f"state is no longer the input's, stopped")
        return e

    def device_error(self, f) -> None:
        code, detail, text = decoded(P.decode_error, f.payload, "ERROR")
        name = P.ERROR_NAMES.get(code, f"code {code}")
        self.stats.device_errors[name] = self.stats.device_errors.get(name, 0) + 1
        tag = f.flags & P.FLAG_TAG_MASK
        if code in (P.E_CRC, P.E_TIMEOUT):
            if f.seq != P.SEQ_NONE:     # the damaged AUDIO's header was intact: it names the transmission
                if tag == self.tag:
                    self.go_back()
                return
            # damage after AUDIO (detail, tag); detail SEQ_NONE: before any AUDIO of this stream
            cause = None if detail == P.SEQ_NONE else (detail, tag)
            if self.latest(cause) or cause == self.acted:
                self.acted = cause
                self.go_back()
        elif code == P.E_SEQ:
            i = self.index_of(detail)
            if i is None or i < self.base:
                raise StreamError(f"the device expects AUDIO seq {detail} but the host is at message {self.base} "
                                  f"(seq {self.seq_of(self.base)}): the device lost the stream (was it reset by "
                                  f"someone else?)")
            self.last_cause = (f.seq, tag)
            if i < self.nxt and tag == self.tag:
                self.go_back(i)    # a message of the latest round did not arrive: send again at once
        elif code == P.E_NET:
            raise StreamError(f"the device's network failed at message {self.index_of(f.seq)}: {text}")
        else:
            raise StreamError(f"the device rejected a message: {name} (detail {detail}): {text}")

    def hand_on(self, on_reply, on_progress) -> None:
        """Hand the replies that are next in order on."""
        if self.base not in self.replies:
            return
        while self.base in self.replies and self.base < self.n_msgs:
            on_reply(self.base, self.replies.pop(self.base))
            self.base += 1
        self.retries = 0
        self.progress_at = time.monotonic()
        if on_progress is not None:
            on_progress(self.base * self.c.hops_per_message)
