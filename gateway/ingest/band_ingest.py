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
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .. import codec
from ..errors import FrameError, ProtocolError
from ..packets import Kind, Packet
from ..ratelog import RateLimitedLog
from .checks import (
    AGREE_FIXED_US,
    DEVICE_TIME_MAX_US,
    LIVE_LEAD_MAX_US,
    WALL_MAX_NS,
    WALL_MIN_NS,
    StreamCheck,
    device_time_ok,
    frames_agree,
    link_info,
    wall_time_ok,
)
from .clock_model import ClockModel
from .counters import SEQ_GAP_MAX, LinkCounters, SeqTracker
from .reorder import Reorderer

log = logging.getLogger(__name__)


def _bytes(data: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, i: int) -> bytes:
    o = int(offsets[i])
    return data[o:o + int(lengths[i])].tobytes()


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
        # Sensor to band axes, transposed and contiguous: samples @ it. (A transposed view
        # takes numpy's slow matmul loop, 5x slower; the products are the same: signed
        # permutations, exact.)
        self._acc_mt = np.eye(3)
        self._gyro_mt = np.eye(3)
        self._seq = SeqTracker(self.counters)
        self._reorder = Reorderer(self.counters)
        self._check = StreamCheck()
        self._was_connected = False
        self._shift_s = 0.0  # keeps the time base monotonic across band reboots
        self._last_live: tuple[int, int, int] | None = None  # first_index, t_us, recv_wall_ns
        self._last_out_t_s: float | None = None
        self.rlog = rlog if rlog is not None else RateLimitedLog(log)
        self.last_recv_wall_ns = 0
        # push_data: a run of frames taken together ends at the first frame whose last
        # sample reaches this device time (None: no limit; -inf: after one frame). The
        # pipeline sets it to its next link-statistics time, so those records see the
        # counters just as they were after that frame.
        self.split_at_t_s: float | None = None

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

    def push_records(self, data: np.ndarray, kinds: np.ndarray, offsets: np.ndarray,
                     lengths: np.ndarray, wall_ns: np.ndarray, mono_ns: np.ndarray
                     ) -> Iterator[SampleBlock | int]:
        """Many packets of this band in arrival order, as arrays (packet i: ``kinds[i]``,
        its bytes ``data[offsets[i]:offsets[i] + lengths[i]]``, its arrival times).

        Exactly what ``push`` of each packet would do, but a run of data frames that
        continue the stream in order (the steady state), with the status packets between
        them, is accounted, clock-modelled and converted as one block. Yields that block,
        or the index of a packet that the caller must ``push`` itself (anything else:
        malformed, backlog, out of order, a restart, a seq jump, link and metadata
        packets), so every other decision is ``push``'s own. The data frames are decoded
        by ``codec.decode_frames``, tested against ``decode_frame``.

        A generator: the caller may change ``split_at_t_s`` between blocks."""
        n = len(kinds)
        is_data = kinds == int(Kind.DATA)
        rows = np.flatnonzero(is_data)
        fb = codec.decode_frames(data, offsets[rows], lengths[rows])
        row_of = np.full(n, -1, np.int64)
        row_of[rows] = np.arange(len(rows))
        # cont[i]: packet i may extend a run that reached the packet before it.
        cont = kinds == int(Kind.STATUS)
        cont[rows] = self._run_mask(fb, wall_ns[rows], mono_ns[rows])
        # A status packet between two frames is taken along; the frame after it is then
        # compared with the frame before it, which _run_mask did (it sees frames only).
        breaks = np.flatnonzero(~cont)
        wall_f, mono_f = wall_ns[rows], mono_ns[rows]
        i = 0
        while i < n:
            r = int(row_of[i])
            if r < 0 or not (fb.ok[r] and self._can_start_run(fb, r, int(wall_ns[i]),
                                                               int(mono_ns[i]))):
                yield i
                i += 1
                continue
            k = int(np.searchsorted(breaks, i, side="right"))
            end = int(breaks[k]) if k < len(breaks) else n
            r0, r1 = r, int(np.searchsorted(rows, end))
            frames = rows[r0:r1]  # packet indices of the run's frames
            last_s = (fb.t_us[r0:r1].astype(np.int64)
                      + (fb.count[r0:r1] - 1) * fb.period_us[r0:r1]) / 1e6 + self._shift_s
            split = self.split_at_t_s
            if split is not None:
                hit = np.flatnonzero(last_s >= split)
                if len(hit):
                    r1 = r0 + int(hit[0]) + 1
                    last_s = last_s[:r1 - r0]
            end = int(frames[r1 - r0 - 1]) + 1  # the run ends with a frame
            for st in self._statuses(data, offsets, lengths, wall_ns, i + np.flatnonzero(
                    ~is_data[i:end])):
                # A status changes nothing a run uses (the order is settled, nothing is
                # pending), so taking it before the run's frames gives the same state.
                released = self.push(Packet(self.band, Kind.STATUS,
                                            _bytes(data, offsets, lengths, st),
                                            int(wall_ns[st]), int(mono_ns[st])))
                assert not released
            yield self._run(fb, r0, r1, last_s, wall_f, mono_f)
            i = end

    @staticmethod
    def _statuses(data: np.ndarray, offsets: np.ndarray, lengths: np.ndarray,
                  wall_ns: np.ndarray, sts: np.ndarray) -> list[int]:
        """Which of a run's status packets to ``push``. One that decodes, arrives at a
        sane time and raises no alarm (a plain one) only sets ``status``, which a later
        one sets again: of those, the last is enough. Every other one is pushed."""
        if len(sts) < 2:
            return sts.tolist()
        at = np.where(lengths[sts] >= codec.STATUS_SIZE, offsets[sts], 0)
        plain = ((lengths[sts] >= codec.STATUS_SIZE) & (data[at] == codec.VERSION)
                 & ((data[at + 4] & codec.STATUS_MTU_TOO_SMALL) == 0)
                 & (wall_ns[sts] >= WALL_MIN_NS) & (wall_ns[sts] < WALL_MAX_NS))
        keep = ~plain
        last = np.flatnonzero(plain)
        if len(last):
            keep[last[-1]] = True
        return sts[keep].tolist()

    @staticmethod
    def _run_mask(fb: codec.FrameBatch, wall_ns: np.ndarray, mono_ns: np.ndarray
                  ) -> np.ndarray:
        """Which frames may continue a run from the frame before them, whatever the state.

        Sufficient conditions for ``push`` taking the frame in order with nothing else to
        do; deliberately stricter than ``push``'s own checks where those compare floats
        (agreement, lead), so a frame near a limit goes through ``push`` itself."""
        ok = (fb.ok & (wall_ns >= WALL_MIN_NS) & (wall_ns < WALL_MAX_NS)
              & ((fb.flags & codec.F_BACKLOG) == 0) & (fb.t_us < DEVICE_TIME_MAX_US))
        ok = np.asarray(ok, bool)
        t_us = np.where(ok, fb.t_us, 0).astype(np.int64)
        ok &= t_us + (fb.count - 1) * fb.period_us < DEVICE_TIME_MAX_US
        run = ok.copy()
        if len(ok) > 1:
            end_index = fb.first_index[:-1] + fb.count[:-1]
            end_us = t_us[:-1] + fb.count[:-1] * fb.period_us[:-1]
            d_us = t_us[1:] - end_us
            run[1:] &= (ok[:-1] & (fb.first_index[1:] == end_index)
                        & (np.abs(d_us) <= AGREE_FIXED_US // 2)
                        & (t_us[1:] - t_us[:-1] <= LIVE_LEAD_MAX_US // 2)
                        & (mono_ns[1:] >= mono_ns[:-1])
                        & (((fb.seq[1:] - fb.seq[:-1] - 1) & 0xFFFF) <= SEQ_GAP_MAX)
                        & ((fb.flags[1:] & codec.F_GYRO) == (fb.flags[:-1] & codec.F_GYRO))
                        & (fb.ranges[1:] == fb.ranges[:-1]))
        if len(run):
            run[0] = False
        return run

    def _can_start_run(self, fb: codec.FrameBatch, i: int, wall_ns: int, mono_ns: int
                       ) -> bool:
        """Would ``push`` of frame i take it in order, with no other effect? (Checked with
        ``push``'s own functions on the decoded frame.)"""
        chk, ro = self._check, self._reorder
        if (chk.ref is None or chk.held or chk.dropped or ro.pending
                or ro.backlog_until is not None
                or ro.next_index != int(fb.first_index[i])
                or fb.flags[i] & codec.F_BACKLOG or not wall_time_ok(wall_ns)):
            return False
        f = fb.frame(i)
        if not device_time_ok(f):
            return False
        exp = self._seq.expected
        if exp is not None and (f.seq - exp) & 0xFFFF > SEQ_GAP_MAX:
            return False
        return (frames_agree(chk.ref, f) and chk._not_too_fast(f, mono_ns))

    def _run(self, fb: codec.FrameBatch, i: int, j: int, last_s: np.ndarray,
             wall_ns: np.ndarray, mono_ns: np.ndarray) -> SampleBlock:
        """Frames i..j-1, in order and continuing the stream: the effects of ``push`` of
        each (counters, seq, stream check, clock, order), as one block of samples."""
        c = self.counters
        c.frames += j - i
        seq = fb.seq[i:j]
        lost = int((((seq[1:] - seq[:-1]) - 1) & 0xFFFF).sum())
        if self._seq.expected is not None:
            lost += (int(seq[0]) - self._seq.expected) & 0xFFFF
        c.frames_lost += lost
        self._seq.expected = (int(seq[-1]) + 1) & 0xFFFF
        self._seq.jumped = False
        c.loss_flags += int(np.count_nonzero(fb.flags[i:j] & codec.F_LOSS))
        last = fb.frame(j - 1)
        lw, lm = int(wall_ns[j - 1]), int(mono_ns[j - 1])
        self._check.ref = last
        self._check.live = (last, lm)
        self._last_live = (last.first_index, last.t_us, lw)
        self.clock.observe_many(last_s, wall_ns[i:j])
        counts = fb.count[i:j]
        total = int(counts.sum())
        self._reorder.next_index = last.first_index + last.count
        # Sample times: (t_us + k * period_us) / 1e6 + shift per frame, as _blocks.
        starts = np.cumsum(counts) - counts
        within = np.arange(total) - np.repeat(starts, counts)
        t_int = (np.repeat(fb.t_us[i:j].astype(np.int64), counts)
                 + within * np.repeat(fb.period_us[i:j], counts))
        t_s = t_int / 1e6 + self._shift_s
        raw = fb.raw(i, j)
        ranges = int(fb.ranges[i])
        acc = raw[:, :3] * (codec.accel_full_scale_g(ranges) / 32768.0) @ self._acc_mt
        gyro = None
        if fb.flags[i] & codec.F_GYRO:
            gyro = raw[:, 3:6] * (codec.gyro_full_scale_dps(ranges) / 32768.0) @ self._gyro_mt
        c.samples += total
        self._last_out_t_s = float(t_s[-1])
        self.last_recv_wall_ns = lw
        return SampleBlock(self.band, int(fb.first_index[i]), t_s, acc, gyro, False)

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
            acc = f.acc_g() @ self._acc_mt
            g = f.gyro_dps()
            gyro = None if g is None else g @ self._gyro_mt
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
        self._acc_mt = np.ascontiguousarray(meta.axis_matrix().T)
        self._gyro_mt = np.ascontiguousarray(meta.axis_matrix(gyro=True).T) \
            if meta.channel_flags & codec.F_GYRO \
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
