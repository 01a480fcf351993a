"""How times, durations and numbers are written in the report and the exports."""

from __future__ import annotations

import datetime as dt

from .night_model import Night

DASH = "\u2013"  # an en dash: "no value", and ranges (02:30 - 03:30)


def duration(s: float | None) -> str:
    """``7 h 05 min``, ``14 min``, ``45 s``."""
    if s is None:
        return DASH
    s = max(0.0, float(s))
    if s < 90:
        return f"{s:.0f} s"
    m = round(s / 60.0)
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min"


def elapsed(s: float) -> str:
    """Elapsed time since the start of the recording: ``1:23:45``."""
    s = max(0.0, s)
    h, r = divmod(int(s), 3600)
    return f"{h}:{r // 60:02d}:{r % 60:02d}"


def clock(night: Night, t_s: float, seconds: bool = True) -> str:
    """Clock time of a time on the night's base, or the elapsed time when unknown."""
    c = night.clock(t_s)
    if c is None:
        return "+" + elapsed(t_s - night.start_s)
    return c.strftime("%H:%M:%S" if seconds else "%H:%M")


def night_date(night: Night) -> dt.date | None:
    """The evening a night belongs to: a recording that starts after midnight (before noon)
    belongs to the night of the day before, as sleep diaries count it."""
    c = night.clock(night.start_s)
    return None if c is None else (c - dt.timedelta(hours=12)).date()


def night_label(night: Night) -> str:
    d = night_date(night)
    return "clock time unknown" if d is None else f"night of {d.strftime('%a %d %b %Y')}"


def number(x: float | None, digits: int = 1) -> str:
    return DASH if x is None else f"{x:.{digits}f}"


def percent(x: float | None) -> str:
    return DASH if x is None else f"{100.0 * x:.1f} %"
