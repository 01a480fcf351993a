"""Input conditioning: sample rate from the timestamps, gaps, and a uniform sample stream.

The band's samples are regular; only their timestamps jitter (a few ms) and rows go
missing. So the analyzer works on sample counts, not on timestamps. With ``u_i = t_i - i p``
(``i`` counts received samples, ``p`` is the period), ``u`` is flat plus jitter and steps
up by ``m p`` where ``m`` samples are missing. A centred running median of ``u`` keeps that
step sharp and removes the jitter, so gaps are counted reliably even when the jitter is
close to half a period (consecutive differences fail at 200 Hz with +/-2 ms of jitter).

Short holes are filled (flagged, so that no event is built on them) and the filters run
on; a long hole ends the *segment*: every filter and detector restarts after it and
nothing spans it.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass

import numpy as np

from .config import AnalyzerConfig
from .filters import mean_rows, windows

# up to this many candidate rows, their medians are taken in Python (the streaming case:
# a numpy call costs more than sorting seven numbers); more, in one vectorised partition
_FEW = 24


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
    """Turns arbitrary chunks into :class:`Piece` objects; chunking never changes them.

    A sample is released once the ``median_half`` samples after it are known (or its
    segment ended), so that its gap decision always sees the same window.
    """

    def __init__(self, cfg: AnalyzerConfig) -> None:
        self.cfg = cfg
        self.k = cfg.timebase_median_half
        # samples are held back until the median of their row is known (k more samples);
        # a candidate hole until the fill_hold_samples rows after it are too (its size is
        # measured on them, up to the next candidate): so that what is released never
        # depends on where a chunk ended
        self.period_s: float | None = None
        self.has_gyro: bool | None = None
        self._probe: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
        self._probe_n = 0
        # samples received but not released yet (at most k, plus a probe's worth)
        self._hold_t = np.zeros(0)
        self._hold_a = np.zeros((0, 3))
        self._hold_g: np.ndarray | None = None
        self._hold_i0 = 0  # received index of the first held sample
        self._n_recv = 0
        # the current segment's released context
        self._u_left = np.zeros(0)  # u of the last k released samples of the segment
        self._s_last: float | None = None  # smoothed u of the last released sample
        self._t_last: float | None = None  # time of the last received sample
        self._t_real: float | None = None  # time of the last real sample released
        self._tail_a = np.zeros((0, 3))  # the last real samples, for filling holes
        self._tail_g = np.zeros((0, 3))
        self._seg_open = False
        self._since_cand = 0  # released samples since the last candidate hole
        self.n_dropped = 0  # samples whose time did not advance
        self.n_nonfinite = 0  # samples with a NaN or inf (time or value): dropped
        self.n_implausible = 0  # samples beyond input_max_g / input_max_dps: dropped
        self.n_filled = 0
        self.n_segments = 0

    @property
    def rate_hz(self) -> float | None:
        return None if self.period_s is None else 1.0 / self.period_s

    def feed(self, t_s: np.ndarray, acc_g: np.ndarray, gyro_dps: np.ndarray | None
             ) -> list[Piece]:
        """Arrays as checked by ``dsp.config_checks.check_feed_input`` (t (n,), acc (n, 3), gyro
        (n, 3) or None)."""
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
        if len(t_s) == 0:
            return []
        t_s, acc_g, gy = self._screen(t_s, acc_g, gy)
        if len(t_s) == 0:
            return []
        if self.period_s is None:
            self._probe.append((t_s, acc_g, gy))
            self._probe_n += len(t_s)
            if self._probe_n < self.cfg.rate_probe_samples:
                return []
            return self._start_from_probe(final=False)
        return self._receive(t_s, acc_g, gy, final=False)

    def flush(self) -> list[Piece]:
        """At the end: release what is held (a recording shorter than the probe too)."""
        if self.period_s is None:
            if self._probe_n >= 2:
                return self._start_from_probe(final=True)
            return []
        return self._receive(np.zeros(0), np.zeros((0, 3)),
                             np.zeros((0, 3)) if self.has_gyro else None, final=True)

    # -- internals
    def _screen(self, t: np.ndarray, a: np.ndarray, g: np.ndarray | None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Drop samples with NaN/inf or physically implausible values (counted). Their
        place then shows as a hole in the timestamps, which is filled and flagged like
        any lost packet, so no event is built on it and the filters never see them."""
        # the usual case in two reductions: a NaN makes max() NaN, which fails <=
        if (np.abs(a).max() <= self.cfg.input_max_g and np.isfinite(t.sum())
                and (g is None or np.abs(g).max() <= self.cfg.input_max_dps)):
            return t, a, g
        finite = np.isfinite(t) & np.isfinite(a).all(axis=1)
        big = (np.abs(a) > self.cfg.input_max_g).any(axis=1)
        if g is not None:
            finite &= np.isfinite(g).all(axis=1)
            big |= (np.abs(g) > self.cfg.input_max_dps).any(axis=1)
        if finite.all() and not big.any():
            return t, a, g
        keep = finite & ~big
        self.n_nonfinite += int((~finite).sum())
        self.n_implausible += int((finite & big).sum())
        return t[keep], a[keep], None if g is None else g[keep]

    def _start_from_probe(self, final: bool) -> list[Piece]:
        one = len(self._probe) == 1
        t = self._probe[0][0] if one else np.concatenate([p[0] for p in self._probe])
        a = self._probe[0][1] if one else np.concatenate([p[1] for p in self._probe])
        gs = [p[2] for p in self._probe if p[2] is not None]
        g = (gs[0] if one else np.concatenate(gs)) if self.has_gyro else None
        self._probe = []
        keep = _increasing(t)
        t0 = t[keep][: self.cfg.rate_probe_samples]
        if len(t0) < 2:
            return []
        # exactly the first N samples, so that the estimate never depends on chunking
        self.period_s = estimate_period(t0, self.cfg.rate_span_samples,
                                        self.cfg.rate_hole_ratio)
        return self._receive(t, a, g, final=final)

    def _receive(self, t: np.ndarray, a: np.ndarray, g: np.ndarray | None, final: bool
                 ) -> list[Piece]:
        # drop samples whose time does not advance (duplicates, clock steps back)
        prev = -np.inf if self._t_last is None else self._t_last
        if len(t) and not (t[0] > prev and (t[1:] > t[:-1]).all()):
            keep = _increasing(t, prev)
            self.n_dropped += int(len(t) - keep.sum())
            t, a = t[keep], a[keep]
            g = g[keep] if g is not None else None
        if len(t):
            self._t_last = float(t[-1])
        # append to what is held
        ht = np.concatenate([self._hold_t, t])
        ha = np.concatenate([self._hold_a, a])
        hg = None
        if self.has_gyro:
            hg = np.concatenate([self._hold_g if self._hold_g is not None else np.zeros((0, 3)),
                                 g if g is not None else np.zeros((0, 3))])
        i0 = self._hold_i0
        self._n_recv += len(t)
        if len(ht) == 0:
            return []
        p = self.period_s
        assert p is not None
        # long holes end segments: unambiguous from consecutive times
        steps = ht[1:] - ht[:-1]
        resets = ((np.flatnonzero(steps > self.cfg.gap_reset_s) + 1).tolist()
                  if len(steps) and steps.max() > self.cfg.gap_reset_s else [])
        bounds = [0, *resets, len(ht)]
        pieces: list[Piece] = []
        release_to = 0
        for b0, b1 in itertools.pairwise(bounds):
            closed = b1 < len(ht) or final
            if b0 > 0 or not self._seg_open:
                # a new segment starts at b0 (after a long hole, or the very first one)
                self._start_segment()
            piece, stop = self._release(ht, ha, hg, i0, b0, b1, closed)
            if piece is not None:
                pieces.append(piece)
            release_to = stop
            if not closed:
                break
        # keep the unreleased tail (a copy: a view would keep a large chunk alive)
        self._hold_t = ht[release_to:].copy()
        self._hold_a = ha[release_to:].copy()
        self._hold_g = None if hg is None else hg[release_to:].copy()
        self._hold_i0 = i0 + release_to
        if final:
            self._seg_open = False
        return pieces

    def _start_segment(self) -> None:
        self._seg_open = True
        self._u_left = np.zeros(0)
        self._s_last = None
        self._since_cand = 0

    def _release(self, ht: np.ndarray, ha: np.ndarray, hg: np.ndarray | None, i0: int,
                 b0: int, seg_end: int, closed: bool) -> tuple[Piece | None, int]:
        """Release what can be of the held samples from b0 on: (the piece or None, the
        index it ends at). The segment's known samples end at ``seg_end``, which is its
        real end if ``closed`` (then all is released)."""
        p = self.period_s
        assert p is not None
        k = self.k
        w = self.cfg.fill_hold_samples
        # rows whose median is known whatever comes later
        n_ext = seg_end - b0 if closed else seg_end - k - b0
        if n_ext <= 0:
            return None, b0
        u = ht[b0:seg_end] - (np.arange(b0, seg_end) + i0) * p
        left = self._u_left
        # centred median of u over 2k+1 samples, the window clipped (edge-padded) at the
        # segment's ends: it locates a hole exactly (a median keeps a step sharp). Row r's
        # window is ext[off - k + r: off + k + r + 1]
        kl = left[-k:] if k else left[:0]
        pad_l = k - len(kl)
        pad_r = max(0, k - (seg_end - b0 - n_ext))
        if pad_l or pad_r:
            first = float(kl[0]) if len(kl) else float(u[0])
            ext = np.concatenate([np.full(pad_l, first), kl, u, np.full(pad_r, float(u[-1]))])
        else:
            ext = np.concatenate([kl, u])
        off = pad_l + len(kl)
        thr = self.cfg.timebase_step_frac * p
        # the median is needed only where it can step: a window differs from the one
        # before by one sample out and one in, and an order statistic moves by no more
        # than the sample that changed (it is 1-Lipschitz in each)
        moved = np.abs(ext[off + k + 1: off + k + n_ext] - ext[off - k: off - k + n_ext - 1])
        at = np.flatnonzero(moved > thr) + 1
        prev_s = self._s_last
        if len(at) <= _FEW:  # the streaming case: a few medians, in Python
            xs = ext.tolist()
            w2 = 2 * k + 1
            b = off - k

            def med(r: int) -> float:
                return sorted(xs[b + r: b + r + w2])[k]

            cand = [r for r in at.tolist() if med(r) - med(r - 1) > thr]
            if prev_s is not None and med(0) - prev_s > thr:
                cand.insert(0, 0)
            n = _release_end(cand, n_ext, w, closed)
            if n == 0:
                return None, b0
            s_last = med(n - 1)
        else:
            mark = np.zeros(n_ext, dtype=bool)
            mark[0] = True
            mark[at] = True
            mark[at - 1] = True
            rows = np.flatnonzero(mark)
            s_rows = np.partition(windows(ext, 2 * k + 1)[rows + (off - k)], k, axis=1)[:, k]
            steps = s_rows[np.searchsorted(rows, at)] - s_rows[np.searchsorted(rows, at - 1)]
            cand = at[steps > thr].tolist()
            if prev_s is not None and s_rows[0] - prev_s > thr:
                cand.insert(0, 0)
            n = _release_end(cand, n_ext, w, closed)
            if n == 0:
                return None, b0
            r = n - 1 + off - k
            s_last = float(np.partition(ext[r: r + 2 * k + 1], k)[k])
        holes: list[tuple[int, int]] = []  # (released row, samples missing before it)
        # ... but the median at a step is biased by the jitter's extremes, so the size of
        # each candidate step is measured between the means of the samples on either side,
        # up to w of them, not across another candidate (of this release, the w rows after
        # it, or an earlier one)
        released = bisect.bisect_left(cand, n)
        if released:
            nl = len(left)

            def full(x0: int, x1: int) -> np.ndarray:
                """[x0, x1) of the left context followed by this segment's samples."""
                if x0 >= nl:
                    return u[x0 - nl: x1 - nl]
                return np.concatenate([left[x0: min(x1, nl)], u[: max(0, x1 - nl)]])

            n_full = nl + len(u)
            lo_seg = max(0, nl - self._since_cand)
            bounds = [c + nl for c in cand]
            for q in range(released):
                c = bounds[q]
                lo = max(lo_seg, c - w, bounds[q - 1] if q else 0)
                hi = min(n_full, c + w, bounds[q + 1] if q + 1 < len(bounds) else n_full)
                if c - lo < 1 or hi - c < 1:
                    continue
                m = round((float(full(c, hi).mean()) - float(full(lo, c).mean())) / p)
                if m > 0:  # (a hole at row 0 is a candidate only after a known median)
                    holes.append((cand[q], m))
            self._since_cand = n - cand[released - 1]
        else:
            self._since_cand += n
        new_seg = prev_s is None
        self._s_last = s_last
        keep = max(k, w)
        self._u_left = u[n - keep:n] if n >= keep else np.concatenate([left, u[:n]])[-keep:]
        stop = b0 + n
        t, a = ht[b0:stop], ha[b0:stop]
        g = None if hg is None else hg[b0:stop]
        if new_seg:
            self.n_segments += 1
        if not holes:
            piece = Piece(t, a, g, np.zeros(n, dtype=bool), new_seg)
        else:
            piece = self._fill(t, a, g, holes, new_seg, ha[b0:seg_end],
                               None if hg is None else hg[b0:seg_end])
        hold = self.cfg.fill_hold_samples
        if n >= hold:
            self._tail_a = a[n - hold:].copy()
            if g is not None:
                self._tail_g = g[n - hold:].copy()
        else:
            self._tail_a = np.concatenate([self._tail_a, a])[-hold:]
            if g is not None:
                self._tail_g = np.concatenate([self._tail_g, g])[-hold:]
        self._t_real = float(t[-1])
        return piece, stop

    def _fill(self, t: np.ndarray, a: np.ndarray, g: np.ndarray | None,
              holes: list[tuple[int, int]], new_seg: bool, a_right: np.ndarray,
              g_right: np.ndarray | None) -> Piece:
        """The piece with its holes filled; ``holes``: (row, samples missing before it),
        in order (a few per piece: worked through in Python, not over the whole piece)."""
        n_add = sum(m for _, m in holes)
        self.n_filled += n_add
        n = len(t) + n_add
        filled = np.zeros(n, dtype=bool)
        out_t = np.empty(n)
        out_a = np.empty((n, 3))
        out_g = None if g is None else np.empty((n, 3))
        # the real samples run by run (between holes), each moved right by the samples
        # missing before it, and the hole after each run. Its values: a ramp between the
        # means of the few real samples on either side. Interpolating between single noisy
        # samples would put their noise on the whole hole (which the filters then see),
        # holding a level would leave a step if the arm moved during the hole.
        k = self.cfg.fill_hold_samples
        r0 = shift = 0
        for j, m in [*holes, (len(t), 0)]:
            o0 = r0 + shift
            out_t[o0: o0 + j - r0] = t[r0:j]
            out_a[o0: o0 + j - r0] = a[r0:j]
            if out_g is not None and g is not None:
                out_g[o0: o0 + j - r0] = g[r0:j]
            r0 = j
            if not m:
                continue
            hole = slice(j + shift, j + shift + m)
            shift += m
            filled[hole] = True
            frac = (np.arange(1, m + 1) / (m + 1))[:, None]
            # times: between the previous real sample (maybe in the previous chunk) and this
            if j > 0:
                t_prev = float(t[j - 1])
            else:
                assert self._t_real is not None
                t_prev = self._t_real
            out_t[hole] = t_prev + frac[:, 0] * (float(t[j]) - t_prev)
            # the mean of the (up to k) real samples before the hole (nothing before it,
            # at a segment's start: the level after it) and the k after it
            nxt = mean_rows(a_right[j: j + k])
            before = _last_rows(self._tail_a, a, j, k)
            lvl = mean_rows(before) if len(before) else nxt
            out_a[hole] = lvl + frac * (nxt - lvl)
            if out_g is not None and g is not None and g_right is not None:
                nxt = mean_rows(g_right[j: j + k])
                before = _last_rows(self._tail_g, g, j, k)
                lvl = mean_rows(before) if len(before) else nxt
                out_g[hole] = lvl + frac * (nxt - lvl)
        return Piece(out_t, out_a, out_g, filled, new_seg)


def _release_end(cand: list[int], n_known: int, w: int, closed: bool) -> int:
    """Rows that can be released: all of a closed segment; else those before the first
    candidate hole whose w rows after it are not all known yet."""
    if closed:
        return n_known
    for c in cand:
        if c + w > n_known:
            return c
    return n_known


def _last_rows(tail: np.ndarray, x: np.ndarray, j: int, k: int) -> np.ndarray:
    """The (up to) k rows before row j of ``tail`` followed by ``x``."""
    if j >= k or len(tail) == 0:
        return x[max(0, j - k): j]
    return np.concatenate([tail[max(0, len(tail) - (k - j)):], x[:j]])


def _increasing(t: np.ndarray, prev: float = -np.inf) -> np.ndarray:
    """Mask of samples whose time exceeds every earlier one (a running maximum)."""
    run = np.maximum.accumulate(np.concatenate([[prev], t]))[:-1]
    return t > run


def estimate_period(t: np.ndarray, span: int = 16, hole_ratio: float = 1.25) -> float:
    """Sample period from timestamps with jitter and gaps.

    The median step is robust to gaps but carries the jitter of two samples; the median of
    ``span``-step spans (those without a gap: shorter than ``hole_ratio`` median steps)
    divides that error by ``span``.
    """
    d = np.diff(t)
    p0 = float(np.median(d))
    if p0 <= 0:
        raise ValueError("timestamps do not advance")
    if len(t) <= 2 * span:
        return p0
    s = (t[span:] - t[:-span]) / span
    s = s[s < hole_ratio * p0]  # spans with a hole in them are longer
    return float(np.median(s)) if len(s) else p0
