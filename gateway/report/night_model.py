"""One night of one band, as the report and the exports see it.

Every time inside is in seconds on the night's own time base: the band's device time for a
recording or a CSV file (so events and samples line up exactly), wall time since the first
point for InfluxDB. ``clock()`` maps such a time to the wall clock through anchors taken
from the input (each per-second record carries both times), so a drifting band crystal is
followed exactly as the gateway's clock model stamped it.
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from ..errors import ConfigError

WAKE, SLEEP, UNKNOWN = 0, 1, -1
STATE_CODE = {"wake": WAKE, "sleep": SLEEP, "unknown": UNKNOWN}
JERKS = ("myoclonic_jerk", "hypnic_jerk")
CLASSES = ("myoclonic_jerk", "hypnic_jerk", "tremor")
# The words a clinician reads (no internal names in the report or the exports).
CLASS_NAME = {"myoclonic_jerk": "Myoclonic jerk", "hypnic_jerk": "Hypnic jerk",
              "tremor": "Tremor"}
CLASS_PLURAL = {"myoclonic_jerk": "Myoclonic jerks", "hypnic_jerk": "Hypnic jerks (sleep starts)",
                "tremor": "Tremor episodes"}
STATE_NAME = {WAKE: "awake", SLEEP: "asleep", UNKNOWN: "not scored"}
TREMOR_TYPE_NAME = {"rest": "rest (parkinsonian pattern)", "essential": "essential pattern",
                    "physiological": "physiological (enhanced)"}


@dataclass(frozen=True, slots=True)
class NightEvent:
    kind: str  # one of CLASSES
    start_s: float
    end_s: float
    peak_g: float
    freq_hz: float | None = None
    tremor_type: str | None = None
    cluster: int | None = None  # the DSP's cluster number (myoclonic jerks in a cluster)
    wall_ns: int | None = None  # the start, as the gateway stamped it

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class Onset:
    start_s: float  # the end of the wake period's last movement
    confirmed_s: float | None  # when the analyzer was sure (settled stillness)
    wall_ns: int | None = None


@dataclass
class Epochs:
    """The analyzer's per-second context: second start, sleep state, coverage (0-1)."""

    t_s: np.ndarray
    state: np.ndarray  # int8: WAKE, SLEEP, UNKNOWN
    coverage: np.ndarray

    def __len__(self) -> int:
        return len(self.t_s)


@dataclass
class Quality:
    """What is known about how the data came in (None: not known for this input)."""

    rate_hz: float | None = None
    has_gyro: bool | None = None
    samples: int | None = None
    frames: int | None = None
    frames_lost: int | None = None
    samples_missing: int | None = None
    samples_late: int | None = None
    rejected: int | None = None
    reconnects: int | None = None
    battery_first_pct: int | None = None
    battery_last_pct: int | None = None
    battery_min_pct: int | None = None
    rssi_dbm: list[int] = field(default_factory=list)
    records_dropped: int = 0  # records a live sink lost on the way (run's own report)
    notes: list[str] = field(default_factory=list)


@dataclass
class Night:
    name: str  # output file stem
    band: str
    source: str  # what it was made from, for the reader
    tz: dt.tzinfo
    tz_name: str
    start_s: float
    end_s: float
    events: list[NightEvent]
    onsets: list[Onset]
    epochs: Epochs | None  # None: events only (no motion data)
    quality: Quality
    anchor_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    anchor_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def has_clock(self) -> bool:
        return len(self.anchor_s) > 0

    @property
    def span_s(self) -> float:
        return max(0.0, self.end_s - self.start_s)

    def wall_ns(self, t_s: float) -> int | None:
        """Wall time (ns since the epoch) of a time on the night's base, or None."""
        a, w = self.anchor_s, self.anchor_ns
        if len(a) == 0:
            return None
        i = int(np.searchsorted(a, t_s, "right")) - 1
        i = min(max(i, 0), len(a) - 1)
        return int(w[i]) + round((t_s - float(a[i])) * 1e9)

    def clock(self, t_s: float) -> dt.datetime | None:
        ns = self.wall_ns(t_s)
        if ns is None:
            return None
        return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).astimezone(self.tz)

    def tz_label(self) -> str:
        """The zone, named, with its abbreviation and offset at the start of the night."""
        c = self.clock(self.start_s) or dt.datetime.now(self.tz)
        off = c.strftime("%z")
        off = f"UTC{off[:3]}:{off[3:]}" if off else "UTC"
        abbr = c.tzname() or ""
        parts = [p for p in (abbr if abbr not in (self.tz_name, off) else "", off) if p]
        return f"{self.tz_name} ({', '.join(parts)})" if parts else self.tz_name


def resolve_tz(name: str | None) -> tuple[dt.tzinfo, str]:
    """The report's time zone: ``name`` (an IANA zone such as Europe/Berlin), else this
    machine's own zone, by name where the system tells it."""
    if name:
        try:
            return ZoneInfo(name), name
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"time zone {name!r}: not a known IANA zone name "
                              f"(e.g. Europe/Berlin, America/New_York, UTC)") from None
    env = os.environ.get("TZ", "").lstrip(":")
    if env:
        try:
            return ZoneInfo(env), env
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        target = str(pathlib.Path("/etc/localtime").resolve())
        if "zoneinfo/" in target:
            zone = target.split("zoneinfo/", 1)[1]
            return ZoneInfo(zone), zone
    except (OSError, ZoneInfoNotFoundError, ValueError):
        pass
    local = dt.datetime.now().astimezone().tzinfo or dt.UTC
    return local, dt.datetime.now(local).tzname() or "local time"


def state_runs(t_s: np.ndarray, state: np.ndarray) -> list[tuple[float, float, int]]:
    """(start, end, state) runs of consecutive seconds; a missing second ends a run."""
    if len(t_s) == 0:
        return []
    brk = np.flatnonzero((np.diff(state) != 0) | (np.diff(t_s) > 1.5)) + 1
    starts = np.concatenate([[0], brk])
    ends = np.concatenate([brk, [len(t_s)]])
    return [(float(t_s[a]), float(t_s[b - 1]) + 1.0, int(state[a]))
            for a, b in zip(starts, ends, strict=True)]


def data_gaps(night: Night, min_s: float = 1.0) -> list[tuple[float, float]]:
    """(start, end) of stretches of the night with no data, from the per-second records."""
    ep = night.epochs
    if ep is None or len(ep) == 0:
        return []
    t = ep.t_s
    d = np.diff(t)
    out = [(float(t[i]) + 1.0, float(t[i + 1])) for i in np.flatnonzero(d > 1.5)]
    return [(a, b) for a, b in out if b - a >= min_s]
