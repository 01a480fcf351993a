"""A night whose every number is known by construction, and headless Chromium for pages.

The hand-made night (2 h, clock from 22:30 Europe/Berlin on 24 Nov 2026):

    seconds      0-59 not scored | 60-999 awake | onset 1000 (confirmed 1120) | asleep
    to 3599 | no data 3600-3659 | asleep 3660-4799 | awake 4800-5399 | onset 5400
    (confirmed 5520) | asleep to 7199

so (the confirmation waits count as sleep): in bed 7200 s, asleep 5540 s, awake 1540 s,
not scored 60 s, coverage 7140/7200, onset latency 1000 s, one awakening of 600 s.
Events: myoclonic jerks at 30 (not scored), 200, 300+303 (a cluster), 4900 (awake),
2000+2004+2007 (a cluster), 6000 (asleep); hypnic jerks at 1030 and 5450 (asleep, one per
onset); tremor 500-530 s (awake) and 6500-6560 s (asleep).
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import subprocess
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from bench.servers import find_binary
from twitchwatch.gateway.report.night_model import (
    SLEEP,
    UNKNOWN,
    WAKE,
    Epochs,
    Night,
    NightEvent,
    Onset,
    Quality,
)

TZ = "Europe/Berlin"
START = dt.datetime(2026, 11, 24, 22, 30, tzinfo=ZoneInfo(TZ))
EXPECT = {
    "in_bed_s": 7200.0, "sleep_s": 5540.0, "wake_s": 1540.0, "unscored_s": 60.0,
    "sol_s": 1000.0, "waso_s": 600.0, "awakenings": 1, "coverage": 7140 / 7200,
    "counts": {"myoclonic_jerk": (9, 4, 4, 1), "hypnic_jerk": (2, 0, 2, 0),
               "tremor": (2, 1, 1, 0)},  # total, awake, asleep, not scored
    "clusters": [3, 2], "single": 4,
    "per_hour": {"myoclonic_jerk": [4, 4, 1], "hypnic_jerk": [1, 0, 1], "tremor": [1, 0, 1]},
}


def hand_night(name: str = "hand") -> Night:
    t = np.concatenate([np.arange(0, 3600), np.arange(3660, 7200)]).astype(float)
    raw = np.full(len(t), SLEEP, dtype=np.int8)
    raw[t < 60] = UNKNOWN
    raw[(t >= 60) & (t < 1120)] = WAKE  # the analyzer says sleep once it is sure
    raw[(t >= 4800) & (t < 5520)] = WAKE
    ev = [NightEvent("myoclonic_jerk", s, s + 0.12, 0.5 + 0.1 * i, cluster=c)
          for i, (s, c) in enumerate([(30.0, None), (200.0, None), (300.0, 1), (303.0, 1),
                                      (2000.0, 2), (2004.0, 2), (2007.0, 2), (4900.0, None),
                                      (6000.0, None)])]
    ev += [NightEvent("hypnic_jerk", 1030.0, 1030.3, 1.4), NightEvent("hypnic_jerk", 5450.0,
                                                                       5450.25, 1.1)]
    ev += [NightEvent("tremor", 500.0, 530.0, 0.02, 5.2, "rest"),
           NightEvent("tremor", 6500.0, 6560.0, 0.015, 8.5, "essential")]
    ev.sort(key=lambda e: e.start_s)
    onsets = [Onset(1000.0, 1120.0), Onset(5400.0, 5520.0)]
    wall0 = int(START.timestamp() * 1e9)
    return Night(name=name, band="hand-band", source="a hand-made test night",
                 tz=ZoneInfo(TZ), tz_name=TZ, start_s=0.0, end_s=7200.0, events=ev,
                 onsets=onsets, epochs=Epochs(t, raw, np.ones(len(t), dtype=np.float32)),
                 quality=Quality(rate_hz=100.0, has_gyro=False, frames=1000, frames_lost=5,
                                 battery_first_pct=90, battery_last_pct=80,
                                 battery_min_pct=80),
                 anchor_s=np.array([0.0]), anchor_ns=np.array([wall0], dtype=np.int64))


def chromium() -> str:
    path = find_binary("chromium")
    if path is None:
        msg = "Debian's chromium is not installed (scripts/test installs it)"
        if os.environ.get("TWITCHWATCH_REQUIRE_SERVERS") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--hide-scrollbars"]


def run_chromium(args: list[str], page: pathlib.Path, profile: pathlib.Path
                 ) -> subprocess.CompletedProcess[str]:
    """Chromium on ``page`` with a fresh profile; stderr carries the console."""
    profile.mkdir(parents=True, exist_ok=False)
    return subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args,
                           page.resolve().as_uri()], capture_output=True, text=True,
                          timeout=180, stdin=subprocess.DEVNULL)


def console_lines(stderr: str) -> list[str]:
    """What the page said on its console: script errors, blocked loads, CSP violations."""
    return [ln for ln in stderr.splitlines() if ":CONSOLE" in ln]
