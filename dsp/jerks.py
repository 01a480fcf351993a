"""Jerk candidates: short bursts of high-passed acceleration that stand out of the noise.

A myoclonic or hypnic jerk is a 40-500 ms pulse of limb acceleration (Shibasaki & Hallett
2005; the eval README). Two detectors find candidates:

* an energy detector (CFAR-style): the 3-axis high-passed acceleration is squared,
  smoothed over ``jerk_env_s`` and compared with a running noise floor;
* for pulses too faint for it, a matched filter: stretches where the envelope rises
  over ``jerk_mf_prescreen`` times the floor are correlated with a bank of smooth
  biphasic and triphasic pulses of 40-300 ms (``jerk_mf_durations_s``).

Supra-threshold runs merged over short gaps form bursts; each burst's core (around its
peak, or a multiphasic pulse's contiguous phases) is what is judged. This module holds the
streaming detection: filters, envelope, noise floor, burst tracking and cores. The
features of a burst are in :mod:`~dsp.jerk_features` (a mixin of the detector, on its
history), the tests that judge them in :mod:`~dsp.jerk_classify`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import AnalyzerConfig
from .filters import (
    History,
    MovingMean,
    butter,
    quick_median,
    rolling_quantile,
    running_max,
    sosfilt,
    windows,
)
from .jerk_classify import dominated
from .jerk_features import NAN, Burst, BurstFeatureMixin
from .jerk_mf import MatchedFilterBank

# the per-second median of the envelope of white noise sits ~1.65 sigma (per axis, after
# the envelope's low-pass) above zero (the sleep stage's approximation; the jerk stage
# measures the floor's own statistic at its rate: JerkDetector.floor_per_sigma)
ENV_FLOOR_PER_SIGMA = 1.65


@dataclass
class _Run:
    """An open run of supra-threshold samples (absolute indices)."""

    i0: int
    i1: int
    regular: bool = False  # (faint runs) it holds a sample above the regular threshold
    seg_start: int = 0


class JerkDetector(BurstFeatureMixin):
    """Runs per piece; keeps a history for context and a list of bursts awaiting checks."""

    def __init__(self, cfg: AnalyzerConfig, fs: float, has_gyro: bool) -> None:
        self.cfg = cfg
        self.fs = fs
        self.has_gyro = has_gyro
        self.hp = butter(2, cfg.tremor_hp_hz, "highpass", fs, 3)
        # the gyroscope, high-passed the same way (bias and posture drift removed): the
        # rotation that goes with a pulse
        self.hp_gyr = butter(2, cfg.tremor_hp_hz, "highpass", fs, 3) if has_gyro else None
        lp_hz = cfg.jerk_lp_hz
        self.lp = butter(2, lp_hz, "lowpass", fs, 3) if fs > 2.5 * lp_hz else None
        # the low-pass delays the envelope (~0.23/fc s): the raw peak may precede the core
        self.lp_lag = int(np.ceil(0.25 / lp_hz * fs)) if self.lp is not None else 0
        self.release_n = max(1, round(cfg.jerk_release_s * fs))
        # the envelope reads white sensor noise this much lower than the raw signal
        self.noise_gain = _white_noise_gain(self.lp.sos, fs) if self.lp is not None else 1.0
        # the smooth-stroke high-pass of a burst is computed on demand, from its
        # high-passed samples starting hp_lead_n before it (time for the filter to settle)
        self.hp_smooth_sos = butter(2, cfg.smooth_hp_hz, "highpass", fs, 3).sos
        self.hp_lead_n = round(2.0 / cfg.smooth_hp_hz * fs)
        self.env_mean = MovingMean(round(cfg.jerk_env_s * fs))
        self.block_n = max(1, round(fs))
        # the floor that white noise of unit sigma per axis gives at this rate: the
        # floor's statistic (a low percentile of per-second medians of the envelope) on
        # a fixed noise sample run through the same filters
        self.floor_per_sigma = self._floor_of_white_noise()
        self.mf = MatchedFilterBank(cfg.jerk_mf_durations_s, fs)
        self._cent = self._centroid_setup()
        # a burst's core is looked for in its last core_search_s; features look
        # jerk_context_s around the core and jerk_rest_s before it. Keep enough that no
        # window is ever clipped (clipping would make results depend on the chunking).
        self.core_search_n = round(cfg.core_search_s * fs)
        self.max_burst_n = max(1, round(cfg.max_burst_s * fs))
        # (plus 3 s: a burst is closed and judged up to ~1 s after its context ends)
        keep_s = (cfg.core_search_s + cfg.jerk_context_s
                  + max(cfg.jerk_context_s, cfg.jerk_rest_s + cfg.jerk_rest_guard_s) + 3.0)
        self.hist = History(keep=int(keep_s * fs))
        self.n_floor_blocks = max(1, round(cfg.noise_window_s))
        self._blk_medians = np.zeros(0)
        # the floor used for the samples of each block from _floor_base on
        self._floor_arr = np.zeros(0)
        self._floor_base = 1  # (block 0 has none: no block before it)
        self._next_block = 0  # first block whose median is not computed yet
        self.seg_start = 0
        self._open: Burst | None = None
        self._faint: _Run | None = None
        self._faint_wait: list[_Run] = []  # closed faint runs awaiting samples after them
        self._faint_centre = -(1 << 40)  # centre of the last faint pulse found
        self.bursts: list[Burst] = []  # closed, not yet fully classified
        self.n_faint_tested = 0  # faint runs searched with the matched filter

    # ------------------------------------------------------------------ streaming
    def new_segment(self, gi0: int) -> None:
        self.flush_segment()
        self.hp.reset()
        if self.hp_gyr is not None:
            self.hp_gyr.reset()
        if self.lp is not None:
            self.lp.reset()
        self.env_mean.reset()
        self.seg_start = gi0

    def flush_segment(self) -> None:
        """The segment ended: close the open bursts; context stops at the gap."""
        if self._open is not None:
            self._close(self._open)
            self._open = None
        if self._faint is not None:
            self._faint_wait.append(self._faint)
            self._faint = None
        for run in self._faint_wait:  # the segment ended: judge with what there is
            self._test_faint(run)
        self._faint_wait = []

    def process(self, gi0: int, t: np.ndarray, acc: np.ndarray, filled: np.ndarray,
                gyro: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Detect bursts in this piece; returns the per-sample noise floor (g) and the
        mask of samples above the burst threshold."""
        cfg = self.cfg
        hp = self.hp(acc)
        hpl = self.lp(hp) if self.lp is not None else hp
        env = self.env_mean(np.einsum("ij,ij->i", hpl, hpl))  # (a fresh array: in place)
        np.sqrt(np.maximum(env, 0.0, out=env), out=env)
        if self.hp_gyr is not None:
            gy = gyro if gyro is not None else np.zeros_like(acc)
            self.hist.append(t=t, hp=hp, env=env, filled=filled, acc=acc, gyr=self.hp_gyr(gy))
        else:
            self.hist.append(t=t, hp=hp, env=env, filled=filled, acc=acc)
        floor = self._floors_for(gi0, len(t))
        above = env > np.maximum(cfg.jerk_snr * floor, cfg.jerk_min_g)
        settled = int(cfg.settle_s * self.fs) - (gi0 - self.seg_start)
        # a peak-hold over the last release_n samples (this piece's and the history's)
        # raises the threshold: only where the floor's threshold is cleared can it matter
        cand = np.flatnonzero(above)
        if len(cand):
            w = self.release_n
            ext = np.concatenate([self.hist.get("env", max(gi0 - w + 1, self.seg_start), gi0),
                                  env])
            off = len(ext) - len(env)
            if len(cand) * 8 < len(env):
                # (zeros before the stream's start, as running_max: env is not negative)
                body = np.concatenate([np.zeros(w - 1), ext])
                hold = windows(body, w)[cand + off].max(axis=1)
            else:
                hold = running_max(ext, w)[off:][cand]
            above[cand] = env[cand] > cfg.jerk_release_frac * hold
        if settled > 0:
            above[:settled] = False
        self._track(gi0, above)
        # faint stretches: above the prescreen level only (the regular threshold is at
        # least jerk_min_g, so in a quiet sensor there are none)
        faint = env > np.maximum(cfg.jerk_mf_prescreen * floor, cfg.jerk_min_g)
        if settled > 0:
            faint[:settled] = False
        if faint.any() or self._faint is not None:
            self._track_faint(gi0, faint, above)
        if self._faint_wait:
            # the filter looks 2 half-templates past a run: judge it once they are here
            ready = self.hist.end - 2 * self.mf.half
            for run in [r for r in self._faint_wait if r.i1 < ready]:
                self._test_faint(run)
            self._faint_wait = [r for r in self._faint_wait if r.i1 >= ready]
        return floor, above

    def notice_pending(self) -> bool:
        """A burst (or a faint run) is open or waits for its early checks: its notice
        may be due within the next few tenths of a second."""
        return (self._open is not None or self._faint is not None or bool(self._faint_wait)
                or any(b.stage == 0 for b in self.bursts))

    # ------------------------------------------------------------------ noise floor
    def _floors_for(self, gi0: int, n: int) -> np.ndarray:
        """Per-sample noise floor; a block uses the floor of the blocks before it."""
        b = self.block_n
        end = gi0 + n
        last_full = end // b  # blocks [0, last_full) are complete
        if last_full > self._next_block:
            lo = self._next_block * b
            env = self.hist.get("env", lo, last_full * b)
            if len(env) == (last_full - self._next_block) * b:
                med = _block_medians(env.reshape(-1, b))
            else:  # history shorter than the span (very large piece): per block
                med = np.array([np.median(self.hist.get("env", k * b, (k + 1) * b) if
                                          len(self.hist.get("env", k * b, (k + 1) * b)) else
                                          [np.nan]) for k in range(self._next_block, last_full)])
            floors, self._blk_medians = rolling_quantile(
                self._blk_medians, med, self.n_floor_blocks, self.cfg.noise_percentile / 100)
            # the floor of block k + 1 comes from the blocks up to k; before any complete
            # block (NaN), a quiet MEMS floor: 0, the absolute minimum rules
            new = np.concatenate([floors[1:], [_q_incl(self._blk_medians,
                                                       self.cfg.noise_percentile)]])
            new[~np.isfinite(new)] = 0.0
            self._floor_arr = np.concatenate([self._floor_arr, new])
            self._next_block = last_full
        first_blk = gi0 // b
        last_blk = (end - 1) // b
        # keep the floors of the blocks still in the history: a burst closing now may
        # have begun in one of them (its floor must not depend on the chunking)
        oldest = min(first_blk, self.hist.start // b)
        if len(self._floor_arr) > last_blk - oldest + 2 and oldest > self._floor_base:
            self._floor_arr = self._floor_arr[oldest - self._floor_base:]
            self._floor_base = oldest
        if first_blk == last_blk:
            return np.full(n, self._floor_of(first_blk))
        # the blocks' floors, each repeated over its samples in the piece
        vals = np.zeros(last_blk - first_blk + 1)  # (blocks without a floor: 0)
        j0 = first_blk - self._floor_base
        a, z = max(j0, 0), min(last_blk + 1 - self._floor_base, len(self._floor_arr))
        if z > a:
            vals[a - j0: z - j0] = self._floor_arr[a:z]
        reps = np.full(len(vals), b)
        reps[0] = b - gi0 % b
        reps[-1] -= (last_blk + 1) * b - end
        return np.repeat(vals, reps)

    def _floor_of(self, k: int) -> float:
        j = k - self._floor_base
        return float(self._floor_arr[j]) if 0 <= j < len(self._floor_arr) else 0.0

    def floor_at(self, i: int) -> float:
        return self._floor_of(i // self.block_n)

    def _floor_of_white_noise(self) -> float:
        cfg = self.cfg
        n_s = max(8, round(cfg.noise_window_s))
        x = np.random.default_rng(0).normal(size=(n_s * self.block_n, 3))
        hp = sosfilt(self.hp.sos, x)[0]
        y = sosfilt(self.lp.sos, hp)[0] if self.lp is not None else hp
        w = max(1, round(cfg.jerk_env_s * self.fs))
        p = np.convolve(np.einsum("ij,ij->i", y, y), np.ones(w) / w)[: len(y)]
        env = np.sqrt(p[self.block_n:])  # (the filters' first second left out)
        med = np.median(env[: len(env) // self.block_n * self.block_n]
                        .reshape(-1, self.block_n), axis=1)
        return float(np.percentile(med, cfg.noise_percentile))

    # ------------------------------------------------------------------ bursts
    def _runs(self, gi0: int, mask: np.ndarray) -> list[tuple[int, int]]:
        """Runs of the mask (absolute [first, last]), split where the gap exceeds merge."""
        merge = max(1, round(self.cfg.jerk_merge_s * self.fs))
        idx = np.flatnonzero(mask) + gi0
        if not len(idx):
            return []
        cut = np.flatnonzero(np.diff(idx) > merge) + 1
        starts = np.concatenate([[0], cut])
        stops = np.concatenate([cut, [len(idx)]])
        return [(int(idx[s]), int(idx[e - 1])) for s, e in zip(starts.tolist(), stops.tolist(),
                                                                 strict=True)]

    def _track(self, gi0: int, above: np.ndarray) -> None:
        merge = max(1, round(self.cfg.jerk_merge_s * self.fs))
        end = gi0 + len(above)
        for a, z in self._runs(gi0, above):
            if self._open is not None and a - self._open.i1 <= merge:
                self._open.i1 = z
            else:
                if self._open is not None:
                    self._close(self._open)
                self._open = Burst(i0=a, i1=z, seg_start=self.seg_start)
            # a long movement is cut into pieces, each judged on its own: a jerk
            # during walking or a reach is the core of its piece
            o = self._open
            while o.i1 - o.i0 + 1 > self.max_burst_n:
                self._close(Burst(i0=o.i0, i1=o.i0 + self.max_burst_n - 1,
                                  seg_start=o.seg_start))
                o.i0 += self.max_burst_n
        if self._open is not None and end - 1 - self._open.i1 >= merge:
            self._close(self._open)
            self._open = None

    def _track_faint(self, gi0: int, faint: np.ndarray, above: np.ndarray) -> None:
        """Runs of the prescreen mask that hold no regular burst sample: candidates for
        the matched filter."""
        merge = max(1, round(self.cfg.jerk_merge_s * self.fs))
        end = gi0 + len(faint)
        for a, z in self._runs(gi0, faint | above):
            reg = bool(above[a - gi0: z - gi0 + 1].any())
            o = self._faint
            if o is not None and a - o.i1 <= merge:
                o.i1 = z
                o.regular |= reg
            else:
                if o is not None:
                    self._faint_wait.append(o)
                self._faint = _Run(a, z, reg, self.seg_start)
        o = self._faint
        if o is not None and end - 1 - o.i1 >= merge:
            self._faint_wait.append(o)
            self._faint = None
        # (a regular burst covers a run that holds one; a long one is a movement)
        self._faint_wait = [r for r in self._faint_wait
                            if not r.regular and r.i1 - r.i0 + 1 <= self.max_burst_n]

    def _test_faint(self, run: _Run) -> None:
        """A faint run ended: keep it when the matched filter finds a pulse in it."""
        self.n_faint_tested += 1
        floor = self.floor_at(run.i0)
        sigma = self.noise_sigma(floor)
        if sigma <= 0:
            return
        half = self.mf.half
        x0 = max(run.seg_start, run.i0 - 2 * half)
        x = self.hist.get("hp", x0, run.i1 + 1 + 2 * half)
        if len(x) < self.mf.length:
            return
        chi2, peak, dur, lag = self.mf.best(x, sigma)
        if chi2 < self.cfg.jerk_mf_chi2:
            return
        # two humps of one biphasic pulse may make two runs: one pulse, one candidate
        centre = x0 + lag + half
        if abs(centre - self._faint_centre) <= half:
            return
        self._faint_centre = centre
        self._close(Burst(i0=run.i0, i1=run.i1, seg_start=run.seg_start, faint=True,
                          mf_chi2=chi2, mf_peak_g=peak, mf_dur_s=dur))

    def _rest_of(self, env: np.ndarray, c0: int, c1: int, k: int) -> tuple[float, int]:
        """The rest of a burst around a core [c0, c1] (within the searched span): its
        median envelope (a movement's level, or the other strokes of a scratching bout),
        and its other excursions towards the peak env[k] (strokes)."""
        before, after = env[:max(0, c0 - 2)], env[c1 + 3:]
        rest = np.concatenate([before, after])
        strong = self.cfg.jerk_strong_frac * env[k]
        n_strong = _runs_above(before, strong) + _runs_above(after, strong)
        return (quick_median(rest) if len(rest) >= 3 else 0.0), n_strong

    def _pulse(self, below: np.ndarray, c0: int, c1: int) -> tuple[int, int, int]:
        """The pulse around the main phase [c0, c1] of a burst: the phases contiguous to
        it (runs above the core level separated by dips of at most jerk_phase_gap_s, the
        acceleration reversing), when all of them together last at most
        jerk_pulse_max_s; otherwise the main phase alone. Returns (start, end, phases)."""
        gap_n = max(1, round(self.cfg.jerk_phase_gap_s * self.fs))
        max_n = round(self.cfg.jerk_pulse_max_s * self.fs)
        n = len(below)
        p0, p1, k = c0, c1, 1
        while True:
            j = p0 - 1
            while j >= 0 and below[j]:
                j -= 1
            if j < 0 or p0 - 1 - j > gap_n:
                break
            if j == 0 or p1 - j + 1 > max_n:  # (it may go on before the searched span)
                return c0, c1, 1
            while j >= 0 and not below[j]:
                j -= 1
            p0, k = j + 1, k + 1
            if p0 == 0 or p1 - p0 + 1 > max_n:
                return c0, c1, 1
        while True:
            j = p1 + 1
            while j < n and below[j]:
                j += 1
            if j >= n or j - p1 - 1 > gap_n:
                break
            while j < n and not below[j]:
                j += 1
            p1, k = j - 1, k + 1
            if p1 - p0 + 1 > max_n:
                return c0, c1, 1
        return p0, p1, k

    def _close(self, b: Burst) -> None:
        h = self.hist
        fs = self.fs
        cfg = self.cfg
        a0 = max(b.i0, b.i1 + 1 - self.core_search_n)
        env = h.get("env", a0, b.i1 + 1)
        if len(env) == 0:
            return
        # the core: around the peak, down to a fraction of it. A jerk inside a voluntary
        # movement makes one long burst; its core is the jerk itself.
        k = int(np.argmax(env))
        level = max(cfg.jerk_core_frac * float(env[k]),
                    self.floor_at(b.i0) * cfg.jerk_core_floor_mult)
        below = env < level
        left = np.flatnonzero(below[:k])
        right = np.flatnonzero(below[k:])
        c0 = int(left[-1]) + 1 if len(left) else 0
        c1 = k + int(right[0]) - 1 if len(right) else len(env) - 1
        # (the main phase: the impact tests read its length)
        m0, m1 = c0, c1
        b.burst_s = (b.i1 - b.i0 + 1) / fs
        b.rest_env, b.n_strong = self._rest_of(env, c0, c1, k)
        floor = max(self.floor_at(b.i0), 1e-4)
        if not b.faint and dominated(b.burst_s, float(env[k]) / max(b.rest_env, floor),
                                     b.n_strong, cfg):
            # the main phase does not dominate its burst: the burst may be one multiphasic
            # pulse (a sleep start), whose contiguous phases then make up its activity
            p0, p1, n_ph = self._pulse(below, c0, c1)
            if n_ph > 1:
                rest_env, n_strong = self._rest_of(env, p0, p1, k)
                if not dominated(b.burst_s, float(env[k]) / max(rest_env, floor), n_strong,
                                 cfg):
                    c0, c1, b.n_phases = p0, p1, n_ph
                    b.rest_env, b.n_strong = rest_env, n_strong
        b.i0, b.i1 = a0 + c0, a0 + c1
        env = env[c0: c1 + 1]
        k -= c0
        hp = h.get("hp", b.i0, b.i1 + 1)
        t = h.get("t", b.i0, b.i1 + 1)
        b.peak_env = float(env[k])
        mag = np.sqrt(np.einsum("ij,ij->i", hp, hp))
        kp = int(np.argmax(mag))
        b.peak_g, b.k_peak = float(mag[kp]), b.i0 + kp
        if self.lp_lag:
            pre = h.get("hp", max(b.i0 - self.lp_lag, b.seg_start), b.i0)
            if len(pre):
                pm = np.sqrt(np.einsum("ij,ij->i", pre, pre))
                if float(pm.max()) > b.peak_g:
                    b.peak_g = float(pm.max())
                    b.k_peak = b.i0 - len(pre) + int(np.argmax(pm))
        b.t_start, b.t_end, b.t_peak = float(t[0]), float(t[-1] + 1 / fs), float(t[k])
        pad = 2  # samples: the participation ratio of a 1-sample spike needs its flanks
        seg = h.get("hp", a0 + m0 - pad, a0 + m1 + 1 + pad)
        b.floor_g = self.floor_at(b.i0)
        m = np.sqrt(np.einsum("ij,ij->i", seg, seg))
        b.pr_s = float(m.sum() ** 2 / max(float((m * m).sum()), 1e-18) / fs)
        filled = h.get("filled", b.i0 - pad, b.i1 + 1 + pad)
        # (np.mean of a bool array: the count over the length, without its wrapper)
        b.filled_frac = np.count_nonzero(filled) / len(filled) if len(filled) else NAN
        # a hole just before the core: the pulse may be the arm's move during the hole
        b.after_gap = bool(h.get("filled", b.i0 - int(cfg.jerk_gap_guard_s * fs),
                                 b.i0 + 1).any())
        # in time order (a faint run is judged a little later than a burst after it)
        k = len(self.bursts)
        while k and self.bursts[k - 1].i0 > b.i0:
            k -= 1
        self.bursts.insert(k, b)


def _runs_above(x: np.ndarray, level: float) -> int:
    """Runs of consecutive samples of x above level."""
    if len(x) == 0:
        return 0
    up = x > level
    return int(up[0]) + int(np.count_nonzero(up[1:] & ~up[:-1]))


def _white_noise_gain(sos: np.ndarray, fs: float) -> float:
    """RMS gain of a filter for white noise: the root energy of its impulse response."""
    h = sosfilt(sos, np.r_[1.0, np.zeros(max(64, int(2 * fs)))])[0]
    return float(np.sqrt(np.sum(h * h)))


def _block_medians(x: np.ndarray) -> np.ndarray:
    """``np.median(x, axis=1)`` without its overhead (the same two order statistics and
    their mean), and NaN where a row holds one, as np.median gives. (Sorting the short
    rows is faster than partitioning them at two places.)"""
    m = x.shape[1]
    k = m // 2
    srt = np.sort(x, axis=1)
    med = srt[:, k] if m % 2 else (srt[:, k - 1] + srt[:, k]) / 2.0
    if not np.isnan(srt[:, -1]).any():  # (NaN sorts last)
        return med
    return np.where(np.isnan(x).any(axis=1), np.nan, med)


def _q_incl(values: np.ndarray, pct: float) -> float:
    """The same order statistic as rolling_quantile, over all of ``values``."""
    if len(values) == 0:
        return float("nan")
    k = int(pct / 100 * (len(values) - 1))
    return float(np.partition(values, k)[k])
