"""The jerk detector: impacts, faint jerks in noise, rest before a jerk, missing context."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.dsp_helpers import JERKS, finals, match_jerks, run
from twitchwatch.dsp import Analyzer, AnalyzerConfig, Event, Retraction
from twitchwatch.dsp.jerk_features import BurstFeatures
from twitchwatch.dsp.jerk_mf import MatchedFilterBank

pytestmark = pytest.mark.filterwarnings("error")

G = 9.80665
UP = np.array([0.2, 0.3, 0.93])


def _rest(seconds: float, fs: float, noise_g: float, seed: int,
          gyro_noise_dps: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A still forearm: gravity in a fixed posture, white sensor noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(0, seconds, 1 / fs)
    acc = np.tile(UP / np.linalg.norm(UP), (len(t), 1)) + rng.normal(0, noise_g, (len(t), 3))
    gyro = rng.normal(0, gyro_noise_dps, (len(t), 3))
    return t, acc, gyro


def _limb_jerk(t: np.ndarray, acc: np.ndarray, gyro: np.ndarray, t0: float, dur: float,
               peak_g: float, axis: int = 0, lever_m: float = 0.3) -> None:
    """A limb jerk: the forearm turns about the elbow and stops (a Hann pulse of rotation
    rate), so the wrist sees a smooth biphasic tangential acceleration and the gyroscope
    the rotation rate v / r."""
    x = (t - t0) / dur
    inside = (x >= 0) & (x <= 1)
    a = np.where(inside, peak_g * np.sin(2 * np.pi * x), 0.0)
    acc[:, axis] += a
    v = np.cumsum(a) * G * (t[1] - t[0])  # m/s
    gyro[:, (axis + 1) % 3] += np.degrees(v / lever_m)


def _knock(t: np.ndarray, acc: np.ndarray, t0: float, peak_g: float,
           ring_hz: float = 35.0, decay_s: float = 0.01) -> None:
    """A knock against the bed frame: a damped ringing of the band that starts at once,
    leaves the posture as it was and turns nothing."""
    x = t - t0
    on = x >= 0
    y = np.where(on, np.exp(-np.maximum(x, 0) / decay_s)
                 * np.sin(2 * np.pi * ring_hz * np.maximum(x, 0) + 0.6), 0.0)
    d = np.array([0.6, -0.5, 0.62])
    acc += peak_g * y[:, None] * d / np.linalg.norm(d)


def _jerk_events(out: list) -> list[Event]:
    return [e for e in finals(out) if e.type in JERKS]


@pytest.mark.parametrize("fs", [100.0, 200.0])
def test_a_knock_is_not_a_jerk_with_or_without_gyroscope(fs: float) -> None:
    """Ringing spikes of 0.3-1.5 g that turn nothing and leave the posture as it was are
    knocks: rejected with the gyroscope (no rotation with the pulse) and without it
    (short, ringing, no posture change). Limb jerks among them stay jerks."""
    t, acc, gyro = _rest(420, fs, 0.005, seed=1)
    knocks = np.arange(20, 200, 18.0)
    jerks = np.arange(215, 400, 18.0)
    for k, t0 in enumerate(knocks):
        _knock(t, acc, t0, 0.3 + 0.12 * k)
    for k, t0 in enumerate(jerks):
        _limb_jerk(t, acc, gyro, t0, 0.09 + 0.01 * (k % 4), 0.4 + 0.1 * k, axis=k % 3)
    for g in (gyro, None):
        ev = _jerk_events(run(t, acc, g))
        assert not [e for e in ev if e.start < 205], (g is None, ev)
        assert match_jerks([{"start": s} for s in jerks], ev)[0] == len(jerks)


def test_a_short_pulse_in_a_cluster_is_a_jerk() -> None:
    """A 30 ms pulse without posture change looks like an impact on its own; right after
    a clear jerk, or opening a cluster (a clear jerk follows within seconds), it is part
    of the cluster (myoclonic jerks come in clusters, knocks alone). The notice of a
    pulse that stays alone is retracted; one that opens a cluster is never retracted."""
    fs = 100.0
    t, acc, _ = _rest(420, fs, 0.005, seed=2)
    alone = [40.0, 80.0, 120.0]
    clear = [160.0, 200.0, 240.0]
    opening = [280.0, 320.0, 360.0]
    for t0 in alone:
        _knock(t, acc, t0, 0.8)
    gyro = np.zeros_like(acc)
    for t0 in clear:
        _limb_jerk(t, acc, gyro, t0, 0.12, 0.9)
        _knock(t, acc, t0 + 1.5, 0.8)
    for t0 in opening:
        _knock(t, acc, t0, 0.8)
        _limb_jerk(t, acc, gyro, t0 + 2.5, 0.12, 0.9)
    out = run(t, acc)
    ev = _jerk_events(out)
    assert not [e for e in ev if e.start < 150]
    assert match_jerks([{"start": s} for s in clear], ev)[0] == 3
    assert match_jerks([{"start": s + 1.5} for s in clear], ev)[0] == 3
    assert match_jerks([{"start": s} for s in [*opening, *(x + 2.5 for x in opening)]],
                       ev) == (6, 6, 0)
    # every jerk shares its cluster with the pulse that opened it or followed it
    assert len({e.cluster for e in ev}) == 6
    retracted = {o.id for o in out if isinstance(o, Retraction)}
    assert not retracted & {e.id for e in ev}
    noticed_alone = {o.id for o in out if isinstance(o, Event) and not o.final
                     and o.start < 150}
    assert noticed_alone and noticed_alone <= retracted
    # the same with any chunking
    for chunk in (13, 500):
        assert sorted(map(repr, run(t, acc, chunk=chunk))) == sorted(map(repr, out))


@pytest.mark.parametrize(("fs", "peak_g"), [(100.0, 0.15), (50.0, 0.2)])
def test_a_small_jerk_at_three_times_the_noise_is_found(fs: float, peak_g: float) -> None:
    """0.15 g jerks in a sensor with 50 mg of white noise per axis (3 sigma; at 50 Hz,
    with half the samples per pulse, 0.2 g) are under the energy detector's threshold;
    the matched filter finds them. The noise alone gives no jerk."""
    t, acc, gyro = _rest(600, fs, 0.05, seed=3)
    starts = np.arange(60, 560, 25.0)
    for k, t0 in enumerate(starts):
        _limb_jerk(t, acc, gyro, t0, 0.12 + 0.02 * (k % 4), peak_g, axis=k % 3)
    an = Analyzer()
    ev = _jerk_events(run(t, acc, analyzer=an))
    tp, fp, fn = match_jerks([{"start": s} for s in starts], ev)
    assert tp >= 0.8 * len(starts) and fp == 0, (tp, fp, fn)
    # the energy detector alone (the matched filter's prescreen disabled) misses most
    plain = _jerk_events(run(t, acc, analyzer=Analyzer(
        AnalyzerConfig(jerk_mf_prescreen=1e9))))
    assert match_jerks([{"start": s} for s in starts], plain)[0] < tp


@pytest.mark.parametrize("fs", [32.0, 50.0, 100.0, 200.0])
def test_white_noise_alone_gives_no_jerk(fs: float) -> None:
    """Twenty minutes of 40 mg white noise: the matched filter's false alarms are
    controlled (chi-square threshold, its own background around a find)."""
    t, acc, gyro = _rest(1200, fs, 0.04, seed=4)
    assert _jerk_events(run(t, acc, gyro)) == []


def test_a_jerk_at_the_start_of_a_short_trial_is_not_reported() -> None:
    """Trials of a few seconds separated by 5 s gaps (as in the real daily-activity
    recording): a pulse 1 s into a 4 s trial lacks the context that would tell a landing
    from a jerk, and no event is reported; the same pulse 10 s into a long trial is a
    jerk."""
    fs = 32.0
    parts = []
    t0 = 0.0
    for k, dur in enumerate([4.0, 4.0, 30.0, 4.0]):
        t, acc, gyro = _rest(dur, fs, 0.01, seed=10 + k)
        at = 1.0 if dur < 10 else 10.0
        _limb_jerk(t, acc, gyro, at, 0.15, 0.8)
        parts.append((t + t0, acc))
        t0 += dur + 5.0
    t = np.concatenate([p[0] for p in parts])
    acc = np.concatenate([p[1] for p in parts])
    out = run(t, acc)
    ev = _jerk_events(out)
    assert [round(e.start) for e in ev] == [28]  # the 30 s trial starts at 18 s
    # no early notice for the short trials either (nothing to retract)
    assert not [o for o in out if isinstance(o, Event | Retraction) and
                getattr(o, "start", getattr(o, "time", 0.0)) < 15]


def _minjerk_turn(t: np.ndarray, t0: float, t1: float, angle_deg: float) -> np.ndarray:
    s = np.clip((t - t0) / (t1 - t0), 0, 1)
    return np.radians(angle_deg) * (10 * s ** 3 - 15 * s ** 4 + 6 * s ** 5)


def test_a_landing_at_the_end_of_a_movement_is_not_a_jerk() -> None:
    """Sitting down: the forearm turns by 40 deg over 1.5 s and the movement ends in a
    sharp pulse (the body landing). The pulse comes amid movement, not out of rest; the
    same pulse after 20 s of rest is a jerk."""
    fs = 100.0
    t, acc, gyro = _rest(400, fs, 0.005, seed=5)
    ang = np.zeros_like(t)
    landings = np.arange(30, 180, 30.0)
    for t0 in landings:
        ang += _minjerk_turn(t, t0 - 1.6, t0 - 0.1, 40.0)
    g = np.stack([np.sin(ang), np.zeros_like(t), np.cos(ang)], axis=1)
    acc = acc - np.tile(UP / np.linalg.norm(UP), (len(t), 1)) + g
    rest_jerks = np.arange(220, 380, 30.0)
    for t0 in [*landings, *rest_jerks]:
        _limb_jerk(t, acc, gyro, t0, 0.1, 0.7, axis=1)
    ev = _jerk_events(run(t, acc, gyro))
    assert not [e for e in ev if e.start < 200], ev
    assert match_jerks([{"start": s} for s in rest_jerks], ev)[0] == len(rest_jerks)


def test_chunking_does_not_change_faint_or_context_decisions() -> None:
    """Faint jerks (matched filter), knocks, clusters and gaps: any chunking gives the
    same outputs."""
    fs = 100.0
    t, acc, gyro = _rest(240, fs, 0.04, seed=6)
    for k, t0 in enumerate(np.arange(20, 220, 14.0)):
        _limb_jerk(t, acc, gyro, t0, 0.12, 0.16 + 0.3 * (k % 3), axis=k % 3)
        if k % 2:
            _knock(t, acc, t0 + 1.2, 0.7)
    keep = ~(((t > 61) & (t < 64)) | ((t > 130) & (t < 130.4)))
    t, acc, gyro = t[keep], acc[keep], gyro[keep]
    whole = run(t, acc, gyro)
    assert _jerk_events(whole)
    for chunk in (7, 64, 1000):
        parts = run(t, acc, gyro, chunk=chunk)
        assert sorted(map(repr, parts)) == sorted(map(repr, whole)), chunk


def test_trace_records_the_features() -> None:
    t, acc, gyro = _rest(60, 100.0, 0.005, seed=7)
    _limb_jerk(t, acc, gyro, 30.0, 0.1, 0.6)
    an = Analyzer()
    an.trace = []
    run(t, acc, gyro, analyzer=an)
    rec = [r for r in an.trace if r["verdict"] == "jerk"]
    assert len(rec) == 1
    names = {f.name for f in dataclasses.fields(BurstFeatures)}
    assert names <= set(rec[0])
    assert rec[0]["lever_m"] < AnalyzerConfig().limb_max_lever_m
    assert rec[0]["rest_frac"] == 0.0


@pytest.mark.parametrize("fs", [32.0, 100.0, 200.0])
def test_matched_filter_statistic_is_chi_square_in_white_noise(fs: float) -> None:
    """Each duration's pair of templates is orthonormal and zero-mean, so in white noise
    its statistic has the chi-square(6) mean of 6 at every rate: the threshold means the
    same false-alarm rate whatever the sensor's noise."""
    bank = MatchedFilterBank(AnalyzerConfig().jerk_mf_durations_s, fs)
    tpl = bank.templates
    assert np.allclose(tpl.sum(axis=0), 0.0, atol=1e-9)
    for k in range(0, tpl.shape[1], 2):
        pair = tpl[:, k:k + 2]
        assert np.allclose(pair.T @ pair, np.eye(2), atol=1e-9)
    sigma = 0.03
    x = np.random.default_rng(8).normal(0, sigma, (200_000, 3))
    proj = np.lib.stride_tricks.sliding_window_view(x, bank.length, axis=0) @ tpl
    e = np.einsum("mak,mak->mk", proj, proj) / sigma ** 2
    pair_stat = e[:, 0::2] + e[:, 1::2]
    assert np.allclose(pair_stat.mean(axis=0), 6.0, rtol=0.05)
    # a pulse is estimated at its own size
    t = np.arange(0, 2.0, 1 / fs)
    clean = np.zeros((len(t), 3))
    xx = (t - 1.0) / 0.12
    clean[:, 1] = np.where((xx >= 0) & (xx <= 1), 0.3 * np.sin(2 * np.pi * xx), 0.0)
    chi2, peak, dur, _ = bank.best(clean + np.random.default_rng(9).normal(0, 0.005, clean.shape),
                                   0.005)
    assert chi2 > 1000 and 0.2 < peak < 0.36
    if fs >= 50:  # (at 32 Hz a 120 ms pulse is 4 samples: the short templates fit as well)
        assert 0.07 <= dur <= 0.2


def test_a_gyroscope_channel_of_zeros_is_no_gyroscope() -> None:
    """A band or file that sends zeros where it has no gyroscope says nothing about
    rotation: limb jerks are judged as without one. A real gyroscope (noisy) that shows no
    rotation with the same pulses turns them down: the band moved without the forearm
    turning."""
    t, acc, gyro = _rest(200, 100.0, 0.005, seed=11)
    starts = np.arange(20, 190, 17.0)
    moving = np.zeros_like(acc)
    for k, t0 in enumerate(starts):
        _limb_jerk(t, acc, moving, t0, 0.1, 0.6, axis=k % 3)
    zeros = np.zeros_like(acc)
    assert match_jerks([{"start": s} for s in starts],
                       _jerk_events(run(t, acc, zeros)))[0] == len(starts)
    assert _jerk_events(run(t, acc, gyro)) == []  # gyro: noise only, no rotation


def _phases(t: np.ndarray, acc: np.ndarray, t0: float,
            phases: list[tuple[float, float, int]]) -> float:
    """Contiguous phases of acceleration (half-sine lobes of the given duration, peak g
    with sign, axis), one after the other; returns the end time."""
    for dur, peak_g, axis in phases:
        x = (t - t0) / dur
        acc[:, axis] += np.where((x >= 0) & (x <= 1), peak_g * np.sin(np.pi * x), 0.0)
        t0 += dur
    return t0


def test_a_multiphasic_sleep_start_is_one_jerk_and_scratching_is_not() -> None:
    """A sleep start is often one whole-body jerk of several contiguous phases (a main
    one and smaller ones, 0.6 s in all, the posture shifted after it): it is one jerk,
    dated from its first phase, although its main phase does not dominate the burst.
    Scratching strokes are multiphasic too, but come in trains: a stroke followed by
    others of its size within a second or two stays no jerk."""
    fs = 100.0
    t, acc, _ = _rest(400, fs, 0.005, seed=12)
    starts = np.arange(30, 200, 40.0)
    for t0 in starts:
        end = _phases(t, acc, t0, [(0.2, 1.8, 0), (0.2, -2.7, 0), (0.2, 1.4, 0)])
        # the posture shifts by ~5 deg over the pulse
        s = np.clip((t - t0) / (end - t0), 0, 1)
        acc[:, 1] += 0.09 * (10 * s ** 3 - 15 * s ** 4 + 6 * s ** 5)
    for t0 in np.arange(220, 390, 40.0):
        # a single stroke, then a bout of four, 0.6 s later
        e = _phases(t, acc, t0, [(0.17, 0.9, 2), (0.17, -1.5, 2)])
        _phases(t, acc, e + 0.6, [(0.15, (-1) ** k * 1.4, 2) for k in range(8)])
    ev = _jerk_events(run(t, acc))
    assert match_jerks([{"start": s} for s in starts], ev, tol=0.1)[0] == len(starts)
    assert all(0.45 <= e.end - e.start <= 0.65 for e in ev if e.start < 200), ev
    assert not [e for e in ev if e.start > 200], ev
    # read as its main phase alone, the same pulse is a two-stroke movement
    single = Analyzer(AnalyzerConfig(jerk_pulse_max_s=0.1))
    assert not _jerk_events(run(t, acc, analyzer=single))


@pytest.mark.parametrize("fs", [100.0, 200.0])
def test_a_small_jerk_before_bigger_ones_of_its_cluster_is_found(fs: float) -> None:
    """A dense cluster: a small jerk 0.5 s before bigger ones. The bigger jerks' pulses
    and settling fill the surroundings after the small one (busy, or the matched filter's
    background raised), until they are accepted and left out of them: the small jerk is
    then found, in the same cluster, whatever the chunking. The same small pulse before a
    scratching bout stays no jerk, and the cluster's jerks are each found once."""
    t, acc, gyro = _rest(320, fs, 0.01, seed=13)
    small = np.arange(30, 150, 30.0)
    cluster = []
    for k, t0 in enumerate(small):
        _limb_jerk(t, acc, gyro, t0, 0.08, 0.16, axis=k % 3)
        for d, p in ((0.45, 1.5), (0.9, 0.5), (1.35, 1.2), (1.8, 0.8)):
            _limb_jerk(t, acc, gyro, t0 + d, 0.12, p, axis=(k + 1) % 3)
            cluster.append(t0 + d)
    for t0 in np.arange(180, 300, 30.0):
        _limb_jerk(t, acc, gyro, t0, 0.08, 0.16)
        _phases(t, acc, t0 + 0.5, [(0.15, (-1) ** k * 1.2, 1) for k in range(12)])
    out = run(t, acc, gyro)
    ev = _jerk_events(out)
    assert match_jerks([{"start": s} for s in [*small, *cluster]], ev) == (20, 0, 0), ev
    for t0 in small:
        assert len({e.cluster for e in ev if t0 - 1 < e.start < t0 + 2}) == 1
    assert sorted(map(repr, run(t, acc, gyro, chunk=37))) == sorted(map(repr, out))
    # (they are found only once the cluster's next jerks are left out of their
    # surroundings)
    an = Analyzer()
    an.trace = []
    run(t, acc, gyro, analyzer=an)
    opened = [r["t"] for r in an.trace if r["verdict"] == "cluster_opened"]
    assert match_jerks([{"start": s} for s in small],
                       [Event("", "", x, x, 0, 0) for x in opened])[0] == len(small)
