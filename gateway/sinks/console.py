"""Live progress in the terminal: events as they happen, and a status line.

One clock for both: the night's clock time, i.e. the band's own time mapped to wall time
(the clock model), in the local timezone, which the run command names once at the start.
A line with the date comes first and again whenever that clock passes midnight.

On a terminal the status line redraws in place every second; into a pipe or a file it
becomes a plain line every ``plain_every_s`` seconds, so logs stay readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

from ..records import EventRecord, Record, SleepOnsetRecord

LABELS = {"myoclonic_jerk": "myoclonic jerk", "hypnic_jerk": "hypnic jerk", "tremor": "tremor"}


def local_time(ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ns / 1e9).astimezone()


def clock_text(ns: int) -> str:
    """A clock time as the console shows it: HH:MM:SS, local time."""
    return local_time(ns).strftime("%H:%M:%S")


def zone_text(ns: int | None = None) -> str:
    """The local timezone at ``ns`` (default: now), e.g. "CET, UTC+01:00"."""
    t = local_time(ns if ns is not None else time.time_ns())
    off = t.strftime("%z")
    return f"{t.tzname()}, UTC{off[:3]}:{off[3:]}"


def date_line(ns: int) -> str:
    return f"-- {local_time(ns).strftime('%A %Y-%m-%d')} --"


def describe(r: EventRecord | SleepOnsetRecord) -> str:
    when = clock_text(r.start_ns)
    if isinstance(r, SleepOnsetRecord):
        return f"{when}  {r.band:<10} {'sleep onset':<15}"
    e = r.event
    text = f"{when}  {r.band:<10} {LABELS.get(e.type, e.type):<15} {e.end - e.start:6.2f} s" \
           f"  peak {e.peak_g:5.2f} g  conf {e.confidence:.2f}"
    if e.freq_hz is not None:
        text += f"  {e.freq_hz:4.1f} Hz"
    if e.tremor_type:
        text += f" ({e.tremor_type})"
    if e.cluster is not None:
        text += f"  cluster {e.cluster}"
    return text


class ConsoleSink:
    name = "console"
    accepts: tuple[type, ...] = (EventRecord, SleepOnsetRecord)
    queue_size = 1_000
    batch_max = 50
    batch_wait_s = 0.0

    def __init__(self, status: Callable[[], str], out: TextIO | None = None,
                 every_s: float = 1.0, plain_every_s: float = 10.0) -> None:
        self.status = status  # may have ``clock_ns``: the status line's clock time
        self.out = out if out is not None else sys.stdout
        self.tty = self.out.isatty()
        self.every_s = every_s if self.tty else plain_every_s
        self._task: asyncio.Task[None] | None = None
        self._line_len = 0
        self._date: dt.date | None = None  # the date last shown
        self._last_plain = ""  # into a pipe: the last line written (not written twice)

    async def __aenter__(self) -> ConsoleSink:
        self._task = asyncio.create_task(self._tick(), name="console-status")
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._print_status(final=True)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            self._print_status()

    def _date_first(self, ns: int | None) -> None:
        """The date line, when the clock at ``ns`` is on another date than last shown."""
        if ns is None or local_time(ns).date() == self._date:
            return
        self._date = local_time(ns).date()
        self._clear()
        self.out.write(date_line(ns) + "\n")

    def _print_status(self, final: bool = False) -> None:
        line = self.status()
        self._date_first(getattr(self.status, "clock_ns", None))
        if self.tty and not final:
            pad = max(0, self._line_len - len(line))
            self.out.write("\r" + line + " " * pad)
            self._line_len = len(line)
        elif self.tty or line != self._last_plain:
            self._clear()
            self.out.write(line + "\n")
            self._last_plain = line
        self.out.flush()

    def _clear(self) -> None:
        if self.tty and self._line_len:
            self.out.write("\r" + " " * self._line_len + "\r")
            self._line_len = 0

    async def write(self, batch: list[Record]) -> None:
        shown = [r for r in batch if isinstance(r, SleepOnsetRecord)
                 or (isinstance(r, EventRecord) and r.event.final)]
        if not shown:
            return
        self._clear()
        for r in shown:
            self._date_first(r.start_ns)
            self.out.write(describe(r) + "\n")
        self.out.flush()
