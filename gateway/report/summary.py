"""The numbers a clinician reads first, computed from a Night (docs/report.md says how).

- Sleep and wake are the analyzer's per-second state, with one offline correction: the
  analyzer confirms a sleep onset after two minutes of settled stillness and dates it back
  to the end of the last movement; the seconds between are counted as sleep here.
- Time in bed is the recording's span (first to last sample): the band knows no lights-out.
- Rates per hour of wake (sleep) are the events that began in a wake (sleep) second,
  divided by the hours of wake (sleep).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from .night_model import (
    CLASSES,
    SLEEP,
    UNKNOWN,
    WAKE,
    Night,
    NightEvent,
    Onset,
    data_gaps,
    state_runs,
)

MIN_RATE_BASIS_S = 60.0  # a rate per hour of less than a minute of sleep (wake) means nothing
# A sleep start often wakes the sleeper for a moment (the analyzer allows 5 s of arousal):
# that movement can then be the "last movement" the onset is dated to, just after the jerk.
HYPNIC_BEFORE_ONSET_S = 60.0


@dataclass
class ClassCounts:
    total: int = 0
    wake: int = 0
    sleep: int = 0
    unscored: int = 0
    per_h_wake: float | None = None
    per_h_sleep: float | None = None
    per_h_all: float | None = None


@dataclass
class OnsetRow:
    onset: Onset
    hypnic: list[NightEvent]
    wake_before_s: float | None  # how long the wearer was awake before this onset


@dataclass
class Summary:
    in_bed_s: float
    recorded_s: float | None  # seconds with data
    sleep_s: float | None
    wake_s: float | None
    unscored_s: float | None
    missing_s: float | None
    first_sleep_s: float | None  # time (night base) of the first sleep onset
    sol_s: float | None
    waso_s: float | None
    awakenings: int | None
    efficiency: float | None
    counts: dict[str, ClassCounts]
    cluster_sizes: list[int]
    jerks_single: int
    onsets: list[OnsetRow]
    hypnic_elsewhere: list[NightEvent]
    hour_edges_s: np.ndarray  # per-hour bins on the night's time base
    per_hour: dict[str, np.ndarray]
    event_state: list[int]  # per event of night.events: WAKE, SLEEP, UNKNOWN
    gaps: list[tuple[float, float]] = field(default_factory=list)
    coverage: float | None = None


def sleep_states(night: Night) -> np.ndarray | None:
    """Per-second state with each onset's confirmation wait counted as sleep."""
    ep = night.epochs
    if ep is None:
        return None
    st = ep.state.copy()
    for o in night.onsets:
        if o.confirmed_s is None:
            continue
        a = int(np.searchsorted(ep.t_s, np.floor(o.start_s), "left"))
        b = int(np.searchsorted(ep.t_s, o.confirmed_s, "left"))
        seg = st[a:b]
        seg[seg != SLEEP] = SLEEP
    return st


def state_at(night: Night, states: np.ndarray | None, t_s: float) -> int:
    ep = night.epochs
    if ep is None or states is None or len(ep) == 0:
        return UNKNOWN
    i = int(np.searchsorted(ep.t_s, t_s, "right")) - 1
    return int(states[max(i, 0)])


def summarise(night: Night) -> Summary:
    from twitchwatch.dsp import AnalyzerConfig

    ep = night.epochs
    states = sleep_states(night)
    ev = night.events
    ev_state = [state_at(night, states, e.start_s) for e in ev]
    sleep_s = wake_s = unscored_s = recorded_s = missing_s = None
    waso = awakenings = coverage = None
    if ep is not None and states is not None:
        sleep_s = float(np.count_nonzero(states == SLEEP))
        wake_s = float(np.count_nonzero(states == WAKE))
        unscored_s = float(np.count_nonzero(states == UNKNOWN))
        recorded_s = float(np.sum(ep.coverage))
        missing_s = max(0.0, night.span_s - recorded_s)
        coverage = recorded_s / night.span_s if night.span_s > 0 else None
    first = night.onsets[0].start_s if night.onsets else None
    if first is not None and ep is not None and states is not None:
        after = ep.t_s >= first
        waso = float(np.count_nonzero(after & (states == WAKE)))
        runs = [r for r in state_runs(ep.t_s[after], states[after]) if r[2] == WAKE]
        awakenings = len(runs)
    counts = {k: ClassCounts() for k in CLASSES}
    for e, s in zip(ev, ev_state, strict=True):
        c = counts[e.kind]
        c.total += 1
        if s == WAKE:
            c.wake += 1
        elif s == SLEEP:
            c.sleep += 1
        else:
            c.unscored += 1
    for c in counts.values():
        if wake_s is not None and wake_s >= MIN_RATE_BASIS_S:
            c.per_h_wake = c.wake / (wake_s / 3600.0)
        if sleep_s is not None and sleep_s >= MIN_RATE_BASIS_S:
            c.per_h_sleep = c.sleep / (sleep_s / 3600.0)
        if night.span_s >= MIN_RATE_BASIS_S:
            c.per_h_all = c.total / (night.span_s / 3600.0)
    sizes, single = _clusters(ev)
    rows, elsewhere = _onsets(night, AnalyzerConfig().hypnic_max_s)
    edges = hour_edges(night)
    per_hour = {k: np.histogram([e.start_s for e in ev if e.kind == k], bins=edges)[0]
                for k in CLASSES} if len(edges) > 1 else {k: np.zeros(0, int) for k in CLASSES}
    span = night.span_s
    return Summary(
        in_bed_s=span, recorded_s=recorded_s, sleep_s=sleep_s, wake_s=wake_s,
        unscored_s=unscored_s, missing_s=missing_s, first_sleep_s=first,
        sol_s=None if first is None or ep is None else max(0.0, first - night.start_s),
        waso_s=waso, awakenings=awakenings,
        efficiency=None if sleep_s is None or span <= 0 else sleep_s / span,
        counts=counts, cluster_sizes=sizes, jerks_single=single, onsets=rows,
        hypnic_elsewhere=elsewhere, hour_edges_s=edges, per_hour=per_hour,
        event_state=ev_state, gaps=data_gaps(night), coverage=coverage)


def _clusters(events: list[NightEvent]) -> tuple[list[int], int]:
    """Sizes of the clusters of myoclonic jerks (two or more), and the single jerks."""
    groups: dict[int, int] = {}
    single = 0
    for e in events:
        if e.kind != "myoclonic_jerk":
            continue
        if e.cluster is None:
            single += 1
        else:
            groups[e.cluster] = groups.get(e.cluster, 0) + 1
    sizes = []
    for n in groups.values():
        if n >= 2:
            sizes.append(n)
        else:
            single += 1  # its partner was turned down later: alone after all
    return sorted(sizes, reverse=True), single


def _onsets(night: Night, window_s: float) -> tuple[list[OnsetRow], list[NightEvent]]:
    """Each onset with the hypnic jerks of its falling-asleep window: the analyzer calls a
    jerk hypnic up to ``window_s`` after the wake period's last movement, and an arousal
    after the jerk can date the onset itself a little after it."""
    rows = []
    prev_end = night.start_s
    ep = night.epochs
    states = sleep_states(night)
    for o in night.onsets:
        wake_before = None
        if ep is not None and states is not None:
            sel = (ep.t_s >= prev_end) & (ep.t_s < o.start_s)
            wake_before = float(np.count_nonzero(states[sel] == WAKE))
        rows.append(OnsetRow(o, [], wake_before))
        prev_end = o.start_s
    elsewhere = []
    starts = [r.onset.start_s for r in rows]
    for e in night.events:
        if e.kind != "hypnic_jerk":
            continue
        i = int(np.searchsorted(starts, e.start_s + HYPNIC_BEFORE_ONSET_S, "right")) - 1
        if i >= 0 and -HYPNIC_BEFORE_ONSET_S <= e.start_s - starts[i] <= window_s:
            rows[i].hypnic.append(e)
        else:
            elsewhere.append(e)
    return rows, elsewhere


def hour_edges(night: Night) -> np.ndarray:
    """Bin edges on the night's base: whole clock hours when the clock is known."""
    if night.span_s <= 0:
        return np.zeros(0)
    first = night.start_s
    c = night.clock(night.start_s)
    if c is not None:
        whole = c.replace(minute=0, second=0, microsecond=0)
        first = night.start_s - (c - whole) / dt.timedelta(seconds=1)
    n = int(np.ceil((night.end_s - first) / 3600.0 - 1e-9))
    return first + 3600.0 * np.arange(max(n, 1) + 1)
