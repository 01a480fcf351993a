"""AnalyzerConfig checks every field's type and range at construction."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from twitchwatch.dsp import AnalyzerConfig


def test_defaults_are_valid_and_numpy_scalars_pass() -> None:
    cfg = AnalyzerConfig()
    assert dataclasses.replace(cfg, jerk_snr=np.float64(6.0)).jerk_snr == 6.0
    assert dataclasses.replace(cfg, tremor_nfft=np.int64(512)).tremor_nfft == 512
    # an int where a float is expected is a number all the same
    assert AnalyzerConfig(tremor_min_s=6).tremor_min_s == 6


@pytest.mark.parametrize(("field", "value", "allowed"), [
    ("tremor_window_s", -4.0, "must be > 0"),
    ("tremor_window_s", 0.0, "must be > 0"),
    ("jerk_snr", float("nan"), "must be finite"),
    ("gap_reset_s", float("inf"), "must be finite"),
    ("tremor_concentration", 1.5, "fraction in [0, 1]"),
    ("jerk_core_frac", -0.1, "fraction in [0, 1]"),
    ("noise_percentile", 120.0, "percentile in [0, 100]"),
    ("tremor_confirm_frames", 0, "int >= 1"),
    ("rate_probe_samples", 1, "int >= 2"),
    ("tremor_max_misses", -1, "int >= 0"),
    ("settle_s", -0.1, "must be >= 0"),
    ("tremor_band_hz", (12.0, 3.0), "0 <= low < high"),
    ("tremor_search_pad_hz", (-0.2, 0.5), "widths must be >= 0"),
])
def test_out_of_range_names_parameter_value_and_range(field: str, value: object,
                                                      allowed: str) -> None:
    with pytest.raises(ValueError) as err:
        AnalyzerConfig(**{field: value})
    msg = str(err.value)
    assert f"AnalyzerConfig.{field} = {value!r}" in msg
    assert allowed in msg


@pytest.mark.parametrize(("field", "value"), [
    ("tremor_window_s", "4"),
    ("tremor_window_s", None),
    ("jerk_snr", True),  # a bool is no number here
    ("tremor_nfft", 256.0),
    ("tremor_confirm_frames", 3.5),
    ("tremor_band_hz", [3.0, 12.0]),
    ("tremor_band_hz", (3.0, 12.0, 15.0)),
    ("move_slow_band_hz", (0.5, float("nan"))),
])
def test_wrong_types(field: str, value: object) -> None:
    with pytest.raises(TypeError, match=rf"AnalyzerConfig\.{field} = .*: must be"):
        AnalyzerConfig(**{field: value})


@pytest.mark.parametrize(("changes", "field", "allowed"), [
    ({"tremor_band_hz": (3.0, 14.0)}, "tremor_band_hz", "below tremor_max_cut_frac"),
    ({"tremor_rate_hz": 20.0}, "tremor_band_hz", "below tremor_max_cut_frac"),
    ({"tremor_hp_hz": 3.5}, "tremor_hp_hz", "below the tremor band's low edge"),
    ({"tremor_lp_hz": 11.0}, "tremor_lp_hz", "above the tremor band's top"),
    ({"tremor_hop_s": 5.0}, "tremor_hop_s", "must not exceed tremor_window_s"),
    ({"tremor_max_cut_frac": 0.5}, "tremor_max_cut_frac", "(0, 0.5)"),
    ({"tremor_min_short_s": 6.0}, "tremor_min_short_s", "must not exceed tremor_min_s"),
    ({"hypnic_min_s": 1000.0}, "hypnic_min_s", "must not exceed hypnic_max_s"),
    ({"isolation_s": 40.0}, "isolation_s", "must not exceed jerk_final_s"),
])
def test_relations_between_fields(changes: dict, field: str, allowed: str) -> None:
    with pytest.raises(ValueError) as err:
        AnalyzerConfig(**changes)
    assert f"AnalyzerConfig.{field} = " in str(err.value)
    assert allowed in str(err.value)


def test_replace_is_checked_too() -> None:
    with pytest.raises(ValueError, match="tremor_hold_prominence"):
        dataclasses.replace(AnalyzerConfig(), tremor_hold_prominence=-1.0)


def test_every_field_is_checked() -> None:
    """Each field refuses a value of the wrong type: none slips past the checks."""
    cfg = AnalyzerConfig()
    for f in dataclasses.fields(cfg):
        with pytest.raises((TypeError, ValueError), match=f"AnalyzerConfig.{f.name} = "):
            dataclasses.replace(cfg, **{f.name: "x"})
