"""The DSP raises no warnings: numpy's RuntimeWarnings (an all-NaN median, a mean of
nothing, a division by zero) are errors here."""

from __future__ import annotations

import numpy as np
import pytest

from tests.dsp_helpers import run
from twitchwatch.dsp import AnalyzerConfig, Retraction
from twitchwatch.dsp.tremor import TremorTracker
from twitchwatch.dsp.tremor_episodes import Episode
from twitchwatch.gateway.synth import synth_night

pytestmark = pytest.mark.filterwarnings("error")


def test_an_episode_without_any_period_cv_is_irregular() -> None:
    """Frames whose band-limited signal had too few zero crossings carry no period CV;
    an episode made only of such frames is judged irregular, silently."""
    tr = TremorTracker(AnalyzerConfig(), 100.0, has_gyro=False)
    ep = Episode(first=0, last=20, t_first=10.0, t_last=30.0, freqs=[5.0] * 21,
                 amps=[0.02] * 21, rest=[0.0] * 21, pcvs=[float("nan")] * 21,
                 proms=[100.0] * 21, confirmed=True, id="t14000")
    out = tr.episodes.finalize(ep)
    assert len(out) == 1 and isinstance(out[0], Retraction)


@pytest.mark.parametrize("gyro", [True, False])
def test_a_night_with_gaps_and_gyro_raises_nothing(gyro: bool) -> None:
    r = synth_night(seed=21, duration_s=900, rate_hz=200, profile="mixed", segment="onset",
                    gyro=gyro, dropouts_per_min=2.0, disconnects_per_h=8.0)
    run(r.t, r.acc_g, r.gyro_dps, chunk=997)


def test_degenerate_streams_raise_nothing() -> None:
    """Constant, stuck and saw-tooth streams (a band's test pattern), and a gyroscope that
    reads zeros, as the pipeline tests feed them."""
    fs = 200.0
    i = np.arange(int(60 * fs))
    t = i / fs
    const = np.tile([0.0, 0.0, 1.0], (len(t), 1))
    ph = i * 2 * np.pi / 200
    saw = np.stack([300 * np.sin(1.3 * ph), 200 * np.cos(0.7 * ph),
                    4096 + (i * 37) % 41 - 20], axis=1) / 4096
    gsaw = np.stack([120 * np.sin(5 * ph), i % 30011 - 15005,
                     (i * 7919) % 2001 - 1000], axis=1) * (2000 / 32768)
    for acc, gy in ((const, None), (const, np.zeros_like(const)), (saw, gsaw), (saw, None)):
        run(t, acc, gy, chunk=50)
    run(t[:3], const[:3])
