"""Checks of what enters the DSP: the configuration and the arrays given to ``feed``.

Errors name the parameter, the value and what is allowed. A wrong configuration is a
programming error and stops at construction; a bad *sample* is data and never stops the
stream (the conditioner drops it and counts it, see ``dsp/frontend.py``).
"""

from __future__ import annotations

import math
from dataclasses import fields
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .config import AnalyzerConfig

# ranges of AnalyzerConfig fields; a field named in none of these is a positive number
# (durations, rates, levels, ratios over a floor), an int field at least 1
_FRACTIONS = frozenset({  # shares, 0..1
    "timebase_step_frac", "jerk_release_frac", "jerk_core_frac", "impact_galign",
    "jerk_busy_frac", "smooth_hf_frac", "tail_frac", "jerk_activity_frac",
    "tremor_concentration", "tremor_strong_concentration", "tremor_max_filled",
    "tremor_irregular_max_masked", "tremor_edge_frac", "tremor_shadow_frac",
    "tremor_fundamental_ratio", "rest_low_frac", "move_active_frac",
    "tremor_pcv_min_cycle_frac",
})
_ZERO_OK = frozenset({  # may be 0 (a feature switched off, or no wait)
    "settle_s", "jerk_activity_skip_s", "tremor_gap_bridge_s", "hypnic_min_s",
    "sway_guard_s", "tremor_min_short_s", "tremor_pcv_noise",
})
_INT_MIN = {"rate_probe_samples": 2, "timebase_median_half": 0, "tremor_nfft": 16,
            "tremor_max_misses": 0, "tremor_max_neutral": 0, "tremor_pcv_min_crossings": 3}
_PERCENTS = frozenset({"noise_percentile"})
_PADS = frozenset({"tremor_search_pad_hz"})  # two non-negative widths


def _fail(name: str, value: Any, allowed: str, kind: type[Exception] = ValueError) -> None:
    raise kind(f"AnalyzerConfig.{name} = {value!r}: {allowed}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_)


def _is_real(v: Any) -> bool:
    return (isinstance(v, int | float | np.integer | np.floating)
            and not isinstance(v, bool | np.bool_))


def check_config(cfg: AnalyzerConfig) -> None:
    """Type and range of every field, then the relations between fields."""
    for f in fields(cfg):
        name, v, ann = f.name, getattr(cfg, f.name), str(f.type)
        if ann == "bool":
            if not isinstance(v, bool | np.bool_):
                _fail(name, v, "must be True or False", TypeError)
        elif ann == "int":
            if not _is_int(v):
                _fail(name, v, "must be an int", TypeError)
            lo = _INT_MIN.get(name, 1)
            if v < lo:
                _fail(name, v, f"must be an int >= {lo}")
        elif ann == "float":
            if not _is_real(v):
                _fail(name, v, "must be a real number", TypeError)
            if not math.isfinite(v):
                _fail(name, v, "must be finite")
            if name in _FRACTIONS:
                if not 0.0 <= v <= 1.0:
                    _fail(name, v, "must be a fraction in [0, 1]")
            elif name in _PERCENTS:
                if not 0.0 <= v <= 100.0:
                    _fail(name, v, "must be a percentile in [0, 100]")
            elif name in _ZERO_OK:
                if v < 0:
                    _fail(name, v, "must be >= 0")
            elif v <= 0:
                _fail(name, v, "must be > 0")
        elif ann == "tuple[float, ...]":  # a list of durations or widths: positive
            if (not isinstance(v, tuple) or not v
                    or not all(_is_real(x) and math.isfinite(x) and x > 0 for x in v)):
                _fail(name, v, "must be a non-empty tuple of finite numbers > 0", TypeError)
        elif ann.startswith("tuple["):
            if (not isinstance(v, tuple) or len(v) != 2
                    or not all(_is_real(x) and math.isfinite(x) for x in v)):
                _fail(name, v, "must be a tuple of two finite numbers", TypeError)
            if name in _PADS:
                if min(v) < 0:
                    _fail(name, v, "both widths must be >= 0")
            elif not 0 <= v[0] < v[1]:
                _fail(name, v, "must be a band (low, high) with 0 <= low < high")
    _check_relations(cfg)


def _check_relations(c: AnalyzerConfig) -> None:
    lo, hi = c.tremor_band_hz
    if not 0 < c.tremor_max_cut_frac < 0.5:
        _fail("tremor_max_cut_frac", c.tremor_max_cut_frac, "must lie in (0, 0.5): below "
              "the Nyquist frequency")
    if hi >= c.tremor_max_cut_frac * c.tremor_rate_hz:
        _fail("tremor_band_hz", c.tremor_band_hz, f"its top must stay below tremor_max_cut_"
              f"frac * tremor_rate_hz = {c.tremor_max_cut_frac * c.tremor_rate_hz:g} Hz "
              "(the decimated stream's usable band)")
    if not c.tremor_hp_hz < lo:
        _fail("tremor_hp_hz", c.tremor_hp_hz, f"must be below the tremor band's low edge "
              f"({lo:g} Hz)")
    if not c.tremor_lp_hz > hi:
        _fail("tremor_lp_hz", c.tremor_lp_hz, f"must be above the tremor band's top ({hi:g} Hz)")
    if c.tremor_hop_s > c.tremor_window_s:
        _fail("tremor_hop_s", c.tremor_hop_s, f"must not exceed tremor_window_s "
              f"({c.tremor_window_s:g} s): frames would skip samples")
    if c.tremor_min_short_s > c.tremor_min_s:
        _fail("tremor_min_short_s", c.tremor_min_short_s, f"must not exceed tremor_min_s "
              f"({c.tremor_min_s:g} s)")
    if not c.physiological_min_hz <= hi:
        _fail("physiological_min_hz", c.physiological_min_hz, f"must lie in the tremor band "
              f"(<= {hi:g} Hz)")
    if c.hypnic_min_s > c.hypnic_max_s:
        _fail("hypnic_min_s", c.hypnic_min_s, f"must not exceed hypnic_max_s "
              f"({c.hypnic_max_s:g} s)")
    if c.isolation_s > c.jerk_final_s:
        _fail("isolation_s", c.isolation_s, f"must not exceed jerk_final_s "
              f"({c.jerk_final_s:g} s): the final decision waits for the isolation window")


def _as_real_array(name: str, x: Any) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name}: dtype {arr.dtype} is not allowed; expected real numbers "
                         "(float or int)")
    return arr


def check_feed_input(t_s: Any, acc_g: Any, gyro_dps: Any
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The arrays given to ``Analyzer.feed``: t_s (n,), acc_g (n, 3), gyro_dps (n, 3) or
    None, real numbers. Returns them as arrays; non-finite values pass (the conditioner
    drops those samples and counts them)."""
    t = _as_real_array("t_s", t_s)
    if t.ndim != 1:
        raise ValueError(f"t_s has shape {t.shape}: expected a 1-D array (n,) of times in s")
    n = len(t)
    a = _as_real_array("acc_g", acc_g)
    _check_rows("acc_g", a, n)
    g = None
    if gyro_dps is not None:
        g = _as_real_array("gyro_dps", gyro_dps)
        _check_rows("gyro_dps", g, n)
    return t, a, g


def _check_rows(name: str, x: np.ndarray, n: int) -> None:
    if x.ndim == 2 and x.shape == (n, 3):
        return
    hint = ""
    if x.ndim == 2 and x.shape == (3, n):
        hint = " (it looks transposed: pass x.T)"
    raise ValueError(f"{name} has shape {x.shape}: expected (n, 3) = ({n}, 3), one row of "
                     f"x, y, z per time in t_s{hint}")
