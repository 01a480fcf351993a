"""Jerk candidates: short bursts of high-passed acceleration that stand out of the noise.

A myoclonic or hypnic jerk is a 40-500 ms pulse of limb acceleration (Shibasaki & Hallett
2005; the eval README). Two detectors find candidates:

* an energy detector (CFAR-style): the 3-axis high-passed acceleration is squared,
  smoothed over ``jerk_env_s`` and compared with a running noise floor;
* for pulses too faint for it, a matched filter: stretches where the envelope rises
  over ``jerk_mf_prescreen`` times the floor are correlated with a bank of smooth
  biphasic and triphasic pulses of 40-300 ms (``jerk_mf_durations_s``).

Each burst then gets the features the classifier needs (:class:`BurstFeatures`): shape,
spectrum, contrast to its surroundings, the posture before and after, whether the forearm
was at rest before it, the rotation with it where a gyroscope is present, and how much
of the segment surrounds it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .config import AnalyzerConfig
from .filters import History, MovingMean, butter, rolling_quantile, running_max, sosfilt, windows
from .jerk_mf import MatchedFilterBank

DEG_PER_RAD = 180.0 / np.pi
G_MS2 = 9.80665
# the per-second median of the envelope of white noise sits ~1.65 sigma (per axis, after
# the envelope's low-pass) above zero (the sleep stage's approximation; the jerk stage
# measures the floor's own statistic at its rate: JerkDetector.floor_per_sigma)
ENV_FLOOR_PER_SIGMA = 1.65
# median |x - y| of two independent N(0, s^2) samples is 0.6745 * sqrt(2) * s
MAD_DIFF = 0.6745 * math.sqrt(2.0)
NAN = float("nan")


@dataclass
class BurstFeatures:
    """What the classifier knows of a burst. The first group is always filled; the rest
    only by ``JerkDetector.features(..., full=True)`` (nan until then)."""

    peak_g: float  # peak of the 3-axis high-passed acceleration in the core
    peak_env: float  # peak of the detection envelope
    dur_s: float  # core duration
    pr_s: float  # participation-ratio duration of the core (an impact: 1-3 samples)
    floor_g: float  # envelope noise floor
    snr: float  # peak_env / floor
    bg_pre: float  # median envelope before / after the core (nan: too little signal)
    bg_post: float
    contrast: float  # peak_env / the quieter side's median envelope
    filled: float  # share of the core that is filled-in hole
    burst_s: float  # length of the whole burst the core was taken from
    after_gap: bool  # the core follows a filled hole closely
    dom_burst: float  # peak_env / the median envelope of the rest of the burst
    n_strong: int  # other excursions of the burst to jerk_strong_frac of its peak
    n_phases: int  # contiguous phases of the pulse (the core)
    busy: float  # the busier side's median envelope / peak_env
    ctx_peak: float  # the largest envelope on either side / peak_env (other strokes)
    ctx_pre_s: float  # signal of the same segment before the core
    ctx_post_s: float  # ... and after it, as far as the decision could look
    faint: bool  # found by the matched filter only
    mf_chi2: float  # matched-filter statistic (chi-square, 6 dof in white noise)
    mf_peak_g: float  # peak of the fitted pulse, noise bias removed
    mf_dur_s: float  # duration of the template that fits it best
    mf_bg: float = NAN  # (faint) the busier side's median matched-filter statistic
    angle_deg: float = NAN  # posture change: before vs after the core
    fchar_hz: float = NAN  # |da/dt| / (2 pi |a|) at the core's peak
    hf_frac: float = NAN  # share of the core's energy above smooth_hp_hz
    fcent_hz: float = NAN  # noise-corrected spectral centroid of the pulse
    lever_m: float = NAN  # velocity change / rise of the rotation rate (gyroscope)
    rot_snr: float = NAN  # rise of the rotation rate over the gyroscope noise
    rot_power: float = NAN  # the rise a limb would show (lever limb_max_lever_m), in sigmas
    rest_frac: float = NAN  # share of posture steps that moved in the seconds before
    rest_net_g: float = NAN  # net posture change over those steps (g)
    post_frac: float = NAN  # the same after the core (information only: a cluster's
    post_net_g: float = NAN  # later jerks and a brief arousal may follow a jerk)

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in vars(self).items()}


@dataclass
class Burst:
    """A supra-threshold burst; indices are absolute sample indices of the stream."""

    i0: int
    i1: int  # last supra-threshold sample
    seg_start: int
    faint: bool = False
    mf_chi2: float = NAN
    mf_peak_g: float = NAN
    mf_dur_s: float = NAN
    peak_env: float = 0.0
    k_peak: int = 0  # sample of the peak of |high-passed acceleration|
    t_start: float = 0.0
    t_end: float = 0.0
    t_peak: float = 0.0
    peak_g: float = 0.0
    pr_s: float = 0.0
    filled_frac: float = 0.0
    floor_g: float = 0.0
    burst_s: float = 0.0
    rest_env: float = 0.0
    n_strong: int = 0
    n_phases: int = 1  # phases of the pulse (a multiphasic jerk: several, contiguous)
    after_gap: bool = False
    stage: int = 0  # 0 closed, 1 noticed (early checks done), 2 classified
    local_ok: bool = False
    is_jerk: bool = False
    rescued: bool = False  # accepted as a jerk of a cluster, not on its own
    reason: str = ""
    noticed: bool = False


@dataclass
class _Run:
    """An open run of supra-threshold samples (absolute indices)."""

    i0: int
    i1: int
    regular: bool = False  # (faint runs) it holds a sample above the regular threshold
    seg_start: int = 0


class JerkDetector:
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

    def noise_sigma(self, floor_g: float) -> float:
        """Per-axis white-noise sigma of the high-passed acceleration for a floor."""
        return floor_g / self.floor_per_sigma

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
        rest = np.concatenate([env[:max(0, c0 - 2)], env[c1 + 3:]])
        strong = (np.concatenate([env[:max(0, c0 - 2)], [0.0], env[c1 + 3:]])
                  > self.cfg.jerk_strong_frac * env[k])
        n_strong = int(np.count_nonzero(np.diff(strong.astype(np.int8)) == 1)
                       + (1 if len(strong) and strong[0] else 0))
        return (_median(rest) if len(rest) >= 3 else 0.0), n_strong

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
        b.filled_frac = float(h.get("filled", b.i0 - pad, b.i1 + 1 + pad).mean())
        # a hole just before the core: the pulse may be the arm's move during the hole
        b.after_gap = bool(h.get("filled", b.i0 - int(cfg.jerk_gap_guard_s * fs),
                                 b.i0 + 1).any())
        # in time order (a faint run is judged a little later than a burst after it)
        k = len(self.bursts)
        while k and self.bursts[k - 1].i0 > b.i0:
            k -= 1
        self.bursts.insert(k, b)

    # ------------------------------------------------------------------ features
    def features(self, b: Burst, seg_end: int, full: bool = True,
                 exclude: list[tuple[int, int]] | None = None,
                 later: list[tuple[int, int]] | None = None) -> BurstFeatures:
        """Context features; uses samples up to ``seg_end`` (exclusive) of b's segment.
        ``full=False``: only the cheap ones that most bursts already fail. ``exclude``:
        sample spans of accepted jerks (left out of the rest test: a cluster's own jerks
        are no voluntary movement). ``later``: spans of accepted jerks after b, left out of
        its surroundings after it (the cluster's next jerks are no background)."""
        h = self.hist
        fs = self.fs
        cfg = self.cfg
        lo = b.seg_start
        n = round(cfg.jerk_context_s * fs)
        guard = round(cfg.jerk_context_guard_s * fs)
        pre = h.get("env", max(lo, b.i0 - n), max(lo, b.i0 - guard))
        post_at = b.i1 + guard
        post = h.get("env", post_at, min(seg_end, b.i1 + n))
        keep_post = self._outside(post_at, len(post), later)
        if keep_post is not None:
            post = post[keep_post]
        floor = max(b.floor_g, 1e-4)
        min_n = fs * cfg.jerk_context_min_s
        bg_pre = _median(pre) if len(pre) > min_n else NAN
        bg_post = _median(post) if len(post) > min_n else NAN
        bgs = [x for x in (bg_pre, bg_post) if math.isfinite(x)]
        bg = min(bgs) if bgs else floor
        f = BurstFeatures(
            peak_g=b.peak_g, peak_env=b.peak_env, dur_s=b.t_end - b.t_start, pr_s=b.pr_s,
            floor_g=floor, snr=b.peak_env / floor, bg_pre=bg_pre, bg_post=bg_post,
            contrast=b.peak_env / max(bg, floor), filled=b.filled_frac, burst_s=b.burst_s,
            after_gap=b.after_gap, dom_burst=b.peak_env / max(b.rest_env, floor),
            n_strong=b.n_strong, n_phases=b.n_phases, busy=max(bgs or [0.0]) / b.peak_env,
            ctx_peak=max([float(x.max()) for x in (pre, post) if len(x)] or [0.0]) / b.peak_env,
            ctx_pre_s=(b.i0 - lo) / fs, ctx_post_s=max(0, seg_end - b.i1 - 1) / fs,
            faint=b.faint, mf_chi2=b.mf_chi2, mf_peak_g=b.mf_peak_g, mf_dur_s=b.mf_dur_s)
        if b.faint:
            # the filter's own background on both sides: a pulse in noise stands out of
            # it, a stretch of tremor or movement raises it all along
            sigma = self.noise_sigma(floor)
            half = self.mf.half
            bgs_mf = []
            for x0, x1 in ((max(lo, b.i0 - n), max(lo, b.i0 - guard)),
                           (b.i1 + guard, min(seg_end, b.i1 + n) - half)):
                xa = max(lo, x0 - half)
                x = h.get("hp", xa, x1 + half)
                if x1 - x0 > min_n and len(x) >= self.mf.length:
                    st = self.mf.stat(x, sigma)
                    keep = self._outside(xa + half, len(st), later) if x0 > b.i1 else None
                    if keep is not None:
                        st = st[keep]
                    if len(st) > min_n:
                        bgs_mf.append(_median(st))
            f.mf_bg = max(bgs_mf) if bgs_mf else NAN
        return self.complete(f, b, seg_end, exclude) if full else f

    def complete(self, f: BurstFeatures, b: Burst, seg_end: int,
                 exclude: list[tuple[int, int]] | None = None) -> BurstFeatures:
        """Fills in the features that ``features(..., full=False)`` left out (in place;
        returns f): what only the bursts that pass ``classify_basic`` need."""
        h = self.hist
        fs = self.fs
        cfg = self.cfg
        lo = b.seg_start
        n = round(cfg.jerk_context_s * fs)
        guard = round(cfg.jerk_context_guard_s * fs)
        floor = f.floor_g
        # orientation before and after
        acc_pre = h.get("acc", max(lo, b.i0 - n), max(lo, b.i0 - guard))
        acc_post = h.get("acc", b.i1 + int(cfg.jerk_posture_after_s * fs),
                         min(seg_end, b.i1 + n))
        if len(acc_pre) and len(acc_post):
            f.angle_deg = _angle_deg(acc_pre.mean(0), acc_post.mean(0))
        # shape of the core: characteristic frequency |da/dt| / (2 pi |a|)
        core = h.get("hp", b.i0 - 1, b.i1 + 2)
        if len(core) >= 3:
            mag = np.sqrt(np.einsum("ij,ij->i", core, core))
            d = np.diff(core, axis=0) * fs
            f.fchar_hz = float(np.sqrt(np.einsum("ij,ij->i", d, d)).max()
                               / max(2 * np.pi * float(mag.max()), 1e-12))
        sigma = self.noise_sigma(floor)
        f.hf_frac = self._hf_frac(b, sigma)
        f.fcent_hz = self._centroid(b, sigma)
        if self.hp_gyr is not None:
            f.lever_m, f.rot_snr, f.rot_power = self._rotation(b)
        excl = exclude or []
        f.rest_frac, f.rest_net_g = self._moving(
            b.i0 - round((cfg.jerk_rest_s + cfg.jerk_rest_guard_s) * fs),
            b.i0 - round(cfg.jerk_rest_guard_s * fs), lo, seg_end, excl, before=True)
        a = b.i1 + 1 + guard
        f.post_frac, f.post_net_g = self._moving(a, a + round(cfg.jerk_rest_s * fs), lo,
                                                 seg_end, excl, before=False)
        return f

    def _outside(self, a: int, n: int, spans: list[tuple[int, int]] | None
                 ) -> np.ndarray | None:
        """Mask of the samples a .. a + n - 1 outside the spans of accepted jerks (from
        jerk_rest_excl_s before each to jerk_rest_relax_s after it: its rise, ringing and
        the limb relaxing), or None when no span reaches them."""
        if not spans:
            return None
        g0 = round(self.cfg.jerk_rest_excl_s * self.fs)
        g1 = round(self.cfg.jerk_rest_relax_s * self.fs)
        keep = np.ones(n, dtype=bool)
        hit = False
        for j0, j1 in spans:
            k0, k1 = max(0, j0 - g0 - a), min(n, j1 + g1 + 1 - a)
            if k0 < k1:
                keep[k0:k1] = False
                hit = True
        return keep if hit else None

    def _hf_frac(self, b: Burst, sigma: float) -> float:
        """Share of the core's energy above smooth_hp_hz, white noise's share removed:
        smooth voluntary strokes live below it, a jerk's core mostly above."""
        fs = self.fs
        pad = round(self.cfg.smooth_pad_s * fs)
        c1 = self.hist.get("hp", b.i0 - pad, b.i1 + 1 + pad)
        src = self.hist.get("hp", max(b.seg_start, b.i0 - pad - self.hp_lead_n),
                            b.i1 + 1 + pad)
        c4 = sosfilt(self.hp_smooth_sos, src)[0][len(src) - len(c1):]
        # (white noise is mostly above the cut, which would make a faint smooth movement
        # in a noisy stream look sharp)
        var = 3.0 * sigma ** 2 * len(c1)
        e1 = float(np.einsum("ij,ij->", c1, c1)) - var * (1 - 2.0 * self.cfg.tremor_hp_hz / fs)
        e4 = float(np.einsum("ij,ij->", c4, c4)) - var * (1 - 2.0 * self.cfg.smooth_hp_hz / fs)
        return max(0.0, e4) / max(e1, 1e-18)

    def _centroid(self, b: Burst, sigma: float) -> float:
        """Spectral centroid (Hz) of the pulse around its peak, the white noise's power
        taken out bin by bin: an impact rings at the band's resonance, a limb's pulse is
        smooth."""
        w, win, win_ss, nfft, k0, fr = self._cent
        seg = self.hist.get("hp", b.k_peak - w, b.k_peak + w + 1)
        if len(seg) < 2 * w + 1:
            return NAN
        spec = np.fft.rfft(seg * win, n=nfft, axis=0)
        p = np.einsum("ij,ij->i", spec.real, spec.real) + np.einsum("ij,ij->i", spec.imag,
                                                                     spec.imag)
        p = np.maximum(p[k0:] - 3.0 * sigma ** 2 * win_ss, 0.0)
        tot = float(p.sum())
        return float((p * fr).sum() / tot) if tot > 0 else NAN

    def _centroid_setup(self) -> tuple[int, np.ndarray, float, int, int, np.ndarray]:
        """What every centroid uses: (half window w, the Hann window as a column, its
        energy, FFT length, first bin at or above twice the high-pass, those bins' Hz)."""
        fs = self.fs
        w = max(2, round(self.cfg.impact_window_s * fs))
        win = np.hanning(2 * w + 3)[1:-1]
        nfft = 1 << max(5, int(np.ceil(np.log2(4 * (2 * w + 1)))))
        fr = np.fft.rfftfreq(nfft, 1 / fs)
        k0 = int(np.flatnonzero(fr >= 2.0 * self.cfg.tremor_hp_hz)[0])
        return w, win[:, None], float(win @ win), nfft, k0, fr[k0:]

    def _rotation(self, b: Burst) -> tuple[float, float, float]:
        """(lever arm m, rise of the rotation rate in noise sigmas, the rise a limb with
        the longest lever would show in noise sigmas). The lever is the wrist's peak
        velocity change over the pulse / the peak rise of the rotation rate above its
        level just before (a roll-over's ongoing rotation is not the pulse's)."""
        fs = self.fs
        h = self.hist
        cfg = self.cfg
        pad = max(1, round(cfg.limb_rot_pad_s * fs))
        a = h.get("hp", b.i0 - pad, b.i1 + 1 + pad)
        w = h.get("gyr", b.i0 - pad, b.i1 + 1 + pad)
        ref = h.get("gyr", b.i0 - pad - max(2, round(cfg.limb_rot_ref_s * fs)), b.i0 - pad)
        quiet = h.get("gyr", max(b.seg_start, b.i0 - round(cfg.jerk_context_s * fs)),
                      b.i0 - pad)
        if len(a) < 2 or len(w) != len(a) or len(ref) < 2 or len(quiet) < 8:
            return NAN, NAN, NAN
        v = np.cumsum(a, axis=0) * (G_MS2 / fs)
        v_pk = float(np.sqrt(np.einsum("ij,ij->i", v, v)).max())
        dw = w - ref.mean(0)
        w_pk = float(np.sqrt(np.einsum("ij,ij->i", dw, dw)).max())
        # the gyroscope's noise, from sample-to-sample differences (movement is slow
        # at the sample rate): sigma of the 3-axis magnitude
        s = float(np.median(np.abs(np.diff(quiet, axis=0)), axis=0).mean()) / MAD_DIFF
        if s == 0.0 and w_pk == 0.0:
            # a rotation rate without even noise is a placeholder (a band or a file that
            # sends zeros where it has no gyroscope), not a forearm that did not turn
            return NAN, NAN, NAN
        s3 = max(s * math.sqrt(3.0), 1e-3)
        lever = v_pk / max(w_pk / DEG_PER_RAD, 1e-9)
        power = v_pk / cfg.limb_max_lever_m * DEG_PER_RAD / s3
        return lever, w_pk / s3, power

    def _moving(self, a: int, z: int, lo: int, seg_end: int,
                exclude: list[tuple[int, int]], before: bool) -> tuple[float, float]:
        """Posture steps (differences of consecutive block means of the raw acceleration)
        in [a, z): the share that moved (more than jerk_rest_step_g, or than
        jerk_rest_noise_k sigmas of a step of noise), and the net change they add up to
        (g). Blocks of an accepted jerk, from jerk_rest_excl_s before it to
        jerk_rest_relax_s after it, are left out."""
        cfg = self.cfg
        fs = self.fs
        bn = max(2, round(cfg.jerk_rest_block_s * fs))
        a, z = max(a, lo), min(z, seg_end)
        nb = (z - a) // bn
        if nb < 3:
            return NAN, NAN
        s0 = z - nb * bn if before else a  # blocks end at the pulse / start after it
        x = self.hist.get("acc", s0, s0 + nb * bn)
        if len(x) != nb * bn:
            return NAN, NAN
        # (np.mean's and np.diff's arithmetic without their Python wrappers)
        blocks = np.add.reduce(x.reshape(nb, bn, 3), axis=1) / bn
        d = blocks[1:] - blocks[:-1]
        step = np.sqrt(np.einsum("ij,ij->i", d, d))
        ok = np.ones(nb, dtype=bool)
        g = round(cfg.jerk_rest_excl_s * fs)
        g1 = round(cfg.jerk_rest_relax_s * fs)
        for j0, j1 in exclude:
            if j1 + g1 < s0 or j0 - g >= s0 + nb * bn:
                continue
            k0 = max(0, (j0 - g - s0) // bn)
            k1 = min(nb - 1, (j1 + g1 - s0) // bn)
            ok[k0: k1 + 1] = False
        valid = ok[1:] & ok[:-1]
        n_valid = int(np.count_nonzero(valid))
        if n_valid < 2:
            return NAN, NAN
        # noise of one block mean, from sample-to-sample differences (robust to the
        # movement, which is slow at the sample rate)
        sig = float(np.add.reduce(_col_medians(np.abs(x[1:] - x[:-1])))) / 3.0 / MAD_DIFF
        thr = max(cfg.jerk_rest_step_g, cfg.jerk_rest_noise_k * sig * math.sqrt(2.0 / bn))
        frac = float(np.count_nonzero(step[valid] > thr)) / float(n_valid)
        net = d[valid].sum(axis=0)
        return frac, math.sqrt(float(net.dot(net)))  # (np.linalg.norm's arithmetic)


def _angle_deg(g0: np.ndarray, g1: np.ndarray) -> float:
    # (np.linalg.norm's, np.clip's and np.degrees's arithmetic without their wrappers)
    n0, n1 = math.sqrt(float(g0.dot(g0))), math.sqrt(float(g1.dot(g1)))
    c = float(g0 @ g1 / max(n0 * n1, 1e-12))
    if not math.isnan(c):
        c = min(1.0, max(-1.0, c))
    return float(np.arccos(c)) * (180.0 / math.pi)


def _white_noise_gain(sos: np.ndarray, fs: float) -> float:
    """RMS gain of a filter for white noise: the root energy of its impulse response."""
    h = sosfilt(sos, np.r_[1.0, np.zeros(max(64, int(2 * fs)))])[0]
    return float(np.sqrt(np.sum(h * h)))


def _median(x: np.ndarray) -> float:
    """Median via partition (np.median's overhead dominates on short arrays)."""
    k = len(x) // 2
    p = np.partition(x, (k - 1, k) if len(x) % 2 == 0 else k)
    return float(p[k] if len(x) % 2 else 0.5 * (p[k - 1] + p[k]))


def _col_medians(x: np.ndarray) -> np.ndarray:
    """``np.median(x, axis=0)`` of a finite x without its overhead: the same order
    statistics, the mean of the middle two halving their sum."""
    n = len(x)
    k = n // 2
    if n % 2:
        return np.partition(x, k, axis=0)[k]
    p = np.partition(x, (k - 1, k), axis=0)
    return (p[k - 1] + p[k]) / 2.0


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


def _isfin(x: float) -> bool:
    return math.isfinite(x)


def classify_basic(f: BurstFeatures, cfg: AnalyzerConfig) -> str | None:
    """The reason a burst is not a jerk from its cheap features, or None."""
    if f.filled > 0.5 or f.after_gap:
        return "missing_data"
    if f.ctx_pre_s < cfg.jerk_need_pre_s or f.ctx_post_s < cfg.jerk_need_post_s:
        return "no_context"
    if (f.mf_peak_g < cfg.jerk_faint_min_peak_g) if f.faint else (
            f.peak_g < cfg.jerk_min_peak_g):
        return "small"
    if f.faint:
        # a matched-filter find is faint by nature: its surroundings must be noise
        # (both sides' median envelope near the floor, and the filter's own background
        # far below the find), not a weaker activity
        if max(x for x in (f.bg_pre, f.bg_post, f.floor_g) if _isfin(x)) > (
                cfg.jerk_faint_quiet * f.floor_g) or not (
                f.mf_chi2 >= cfg.jerk_mf_contrast * f.mf_bg):
            return "low_contrast"
    elif f.contrast < cfg.jerk_contrast:
        return "low_contrast"
    if f.dur_s > (cfg.jerk_max_s if f.n_phases == 1 else cfg.jerk_pulse_max_s):
        return "long"
    return None


def dominated(burst_s: float, dom: float, n_strong: int, cfg: AnalyzerConfig) -> bool:
    """A core that does not dominate its long burst (dom: its peak / the median envelope
    of the rest; n_strong: the rest's other excursions towards the peak): a stroke of a
    movement or of a scratching bout, not a jerk inside a movement."""
    return burst_s > cfg.movement_burst_s and (
        dom < cfg.jerk_dominance or (n_strong >= 1 and dom < cfg.jerk_dominance_alone))


def quiet_before(f: BurstFeatures, cfg: AnalyzerConfig) -> bool:
    """The surroundings before the pulse alone pass the contrast and quiet tests (what a
    cluster's next jerk after it may hide)."""
    if not _isfin(f.bg_pre):
        return False
    if f.faint:
        return f.bg_pre <= cfg.jerk_faint_quiet * f.floor_g
    return (f.peak_env >= cfg.jerk_contrast * max(f.bg_pre, f.floor_g)
            and f.bg_pre <= cfg.jerk_busy_frac * f.peak_env)


def rotation_confirmed(f: BurstFeatures, cfg: AnalyzerConfig) -> bool:
    """The gyroscope shows the forearm turning with the pulse, as a limb does."""
    return (_isfin(f.lever_m) and f.lever_m <= cfg.limb_max_lever_m
            and f.rot_snr >= cfg.limb_rot_confirm_snr)


def classify(f: BurstFeatures, fs: float, cfg: AnalyzerConfig) -> str:
    """'jerk' or the reason a burst is not one. Order: cheapest and surest first."""
    basic = classify_basic(f, cfg)
    if basic is not None:
        return basic
    angle = f.angle_deg if _isfin(f.angle_deg) else 0.0
    if (_isfin(f.lever_m) and f.rot_power >= cfg.limb_rot_min_snr
            and f.lever_m > cfg.limb_max_lever_m):
        return "no_rotation"
    if not rotation_confirmed(f, cfg):
        # (a faint pulse's own duration is the matched template's: noise blurs it)
        short = (f.mf_dur_s <= min(cfg.jerk_mf_durations_s) if f.faint
                 else f.pr_s <= cfg.impact_max_s)
        if (not f.faint and f.pr_s <= max(cfg.impulse_max_s, 1.5 / fs)
                and angle < cfg.impulse_max_turn_deg):
            return "impact"
        ring = _isfin(f.fcent_hz) and f.fcent_hz >= min(cfg.impact_fcent_hz,
                                                        cfg.impact_fcent_nyq * fs / 2)
        if short and ring and angle < cfg.impact_max_angle_deg:
            return "impact"
    if f.busy > cfg.jerk_busy_frac and not f.faint:
        return "busy"
    # (a multiphasic pulse must also stand alone: scratching strokes are multiphasic too,
    # and come in trains)
    if dominated(f.burst_s, f.dom_burst, f.n_strong, cfg) or (
            f.n_phases > 1 and f.ctx_peak >= cfg.jerk_strong_frac):
        return "movement"
    if (_isfin(f.rest_frac) and f.rest_frac >= cfg.jerk_rest_max_frac) or (
            _isfin(f.rest_net_g) and f.rest_net_g >= cfg.jerk_rest_max_net_g):
        return "not_at_rest"
    if f.hf_frac < cfg.smooth_hf_frac and f.peak_g < cfg.smooth_max_g:
        return "smooth"
    return "jerk"
