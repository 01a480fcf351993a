"""Jerk or not: the tests of a burst's features, cheapest and surest first (docs/dsp.md,
section 2, the table of tests). ``classify_basic`` holds the cheap ones most bursts fail;
``dominated`` is also what the detector asks of a long burst's core, ``quiet_before`` what
the analyzer asks of a pulse turned down that may yet open a cluster.
"""

from __future__ import annotations

import math

from .config import AnalyzerConfig
from .jerk_features import BurstFeatures


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
