"""Input conditioning: sample rate from the timestamps, gaps, and a uniform sample stream.

The band's samples are regular; only their timestamps jitter (a few ms) and rows go missing.
So the analyzer works on sample counts, not on timestamps: a step of k periods is k-1
missing samples. Short holes are filled by linear interpolation (flagged, so that no event
is built on them) and the filters run on; a long hole ends the *segment*: every filter
and detector restarts after it and nothing spans it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from .config import AnalyzerConfig


@dataclass
class Piece:
    """A run of uniformly spaced samples inside one segment.

    ``t_s`` keeps the received timestamps (interpolated for filled samples);
    ``filled`` marks samples that were missing; ``new_segment`` is True for the first
    piece after the start or after a long gap.
    """

    t_s: np.ndarray
    acc_g: np.ndarray
    gyro_dps: np.ndarray | None
    filled: np.ndarray
    new_segment: bool


class Conditioner:
    """Turns arbitrary chunks into :class:`Piece` objects; chunking never changes them."""

    def __init__(self, cfg: AnalyzerConfig) -> None:
        self.cfg = cfg
        self.period_s: float | None = None
        self.has_gyro: bool | None = None
        self._probe: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
        self._probe_n = 0
        self._last: tuple[float, np.ndarray, np.ndarray | None] | None = None
        self.n_dropped = 0  # samples whose time did not advance
        self.n_filled = 0
        self.n_segments = 0
        self._tail_a = np.zeros((0, 3))  # the last real samples, for filling holes
        self._tail_g = np.zeros((0, 3))

    @property
    def rate_hz(self) -> float | None:
        return None if self.period_s is None else 1.0 / self.period_s

    def feed(self, t_s: np.ndarray, acc_g: np.ndarray, gyro_dps: np.ndarray | None
             ) -> list[Piece]:
        t_s = np.asarray(t_s, dtype=np.float64).reshape(-1)
        acc_g = np.asarray(acc_g, dtype=np.float64).reshape(-1, 3)
        if len(acc_g) != len(t_s):
            raise ValueError("t_s and acc_g differ in length")
        if self.has_gyro is None:
            self.has_gyro = gyro_dps is not None
        gy: np.ndarray | None = None
        if self.has_gyro:
            gy = (np.zeros_like(acc_g) if gyro_dps is None
                  else np.asarray(gyro_dps, dtype=np.float64).reshape(-1, 3))
            if len(gy) != len(t_s):
                raise ValueError("t_s and gyro_dps differ in length")
        if self.period_s is None:
            self._probe.append((t_s, acc_g, gy))
            self._probe_n += len(t_s)
            if self._probe_n < self.cfg.rate_probe_samples:
                return []
            return self._start_from_probe()
        return self._condition(t_s, acc_g, gy)

    def flush(self) -> list[Piece]:
        """At the end: a recording shorter than the probe still gets analysed."""
        if self.period_s is None and self._probe_n >= 2:
            return self._start_from_probe()
        return []

    # -- internals
    def _start_from_probe(self) -> list[Piece]:
        one = len(self._probe) == 1
        t = self._probe[0][0] if one else np.concatenate([p[0] for p in self._probe])
        a = self._probe[0][1] if one else np.concatenate([p[1] for p in self._probe])
        gs = [p[2] for p in self._probe if p[2] is not None]
        g = np.concatenate(gs) if self.has_gyro else None
        self._probe = []
        if not (np.diff(t) > 0).all():
            keep = _increasing(t)
            self.n_dropped += int(len(t) - keep.sum())
            t, a = t[keep], a[keep]
            g = g[keep] if g is not None else None
        if len(t) < 2:
            return []
        # exactly the first N samples, so that the estimate never depends on chunking
        self.period_s = estimate_period(t[:self.cfg.rate_probe_samples])
        return self._condition(t, a, g)

    def _condition(self, t: np.ndarray, a: np.ndarray, g: np.ndarray | None) -> list[Piece]:
        if len(t) == 0:
            return []
        assert self.period_s is not None
        p = self.period_s
        # drop samples whose time does not advance (duplicates, clock steps back)
        prev_t = -np.inf if self._last is None else self._last[0]
        steps = np.diff(t, prepend=prev_t)
        if not (steps > 0).all():
            keep = _increasing(t, prev_t)
            self.n_dropped += int(len(t) - keep.sum())
            t, a = t[keep], a[keep]
            g = g[keep] if g is not None else None
            if len(t) == 0:
                return []
            steps = np.diff(t, prepend=prev_t)
        if self._last is None:
            steps[0] = np.inf  # the very first sample starts a segment
        # a step of k periods means k-1 missing samples; jitter is well under half a period
        gap = (steps > self.cfg.gap_step_periods * p) & (steps <= self.cfg.gap_reset_s)
        missing = np.where(gap, np.rint(np.where(gap, steps, p) / p).astype(np.int64) - 1, 0)
        reset_at = np.flatnonzero(steps > self.cfg.gap_reset_s)
        pieces: list[Piece] = []
        bounds = [0, *reset_at.tolist(), len(t)]
        for k in range(len(bounds) - 1):
            i0, i1 = bounds[k], bounds[k + 1]
            if i0 == i1:
                continue
            new_seg = k > 0  # bounds[1:] are the samples that follow a long gap
            pieces.append(self._fill(t[i0:i1], a[i0:i1], None if g is None else g[i0:i1],
                                     missing[i0:i1], new_seg))
            hold = self.cfg.fill_hold_samples
            j0 = max(i0, i1 - hold)
            self._tail_a = np.concatenate([self._tail_a, a[j0:i1]])[-hold:]
            if g is not None:
                self._tail_g = np.concatenate([self._tail_g, g[j0:i1]])[-hold:]
            self._last = (float(t[i1 - 1]), a[i1 - 1].copy(),
                          None if g is None else g[i1 - 1].copy())
        return pieces

    def _fill(self, t: np.ndarray, a: np.ndarray, g: np.ndarray | None, missing: np.ndarray,
              new_seg: bool) -> Piece:
        if new_seg:
            self.n_segments += 1
            missing = missing.copy()
            missing[0] = 0
        n_add = int(missing.sum())
        if n_add == 0:
            return Piece(t, a, g, np.zeros(len(t), dtype=bool), new_seg)
        self.n_filled += n_add
        # positions in the output: each sample moves right by the missing samples before it
        pos = np.arange(len(t)) + np.cumsum(missing)
        n = len(t) + n_add
        filled = np.ones(n, dtype=bool)
        filled[pos] = False
        out_t = np.empty(n)
        out_t[pos] = t  # (times: cheap, one column)
        # values: a ramp from the mean of the last few real samples to the next real one.
        # Interpolating from a single noisy sample would put its noise on the whole hole,
        # holding a level would leave a step if the arm moved during the hole.
        # copy the real samples run by run (between holes): slices, not fancy indexing
        out_a = np.empty((n, 3))
        out_g = None if g is None else np.empty((n, 3))
        holes = np.flatnonzero(missing)
        runs = [0, *holes.tolist(), len(t)]
        for r0, r1 in itertools.pairwise(runs):
            if r1 > r0:
                o0 = int(pos[r0])
                out_a[o0: o0 + r1 - r0] = a[r0:r1]
                if out_g is not None and g is not None:
                    out_g[o0: o0 + r1 - r0] = g[r0:r1]
        ext_a = np.concatenate([self._tail_a, a])
        ext_g = None if g is None else np.concatenate([self._tail_g, g])
        off = len(self._tail_a)
        k = self.cfg.fill_hold_samples
        for j in np.flatnonzero(missing).tolist():
            lo = max(0, off + j - k)
            m = int(missing[j])
            hole = slice(int(pos[j]) - m, int(pos[j]))
            frac = (np.arange(1, m + 1) / (m + 1))[:, None]
            # times: between the previous real sample (maybe in the previous chunk) and this
            if j > 0:
                t_prev = float(t[j - 1])
            else:
                assert self._last is not None
                t_prev = self._last[0]
            out_t[hole] = t_prev + frac[:, 0] * (float(t[j]) - t_prev)
            lvl = ext_a[lo: off + j].mean(axis=0) if off + j > lo else a[j]
            out_a[hole] = lvl + frac * (a[j] - lvl)
            if out_g is not None and ext_g is not None and g is not None:
                lvg = ext_g[lo: off + j].mean(axis=0) if off + j > lo else g[j]
                out_g[hole] = lvg + frac * (g[j] - lvg)
        return Piece(out_t, out_a, out_g, filled, new_seg)


def _increasing(t: np.ndarray, prev: float = -np.inf) -> np.ndarray:
    """Mask of samples whose time exceeds every earlier one (a running maximum)."""
    run = np.maximum.accumulate(np.concatenate([[prev], t]))[:-1]
    return t > run


def estimate_period(t: np.ndarray) -> float:
    """Sample period from timestamps with jitter and gaps.

    The median step is robust to gaps; a straight-line fit of time against sample index
    (gaps counted in whole periods) then averages the jitter away.
    """
    d = np.diff(t)
    p0 = float(np.median(d))
    if p0 <= 0:
        raise ValueError("timestamps do not advance")
    idx = np.concatenate([[0], np.cumsum(np.maximum(1, np.rint(d / p0)))])
    span = idx[-1] - idx[0]
    if span < 8:
        return p0
    slope = float(np.polyfit(idx, t, 1)[0])
    return slope if 0.5 * p0 < slope < 2 * p0 else p0
