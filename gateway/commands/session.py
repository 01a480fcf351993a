"""What ``run`` and ``replay`` share: building sinks, the status line, a clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

from ..packets import Packet
from ..pipeline import Session, Sink
from ..settings import Settings
from ..sinks.console import ConsoleSink
from ..sinks.jsonl import JsonlEventSink


class StatusLine:
    """The terminal's one-line summary: night time, throughput, loss, events."""

    def __init__(self) -> None:
        self.session: Session | None = None
        self._last = (time.monotonic(), 0)
        self.rate = 0.0

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
        night_s = max((b.ingest.last_t_s or 0.0) for b in bands) if bands else 0.0
        counts: dict[str, int] = {}
        for b in bands:
            for k, v in b.event_counts.items():
                counts[k] = counts.get(k, 0) + v
        ev = " ".join(f"{k.split('_')[0]}:{v}" for k, v in sorted(counts.items())) or "none"
        dropped = sum(ch.dropped for ch in s.channels)
        pct = 100.0 * lost / max(1, frames + lost)
        h, rem = divmod(int(night_s), 3600)
        text = (f"night {h:02d}:{rem // 60:02d}:{rem % 60:02d}  {self.rate:9,.0f} samples/s  "
                f"frames lost {lost} ({pct:.2f}%)  samples missing {missing}  events {ev}")
        if dropped:
            text += f"  sink drops {dropped}"
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


async def until_stopped(packets: AsyncIterator[Packet]) -> AsyncIterator[Packet]:
    """Packets until the source ends or the user presses Ctrl-C once (a second one kills).

    A stop ends the stream cleanly, so the pipeline still finishes its bands and the
    sinks still write what they hold.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        stop.set()
        loop.remove_signal_handler(signal.SIGINT)

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, on_signal)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        async for p in packets:
            yield p
            if stop.is_set():
                break
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
