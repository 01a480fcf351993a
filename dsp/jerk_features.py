"""What the classifier knows of a jerk candidate: :class:`Burst` (where the detector found
it, its core's peak, length and shape) and :class:`BurstFeatures`, computed from the
detector's history around it (:class:`BurstFeatureMixin`, part of
:class:`~dsp.jerks.JerkDetector`): contrast to its surroundings, the posture before and
after, whether the forearm was at rest before it, the spectrum of its peak, its share of
energy above the smooth-stroke band, the rotation with it where a gyroscope is present,
and how much of the segment surrounds it.

Most bursts fail a cheap test first (``features(..., full=False)``, then
``jerk_classify.classify_basic``); only the others get the rest (``complete``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .config import AnalyzerConfig
from .filters import History, Sos, col_medians, mean_rows, quick_median, sosfilt
from .jerk_mf import MatchedFilterBank

DEG_PER_RAD = 180.0 / np.pi
G_MS2 = 9.80665
# median |x - y| of two independent N(0, s^2) samples is 0.6745 * sqrt(2) * s
MAD_DIFF = 0.6745 * math.sqrt(2.0)
NAN = float("nan")


@dataclass
class BurstFeatures:
    """What the classifier knows of a burst. The first group is always filled; the rest
    only by ``features(..., full=True)`` or ``complete`` (nan until then)."""

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


class BurstFeatureMixin:
    """The feature computations of :class:`~dsp.jerks.JerkDetector`, on its history."""

    cfg: AnalyzerConfig
    fs: float
    hist: History
    mf: MatchedFilterBank
    hp_gyr: Sos | None
    hp_smooth_sos: np.ndarray
    hp_lead_n: int
    floor_per_sigma: float
    _cent: tuple[int, np.ndarray, float, int, int, np.ndarray]

    def noise_sigma(self, floor_g: float) -> float:
        """Per-axis white-noise sigma of the high-passed acceleration for a floor."""
        return floor_g / self.floor_per_sigma

    def _context_span(self) -> tuple[int, int]:
        """Samples of context either side of a burst, and of the guard next to it."""
        return (round(self.cfg.jerk_context_s * self.fs),
                round(self.cfg.jerk_context_guard_s * self.fs))

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
        n, guard = self._context_span()
        pre = h.get("env", max(lo, b.i0 - n), max(lo, b.i0 - guard))
        post_at = b.i1 + guard
        post = h.get("env", post_at, min(seg_end, b.i1 + n))
        keep_post = self._outside(post_at, len(post), later)
        if keep_post is not None:
            post = post[keep_post]
        floor = max(b.floor_g, 1e-4)
        min_n = fs * cfg.jerk_context_min_s
        bg_pre = quick_median(pre) if len(pre) > min_n else NAN
        bg_post = quick_median(post) if len(post) > min_n else NAN
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
                        bgs_mf.append(quick_median(st))
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
        n, guard = self._context_span()
        floor = f.floor_g
        # orientation before and after
        acc_pre = h.get("acc", max(lo, b.i0 - n), max(lo, b.i0 - guard))
        acc_post = h.get("acc", b.i1 + int(cfg.jerk_posture_after_s * fs),
                         min(seg_end, b.i1 + n))
        if len(acc_pre) and len(acc_post):
            f.angle_deg = _angle_deg(mean_rows(acc_pre), mean_rows(acc_post))
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
        sig = float(np.add.reduce(col_medians(np.abs(x[1:] - x[:-1])))) / 3.0 / MAD_DIFF
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
