"""Per band: packets in, time-ordered samples out, with every loss counted.

Synchronous on purpose: the live pipeline, replay and ``analyze`` of a recording all run
this same code, so they see the same samples in the same order.

Loss accounting uses the protocol's two counters. A gap in ``seq`` within one connection
is a notification the link lost; a gap in the sample index is samples that have not
arrived. After a reconnect the band replays what it sampled while disconnected from its
offline ring (frames flagged BACKLOG, oldest first, behind live data), so a hole in the
index is held open for a while: the DSP wants samples in time order, and a hole that the
backlog fills is not a loss.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass, field

import numpy as np

from . import codec
from .clock import ClockModel
from .errors import FrameError, ProtocolError
from .packets import Kind, Packet

log = logging.getLogger(__name__)

# How much live data may wait for backlog to fill a hole. The band replays its ring at
# ~2.6x real time beside a 200 Hz live stream (40 notifications/s, MTU 247), so 10 minutes
# of holding covers a ~25-minute outage; the DSP's live output is late by that much.
HOLD_S = 600.0
MAX_PENDING_SAMPLES = 200 * 660  # memory bound of the hold: 11 min at 200 Hz, ~2 MB
REBOOT_BACKSTEP = 1000  # a live index this far behind the stream means the band restarted


@dataclass(frozen=True, slots=True)
class SampleBlock:
    """Consecutive samples, in band axes; ``t_s`` is the band's monotonic time base."""

    band: str
    first_index: int
    t_s: np.ndarray
    acc_g: np.ndarray
    gyro_dps: np.ndarray | None
    backlog: bool


@dataclass
class LinkCounters:
    frames: int = 0
    frames_lost: int = 0  # seq gaps inside one connection
    samples: int = 0  # delivered to the DSP, in order
    samples_backlog: int = 0  # of those, recovered from the band's offline ring
    samples_missing: int = 0  # index holes given up on
    samples_late: int = 0  # arrived after their hole was given up on
    samples_duplicate: int = 0
    loss_flags: int = 0  # frames saying the band itself lost samples before them
    connects: int = 0
    disconnects: int = 0
    reboots: int = 0
    rejected: dict[str, int] = field(default_factory=dict)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


class _Reorder:
    """Frames in, frames in index order out; holes wait for backlog, within limits."""

    def __init__(self, counters: LinkCounters) -> None:
        self.c = counters
        self.next_index: int | None = None
        self.pending: list[codec.Frame] = []
        self.pending_samples = 0
        self.backlog_until: int | None = None  # first live index after a reconnect
        # The band had samples in its ring before this session's first frame: start from
        # the oldest of them (the first backlog frame), not from the first live frame.
        self.start_with_backlog = False

    def expect_backlog(self) -> None:
        self.backlog_until = -1  # set by the first live frame after the reconnect

    def no_backlog(self) -> list[codec.Frame]:
        self.backlog_until = None
        if self.next_index is None and self.start_with_backlog:
            self.start_with_backlog = False
            if self.pending:
                self.next_index = self.pending[0].first_index
        return self._release()

    def push(self, f: codec.Frame) -> list[codec.Frame]:
        if self.next_index is None:
            if self.start_with_backlog and not f.backlog:
                return self._hold_before_start(f)
            self.next_index = f.first_index
            if self.pending:  # live frames held for this backlog: the hole up to them
                self.backlog_until = self.pending[0].first_index
        if self.backlog_until == -1 and not f.backlog:
            self.backlog_until = f.first_index
        end = f.first_index + f.count
        if end <= self.next_index:
            self._stale(f.count, f.backlog)
            return []
        if not self._insert(f):
            return []
        return self._release()

    def _insert(self, f: codec.Frame) -> bool:
        """Into ``pending`` in index order; False (and counted) if that frame is there."""
        keys = [p.first_index for p in self.pending]
        i = bisect.bisect_left(keys, f.first_index)
        if i < len(keys) and keys[i] == f.first_index:
            self.c.samples_duplicate += f.count
            return False
        self.pending.insert(i, f)
        self.pending_samples += f.count
        return True

    def _hold_before_start(self, f: codec.Frame) -> list[codec.Frame]:
        """Keep live frames until the ring's oldest frame says where the stream starts."""
        if not self._insert(f):
            return []
        first, newest = self.pending[0], self.pending[-1]
        span_s = (newest.t_us - first.t_us) / 1e6
        if span_s > HOLD_S or self.pending_samples > MAX_PENDING_SAMPLES:
            self.start_with_backlog = False  # no backlog after all: start from live data
            self.next_index = first.first_index
            return self._release()
        return []

    def _stale(self, n: int, backlog: bool) -> None:
        if backlog:
            self.c.samples_late += n
        else:
            self.c.samples_duplicate += n

    def _release(self) -> list[codec.Frame]:
        out: list[codec.Frame] = []
        assert self.next_index is not None or not self.pending
        while self.pending:
            f = self.pending[0]
            nxt = self.next_index
            assert nxt is not None
            if f.first_index + f.count <= nxt:  # overtaken by an overlapping frame
                self.pending.pop(0)
                self.pending_samples -= f.count
                self._stale(f.count, f.backlog)
                continue
            if f.first_index <= nxt:
                self.pending.pop(0)
                self.pending_samples -= f.count
                if f.first_index < nxt:
                    self._stale(nxt - f.first_index, f.backlog)
                    f = _trim(f, nxt - f.first_index)
                out.append(f)
                self.next_index = f.first_index + f.count
                if self.backlog_until is not None and self.next_index >= self.backlog_until >= 0:
                    self.backlog_until = None  # the reconnect's hole is closed
                continue
            if self._wait_for(f):
                break
            self.c.samples_missing += f.first_index - nxt
            self.next_index = f.first_index
        return out

    def _wait_for(self, head: codec.Frame) -> bool:
        """Hold the hole before ``head`` open? Only while the band's backlog may fill it.

        The budget is what holding costs: the span of live data held back (the DSP's
        latency) and its size (memory), not the size of the hole.
        """
        if self.backlog_until is None or head.backlog:
            return False  # no backlog coming, or the ring (oldest first) no longer has it
        newest = self.pending[-1]
        held_s = (newest.t_us + newest.count * newest.period_us - head.t_us) / 1e6
        if held_s > HOLD_S or self.pending_samples > MAX_PENDING_SAMPLES:
            self.backlog_until = None
            return False
        return True

    def drain(self) -> list[codec.Frame]:
        """End of stream: release everything, holes counted as missing."""
        self.backlog_until = None
        if self.next_index is None and self.pending:
            self.next_index = self.pending[0].first_index
        return self._release()


def _trim(f: codec.Frame, n: int) -> codec.Frame:
    return codec.Frame(f.flags, f.seq, f.first_index + n, f.t_us + n * f.period_us,
                       f.period_us, f.ranges, f.raw[n:])


class BandFrontEnd:
    """Decode, account and order one band's packets."""

    def __init__(self, band: str) -> None:
        self.band = band
        self.counters = LinkCounters()
        self.clock = ClockModel()
        self.meta: codec.Metadata | None = None
        self.status: codec.Status | None = None
        self.link: dict[str, object] = {}
        self._acc_m = np.eye(3)
        self._gyro_m = np.eye(3)
        self._expected_seq: int | None = None
        self._reorder = _Reorder(self.counters)
        self._was_connected = False
        self._shift_s = 0.0  # keeps the time base monotonic across band reboots
        self._last_live: tuple[int, int, int] | None = None  # first_index, t_us, recv_wall_ns
        self._last_out_t_s: float | None = None
        self._logged: set[str] = set()
        self.last_recv_wall_ns = 0

    @property
    def last_t_s(self) -> float | None:
        """Time of the newest sample delivered, on the band's time base."""
        return self._last_out_t_s

    def push(self, p: Packet) -> list[SampleBlock]:
        self.last_recv_wall_ns = p.recv_wall_ns
        if p.kind is Kind.DATA:
            return self._data(p)
        if p.kind is Kind.LINK:
            return self._link(p)
        if p.kind is Kind.META:
            self._meta(p)
        elif p.kind is Kind.STATUS:
            return self._status(p)
        return []

    def drain(self) -> list[SampleBlock]:
        return self._blocks(self._reorder.drain())

    def _data(self, p: Packet) -> list[SampleBlock]:
        try:
            f = codec.decode_frame(p.payload)
        except FrameError as e:
            self.counters.rejected[e.reason] = self.counters.rejected.get(e.reason, 0) + 1
            self._log_once(f"frame:{e.reason}", "band %s: rejected frame (%s)", self.band, e)
            return []
        c = self.counters
        c.frames += 1
        if self._expected_seq is not None:
            c.frames_lost += (f.seq - self._expected_seq) & 0xFFFF
        self._expected_seq = (f.seq + 1) & 0xFFFF
        if f.loss_before:
            c.loss_flags += 1
        out: list[SampleBlock] = []
        if not f.backlog:
            out += self._check_reboot(f, p.recv_wall_ns)
            self._last_live = (f.first_index, f.t_us, p.recv_wall_ns)
            last_s = (f.t_us + (f.count - 1) * f.period_us) / 1e6 + self._shift_s
            self.clock.observe(last_s, p.recv_wall_ns)
        return out + self._blocks(self._reorder.push(f))

    def _check_reboot(self, f: codec.Frame, recv_wall_ns: int) -> list[SampleBlock]:
        nxt = self._reorder.next_index
        last = self._last_live
        if nxt is None or last is None or f.first_index >= nxt - REBOOT_BACKSTEP:
            return []
        if f.t_us >= last[1]:
            return []
        out = self._blocks(self._reorder.drain())
        self.counters.reboots += 1
        self._log_once(f"reboot:{self.counters.reboots}",
                       "band %s restarted (sample index %d after %d)", self.band,
                       f.first_index, nxt)
        # Wall time says how long the band was away (at least one sample period).
        elapsed_s = max(f.period_us / 1e6, (recv_wall_ns - last[2]) / 1e9)
        base = self._last_out_t_s if self._last_out_t_s is not None else 0.0
        self._shift_s = base + elapsed_s - f.t_us / 1e6
        self._reorder = _Reorder(self.counters)
        self.clock.reset()
        return out

    def _blocks(self, frames: list[codec.Frame]) -> list[SampleBlock]:
        out = []
        for f in frames:
            t_s = (f.t_us + np.arange(f.count) * f.period_us) / 1e6 + self._shift_s
            acc = f.acc_g() @ self._acc_m.T
            g = f.gyro_dps()
            gyro = None if g is None else g @ self._gyro_m.T
            self.counters.samples += f.count
            if f.backlog:
                self.counters.samples_backlog += f.count
            self._last_out_t_s = float(t_s[-1])
            out.append(SampleBlock(self.band, f.first_index, t_s, acc, gyro, f.backlog))
        return out

    def _link(self, p: Packet) -> list[SampleBlock]:
        try:
            info = p.link_info()
        except ValueError as e:
            self._log_once("link", "band %s: unreadable link packet (%s)", self.band, e)
            return []
        event = info.get("event")
        self.link.update(info)
        if event == "connected":
            self.counters.connects += 1
            self._expected_seq = None  # seq restarts with each connection
            if self._was_connected and self._reorder.next_index is not None:
                has_ring = self.meta is None or self.meta.ring_capacity > 0
                if has_ring:
                    self._reorder.expect_backlog()
            self._was_connected = True
        elif event == "disconnected":
            self.counters.disconnects += 1
        return []

    def _meta(self, p: Packet) -> None:
        try:
            meta = codec.decode_meta(p.payload)
        except ProtocolError as e:
            self.counters.rejected["meta"] = self.counters.rejected.get("meta", 0) + 1
            self._log_once("meta", "band %s: unusable metadata (%s); using sensor axes",
                           self.band, e)
            return
        self.meta = meta
        self._acc_m = meta.axis_matrix()
        self._gyro_m = meta.axis_matrix(gyro=True) if meta.channel_flags & codec.F_GYRO \
            else np.eye(3)

    def _status(self, p: Packet) -> list[SampleBlock]:
        try:
            st = codec.decode_status(p.payload)
        except ProtocolError as e:
            self.counters.rejected["status"] = self.counters.rejected.get("status", 0) + 1
            self._log_once("status", "band %s: unusable status (%s)", self.band, e)
            return []
        self.status = st
        if self._reorder.next_index is None and st.ring_waiting > 0:
            self._reorder.start_with_backlog = True
        if st.mtu_too_small:
            self._log_once("mtu", "band %s reports MTU %d: no data can flow until the "
                           "central exchanges a larger MTU", self.band, st.mtu)
        if st.ring_waiting == 0 and not st.state & 0x08:
            return self._blocks(self._reorder.no_backlog())
        return []

    def _log_once(self, key: str, msg: str, *args: object) -> None:
        if key not in self._logged:
            self._logged.add(key)
            log.warning(msg, *args)
