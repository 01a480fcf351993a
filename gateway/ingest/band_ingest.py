"""Per band: packets in, time-ordered samples out, with every loss counted.

Synchronous on purpose: the live pipeline, replay and ``analyze`` of a recording all run
this same code, so they see the same samples in the same order. The steps, in order:
decode (``..codec``), count notifications lost in transit (``counters.SeqTracker``),
detect a band that rebooted, feed the clock model (``clock_model``), put frames in sample
order while holes wait for backlog (``reorder``), and map sensor axes to band axes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .. import codec
from ..errors import FrameError, ProtocolError
from ..packets import Kind, Packet
from .clock_model import ClockModel
from .counters import LinkCounters, SeqTracker
from .reorder import Reorderer

log = logging.getLogger(__name__)

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


class BandIngest:
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
        self._seq = SeqTracker(self.counters)
        self._reorder = Reorderer(self.counters)
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
        self._seq.observe(f.seq)
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
            info = p.link_info()
        except ValueError as e:
            self._log_once("link", "band %s: unreadable link packet (%s)", self.band, e)
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
