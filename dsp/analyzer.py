"""Streaming analyzer: feed chunks of samples, get events as soon as they are decided.

This is the foundation's honest baseline: a threshold on high-passed acceleration
magnitude for jerks and per-second context. The DSP issue replaces its insides; the
interface (``feed``/``finish``, chunk-size invariance, gap handling) stays.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from .types import Epoch, Event, Output

RATE_PROBE_SAMPLES = 64  # enough intervals for a median that ignores jitter and one gap
GAP_FACTOR = 4.0  # a step longer than this many periods is a gap: filters restart after it
JERK_THRESHOLD_G = 0.1  # dynamic acceleration above the resting noise of any wrist IMU
JERK_QUIET_S = 0.1  # a jerk ends after this long below the threshold


class Analyzer:
    """Streaming classifier. ``feed`` any chunk size; results do not depend on it."""

    def __init__(self) -> None:
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
        self._pending_n = 0
        self.rate_hz: float | None = None
        self._period_s = 0.0
        self._sos_hp: np.ndarray | None = None
        self._sos_bp: np.ndarray | None = None
        self._zi_hp: np.ndarray | None = None
        self._zi_bp: np.ndarray | None = None
        self._t_last: float | None = None
        self._jerk: list[float] | None = None  # [start, end, peak, last_above]
        self._n_events = 0
        self._epoch_key: int | None = None
        self._epoch_acc = np.zeros(3)  # sum |dyn|, sum bp^2, n

    def feed(self, t_s: np.ndarray, acc_g: np.ndarray, gyro_dps: np.ndarray | None = None
             ) -> list[Output]:
        t_s = np.asarray(t_s, dtype=np.float64)
        acc_g = np.asarray(acc_g, dtype=np.float64).reshape(-1, 3)
        if self.rate_hz is None:
            self._pending.append((t_s, acc_g, gyro_dps))
            self._pending_n += len(t_s)
            if self._pending_n < RATE_PROBE_SAMPLES:
                return []
            t_s = np.concatenate([p[0] for p in self._pending])
            acc_g = np.concatenate([p[1] for p in self._pending])
            self._pending = []
            self._setup(t_s)
        return self._process(t_s, acc_g)

    def finish(self) -> list[Output]:
        out: list[Output] = []
        if self.rate_hz is None and self._pending_n >= 2:
            t_s = np.concatenate([p[0] for p in self._pending])
            acc_g = np.concatenate([p[1] for p in self._pending])
            self._pending = []
            self._setup(t_s)
            out += self._process(t_s, acc_g)
        if self._jerk is not None:
            out.append(self._close_jerk())
        out += self._close_epoch()
        return out

    def _setup(self, t_s: np.ndarray) -> None:
        period = float(np.median(np.diff(t_s[:RATE_PROBE_SAMPLES])))
        self.rate_hz = 1.0 / period
        self._period_s = period
        self._sos_hp = signal.butter(2, 0.5, "highpass", fs=self.rate_hz, output="sos")
        hi = min(12.0, 0.45 * self.rate_hz)
        self._sos_bp = signal.butter(2, [3.0, hi], "bandpass", fs=self.rate_hz, output="sos")

    def _process(self, t_s: np.ndarray, acc_g: np.ndarray) -> list[Output]:
        out: list[Output] = []
        if len(t_s) == 0:
            return out
        prev = self._t_last
        steps = np.diff(t_s, prepend=t_s[0] if prev is None else prev)
        cuts = np.flatnonzero(steps > GAP_FACTOR * self._period_s)
        bounds = [0, *cuts.tolist(), len(t_s)]
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            if a == b:
                continue
            if a > 0 or (prev is not None and steps[0] > GAP_FACTOR * self._period_s):
                if self._jerk is not None:
                    out.append(self._close_jerk())
                self._zi_hp = self._zi_bp = None
            out += self._segment(t_s[a:b], acc_g[a:b])
        self._t_last = float(t_s[-1])
        return out

    def _segment(self, t: np.ndarray, acc: np.ndarray) -> list[Output]:
        assert self._sos_hp is not None and self._sos_bp is not None
        if self._zi_hp is None or self._zi_bp is None:
            base = signal.sosfilt_zi(self._sos_hp)[:, :, None] * acc[0]
            self._zi_hp = base
            self._zi_bp = signal.sosfilt_zi(self._sos_bp)[:, :, None] * acc[0]
        dyn, self._zi_hp = signal.sosfilt(self._sos_hp, acc, axis=0, zi=self._zi_hp)
        bp, self._zi_bp = signal.sosfilt(self._sos_bp, acc, axis=0, zi=self._zi_bp)
        mag = np.sqrt(np.einsum("ij,ij->i", dyn, dyn))
        bp2 = np.einsum("ij,ij->i", bp, bp)
        out: list[Output] = []
        out += self._jerks(t, mag)
        out += self._epochs(t, mag, bp2)
        return out

    def _jerks(self, t: np.ndarray, mag: np.ndarray) -> list[Output]:
        out: list[Output] = []
        above = np.flatnonzero(mag > JERK_THRESHOLD_G)
        j = self._jerk
        for i in above.tolist():
            ti = float(t[i])
            if j is not None and ti - j[3] > JERK_QUIET_S:
                out.append(self._close_jerk())
                j = None
            if j is None:
                j = self._jerk = [ti, ti, float(mag[i]), ti]
            j[1] = j[3] = ti
            j[2] = max(j[2], float(mag[i]))
        if j is not None and float(t[-1]) - j[3] > JERK_QUIET_S:
            out.append(self._close_jerk())
        return out

    def _close_jerk(self) -> Event:
        assert self._jerk is not None
        start, end, peak, _ = self._jerk
        self._jerk = None
        self._n_events += 1
        return Event(id=f"j{self._n_events}", type="myoclonic_jerk", start=round(start, 3),
                     end=round(end + self._period_s, 3), peak_g=round(peak, 4),
                     confidence=min(1.0, peak / (4 * JERK_THRESHOLD_G)))

    def _epochs(self, t: np.ndarray, mag: np.ndarray, bp2: np.ndarray) -> list[Output]:
        out: list[Output] = []
        keys = np.floor(t).astype(np.int64)
        change = np.flatnonzero(np.diff(keys)) + 1
        bounds = [0, *change.tolist(), len(t)]
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            k = int(keys[a])
            if self._epoch_key is not None and k != self._epoch_key:
                out += self._close_epoch()
            self._epoch_key = k
            self._epoch_acc += (mag[a:b].sum(), bp2[a:b].sum(), b - a)
        return out

    def _close_epoch(self) -> list[Output]:
        if self._epoch_key is None:
            return []
        s_mag, s_bp, n = self._epoch_acc
        self._epoch_acc = np.zeros(3)
        key, self._epoch_key = self._epoch_key, None
        return [Epoch(start=float(key), duration_s=1.0, activity_g=float(s_mag / n),
                      tremor_power=float(s_bp / n), state="unknown",
                      coverage=min(1.0, float(n) * self._period_s))]
