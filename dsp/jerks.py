"""Jerk candidates: short bursts of high-passed acceleration that stand out of the noise.

A myoclonic or hypnic jerk is a 40-500 ms pulse of limb acceleration (Shibasaki & Hallett
2005; the eval README). The detector is a CFAR-style energy detector: the 3-axis
high-passed acceleration is squared, smoothed over ``jerk_env_s`` and compared with a
running noise floor. Each burst then gets the features the classifier needs (shape,
contrast to its surroundings, orientation change, neighbours).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import AnalyzerConfig
from .filters import History, MovingMean, butter, rolling_quantile, running_max, sosfilt

G_DEG = 180.0 / np.pi
G_MS2 = 9.80665
# the envelope of white noise sits ~1.65 sigma above zero at its per-second median
ENV_FLOOR_PER_SIGMA = 1.65


@dataclass
class Burst:
    """A supra-threshold burst; indices are absolute sample indices of the stream."""

    i0: int
    i1: int  # last supra-threshold sample
    seg_start: int
    peak_env: float = 0.0
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
    after_gap: bool = False
    feats: dict[str, float] = field(default_factory=dict)
    stage: int = 0  # 0 closed, 1 noticed (early checks done), 2 classified
    local_ok: bool = False
    is_jerk: bool = False
    reason: str = ""
    noticed: bool = False


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
        # the 4 Hz high-pass of a burst is computed on demand, from its high-passed
        # samples starting ``hp4_lead_s`` before it (time for the filter to settle)
        self.hp4_sos = butter(2, 4.0, "highpass", fs, 3).sos
        self.env_mean = MovingMean(round(cfg.jerk_env_s * fs))
        self.block_n = max(1, round(fs))
        # a burst's core is looked for in its last core_search_s; features look
        # jerk_context_s around the core. Keep enough that no window is ever clipped
        # (clipping would make results depend on the chunking).
        self.core_search_n = round(cfg.core_search_s * fs)
        self.max_burst_n = max(1, round(cfg.max_burst_s * fs))
        keep = int((2 * cfg.jerk_context_s + cfg.core_search_s + 3.0) * fs)
        self.hist = History(keep=keep)
        self.n_floor_blocks = max(1, round(cfg.noise_window_s))
        self._blk_medians = np.zeros(0)
        self._floors: dict[int, float] = {}  # block index -> floor used for its samples
        self._next_block = 0  # first block whose median is not computed yet
        self.seg_start = 0
        self._open: Burst | None = None
        self._last_above = -1
        self.bursts: list[Burst] = []  # closed, not yet fully classified
        self.recent: list[Burst] = []  # classified bursts kept for train counting

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
        """The segment ended: close the open burst; context stops at the gap."""
        if self._open is not None:
            self._close(self._open)
            self._open = None

    def process(self, gi0: int, t: np.ndarray, acc: np.ndarray, filled: np.ndarray,
                gyro: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Detect bursts in this piece; returns the per-sample noise floor (g) and the
        mask of samples above the burst threshold."""
        hp = self.hp(acc)
        hpl = self.lp(hp) if self.lp is not None else hp
        env = np.sqrt(np.maximum(self.env_mean(np.einsum("ij,ij->i", hpl, hpl)), 0.0))
        if self.hp_gyr is not None:
            gy = gyro if gyro is not None else np.zeros_like(acc)
            self.hist.append(t=t, hp=hp, env=env, filled=filled, acc=acc, gyr=self.hp_gyr(gy))
        else:
            self.hist.append(t=t, hp=hp, env=env, filled=filled, acc=acc)
        floor = self._floors_for(gi0, len(t))
        thr = np.maximum(self.cfg.jerk_snr * floor, self.cfg.jerk_min_g)
        seg_pos = np.arange(gi0, gi0 + len(t)) - self.seg_start
        # a peak-hold over the last release_n samples (this piece's and the history's)
        w = self.release_n
        ext = np.concatenate([self.hist.get("env", max(gi0 - w + 1, self.seg_start), gi0), env])
        hold = running_max(ext, w)[len(ext) - len(env):]
        thr = np.maximum(thr, self.cfg.jerk_release_frac * hold)
        above = (env > thr) & (seg_pos >= int(self.cfg.settle_s * self.fs))
        self._track(gi0, above)
        return floor, above

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
                med = np.median(env.reshape(-1, b), axis=1)
            else:  # history shorter than the span (very large piece): per block
                med = np.array([np.median(self.hist.get("env", k * b, (k + 1) * b) if
                                          len(self.hist.get("env", k * b, (k + 1) * b)) else
                                          [np.nan]) for k in range(self._next_block, last_full)])
            floors, self._blk_medians = rolling_quantile(
                self._blk_medians, med, self.n_floor_blocks, self.cfg.noise_percentile / 100)
            # the floor of block k + 1 comes from the blocks up to k
            for k, f in zip(range(self._next_block + 1, last_full + 1),
                            np.concatenate([floors[1:], [_q_incl(self._blk_medians,
                                                                 self.cfg.noise_percentile)]]),
                            strict=True):
                self._floors[k] = float(f)
            self._next_block = last_full
        first_blk = gi0 // b
        idx = np.arange(gi0, end) // b - first_blk
        vals = np.array([self._floor_of(k) for k in range(first_blk, (end - 1) // b + 1)])
        for k in [k for k in self._floors if k < first_blk]:
            del self._floors[k]
        return vals[idx]

    def _floor_of(self, k: int) -> float:
        f = self._floors.get(k)
        if f is None or not np.isfinite(f):
            # before any complete block: a quiet MEMS floor; the absolute minimum rules
            return 0.0
        return f

    def floor_at(self, i: int) -> float:
        return self._floor_of(i // self.block_n)

    # ------------------------------------------------------------------ bursts
    def _track(self, gi0: int, above: np.ndarray) -> None:
        merge = max(1, round(self.cfg.jerk_merge_s * self.fs))
        idx = np.flatnonzero(above) + gi0
        end = gi0 + len(above)
        if len(idx):
            # split where the quiet stretch is at least `merge` samples
            cut = np.flatnonzero(np.diff(idx) > merge) + 1
            starts = np.concatenate([[0], cut])
            stops = np.concatenate([cut, [len(idx)]])
            for s, e in zip(starts.tolist(), stops.tolist(), strict=True):
                a, z = int(idx[s]), int(idx[e - 1])
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

    def _close(self, b: Burst) -> None:
        h = self.hist
        fs = self.fs
        a0 = max(b.i0, b.i1 + 1 - self.core_search_n)
        env = h.get("env", a0, b.i1 + 1)
        if len(env) == 0:
            return
        # the core: around the peak, down to a fraction of it. A jerk inside a voluntary
        # movement makes one long burst; its core is the jerk itself.
        k = int(np.argmax(env))
        level = max(self.cfg.jerk_core_frac * float(env[k]), self.floor_at(b.i0) * 2)
        below = env < level
        left = np.flatnonzero(below[:k])
        right = np.flatnonzero(below[k:])
        c0 = int(left[-1]) + 1 if len(left) else 0
        c1 = k + int(right[0]) - 1 if len(right) else len(env) - 1
        b.burst_s = (b.i1 - b.i0 + 1) / fs
        # the rest of the burst (within the searched span): a movement's level, or the
        # other strokes of a scratching bout
        rest = np.concatenate([env[:max(0, c0 - 2)], env[c1 + 3:]])
        b.rest_env = _median(rest) if len(rest) >= 3 else 0.0
        # other excursions of the burst to half the peak: strokes of a scratching bout
        strong = np.concatenate([env[:max(0, c0 - 2)], [0.0], env[c1 + 3:]]) > 0.5 * env[k]
        b.n_strong = int(np.count_nonzero(np.diff(strong.astype(np.int8)) == 1)
                         + (1 if len(strong) and strong[0] else 0))
        b.i0, b.i1 = a0 + c0, a0 + c1
        env = env[c0: c1 + 1]
        k -= c0
        hp = h.get("hp", b.i0, b.i1 + 1)
        t = h.get("t", b.i0, b.i1 + 1)
        b.peak_env = float(env[k])
        mag = np.sqrt(np.einsum("ij,ij->i", hp, hp))
        b.peak_g = float(mag.max())
        if self.lp_lag:
            pre = h.get("hp", max(b.i0 - self.lp_lag, b.seg_start), b.i0)
            if len(pre):
                b.peak_g = max(b.peak_g, float(np.sqrt(np.einsum("ij,ij->i", pre, pre)).max()))
        b.t_start, b.t_end, b.t_peak = float(t[0]), float(t[-1] + 1 / fs), float(t[k])
        pad = 2
        seg = h.get("hp", b.i0 - pad, b.i1 + 1 + pad)
        m = np.sqrt(np.einsum("ij,ij->i", seg, seg))
        b.pr_s = float(m.sum() ** 2 / max(float((m * m).sum()), 1e-18) / fs)
        b.filled_frac = float(h.get("filled", b.i0 - pad, b.i1 + 1 + pad).mean())
        # a hole just before the core: the pulse may be the arm's move during the hole
        b.after_gap = bool(h.get("filled", b.i0 - int(0.25 * fs), b.i0 + 1).any())
        b.floor_g = self.floor_at(b.i0)
        self.bursts.append(b)

    # ------------------------------------------------------------------ features
    def features(self, b: Burst, seg_end: int, full: bool = True) -> dict[str, float]:
        """Context features; uses samples up to ``seg_end`` (exclusive) of b's segment.
        ``full=False``: only the cheap ones that most bursts already fail."""
        h = self.hist
        fs = self.fs
        lo = b.seg_start
        n = round(self.cfg.jerk_context_s * fs)
        guard = round(0.25 * fs)
        pre = h.get("env", max(lo, b.i0 - n), max(lo, b.i0 - guard))
        post = h.get("env", b.i1 + guard, min(seg_end, b.i1 + n))
        floor = max(b.floor_g, 1e-4)
        bg_pre = _median(pre) if len(pre) > fs * 0.3 else np.nan
        bg_post = _median(post) if len(post) > fs * 0.3 else np.nan
        bgs = [x for x in (bg_pre, bg_post) if np.isfinite(x)]
        bg = min(bgs) if bgs else floor
        f: dict[str, float] = {
            "peak_g": b.peak_g, "peak_env": b.peak_env, "dur_s": b.t_end - b.t_start,
            "pr_s": b.pr_s, "floor_g": floor, "snr": b.peak_env / floor,
            "bg_pre": bg_pre, "bg_post": bg_post, "contrast": b.peak_env / max(bg, floor),
            "filled": b.filled_frac, "burst_s": b.burst_s, "after_gap": float(b.after_gap),
            "dom_burst": b.peak_env / max(b.rest_env, floor), "n_strong": float(b.n_strong),
            "busy": max([x for x in (bg_pre, bg_post) if np.isfinite(x)] or [0.0]) / b.peak_env,
        }
        if not full:
            return f
        # orientation before and after
        acc_pre = h.get("acc", max(lo, b.i0 - n), max(lo, b.i0 - guard))
        acc_post = h.get("acc", b.i1 + int(0.8 * fs), min(seg_end, b.i1 + n))
        if len(acc_pre) and len(acc_post):
            g0, g1 = acc_pre.mean(0), acc_post.mean(0)
            c = float(g0 @ g1 / max(np.linalg.norm(g0) * np.linalg.norm(g1), 1e-12))
            f["angle_deg"] = float(np.degrees(np.arccos(np.clip(c, -1, 1))))
        else:
            f["angle_deg"] = np.nan
        # shape of the core: characteristic frequency |da/dt| / (2 pi |a|) and the
        # number of sign changes along the dominant axis (an impact rings, a limb does not)
        core = h.get("hp", b.i0 - 1, b.i1 + 2)
        if len(core) >= 3:
            mag = np.sqrt(np.einsum("ij,ij->i", core, core))
            d = np.diff(core, axis=0) * fs
            f["fchar_hz"] = float(np.sqrt(np.einsum("ij,ij->i", d, d)).max()
                                  / max(2 * np.pi * float(mag.max()), 1e-12))
            u = np.linalg.svd(core - core.mean(0), full_matrices=False)[2][0]
            p = core @ u
            big = np.abs(p) > 0.2 * np.abs(p).max()
            s = np.sign(p[big])
            f["zc"] = float(np.count_nonzero(s[1:] != s[:-1]))
        else:
            f["fchar_hz"], f["zc"] = np.nan, np.nan
        # smooth voluntary strokes live below 4 Hz; a jerk's core mostly above
        pad = round(0.05 * fs)
        c1 = h.get("hp", b.i0 - pad, b.i1 + 1 + pad)
        lead = round(0.5 * fs)
        src = h.get("hp", max(lo, b.i0 - pad - lead), b.i1 + 1 + pad)
        c4 = sosfilt(self.hp4_sos, src)[0][len(src) - len(c1):]
        # minus the sensor noise's share (white noise is mostly above 4 Hz, which would
        # make a faint smooth movement in a noisy stream look sharp)
        var = 3.0 * (floor / (ENV_FLOOR_PER_SIGMA * self.noise_gain)) ** 2 * len(c1)
        e1 = float(np.einsum("ij,ij->", c1, c1)) - var * (1 - 2.0 * self.cfg.tremor_hp_hz / fs)
        e4 = float(np.einsum("ij,ij->", c4, c4)) - var * (1 - 8.0 / fs)
        f["hf_frac"] = max(0.0, e4) / max(e1, 1e-18)
        f["lever_m"] = self._lever(b) if self.hp_gyr is not None else np.nan
        if len(acc_pre):
            gdir = acc_pre.mean(0)
            gdir = gdir / max(float(np.linalg.norm(gdir)), 1e-12)
            seg = h.get("hp", b.i0 - 1, b.i1 + 2)
            tot = float(np.einsum("ij,ij->", seg, seg))
            f["galign"] = float(((seg @ gdir) ** 2).sum() / max(tot, 1e-18))
        else:
            f["galign"] = np.nan
        return f


    def _lever(self, b: Burst) -> float:
        """Lever arm (m) of the pulse as a rotation: the wrist's peak velocity change
        over the pulse / the peak rotation rate with it. A limb turning about the elbow or
        shoulder has one of 0.05-0.7 m; a pulse through the bed or a heel strike moves the
        arm without turning it (a long lever)."""
        pad = max(1, round(0.03 * self.fs))
        a = self.hist.get("hp", b.i0 - pad, b.i1 + 1 + pad)
        w = self.hist.get("gyr", b.i0 - pad, b.i1 + 1 + pad)
        if len(a) < 2 or len(w) != len(a):
            return float("nan")
        v = np.cumsum(a, axis=0) * (G_MS2 / self.fs)
        v_pk = float(np.sqrt(np.einsum("ij,ij->i", v, v)).max())
        w_pk = float(np.sqrt(np.einsum("ij,ij->i", w, w)).max()) / G_DEG
        return v_pk / max(w_pk, 1e-9)


def _white_noise_gain(sos: np.ndarray, fs: float) -> float:
    """RMS gain of a filter for white noise: the root energy of its impulse response."""
    h = sosfilt(sos, np.r_[1.0, np.zeros(max(64, int(2 * fs)))])[0]
    return float(np.sqrt(np.sum(h * h)))


def _median(x: np.ndarray) -> float:
    """Median via partition (np.median's overhead dominates on short arrays)."""
    k = len(x) // 2
    p = np.partition(x, (k - 1, k) if len(x) % 2 == 0 else k)
    return float(p[k] if len(x) % 2 else 0.5 * (p[k - 1] + p[k]))


def _q_incl(values: np.ndarray, pct: float) -> float:
    """The same order statistic as rolling_quantile, over all of ``values``."""
    if len(values) == 0:
        return float("nan")
    k = int(pct / 100 * (len(values) - 1))
    return float(np.partition(values, k)[k])


def classify_basic(f: dict[str, float], cfg: AnalyzerConfig) -> str | None:
    """The reason a burst is not a jerk from its cheap features, or None."""
    if f["filled"] > 0.5 or f["after_gap"]:
        return "missing_data"
    if f["peak_g"] < cfg.jerk_min_peak_g:
        return "small"
    if f["contrast"] < cfg.jerk_contrast:
        return "low_contrast"
    if f["dur_s"] > cfg.jerk_max_s:
        return "long"
    return None


def classify(f: dict[str, float], fs: float, cfg: AnalyzerConfig) -> str:
    """'jerk' or the reason a burst is not one. Order: cheapest and surest first."""
    basic = classify_basic(f, cfg)
    if basic is not None:
        return basic
    angle = f["angle_deg"] if np.isfinite(f["angle_deg"]) else 0.0
    galign = f["galign"] if np.isfinite(f["galign"]) else 0.0
    if f["pr_s"] <= max(cfg.impulse_max_s, 1.5 / fs) and angle < cfg.impulse_max_turn_deg:
        return "impact"
    if (f["fchar_hz"] >= min(cfg.impact_fchar_hz, 0.3 * fs) and f["pr_s"] <= cfg.impact_max_s
            and angle < cfg.impact_max_angle_deg
            and ((galign >= cfg.impact_galign and f["peak_g"] < cfg.impact_vertical_max_g)
                 or f["peak_g"] < cfg.impact_small_g)):
        return "impact"
    if f["pr_s"] <= cfg.impact_max_s and f.get("lever_m", np.nan) > cfg.limb_max_lever_m:
        return "translation"
    if f["busy"] > cfg.jerk_busy_frac:
        return "busy"
    if f["burst_s"] > cfg.movement_burst_s and (
            f["dom_burst"] < cfg.jerk_dominance
            or (f["n_strong"] >= 1 and f["dom_burst"] < cfg.jerk_dominance_alone)):
        return "movement"
    if f["hf_frac"] < cfg.smooth_hf_frac and f["peak_g"] < cfg.smooth_max_g:
        return "smooth"
    return "jerk"
