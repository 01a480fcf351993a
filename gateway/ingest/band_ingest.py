"""Per band: packets in, time-ordered samples out, with every loss counted.

Synchronous on purpose: the live pipeline, replay and ``analyze`` of a recording all run
this same code, so they see the same samples in the same order. The steps, in order:
decode (``..codec``), count notifications lost in transit (``counters.SeqTracker``),
detect a band that rebooted, feed the clock model (``clock_model``), put frames in sample
order while holes wait for backlog (``reorder``), and map sensor axes to band axes.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np

from .. import codec
from ..errors import FrameError, ProtocolError
from ..packets import Kind, Packet
from ..ratelog import RateLimitedLog
from .checks import StreamCheck, device_time_ok, link_info, wall_time_ok
from .clock_model import ClockModel
from .counters import LinkCounters, SeqTracker
from .reorder import Reorderer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SampleBlock:
    """Consecutive samples, in band axes; ``t_s`` is the band's monotonic time base."""

    band: str
    first_index: int
    t_s: np.ndarray
    acc_g: np.ndarray
    gyro_dps: np.ndarray | None
    backlog: bool


class BandIngest:
    """Decode, check, account and order one band's packets.

    Nothing a packet holds can raise out of ``push``: what fails a check is counted in
    ``counters.rejected`` by reason, logged through ``rlog`` (rate-limited) and skipped.
    """

    def __init__(self, band: str, rlog: RateLimitedLog | None = None) -> None:
        self.band = band
        self.counters = LinkCounters()
        self.clock = ClockModel()
        self.meta: codec.Metadata | None = None
        self.status: codec.Status | None = None
        self.link: dict[str, object] = {}
        self._acc_m = np.eye(3)
        self._gyro_m = np.eye(3)
        self._seq = SeqTracker(self.counters)
        self._reorder = Reorderer(self.counters)
        self._check = StreamCheck()
        self._was_connected = False
        self._shift_s = 0.0  # keeps the time base monotonic across band reboots
        self._last_live: tuple[int, int, int] | None = None  # first_index, t_us, recv_wall_ns
        self._last_out_t_s: float | None = None
        self.rlog = rlog if rlog is not None else RateLimitedLog(log)
        self.last_recv_wall_ns = 0

    @property
    def last_t_s(self) -> float | None:
        """Time of the newest sample delivered, on the band's time base."""
        return self._last_out_t_s

    def push(self, p: Packet) -> list[SampleBlock]:
        if not wall_time_ok(p.recv_wall_ns):
            self._reject("wall_time", "packet stamped %d ns since 1970, outside 1970-2200",
                         p.recv_wall_ns)
            return []
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
        self._check.finish()
        self._count_dropped()
        return self._blocks(self._reorder.drain())

    def _reject(self, reason: str, detail: str, *args: object) -> None:
        self.counters.rejected[reason] = self.counters.rejected.get(reason, 0) + 1
        self.rlog.warning(f"{self.band}:{reason}", "band %s: rejected (%s): " + detail,
                          self.band, reason, *args)

    def _count_dropped(self) -> None:
        n, self._check.dropped = self._check.dropped, 0
        for _ in range(n):
            self._reject("index", "a frame's sample index and device time disagree with "
                         "the band's stream (a damaged or forged frame)")

    def _data(self, p: Packet) -> list[SampleBlock]:
        try:
            f = codec.decode_frame(p.payload)
        except FrameError as e:
            self._reject(e.reason, "%s", e)
            return []
        if not device_time_ok(f):
            self._reject("time", "device time %d us is beyond 2^53 us", f.t_us)
            return []
        c = self.counters
        c.frames += 1
        self._seq.observe(f.seq)
        if self._seq.jumped:
            self.rlog.warning(f"{self.band}:seq", "band %s: notification seq jumped to %d: "
                              "resynchronised (not counted as lost frames)", self.band, f.seq)
        verdict = self._check.check(f, p.recv_wall_ns, p.recv_mono_ns,
                                     self._reorder.next_index)
        self._count_dropped()
        if verdict == "reject":
            self._reject("index", "backlog frame at index %d, device time %d us, does not "
                         "belong to the band's stream", f.first_index, f.t_us)
            return []
        if verdict == "hold":
            return []
        if verdict == "restart":
            held = self._check.take_held()
            out = self._restart(held[0][0], held[0][1])
            for hf, recv in held:
                out += self._accept(hf, recv)
            return out
        return self._accept(f, p.recv_wall_ns)

    def _accept(self, f: codec.Frame, recv_wall_ns: int) -> list[SampleBlock]:
        if f.loss_before:
            self.counters.loss_flags += 1
        if not f.backlog:
            self._last_live = (f.first_index, f.t_us, recv_wall_ns)
            last_s = (f.t_us + (f.count - 1) * f.period_us) / 1e6 + self._shift_s
            self.clock.observe(last_s, recv_wall_ns)
        return self._blocks(self._reorder.push(f))

    def _restart(self, f: codec.Frame, recv_wall_ns: int) -> list[SampleBlock]:
        """``CONFIRM_FRAMES`` live frames agree on a new stream: the band restarted (or the
        stream before was not its own). Release what is held, start the index afresh, and
        continue the time base monotonic so the DSP never sees time go backwards."""
        out = self._blocks(self._reorder.drain())
        self.counters.reboots += 1
        nxt = self._reorder.next_index
        self.rlog.warning(f"{self.band}:reboot", "band %s restarted (sample index %d after "
                          "%s)", self.band, f.first_index, nxt)
        # Wall time says how long the band was away (at least one sample period).
        last = self._last_live
        away_s = (recv_wall_ns - last[2]) / 1e9 if last is not None else 0.0
        elapsed_s = max(f.period_us / 1e6, min(away_s, 1e6))
        base = self._last_out_t_s if self._last_out_t_s is not None else 0.0
        self._shift_s = base + elapsed_s - f.t_us / 1e6
        self._reorder = Reorderer(self.counters)
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
            info = link_info(p.payload)
        except ValueError as e:
            self._reject("link", "unreadable link packet: %s", e)
            return []
        event = info.get("event")
        self.link.update(info)
        if event == "connected":
            self.counters.connects += 1
            self._seq.restart()  # seq restarts with each connection
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
            self._reject("meta", "unusable metadata (%s); using sensor axes", e)
            return
        self.meta = meta
        self._acc_m = meta.axis_matrix()
        self._gyro_m = meta.axis_matrix(gyro=True) if meta.channel_flags & codec.F_GYRO \
            else np.eye(3)

    def _status(self, p: Packet) -> list[SampleBlock]:
        try:
            st = codec.decode_status(p.payload)
        except ProtocolError as e:
            self._reject("status", "unusable status (%s)", e)
            return []
        if st.battery_pct is not None and st.battery_pct > 100:
            st = dataclasses.replace(st, battery_pct=None)  # 101-254 mean nothing
        self.status = st
        if self._reorder.next_index is None and st.ring_waiting > 0:
            self._reorder.start_with_backlog = True
        if st.mtu_too_small:
            self.rlog.warning(f"{self.band}:mtu", "band %s reports MTU %d: no data can flow "
                              "until the central exchanges a larger MTU", self.band, st.mtu)
        if st.ring_waiting == 0 and not st.state & 0x08:
            return self._blocks(self._reorder.no_backlog())
        return []
