"""The labelled synthetic generator: API, label schema, determinism, chunking."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from twitchwatch.gateway.synth import iter_synth_night, synth_night


def test_shapes_and_labels() -> None:
    r = synth_night(seed=1, duration_s=600, rate_hz=100, profile="mixed")
    assert r.t.dtype == np.float64 and r.t.ndim == 1
    assert r.acc_g.shape == (len(r.t), 3)
    assert r.gyro_dps is not None and r.gyro_dps.shape == (len(r.t), 3)
    lab = r.labels
    for key in ("rate_hz", "duration_s", "events", "confounders", "sleep", "sleep_onsets",
                "ignored_events", "gaps", "profile", "seed", "segment", "n_samples"):
        assert key in lab
    assert lab["n_samples"] == len(r.t)
    assert np.all(np.diff(r.t) > 0)
    # the sleep intervals tile the recording
    sleep = lab["sleep"]
    assert sleep[0]["start"] == 0.0 and sleep[-1]["end"] == 600
    for a, b in itertools.pairwise(sleep):
        assert a["end"] == b["start"]
    for e in lab["events"]:
        assert e["type"] in ("myoclonic_jerk", "hypnic_jerk", "tremor")
        assert e["end"] >= e["start"]
        assert (e["freq_hz"] is not None) == (e["type"] == "tremor")
    # a still wrist reads about 1 g
    assert 0.9 < float(np.median(np.linalg.norm(r.acc_g, axis=1))) < 1.1


def test_hypnic_rule_holds() -> None:
    """Every hypnic jerk lies in a sleep-onset window with no jerk within 30 s."""
    for seed in range(6):
        lab = synth_night(seed=seed, duration_s=1800, profile="myoclonus",
                          segment="onset").labels
        jerks = [e for e in lab["events"] if e["type"] != "tremor"]
        for e in jerks:
            if e["type"] != "hypnic_jerk":
                continue
            assert any(o["start"] <= e["start"] < o["end"] for o in lab["sleep_onsets"])
            assert all(abs(o["start"] - e["start"]) > 30 for o in jerks if o is not e)


def test_deterministic_and_rates() -> None:
    a = synth_night(seed=7, duration_s=300, rate_hz=50, gyro=False)
    b = synth_night(seed=7, duration_s=300, rate_hz=50, gyro=False)
    assert a.gyro_dps is None
    assert np.array_equal(a.t, b.t) and np.array_equal(a.acc_g, b.acc_g)
    assert a.labels == b.labels
    for rate in (50.0, 100.0, 200.0, 104.0):
        r = synth_night(seed=2, duration_s=120, rate_hz=rate, gaps=False, jitter_s=0.0)
        assert np.median(np.diff(r.t)) == pytest.approx(1 / rate, rel=1e-3)


def test_iterator_matches_whole() -> None:
    whole = synth_night(seed=3, duration_s=400, rate_hz=100)
    labels, chunks = iter_synth_night(seed=3, duration_s=400, rate_hz=100, chunk_s=120)
    parts = list(chunks)
    assert labels == whole.labels
    assert np.array_equal(np.concatenate([p[0] for p in parts]), whole.t)
    assert np.array_equal(np.concatenate([p[1] for p in parts]), whole.acc_g)


def test_options() -> None:
    r = synth_night(seed=4, duration_s=300, noise_g=0.02, mounting="standard", gaps=False,
                    segment="wake", profile="parkinson")
    assert r.labels["gaps"] == [] and r.labels["segment"] == "wake"
    with pytest.raises(ValueError):
        synth_night(seed=1, duration_s=60, profile="nope")
    with pytest.raises(TypeError):
        synth_night(seed=1, duration_s=60, bogus=1)
