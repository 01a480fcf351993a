"""The streaming analyzer: chunking, rates, gaps, mounting, gyroscope, outputs."""

from __future__ import annotations

import numpy as np
import pytest

from tests.dsp_helpers import JERKS, finals, match_jerks, overlaps, run
from twitchwatch.dsp import Analyzer, AnalyzerConfig, Epoch, Event, Retraction, SleepOnset
from twitchwatch.gateway.synth import synth_night

# the DSP warns about nothing on normal input (numpy RuntimeWarnings are errors here)
pytestmark = pytest.mark.filterwarnings("error")


def _key(o: object) -> tuple[str, str]:
    return type(o).__name__, repr(o)


@pytest.fixture(scope="module")
def mixed() -> object:
    # jerks, tremor, scratching, taps, gaps and a sleep onset in ten minutes
    return synth_night(seed=21, duration_s=900, rate_hz=100, profile="mixed",
                       segment="onset", dropouts_per_min=2.0, disconnects_per_h=8.0)


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000])
def test_chunked_equals_whole(mixed, chunk: int) -> None:
    n = 30000 if chunk == 1 else len(mixed.t)  # chunks of 1: a shorter stretch (speed)
    t, a, g = mixed.t[:n], mixed.acc_g[:n], mixed.gyro_dps[:n]
    whole = run(t, a, g)
    parts = run(t, a, g, chunk=chunk)
    assert sorted(parts, key=_key) == sorted(whole, key=_key)


def test_random_chunks_and_ids(mixed) -> None:
    rng = np.random.default_rng(0)
    an = Analyzer()
    out: list = []
    i = 0
    while i < len(mixed.t):
        k = int(rng.integers(1, 300))
        out += an.feed(mixed.t[i:i + k], mixed.acc_g[i:i + k], mixed.gyro_dps[i:i + k])
        i += k
    out += an.finish()
    whole = run(mixed.t, mixed.acc_g, mixed.gyro_dps)
    assert sorted(out, key=_key) == sorted(whole, key=_key)
    # every final jerk/tremor had an early notice with the same id, emitted before it
    pos = {}
    for k, o in enumerate(out):
        if isinstance(o, Event):
            pos.setdefault((o.id, o.final), k)
    for (eid, final), k in pos.items():
        if final:
            assert (eid, False) in pos and pos[(eid, False)] < k, eid
    # ids are unique among final events and retractions refer to notices
    ids = [e.id for e in finals(out)]
    assert len(ids) == len(set(ids))
    notices = {o.id for o in out if isinstance(o, Event) and not o.final}
    assert all(r.id in notices for r in out if isinstance(r, Retraction))


@pytest.mark.parametrize("cadence", [
    {"feed_batch_s": 0.05, "tremor_batch_frames": 1, "context_batch_s": 0.5},
    {"feed_batch_s": 1.0, "tremor_batch_frames": 8, "context_batch_s": 30.0},
])
def test_stage_cadence_changes_nothing(mixed, cadence: dict) -> None:
    # the jerk stage runs every feed_batch_s, the tremor and context stages on what
    # accumulated: the outputs are those of the stages in lockstep (one call, the
    # default cadence), however far the jerk stage runs ahead of the others
    n = 60000
    t, a, g = mixed.t[:n], mixed.acc_g[:n], mixed.gyro_dps[:n]
    whole = run(t, a, g)
    assert sum(isinstance(o, Event) and o.final for o in whole) >= 5
    staged = run(t, a, g, chunk=18, analyzer=Analyzer(AnalyzerConfig(**cadence)))
    assert sorted(staged, key=_key) == sorted(whole, key=_key)


@pytest.mark.parametrize("chunk", [None, 997])
def test_without_epochs_the_same_outputs_but_epochs(mixed, chunk: int | None) -> None:
    # `analyze` asks for no epochs, and the context then skips what only epochs report
    # (activity, the tremor band's power): every other output must stay the same, or
    # offline and live would disagree
    t, a, g = mixed.t, mixed.acc_g, mixed.gyro_dps
    with_epochs = [o for o in run(t, a, g, chunk=chunk) if not isinstance(o, Epoch)]
    without = run(t, a, g, chunk=chunk, analyzer=Analyzer(epochs=False))
    assert not any(isinstance(o, Epoch) for o in without)
    assert any(isinstance(o, SleepOnset) for o in without)  # the context still ran
    assert sorted(without, key=_key) == sorted(with_epochs, key=_key)


def test_epochs_cover_the_recording(mixed) -> None:
    out = run(mixed.t, mixed.acc_g, mixed.gyro_dps)
    ep = [o for o in out if isinstance(o, Epoch)]
    keys = [e.start for e in ep]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert all(0.0 <= e.coverage <= 1.0 and e.state in ("wake", "sleep", "unknown") for e in ep)
    # seconds inside a long disconnect have no epoch at all
    for g0, g1 in mixed.labels["gaps"]:
        if g1 - g0 > 3:
            assert not any(g0 + 1 <= k < g1 - 1 for k in keys)
    # the sleep onset is found near the labelled one
    onsets = [o for o in out if isinstance(o, SleepOnset)]
    true = mixed.labels["sleep_onsets"]
    assert onsets and true
    assert min(abs(o.start - true[0]["start"]) for o in onsets) < 15


def test_no_event_across_a_long_gap(mixed) -> None:
    ev = finals(run(mixed.t, mixed.acc_g, mixed.gyro_dps))
    for g0, g1 in mixed.labels["gaps"]:
        if g1 - g0 <= 1.0:
            continue
        for e in ev:
            if e.type in JERKS:
                assert not (e.start < g1 and e.end > g0), (e, g0, g1)
                # no jerk made of the restart at the edges
                assert not (g1 <= e.start < g1 + 1.0), (e, g0, g1)


def test_disconnect_edges_invent_nothing() -> None:
    """A still wrist with disconnects (a posture step across each) yields no event."""
    fs = 100.0
    rng = np.random.default_rng(3)
    t = np.arange(0, 600, 1 / fs)
    acc = np.tile([0.1, 0.2, 0.97], (len(t), 1)) + rng.normal(0, 0.01, (len(t), 3))
    keep = np.ones(len(t), bool)
    for k, (a, b) in enumerate([(100, 105), (200, 230), (300, 300.4), (400, 402)]):
        keep &= ~((t >= a) & (t < b))
        acc[t >= b] += [0.05 * (-1) ** k, 0.0, -0.01]  # the arm moved while unseen
    out = run(t[keep], acc[keep])
    assert finals(out) == []


@pytest.mark.parametrize("rate", [50.0, 100.0, 200.0])
def test_rates(rate: float) -> None:
    r = synth_night(seed=31, duration_s=900, rate_hz=rate, profile="myoclonus",
                    segment="wake", noise_g=0.008)
    out = run(r.t, r.acc_g, r.gyro_dps)
    an = Analyzer()
    an.feed(r.t, r.acc_g)
    assert an.rate_hz == pytest.approx(rate, rel=0.01)
    true = [e for e in r.labels["events"] if e["type"] in JERKS]
    pred = [e for e in finals(out) if e.type in JERKS]
    tp, fp, fn = match_jerks(true, pred)
    assert len(true) >= 10
    assert tp >= 0.8 * len(true), (tp, fp, fn)
    assert fp <= max(2, 0.1 * len(true)), (tp, fp, fn)


def test_mounting_does_not_matter() -> None:
    """The same night, turned by a random rotation: the same events (within rounding)."""
    r = synth_night(seed=41, duration_s=900, profile="mixed", segment="wake")
    q = np.linalg.qr(np.random.default_rng(5).normal(size=(3, 3)))[0]
    base = finals(run(r.t, r.acc_g, r.gyro_dps))
    turned = finals(run(r.t, r.acc_g @ q.T, r.gyro_dps @ q.T))
    assert len(base) > 5
    assert [(e.type, round(e.start, 1)) for e in base] == \
        [(e.type, round(e.start, 1)) for e in turned]


def test_tremor_with_and_without_gyro() -> None:
    r = synth_night(seed=8, duration_s=1800, rate_hz=100, profile="parkinson",
                    segment="wake", noise_g=0.006)
    true = [e for e in r.labels["events"] if e["type"] == "tremor"]
    assert true
    for gyro in (r.gyro_dps, None):
        pred = [e for e in finals(run(r.t, r.acc_g, gyro)) if e.type == "tremor"]
        hit = 0
        for e in true:
            m = [p for p in pred if overlaps(e["start"], e["end"], p.start, p.end)
                 >= 0.5 * (e["end"] - e["start"])]
            if m:
                hit += 1
                assert m[0].freq_hz is not None
                assert abs(m[0].freq_hz - e["freq_hz"]) <= 0.2
                assert m[0].tremor_type in ("rest", "essential", "physiological")
        assert hit >= 0.8 * len(true)
        assert len(pred) <= len(true) + 1


def test_hypnic_jerks_at_sleep_onset() -> None:
    found = 0
    wrong = 0
    total = 0
    for seed in (3, 5, 11, 12):
        r = synth_night(seed=seed, duration_s=1800, profile="healthy", segment="onset")
        true = [e for e in r.labels["events"] if e["type"] == "hypnic_jerk"]
        ev = finals(run(r.t, r.acc_g, r.gyro_dps))
        hyp = [e for e in ev if e.type == "hypnic_jerk"]
        total += len(true)
        found += sum(1 for e in true if any(abs(p.start - e["start"]) <= 0.5 for p in hyp))
        wrong += sum(1 for p in hyp if not any(abs(p.start - e["start"]) <= 0.5 for e in true))
    assert total >= 3
    assert found >= total - 1 and wrong <= 1


def test_short_input_and_empty() -> None:
    an = Analyzer()
    assert an.feed(np.zeros(0), np.zeros((0, 3))) == []
    assert an.finish() == []
    t = np.arange(50) / 50.0
    out = run(t, np.tile([0, 0, 1.0], (50, 1)))
    assert all(not isinstance(o, Event) for o in out)


def test_time_going_backwards_is_dropped() -> None:
    t = np.arange(0, 60, 0.01)
    acc = np.tile([0, 0, 1.0], (len(t), 1)) + np.random.default_rng(1).normal(0, 0.005,
                                                                             (len(t), 3))
    t2 = t.copy()
    t2[3000:3005] = t2[2990]  # a stuck clock
    an = Analyzer()
    run(t2, acc, analyzer=an)
    assert an.cond.n_dropped == 5


def _pulse(t: np.ndarray, t0: float, dur: float, peak_g: float) -> np.ndarray:
    """A biphasic limb-jerk pulse (one sine cycle of acceleration) starting at t0."""
    x = (t - t0) / dur
    return np.where((x >= 0) & (x <= 1), peak_g * np.sin(2 * np.pi * x), 0.0)


def test_jerks_in_sustained_activity_are_withdrawn() -> None:
    """The same sharp pulses: at rest they are jerks; amid two minutes of continuous
    everyday arm movement (the arm turning back and forth) their notices are retracted."""
    fs = 100.0
    t = np.arange(0, 480, 1 / fs)
    rng = np.random.default_rng(3)
    # 60-240 s: the forearm keeps turning this way and that (+/- 10-20 deg, 0.1-0.5 Hz),
    # as in daytime use
    busy = (t >= 60) & (t < 240)
    ang = np.radians(8) * busy * (np.sin(2 * np.pi * 0.13 * t) + 0.7 * np.sin(
        2 * np.pi * 0.31 * t + 1.0) + 0.5 * np.sin(2 * np.pi * 0.47 * t + 2.0))
    acc = np.stack([np.sin(ang), np.zeros_like(t), np.cos(ang)], axis=1)
    starts = [*np.arange(95, 205, 9.0), *np.arange(300, 460, 9.0)]
    for t0 in starts:
        acc[:, 1] += _pulse(t, t0, 0.08, 0.8)
    acc += rng.normal(0, 0.005, acc.shape)
    out = run(t, acc)
    jerks = [e for e in finals(out) if e.type in JERKS]
    rest = [s for s in starts if s >= 300]
    assert match_jerks([{"start": s} for s in rest], jerks)[0] == len(rest)
    assert not any(60 <= e.start < 240 for e in jerks)
    notices = {o.id for o in out if isinstance(o, Event) and not o.final
               and o.type in JERKS and 90 <= o.start < 210}
    retracted = {o.id for o in out if isinstance(o, Retraction)}
    assert notices and notices <= retracted


def test_gyroscope_tells_a_limb_jerk_from_a_pulse_that_turns_nothing() -> None:
    """The same short horizontal pulses, once with the forearm turning with them (a limb
    rotation about the elbow, lever 0.3 m) and once without any rotation (a bump that moves
    the arm as a whole): with a gyroscope only the first are jerks."""
    fs = 100.0
    t = np.arange(0, 300, 1 / fs)
    rng = np.random.default_rng(4)
    acc = np.tile([0.0, 0.0, 1.0], (len(t), 1)) + rng.normal(0, 0.004, (len(t), 3))
    gyro = rng.normal(0, 0.1, (len(t), 3))
    turning = np.arange(20, 140, 12.0)
    still = np.arange(160, 280, 12.0)
    for t0 in [*turning, *still]:
        a = _pulse(t, t0, 0.05, 0.6)
        acc[:, 0] += a
        if t0 in turning:  # omega = v / r, v the integral of the tangential acceleration
            gyro[:, 1] += np.degrees(np.cumsum(a) * 9.80665 / fs / 0.3)
    jerks = [e for e in finals(run(t, acc, gyro)) if e.type in JERKS]
    assert match_jerks([{"start": s} for s in turning], jerks)[0] == len(turning)
    assert not any(e.start >= 155 for e in jerks)
    # without a gyroscope both kinds stay jerks (nothing tells them apart)
    plain = [e for e in finals(run(t, acc)) if e.type in JERKS]
    assert match_jerks([{"start": s} for s in [*turning, *still]], plain)[0] >= 18



@pytest.mark.parametrize("seed", [12, 16])
def test_weak_tremor_in_a_noisy_sensor(seed: int) -> None:
    """A 26 mg, 6.5 Hz tremor in a 50 Hz stream with 40 mg of white noise per axis is one
    episode, not fragments: its line holds most of the power above the noise floor, the
    noise's share of its cycle-period CV is taken out, and frames where it dips under the
    start threshold at its own frequency keep it going. Noise alone stays quiet."""
    fs = 50.0
    t = np.arange(0, 240, 1 / fs)
    rng = np.random.default_rng(seed)
    on = (t >= 60) & (t < 180)
    f_hz = 6.5 + 0.1 * np.sin(2 * np.pi * 0.05 * t)  # a little wander, as real tremor
    phase = 2 * np.pi * np.cumsum(f_hz) / fs
    acc = np.tile([0.0, 0.0, 1.0], (len(t), 1)) + rng.normal(0, 0.040, (len(t), 3))
    acc[:, 0] += 0.026 * on * np.sin(phase)
    tremor = [e for e in finals(run(t, acc)) if e.type == "tremor"]
    assert len(tremor) == 1
    e = tremor[0]
    assert overlaps(60, 180, e.start, e.end) >= 0.8 * 120
    assert e.freq_hz is not None and abs(e.freq_hz - 6.5) <= 0.2


def test_sensor_noise_alone_is_no_tremor() -> None:
    fs = 50.0
    t = np.arange(0, 1200, 1 / fs)
    for sigma_g in (0.005, 0.025, 0.060):
        acc = np.tile([0.0, 0.0, 1.0], (len(t), 1))
        acc += np.random.default_rng(7).normal(0, sigma_g, acc.shape)
        assert not [e for e in finals(run(t, acc)) if e.type == "tremor"]


def test_a_notice_coming_brings_the_short_cadence_back(mixed) -> None:
    # the stages run every feed_batch_s (0.4 s), but every feed_batch_pending_s (0.2 s)
    # while a burst is open or waits for its notice: the notices leave when they would
    # with the short cadence throughout, for about half the stage runs
    def stream(cfg: AnalyzerConfig) -> tuple[dict[str, float], int]:
        an = Analyzer(cfg)
        runs = 0
        feed = an.cond.feed

        def counted(*args):  # the conditioner runs once per run of the stages
            nonlocal runs
            runs += 1
            return feed(*args)

        an.cond.feed = counted  # type: ignore[method-assign]
        left: dict[str, float] = {}
        for i in range(0, len(mixed.t), 10):
            now = float(mixed.t[min(len(mixed.t), i + 10) - 1])
            for o in an.feed(mixed.t[i:i + 10], mixed.acc_g[i:i + 10], mixed.gyro_dps[i:i + 10]):
                if isinstance(o, Event) and not o.final:
                    left.setdefault(o.id, now)
        return left, runs

    default = AnalyzerConfig()
    assert default.feed_batch_s > default.feed_batch_pending_s
    left, runs = stream(default)
    short, short_runs = stream(AnalyzerConfig(feed_batch_s=default.feed_batch_pending_s))
    assert len(left) >= 5 and left.keys() == short.keys()
    assert all(left[k] <= short[k] for k in left), [(k, left[k], short[k]) for k in left]
    assert runs < 0.6 * short_runs
