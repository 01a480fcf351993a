"""Events as CSV for spreadsheets: one row per event (and per sleep onset), in time order.

Columns (docs/report.md): ``clock_time`` (local, ``YYYY-MM-DD HH:MM:SS.mmm``, which
spreadsheets read as a date and time; empty when the clock is unknown), ``utc_offset``,
``elapsed_s`` and ``elapsed`` (since the start of the recording), ``class``,
``duration_s``, ``peak_g``, ``frequency_hz``, ``tremor_type``, ``sleep_state`` (awake,
asleep, not scored; empty without motion data), ``cluster`` (1, 2, ... for myoclonic jerks
that came in a cluster, numbered in order; empty for single jerks).
"""

from __future__ import annotations

import csv
import io
import pathlib

import numpy as np

from ..private_files import write_private
from ..report.night_model import CLASS_NAME, STATE_NAME, Night
from ..report.summary import sleep_states, state_at

COLUMNS = ("clock_time", "utc_offset", "elapsed_s", "elapsed", "class", "duration_s",
           "peak_g", "frequency_hz", "tremor_type", "sleep_state", "cluster")
ONSET_CLASS = "Sleep onset"


def _clock(night: Night, t_s: float, wall_ns: int | None) -> tuple[str, str]:
    import datetime as dt

    ns = wall_ns if wall_ns is not None else night.wall_ns(t_s)
    if ns is None:
        return "", ""
    c = dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).astimezone(night.tz)
    off = c.strftime("%z")
    return c.strftime("%Y-%m-%d %H:%M:%S.") + f"{c.microsecond // 1000:03d}", \
        f"{off[:3]}:{off[3:]}"


def _elapsed(s: float) -> str:
    s = max(0.0, s)
    h, r = divmod(s, 3600)
    m, sec = divmod(r, 60)
    return f"{int(h)}:{int(m):02d}:{sec:06.3f}"


def rows(night: Night) -> list[dict[str, str]]:
    states = sleep_states(night)
    clusters: dict[int, int] = {}
    sizes: dict[int, int] = {}
    for e in night.events:
        if e.kind == "myoclonic_jerk" and e.cluster is not None:
            sizes[e.cluster] = sizes.get(e.cluster, 0) + 1
    items: list[tuple[float, int, dict[str, str]]] = []
    for e in night.events:
        cl = ""
        if e.kind == "myoclonic_jerk" and e.cluster is not None and sizes[e.cluster] >= 2:
            cl = str(clusters.setdefault(e.cluster, len(clusters) + 1))
        items.append((e.start_s, 1, _row(night, states, e.start_s, e.wall_ns, {
            "class": CLASS_NAME[e.kind], "duration_s": f"{e.duration_s:.3f}",
            "peak_g": f"{e.peak_g:.4f}",
            "frequency_hz": "" if e.freq_hz is None else f"{e.freq_hz:.2f}",
            "tremor_type": e.tremor_type or "", "cluster": cl})))
    for o in night.onsets:
        items.append((o.start_s, 0, _row(night, states, o.start_s, o.wall_ns, {
            "class": ONSET_CLASS, "duration_s": "", "peak_g": "", "frequency_hz": "",
            "tremor_type": "", "cluster": ""})))
    return [r for _t, _k, r in sorted(items, key=lambda x: (x[0], x[1]))]


def _row(night: Night, states: np.ndarray | None, t_s: float, wall_ns: int | None,
         rest: dict[str, str]) -> dict[str, str]:
    clock, off = _clock(night, t_s, wall_ns)
    state = ""
    if night.epochs is not None:
        state = STATE_NAME[state_at(night, states, t_s)]
    return {"clock_time": clock, "utc_offset": off,
            "elapsed_s": f"{t_s - night.start_s:.3f}", "elapsed": _elapsed(t_s - night.start_s),
            **rest, "sleep_state": state}


def write_events_csv(night: Night, path: pathlib.Path) -> pathlib.Path:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows(night))
    return write_private(path, buf.getvalue())
