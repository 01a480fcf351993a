"""What Analyzer.feed accepts: shapes and dtypes refused with a clear error; samples with
NaN/inf or implausible values dropped, counted and never the seed of an event."""

from __future__ import annotations

import numpy as np
import pytest

from tests.dsp_helpers import finals, run
from twitchwatch.dsp import Analyzer, Event


def _quiet(n: int, fs: float = 100.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    acc = np.tile([0.0, 0.0, 1.0], (n, 1)) + rng.normal(0, 0.003, (n, 3))
    return t, acc


def test_transposed_acceleration_is_refused() -> None:
    t, acc = _quiet(500)
    with pytest.raises(ValueError, match=r"acc_g has shape \(3, 500\): expected \(n, 3\) = "
                                         r"\(500, 3\).*transposed"):
        Analyzer().feed(t, acc.T)


@pytest.mark.parametrize(("t_shape", "a_shape", "g_shape", "match"), [
    ((100,), (100, 2), None, r"acc_g has shape \(100, 2\): expected \(n, 3\) = \(100, 3\)"),
    ((100,), (300,), None, r"acc_g has shape \(300,\)"),
    ((100,), (99, 3), None, r"acc_g has shape \(99, 3\): expected \(n, 3\) = \(100, 3\)"),
    ((100, 1), (100, 3), None, r"t_s has shape \(100, 1\): expected a 1-D array"),
    ((100,), (100, 3), (3, 100), r"gyro_dps has shape \(3, 100\).*transposed"),
    ((100,), (100, 3), (100, 3, 1), r"gyro_dps has shape \(100, 3, 1\)"),
])
def test_shapes(t_shape: tuple, a_shape: tuple, g_shape: tuple | None, match: str) -> None:
    g = None if g_shape is None else np.zeros(g_shape)
    with pytest.raises(ValueError, match=match):
        Analyzer().feed(np.zeros(t_shape), np.zeros(a_shape), g)


@pytest.mark.parametrize("bad", ["strings", "complex", "object"])
def test_dtypes(bad: str) -> None:
    t, acc = _quiet(10)
    a = {"strings": acc.astype(str), "complex": acc.astype(complex),
         "object": acc.astype(object)}[bad]
    with pytest.raises(ValueError, match=r"acc_g: dtype .* is not allowed; expected real"):
        Analyzer().feed(t, a)


def test_integer_arrays_and_lists_are_numbers() -> None:
    t, acc = _quiet(3000)
    out_f = run(t, acc)
    an = Analyzer()
    out_l = an.feed(t.tolist(), acc.tolist()) + an.finish()
    assert [e for e in out_l if isinstance(e, Event)] == [e for e in out_f
                                                         if isinstance(e, Event)]
    an = Analyzer()
    an.feed((t * 1000).astype(np.int64) / 1000, np.round(acc * 1000).astype(np.int32) // 1000)
    an.finish()
    assert an.rate_hz == pytest.approx(100.0)


def test_nonfinite_samples_are_dropped_and_counted_whatever_the_chunking() -> None:
    t, acc = _quiet(6000)
    acc[1000] = np.nan
    acc[2000:2005, 1] = np.inf
    t = t.copy()
    t[3000] = np.nan
    outs = []
    for chunk in (None, 7, 250):
        an = Analyzer()
        outs.append(run(t, acc, chunk=chunk, analyzer=an))
        assert an.input_stats["nonfinite"] == 7
        assert an.input_stats["filled"] == 7  # each one's place is a filled hole
        assert an.input_stats["implausible"] == 0
    assert outs[0] == outs[1] == outs[2]
    assert not finals(outs[0])


def test_nan_in_the_gyroscope_drops_the_sample() -> None:
    t, acc = _quiet(3000)
    gyro = np.zeros((3000, 3))
    gyro[100:110, 2] = np.nan
    an = Analyzer()
    run(t, acc, gyro, analyzer=an)
    assert an.input_stats["nonfinite"] == 10


def _jerky_tremor(fs: float = 100.0, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """60 s: a 60 mg, 5 Hz tremor from 10 to 40 s, a 0.8 g jerk at 50 s."""
    t, acc = _quiet(int(60 * fs), fs, seed)
    on = (t >= 10) & (t < 40)
    acc[on, 0] += 0.06 * np.sin(2 * np.pi * 5.0 * t[on])
    j = (t >= 50) & (t < 50.08)
    acc[j, 1] += 0.8 * np.sin(np.pi * (t[j] - 50) / 0.08)
    return t, acc


@pytest.mark.parametrize("where", [5.0, 25.0, 50.04])
def test_an_implausible_spike_yields_no_event(where: float) -> None:
    """A single 1e9 g sample (a corrupt packet) in stillness, inside a tremor or on a jerk:
    the analyzer reports what it would without it, never a 1e9 g event."""
    t, acc = _jerky_tremor()
    clean = finals(run(t, acc))
    bad = acc.copy()
    i = int(where * 100)
    bad[i] = [1e9, -1e9, 1e9]
    an = Analyzer()
    out = finals(run(t, bad, analyzer=an))
    assert an.input_stats["implausible"] == 1
    assert all(e.peak_g < 8.0 for e in out)
    assert [e.type for e in out] == [e.type for e in clean]
    for e, c in zip(out, clean, strict=True):
        assert abs(e.start - c.start) < 0.5 and abs(e.end - c.end) < 0.5


def test_an_implausible_rotation_rate_is_dropped() -> None:
    t, acc = _quiet(3000)
    gyro = np.zeros((3000, 3))
    gyro[1500] = [0.0, 5000.0, 0.0]
    an = Analyzer()
    out = finals(run(t, acc, gyro, analyzer=an))
    assert an.input_stats["implausible"] == 1
    assert not out


def test_a_run_of_garbage_is_a_hole() -> None:
    """0.3 s of saturated garbage (a bus fault) between still stretches: filled like a
    lost packet run, no event."""
    t, acc = _quiet(4000)
    acc[2000:2030] = 1e6
    an = Analyzer()
    out = finals(run(t, acc, analyzer=an))
    assert an.input_stats == {"time_not_advancing": 0, "nonfinite": 0, "implausible": 30,
                              "filled": 30, "segments": 1}
    assert not out
