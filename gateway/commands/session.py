"""What ``run`` and ``replay`` share: building sinks, the status line, a clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Iterator
from typing import Any

from ..pipeline import Session, Sink
from ..settings import Settings
from ..sinks.console import ConsoleSink, clock_text
from ..sinks.jsonl import JsonlEventSink

# What the status line's figures mean, printed once above it.
STATUS_LEGEND = ("status: the night's clock time, samples/s taken in, frames lost (notifications "
                 "lost on the air), samples missing (never received: lost frames and gaps in "
                 "the band's own stream), events so far")
EVENT_SHORT = {"myoclonic_jerk": "myoclonic", "hypnic_jerk": "hypnic", "tremor": "tremor",
               "sleep_onset": "sleep onset"}


class StatusLine:
    """The terminal's one-line summary: the night's clock, throughput, loss, events.

    ``clock_ns``: the newest sample's clock time (the band's time mapped to wall time, the
    same clock as the event lines), or None before any band's clock is known.
    """

    def __init__(self) -> None:
        self.session: Session | None = None
        self._last = (time.monotonic(), 0)
        self.rate = 0.0
        self.clock_ns: int | None = None

    def __call__(self) -> str:
        s = self.session
        if s is None:
            return "starting..."
        bands = list(s.bands.values())
        samples = sum(b.ingest.counters.samples for b in bands)
        frames = sum(b.ingest.counters.frames for b in bands)
        lost = sum(b.ingest.counters.frames_lost for b in bands)
        missing = sum(b.ingest.counters.samples_missing for b in bands)
        now = time.monotonic()
        t0, n0 = self._last
        if now - t0 >= 0.5:
            self.rate = (samples - n0) / (now - t0)
            self._last = (now, samples)
        clocks = [b.ingest.clock.to_wall_ns(b.ingest.last_t_s) for b in bands
                  if b.ingest.clock.ready and b.ingest.last_t_s is not None]
        self.clock_ns = max(clocks) if clocks else None
        counts: dict[str, int] = {}
        for b in bands:
            for k, v in b.event_counts.items():
                counts[k] = counts.get(k, 0) + v
        ev = ", ".join(f"{EVENT_SHORT.get(k, k)} {v}" for k, v in sorted(counts.items()))
        dropped = sum(ch.dropped for ch in s.channels)
        pct = 100.0 * lost / max(1, frames + lost)
        when = clock_text(self.clock_ns) if self.clock_ns is not None else "--:--:--"
        text = (f"{when}  {self.rate:7,.0f} samples/s  frames lost {lost:,} ({pct:.2f}%)  "
                f"samples missing {missing:,}  events: {ev or 'none'}")
        if dropped:
            text += f"  sink drops {dropped:,}"
        return text


def build_sinks(settings: Settings, events_path: Any, status: StatusLine | None,
                quiet: bool = False) -> list[Sink]:
    sinks: list[Sink] = []
    if events_path is not None:
        sinks.append(JsonlEventSink(events_path))
    if status is not None and not quiet:
        sinks.append(ConsoleSink(status))
    if settings.influx is not None:
        from ..sinks.influx import InfluxSink

        sinks.append(InfluxSink(settings.influx))
        if settings.influx.raw_samples:
            from ..sinks.influx_raw import InfluxRawSink

            sinks.append(InfluxRawSink(settings.influx))
    if settings.mqtt is not None:
        from ..sinks.mqtt import MqttSink

        sinks.append(MqttSink(settings.mqtt))
    return sinks


@contextlib.contextmanager
def stop_on_signals() -> Iterator[asyncio.Event]:
    """An event that SIGTERM or the first Ctrl-C sets (a second Ctrl-C interrupts at once).

    ``Session.run`` stops at once when it is set, wherever the source is, so the pipeline
    still finishes its bands and the sinks still write what they hold.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_sigint() -> None:
        stop.set()
        loop.remove_signal_handler(signal.SIGINT)

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, on_sigint)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        yield stop
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
            loop.remove_signal_handler(signal.SIGTERM)


def summary(session: Session) -> str:
    rows = []
    for name, b in session.bands.items():
        c = b.ingest.counters
        counts = b.event_counts
        ev = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "no events"
        rows.append(f"  {name}: {c.samples:,} samples ({c.samples_backlog:,} from backlog), "
                    f"{c.frames_lost} frames lost, {c.samples_missing:,} samples missing, "
                    f"{c.rejected_total} frames rejected; {ev}")
    for ch in session.channels:
        if ch.dropped:
            rows.append(f"  sink {ch.name}: dropped {ch.dropped} records ({ch.policy.value})")
    for name, n in session.sink_errors.items():
        if n:
            rows.append(f"  sink {name}: {n} failed writes (see the log)")
    return "\n".join(rows)
