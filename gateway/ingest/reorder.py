"""Frames in, frames in sample-index order out: index holes, backlog waits, give-ups.

After a reconnect the band replays what it sampled while disconnected from its offline ring
(frames flagged BACKLOG, oldest first, behind live data), so a hole in the index is held
open for a while: the DSP wants samples in time order, and a hole that the backlog fills
is not a loss. What is given up on is counted (``LinkCounters.samples_missing``), and so
is what arrives after that (``samples_late``) or twice (``samples_duplicate``).
"""

from __future__ import annotations

import bisect

from .. import codec
from .counters import LinkCounters

# How much live data may wait for backlog to fill a hole. The band replays its ring at
# ~2.6x real time beside a 200 Hz live stream (40 notifications/s, MTU 247), so 10 minutes
# of holding covers a ~25-minute outage; the DSP's live output is late by that much.
HOLD_S = 600.0
MAX_PENDING_SAMPLES = 200 * 660  # memory bound of the hold: 11 min at 200 Hz, ~2 MB


class Reorderer:
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
            elif f.backlog:  # the ring is replaying before we heard of it: wait for it,
                self.backlog_until = -1  # up to the first live frame, as after a reconnect
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
                    f = trim_frame(f, nxt - f.first_index)
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


def trim_frame(f: codec.Frame, n: int) -> codec.Frame:
    return codec.Frame(f.flags, f.seq, f.first_index + n, f.t_us + n * f.period_us,
                       f.period_us, f.ranges, f.raw[n:])
