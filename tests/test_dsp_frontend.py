"""Input conditioning: rate from jittery timestamps, hole counting, segments, fills."""

from __future__ import annotations

import numpy as np
import pytest

from twitchwatch.dsp import AnalyzerConfig
from twitchwatch.dsp.frontend import Conditioner, estimate_period


def _stream(rate: float, seconds: float, jitter_s: float, holes: list[tuple[float, float]],
            seed: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    tt = np.arange(n) / rate
    keep = np.ones(n, dtype=bool)
    for a, b in holes:
        keep &= ~((tt >= a) & (tt < b))
    t = tt[keep] + rng.uniform(-jitter_s, jitter_s, keep.sum())
    acc = np.tile([0.0, 0.0, 1.0], (keep.sum(), 1)) + rng.normal(0, 0.01, (keep.sum(), 3))
    return t, acc, int(n - keep.sum())


@pytest.mark.parametrize("rate", [50.0, 100.0, 200.0, 104.0])
def test_period_with_jitter(rate: float) -> None:
    t, _, _ = _stream(rate, 10, 0.002, [(1.0, 1.2)])
    assert 1 / estimate_period(t[:256]) == pytest.approx(rate, rel=0.003)


@pytest.mark.parametrize("rate", [50.0, 100.0, 200.0])
def test_holes_counted_through_jitter(rate: float) -> None:
    # +/-2 ms of jitter is 40 % of a period at 200 Hz: consecutive differences fail there
    holes = [(3.0, 3.1), (5.0, 5.013), (7.0, 7.5), (9.0, 9.9), (20.0, 35.0)]
    t, acc, _ = _stream(rate, 60, 0.002, holes, seed=1)
    c = Conditioner(AnalyzerConfig())
    pieces = c.feed(t, acc, None) + c.flush()
    grid = np.arange(int(60 * rate)) / rate
    short = sum(int(((grid >= a) & (grid < b)).sum()) for a, b in holes if b - a <= 1.0)
    filled = sum(int(p.filled.sum()) for p in pieces)
    assert filled == short
    assert c.n_segments == 2  # the 15 s disconnect restarts everything
    assert sum(p.new_segment for p in pieces) == 2
    t_all = np.concatenate([p.t_s for p in pieces])
    assert np.all(np.diff(t_all) > 0)


def test_fill_is_smooth_and_flagged() -> None:
    t, acc, _ = _stream(100.0, 10, 0.0, [(4.0, 4.3)])
    acc[t >= 4.3] += [0.2, 0.0, 0.0]  # the arm moved while unseen
    c = Conditioner(AnalyzerConfig())
    p = [x for x in c.feed(t, acc, None) + c.flush()]
    a = np.concatenate([x.acc_g for x in p])
    f = np.concatenate([x.filled for x in p])
    assert f.sum() == 30
    hole = a[f]
    steps = np.abs(np.diff(hole[:, 0]))
    assert steps.max() < 0.02  # a ramp, not a step
    assert hole[0, 0] < 0.05 and hole[-1, 0] > 0.15


def test_gyro_presence_is_fixed_by_the_first_chunk() -> None:
    t, acc, _ = _stream(100.0, 5, 0.0, [])
    c = Conditioner(AnalyzerConfig())
    p = c.feed(t[:300], acc[:300], np.zeros((300, 3))) + c.feed(t[300:], acc[300:], None)
    p += c.flush()
    assert all(x.gyro_dps is not None for x in p)


@pytest.mark.parametrize("rate", [50.0, 200.0])
def test_pieces_do_not_depend_on_chunking(rate: float) -> None:
    # holes a few samples apart, +/-2 ms of jitter (40 % of a period at 200 Hz): a hole's
    # size is measured up to the next candidate, which a small chunk may not hold yet
    rng = np.random.default_rng(5)
    holes = [(a, a + float(rng.uniform(0.004, 0.3))) for a in np.arange(1.0, 118.0, 0.7)]
    holes += [(a + 0.03, a + 0.06) for a in np.arange(1.0, 118.0, 2.1)]
    t, acc, _ = _stream(rate, 120, 0.002, holes, seed=3)

    def pieces(chunks: list[int]) -> tuple[np.ndarray, ...]:
        c = Conditioner(AnalyzerConfig())
        out, i = [], 0
        for k in chunks:
            out += c.feed(t[i:i + k], acc[i:i + k], None)
            i += k
        out += c.feed(t[i:], acc[i:], None) + c.flush()
        return tuple(np.concatenate([getattr(p, f) for p in out])
                     for f in ("t_s", "acc_g", "filled"))

    whole = pieces([])
    assert whole[2].sum() > 100
    for chunks in ([1] * 3000, [7] * 2000, rng.integers(1, 40, 1000).tolist()):
        got = pieces(chunks)
        for x, y in zip(whole, got, strict=True):
            np.testing.assert_array_equal(x, y)
