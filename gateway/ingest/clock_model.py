"""Map a band's device clock to wall time: offset plus drift, from when frames arrived.

Radio latency only ever adds delay, so the lower envelope of (arrival - device time)
tracks the true offset. We keep the minimum per bucket of device time and fit a line
through recent minima: the slope is the drift of the band's crystal against the host
(tens of ppm, i.e. seconds over a night, too much to ignore for a night-long timeline).
Everything here is a function of the packets, so a replay maps times exactly as live did.
"""

from __future__ import annotations

import bisect
import collections
import itertools

import numpy as np

BUCKET_S = 10.0  # long enough to catch one low-latency frame, short enough to follow drift
WINDOW_BUCKETS = 60  # fit over the last 10 minutes: drift is stable over that span
MAX_DRIFT_PPM = 500.0  # a crystal is 20-50 ppm; a steeper fit means bad data, not drift
HISTORY_BUCKETS = 360  # an hour of past fits: far more than the DSP's 35 s decision delay


class ClockModel:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything: also used when the band rebooted and its clock restarted."""
        self._buckets: collections.deque[tuple[float, float]] = collections.deque(
            maxlen=WINDOW_BUCKETS)  # (device s, min offset ns) per bucket
        self._cur_key: int | None = None
        self._cur: tuple[float, float] | None = None
        self._fit: tuple[float, float, float] | None = None  # t0 s, offset ns at t0, slope
        # The fit in force when each bucket began. A device time is always mapped with the
        # fit of its own bucket, so the answer does not depend on when it is asked: live
        # (event by event) and replay (in big chunks) stamp the same wall times.
        self._history: collections.OrderedDict[int, tuple[float, float, float]] = \
            collections.OrderedDict()

    @property
    def ready(self) -> bool:
        return bool(self._history)

    def observe(self, device_s: float, recv_wall_ns: int, *,
                offset: float | None = None) -> None:
        """A live frame whose last sample was measured at device_s arrived at recv_wall_ns
        (``offset``: their difference, when the caller computed it already)."""
        if offset is None:
            offset = recv_wall_ns - device_s * 1e9
        key = int(device_s // BUCKET_S)
        if key != self._cur_key:
            if self._cur is not None:
                self._buckets.append(self._cur)
                self._refit()
            self._cur_key, self._cur = key, (device_s, offset)
            self._history[key] = self._fit if self._fit is not None else (device_s, offset, 0.0)
            if len(self._history) > HISTORY_BUCKETS:
                self._history.popitem(last=False)
        elif self._cur is not None and offset < self._cur[1]:
            self._cur = (device_s, offset)

    def observe_many(self, device_s: np.ndarray, recv_wall_ns: np.ndarray) -> None:
        """``observe`` of each frame in turn (a run of live frames taken together): the
        same buckets, minima and fits (tests/test_clock.py compares them)."""
        if len(device_s) <= 16:  # a few frames (replay's runs end every second): cheaper
            for d, w in zip(device_s.tolist(), recv_wall_ns.tolist(), strict=True):
                self.observe(d, w)
            return
        offsets = recv_wall_ns - device_s * 1e9
        keys = np.floor_divide(device_s, BUCKET_S)
        n = len(keys)
        if n == 0:
            return
        # Runs of one bucket: a new run is what observe() sees as a key change.
        starts = np.flatnonzero(np.diff(keys)) + 1
        bounds = [0, *starts.tolist(), n]
        for a, b in itertools.pairwise(bounds):
            key = int(keys[a])
            seg = offsets[a:b]
            m = a + int(np.argmin(seg))  # the first of the lowest, as observe() keeps it
            if key != self._cur_key:
                self.observe(float(device_s[a]), 0, offset=float(offsets[a]))
                first = a
            else:
                first = None
            cur = self._cur
            assert cur is not None
            best = (float(device_s[m]), float(offsets[m]))
            if m != first and best[1] < cur[1]:
                self._cur = best

    def _refit(self) -> None:
        pts = list(self._buckets)
        if len(pts) == 1:
            self._fit = (pts[0][0], pts[0][1], 0.0)
            return
        n = len(pts)
        ts = [p[0] for p in pts]
        os_ = [p[1] for p in pts]
        mt = sum(ts) / n
        mo = sum(os_) / n
        dts = [t - mt for t in ts]
        var = sum([d ** 2 for d in dts])
        slope = sum([d * (o - mo) for d, o in zip(dts, os_, strict=True)]) / var \
            if var > 0 else 0.0
        limit = MAX_DRIFT_PPM * 1e-6 * 1e9  # ns of offset per s of device time
        slope = max(-limit, min(limit, slope))
        self._fit = (mt, mo, slope)

    def _fit_for(self, key: int) -> tuple[float, float, float]:
        if not self._history:
            raise ValueError("clock model has seen no frame yet")
        fit = self._history.get(key)
        if fit is None:  # no live frame in that bucket: use the nearest earlier fit
            keys = list(self._history)
            i = bisect.bisect_right(keys, key)
            fit = self._history[keys[max(0, i - 1)]]
        return fit

    def to_wall_ns(self, device_s: float) -> int:
        t0, o0, slope = self._fit_for(int(device_s // BUCKET_S))
        return round(device_s * 1e9 + o0 + slope * (device_s - t0))

    def to_wall_ns_array(self, device_s: np.ndarray) -> np.ndarray:
        """``to_wall_ns`` of many times at once (raw samples, 100 per second per band):
        the same fit per bucket and the same float arithmetic, so the same int64 ns."""
        keys = np.floor_divide(device_s, BUCKET_S).astype(np.int64)
        out = np.empty(len(device_s), np.int64)
        # A block is one BLE frame, a fraction of a second: almost always one bucket.
        for key in (np.unique(keys) if len(keys) and keys[0] != keys[-1] else keys[:1]):
            sel = keys == key
            t0, o0, slope = self._fit_for(int(key))
            t = device_s[sel]
            out[sel] = np.rint(t * 1e9 + o0 + slope * (t - t0))
        return out
