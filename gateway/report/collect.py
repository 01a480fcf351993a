"""Building a Night from what the pipeline or the analyzer emits.

``NightBuilder`` takes the gateway's records (events, sleep onsets, per-second epochs,
link health: the same records the sinks get, so a report made from a recording equals the
one ``run`` writes live) or the analyzer's own outputs with an optional wall clock (CSV).
``ReportSink`` is a sink that feeds one builder per band during ``run``.
"""

from __future__ import annotations

import datetime as dt
import statistics
from types import TracebackType

import numpy as np

from twitchwatch import dsp

from ..records import EpochRecord, EventRecord, LinkRecord, Record, SleepOnsetRecord
from .night_model import STATE_CODE, Epochs, Night, NightEvent, Onset, Quality

ANCHOR_EVERY_S = 60.0  # wall-clock anchors: the clock model changes slowly (drift, ppm)


class NightBuilder:
    def __init__(self, band: str) -> None:
        self.band = band
        self.events: list[NightEvent] = []
        self.onsets: list[Onset] = []
        self._t: list[float] = []
        self._state: list[int] = []
        self._cov: list[float] = []
        self._anchor_s: list[float] = []
        self._anchor_ns: list[int] = []
        self._next_anchor = -np.inf
        self.quality = Quality()
        self.first_sample_s: float | None = None
        self.last_sample_s: float | None = None

    # ------------------------------------------------------------------ inputs
    def add_record(self, r: Record) -> None:
        if isinstance(r, EventRecord):
            if r.event.final:
                self.add_event(r.event, r.start_ns)
        elif isinstance(r, EpochRecord):
            self.add_epoch(r.epoch, r.start_ns)
        elif isinstance(r, SleepOnsetRecord):
            self.add_onset(r.onset, r.start_ns)
        elif isinstance(r, LinkRecord):
            self.add_link(r)

    def add_event(self, e: dsp.Event, wall_ns: int | None = None) -> None:
        self.events.append(NightEvent(e.type, float(e.start), float(e.end), float(e.peak_g),
                                      e.freq_hz, e.tremor_type, e.cluster, wall_ns))

    def add_onset(self, o: dsp.SleepOnset, wall_ns: int | None = None) -> None:
        self.onsets.append(Onset(float(o.start), float(o.confirmed), wall_ns))

    def add_epoch(self, ep: dsp.Epoch, wall_ns: int | None = None) -> None:
        self._t.append(ep.start)
        self._state.append(STATE_CODE.get(ep.state, -1))
        self._cov.append(ep.coverage)
        if wall_ns is not None and ep.start >= self._next_anchor:
            self.anchor(ep.start, wall_ns)

    def anchor(self, t_s: float, wall_ns: int) -> None:
        self._anchor_s.append(t_s)
        self._anchor_ns.append(wall_ns)
        self._next_anchor = t_s + ANCHOR_EVERY_S

    def add_link(self, r: LinkRecord) -> None:
        q = self.quality
        q.frames, q.frames_lost, q.samples = r.frames, r.frames_lost, r.samples
        q.samples_missing, q.samples_late = r.samples_missing, r.samples_late
        q.rejected, q.reconnects = r.rejected, r.reconnects
        if r.battery_pct is not None:
            if q.battery_first_pct is None:
                q.battery_first_pct = r.battery_pct
            q.battery_last_pct = r.battery_pct
            q.battery_min_pct = min(r.battery_pct, q.battery_min_pct or r.battery_pct)
        if r.rssi_dbm is not None and r.reason != "periodic":
            q.rssi_dbm.append(r.rssi_dbm)  # RSSI is read at link events, not every second

    def add_outputs(self, outputs: list[dsp.Output], wall0_ns: int | None, t0_s: float) -> None:
        """The analyzer's outputs; wall times from ``wall0_ns`` at ``t0_s`` when known."""
        def wall(t: float) -> int | None:
            return None if wall0_ns is None else wall0_ns + round((t - t0_s) * 1e9)

        for o in outputs:
            if isinstance(o, dsp.Event):
                if o.final:
                    self.add_event(o, wall(o.start))
            elif isinstance(o, dsp.Epoch):
                self.add_epoch(o, wall(o.start))
            elif isinstance(o, dsp.SleepOnset):
                self.add_onset(o, wall(o.start))

    # ------------------------------------------------------------------ output
    def build(self, name: str, source: str, tz: dt.tzinfo, tz_name: str,
              motion: bool = True) -> Night:
        t = np.asarray(self._t, dtype=float)
        order = np.argsort(t, kind="stable")
        epochs = Epochs(t[order], np.asarray(self._state, dtype=np.int8)[order],
                        np.asarray(self._cov, dtype=np.float32)[order]) if motion else None
        times = [e.start_s for e in self.events] + [o.start_s for o in self.onsets]
        ends = [e.end_s for e in self.events] + [o.start_s for o in self.onsets]
        if len(t):
            start, end = float(t[order[0]]), float(t[order[-1]]) + 1.0
        elif times:
            start, end = min(times), max(ends)
        else:
            start = end = 0.0
        if self.first_sample_s is not None:
            start = self.first_sample_s
        if self.last_sample_s is not None:
            end = max(end, self.last_sample_s)
        q = self.quality
        if q.rssi_dbm:
            q.rssi_dbm = [int(statistics.median(q.rssi_dbm)), min(q.rssi_dbm), max(q.rssi_dbm)]
        return Night(name=name, band=self.band, source=source, tz=tz, tz_name=tz_name,
                     start_s=start, end_s=end,
                     events=sorted(self.events, key=lambda e: (e.start_s, e.kind)),
                     onsets=sorted(self.onsets, key=lambda o: o.start_s), epochs=epochs,
                     quality=q, anchor_s=np.asarray(self._anchor_s, dtype=float),
                     anchor_ns=np.asarray(self._anchor_ns, dtype=np.int64))


class ReportSink:
    """Collects the night during ``run``, so its report needs no second analysis."""

    name = "report"
    accepts: tuple[type, ...] = (EventRecord, EpochRecord, SleepOnsetRecord, LinkRecord)
    # One epoch and one link record per band-second: a few minutes of a fast run. The sink
    # only appends to lists, so in practice it never falls behind; drops are reported.
    queue_size = 200_000
    batch_max = 4096
    batch_wait_s = 0.2

    def __init__(self) -> None:
        self.builders: dict[str, NightBuilder] = {}

    async def __aenter__(self) -> ReportSink:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        return None

    async def write(self, batch: list[Record]) -> None:
        for r in batch:
            band = getattr(r, "band", "")
            b = self.builders.get(band)
            if b is None:
                b = self.builders[band] = NightBuilder(band)
            b.add_record(r)
