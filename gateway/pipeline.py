"""The gateway pipeline: source -> recording -> per band (ingest -> DSP) -> sinks.

``BandPipeline`` is synchronous and deterministic: the same packets give the same
records, live or replayed. ``Session`` is the asyncio shell around it: it owns one task
and one bounded channel per sink, so a slow sink only ever fills its own channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol

import numpy as np

from twitchwatch import dsp

from .channel import Channel, Closed, Policy
from .ingest import BandIngest, SampleBlock
from .packets import Kind, Packet
from .ratelog import RateLimitedLog
from .records import (
    EpochRecord,
    EventRecord,
    LinkRecord,
    RawSamplesRecord,
    Record,
    RetractionRecord,
    SleepOnsetRecord,
)
from .store.outbox import Outbox
from .store.recording import RecordingWriter

log = logging.getLogger(__name__)

# Device seconds between periodic link records: the dashboards show link quality per band
# per second (docs/storage.md); sinks that need less (MQTT status) thin them out.
LINK_STATS_EVERY_S = 1.0
# Packets are read from the source into a bounded queue and taken as batches: each band's
# DSP is fed once per batch. The analyzer's output does not depend on how its input is
# chunked, and its cost per call (~3 ms) is what an 18-sample frame at a time pays for.
INBOX_SIZE = 2048  # packets read ahead (backpressure: the source's own queue decides loss)
BATCH_MAX = 1024  # packets per batch: ~18,000 samples, one DSP call per band
# Live: after the first packet of a batch, what arrives within this long joins it. A real
# band sends a frame every 90-180 ms, so its events are late by at most this much; a
# simulated band at 960x fills a whole batch in that time.
BATCH_WAIT_S = 0.1
HOLD_MAX_SAMPLES = 1 << 16  # per band: the most samples held back for one DSP call
SINK_DRAIN_TIMEOUT_S = 30.0  # on exit, how long sinks may take to write what is queued
# Bands one session follows. A gateway has a handful; a damaged or crafted recording can
# name thousands (a slot rebound to a new name per record), each with its own analyzer.
MAX_BANDS = 64


class Sink(Protocol):
    """A consumer of records. Async context manager; ``write`` gets batches."""

    name: str
    accepts: tuple[type, ...]
    queue_size: int
    batch_max: int
    batch_wait_s: float

    async def __aenter__(self) -> Sink: ...

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None: ...

    async def write(self, batch: list[Record]) -> None: ...


def _int64s(values: list[int]) -> np.ndarray | None:
    """Arrival times as int64 (a recording stores them so), or None if one is beyond."""
    try:
        return np.array(values, np.int64)
    except OverflowError:
        return None


def _ms(ns: int) -> int:
    return (ns + 500_000) // 1_000_000 * 1_000_000


class BandPipeline:
    """One band: packets in, records out.

    ``coalesce_samples`` > 0 holds consecutive samples back for bigger DSP calls, up to
    that many or until ``flush()`` (the session flushes after each batch of packets). The
    analyzer's output does not depend on chunk size, and the clock model maps a time the
    same whenever it is asked, so the records are the same; only when they come out moves.
    ``raw_samples``: also emit every sample block as a ``RawSamplesRecord`` (off unless a
    sink takes them: the default path and the replay benchmark pay nothing for them).
    """

    def __init__(self, band: str, analyzer: dsp.Analyzer | None = None, *,
                 coalesce_samples: int = 0,
                 link_stats_every_s: float | None = LINK_STATS_EVERY_S,
                 raw_samples: bool = False, rlog: RateLimitedLog | None = None) -> None:
        self.band = band
        self.ingest = BandIngest(band, rlog)
        self.analyzer = analyzer if analyzer is not None else dsp.Analyzer()
        self.event_counts: dict[str, int] = {}  # final events by type
        self._coalesce = coalesce_samples
        self._held: list[SampleBlock] = []
        self._held_n = 0
        self._stats_every_s = link_stats_every_s
        self._next_stats_s: float | None = None
        # A time series point is its band and millisecond: InfluxDB keeps one of two link
        # records in the same ms (a periodic one on a whole second, from the clock model,
        # and a link event at its arrival can meet). Recent ones, to move a later one on.
        self._link_ms: deque[int] = deque(maxlen=16)
        self._raw = raw_samples
        self.raw_unstamped = 0  # samples not sent raw: no live frame had set the clock yet

    def push(self, p: Packet) -> list[Record]:
        out: list[Record] = []
        for block in self.ingest.push(p):
            if self._raw:
                out += self._raw_record(block)
            out += self._hold(block)
            out += self._periodic(float(block.t_s[-1]))
        if p.kind is Kind.LINK and self.ingest.clock.ready:
            out.append(self._link_record(str(self.ingest.link.get("event", "link")),
                                         p.recv_wall_ns))
        return out

    def push_many(self, packets: list[Packet]) -> list[Record]:
        """``push`` of each packet, in order (``push_records``: the same records)."""
        if len(packets) < 2:
            return [r for p in packets for r in self.push(p)]
        wall = _int64s([p.recv_wall_ns for p in packets])
        mono = _int64s([p.recv_mono_ns for p in packets])
        if wall is None or mono is None:
            return [r for p in packets for r in self.push(p)]
        lengths = np.fromiter((len(p.payload) for p in packets), np.int64, len(packets))
        offsets = np.cumsum(lengths) - lengths
        kinds = np.fromiter((int(p.kind) for p in packets), np.int64, len(packets))
        data = np.frombuffer(b"".join(p.payload for p in packets), np.uint8)
        return self.push_records(data, kinds, offsets, lengths, wall, mono,
                                 packets=packets)

    def push_records(self, data: np.ndarray, kinds: np.ndarray, offsets: np.ndarray,
                     lengths: np.ndarray, wall_ns: np.ndarray, mono_ns: np.ndarray, *,
                     packets: list[Packet] | None = None) -> list[Record]:
        """Packets as arrays (``BandIngest.push_records``): the records of ``push`` of
        each. A run of frames taken together ends where ``push`` of one frame would
        make a periodic link record, so that record and its counters are the same."""
        out: list[Record] = []
        ingest = self.ingest
        ingest.split_at_t_s = self._split_at()
        for item in ingest.push_records(data, kinds, offsets, lengths, wall_ns, mono_ns):
            if isinstance(item, SampleBlock):
                if self._raw:
                    out += self._raw_record(item)
                out += self._hold(item)
                out += self._periodic(float(item.t_s[-1]))
            else:
                if packets is not None:
                    p = packets[item]
                else:
                    o = int(offsets[item])
                    p = Packet(self.band, Kind(int(kinds[item])),
                               data[o:o + int(lengths[item])].tobytes(),
                               int(wall_ns[item]), int(mono_ns[item]))
                out += self.push(p)
            ingest.split_at_t_s = self._split_at()
        return out

    def _split_at(self) -> float | None:
        if self._stats_every_s is None:
            return None
        if self._next_stats_s is None:
            return -np.inf  # the first block with the clock ready sets it: one frame
        return self._next_stats_s

    def flush(self) -> list[Record]:
        """Feed the DSP what is held back."""
        return self._flush()

    def finish(self) -> list[Record]:
        out: list[Record] = []
        for block in self.ingest.drain():
            if self._raw:
                out += self._raw_record(block)
            out += self._hold(block)
        out += self._flush()
        out += self._convert(self.analyzer.finish())
        if self.ingest.clock.ready:
            out.append(self._link_record("end", self.ingest.last_recv_wall_ns))
        return out

    def _raw_record(self, b: SampleBlock) -> list[Record]:
        clock = self.ingest.clock
        if not clock.ready:  # backlog before any live frame: no mapping to wall time yet
            self.raw_unstamped += len(b.t_s)
            return []
        return [RawSamplesRecord(self.band, clock.to_wall_ns_array(b.t_s), b.acc_g,
                                 b.gyro_dps)]

    def _hold(self, b: SampleBlock) -> list[Record]:
        out: list[Record] = []
        if self._held and (self._held[0].gyro_dps is None) != (b.gyro_dps is None):
            out += self._flush()
        self._held.append(b)
        self._held_n += len(b.t_s)
        if self._held_n >= self._coalesce:
            out += self._flush()
        return out

    def _flush(self) -> list[Record]:
        if not self._held:
            return []
        held, self._held, self._held_n = self._held, [], 0
        if len(held) == 1:
            t, acc, gyro = held[0].t_s, held[0].acc_g, held[0].gyro_dps
        else:
            t = np.concatenate([b.t_s for b in held])
            acc = np.concatenate([b.acc_g for b in held])
            gyro = None if held[0].gyro_dps is None else np.concatenate(
                [b.gyro_dps for b in held if b.gyro_dps is not None])
        return self._convert(self.analyzer.feed(t, acc, gyro))

    def _wall(self, device_s: float) -> int:
        """Wall ns of a device time: the clock model, or before any live frame set it
        (backlog only) the arrival of the latest packet, the best there is."""
        if self.ingest.clock.ready:
            return self.ingest.clock.to_wall_ns(device_s)
        return self.ingest.last_recv_wall_ns

    def _periodic(self, t_last: float) -> list[Record]:
        every = self._stats_every_s
        if every is None or not self.ingest.clock.ready:
            return []
        if self._next_stats_s is None:
            self._next_stats_s = (t_last // every + 1) * every
        elif t_last >= self._next_stats_s:
            t_ns = self.ingest.clock.to_wall_ns(self._next_stats_s)
            self._next_stats_s = (t_last // every + 1) * every
            return [self._link_record("periodic", t_ns // 1_000_000_000 * 1_000_000_000)]
        return []

    def _convert(self, outputs: list[dsp.Output]) -> list[Record]:
        recs: list[Record] = []
        wall = self._wall
        for o in outputs:
            if isinstance(o, dsp.Event):
                if o.final:
                    self.event_counts[o.type] = self.event_counts.get(o.type, 0) + 1
                recs.append(EventRecord(self.band, o, _ms(wall(o.start)), _ms(wall(o.end))))
            elif isinstance(o, dsp.Epoch):
                recs.append(EpochRecord(self.band, o, _ms(wall(o.start))))
            elif isinstance(o, dsp.SleepOnset):
                self.event_counts["sleep_onset"] = self.event_counts.get("sleep_onset", 0) + 1
                recs.append(SleepOnsetRecord(self.band, o, _ms(wall(o.start))))
            elif isinstance(o, dsp.Retraction):
                recs.append(RetractionRecord(self.band, o, _ms(wall(o.time))))
        return recs

    def _link_record(self, reason: str, t_ns: int) -> LinkRecord:
        c, st, link = self.ingest.counters, self.ingest.status, self.ingest.link
        ms = t_ns // 1_000_000
        if ms in self._link_ms:
            ms = max(self._link_ms) + 1
            t_ns = ms * 1_000_000
        self._link_ms.append(ms)
        rssi = link.get("rssi")
        mtu = link.get("mtu")
        return LinkRecord(
            band=self.band, t_ns=t_ns, reason=reason,
            connected=bool(link.get("connected", link.get("event") != "disconnected")),
            frames=c.frames,
            frames_lost=c.frames_lost, samples=c.samples, samples_backlog=c.samples_backlog,
            samples_missing=c.samples_missing, samples_late=c.samples_late,
            rejected=c.rejected_total, reconnects=max(0, c.connects - 1),
            rssi_dbm=rssi if isinstance(rssi, int) else None,
            battery_pct=st.battery_pct if st is not None else None,
            mtu=mtu if isinstance(mtu, int) else (st.mtu if st is not None else None),
        )


@dataclass
class SessionStats:
    packets: int = 0
    started_mono_s: float = field(default_factory=time.monotonic)
    ended_mono_s: float | None = None


class Session:
    """Runs packets from a source through per-band pipelines into sinks.

    ``live=True``: sink channels drop their oldest item when full (ingestion never
    waits for a sink). ``live=False`` (replay from a file): they apply backpressure,
    so nothing is dropped and memory stays bounded by the channel sizes.
    """

    def __init__(self, sinks: list[Sink], *, recorder: RecordingWriter | None = None,
                 live: bool = True,
                 analyzer_factory: Callable[[], dsp.Analyzer] = dsp.Analyzer,
                 coalesce_samples: int | None = None, outbox: Outbox | None = None) -> None:
        self.sinks = sinks
        self.recorder = recorder
        # Final events are made durable here before any channel sees them; sinks with
        # ``durable = True`` call ``delivered(record)`` once a record is safe on their side.
        self.outbox = outbox
        self._inflight: dict[int, tuple[EventRecord, int]] = {}  # id(record) -> it, seq
        for sink in sinks:
            if getattr(sink, "durable", False):
                sink.delivered = self._acker(sink.name)  # type: ignore[attr-defined]
        self.live = live
        self.bands: dict[str, BandPipeline] = {}
        self.stats = SessionStats()
        self._analyzer_factory = analyzer_factory
        self._coalesce = HOLD_MAX_SAMPLES if coalesce_samples is None else coalesce_samples
        # Raw sample blocks only when a sink takes them (InfluxRawSink). That sink has its
        # own channel like every sink, so a raw backlog never pushes events out of another.
        self._raw = any(issubclass(RawSamplesRecord, t) for s in sinks for t in s.accepts)
        policy = Policy.DROP_OLDEST if live else Policy.BACKPRESSURE
        self.channels = [Channel[Record](s.name, s.queue_size, policy) for s in sinks]
        self.sink_errors = dict.fromkeys((s.name for s in sinks), 0)
        self.rlog = RateLimitedLog(log)
        self.internal_errors = 0  # packets an unforeseen exception stopped (a bug: logged)
        self.packets_refused = 0  # packets of bands beyond MAX_BANDS
        self._tasks: list[asyncio.Task[None]] = []
        self._entered: list[Sink] = []
        self._out: list[Record] = []

    async def __aenter__(self) -> Session:
        try:
            for s in self.sinks:
                await s.__aenter__()
                self._entered.append(s)
        except BaseException:
            await self._exit_sinks(None, None, None)
            raise
        self._tasks = [asyncio.create_task(self._drive(s, ch), name=f"sink-{s.name}")
                       for s, ch in zip(self.sinks, self.channels, strict=True)]
        if self.outbox is not None:
            await self._redeliver(self.outbox)
        return self

    async def _redeliver(self, outbox: Outbox) -> None:
        """Events an earlier run decided but did not deliver everywhere, to the sinks of
        this run that have their names (the events file: to the file it was meant for)."""
        from .sinks.jsonl import event_line

        missing: dict[str, int] = {}
        for p in outbox.recovered:
            for name in sorted(p.sinks):
                if name == "events-file" and p.file:
                    try:
                        with open(p.file, "a", encoding="utf-8") as f:
                            f.write(event_line(p.record))
                    except (OSError, ValueError) as e:
                        log.warning("outbox: event %s for %s not written (%s)",
                                    p.record.event.id, p.file, e)
                        continue
                    outbox.ack(p.seq, name)
                    continue
                chans = [ch for s, ch in zip(self.sinks, self.channels, strict=True)
                         if s.name == name]
                if not chans:
                    missing[name] = missing.get(name, 0) + 1
                    continue
                self._inflight[id(p.record)] = (p.record, p.seq)
                with contextlib.suppress(Closed):
                    await chans[0].put(p.record)
        for name, n in missing.items():
            log.warning("outbox: %d event(s) wait for sink %s, which this run does not "
                        "have; they stay in %s", n, name, outbox.path)

    def _acker(self, sink_name: str) -> Callable[[Record], None]:
        def delivered(r: Record) -> None:
            got = self._inflight.get(id(r))
            if got is None or self.outbox is None:
                return
            self.outbox.ack(got[1], sink_name)
            if got[1] not in self.outbox.pending:
                del self._inflight[id(r)]
        return delivered

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        for ch in self.channels:
            ch.close()
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=SINK_DRAIN_TIMEOUT_S)
            for t in pending:
                log.warning("sink %s did not drain in %.0f s; cancelled",
                            t.get_name(), SINK_DRAIN_TIMEOUT_S)
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._exit_sinks(et, e, tb)
        self.stats.ended_mono_s = time.monotonic()

    async def _exit_sinks(self, et: type[BaseException] | None, e: BaseException | None,
                          tb: TracebackType | None) -> None:
        while self._entered:
            s = self._entered.pop()
            try:
                await s.__aexit__(et, e, tb)
            except Exception:
                log.exception("sink %s failed to close", s.name)

    async def _drive(self, sink: Sink, ch: Channel[Record]) -> None:
        while batch := await ch.get_batch(sink.batch_max, sink.batch_wait_s):
            try:
                await sink.write(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.sink_errors[sink.name] += 1
                self.rlog.error(f"sink:{sink.name}", "sink %s failed to write %d records",
                                sink.name, len(batch), exc_info=True)

    async def run(self, packets: AsyncIterator[Packet], stop: asyncio.Event | None = None
                  ) -> None:
        """Consume packets until the source ends or ``stop`` is set, then finish every band.

        A reader task owns the source's iteration and puts packets into a bounded inbox;
        this loop takes whatever waits there as one batch, pushes each packet through its
        band's ingest, and feeds each band's DSP once. A stop cancels the reader wherever
        the source is (waiting for the radio, pacing a simulation): what was received is
        still processed and the bands finished, and nothing waits for another packet.
        """
        inbox = Channel[Packet]("packets", INBOX_SIZE, Policy.BACKPRESSURE)
        reader = asyncio.create_task(self._read(packets, inbox), name="source-reader")
        stopper = asyncio.create_task(self._stop_on(stop, reader), name="source-stop") \
            if stop is not None else None
        wait_s = BATCH_WAIT_S if self.live else 0.0
        try:
            while batch := await inbox.get_batch(BATCH_MAX, wait_s):
                self.process_many(batch)
                for name, bp in self.bands.items():
                    try:
                        self._out.extend(bp.flush())
                    except Exception:
                        self._internal_error(name, "a batch of samples")
                await self._fanout_pending()
                await asyncio.sleep(0)  # the sinks' tasks and the reader run between batches
        except BaseException:
            reader.cancel()
            raise
        finally:
            if stopper is not None:
                stopper.cancel()
                await asyncio.gather(stopper, return_exceptions=True)
            if not reader.done():  # only when this loop failed: the reader closed the inbox
                await asyncio.gather(reader, return_exceptions=True)
        try:
            await reader  # the source's own error, if it failed
        except asyncio.CancelledError:
            if stop is None or not stop.is_set():
                raise
        for name, bp in self.bands.items():
            try:
                self._out.extend(bp.finish())
            except Exception:
                self._internal_error(name, "the end of its stream")
        await self._fanout_pending()
        if self.recorder is not None:
            self.recorder.flush(sync=True)
        self.rlog.flush()

    def _make_durable(self, r: EventRecord) -> None:
        assert self.outbox is not None
        to = [s for s in self.sinks if getattr(s, "durable", False) and isinstance(r, s.accepts)]
        file = next((str(getattr(s, "path", "")) for s in to if s.name == "events-file"), None)
        seq = self.outbox.put(r, [s.name for s in to], file)
        if seq is not None:
            self._inflight[id(r)] = (r, seq)

    @staticmethod
    async def _read(packets: AsyncIterator[Packet], inbox: Channel[Packet]) -> None:
        try:
            async for p in packets:
                await inbox.put(p)
        finally:
            inbox.close()

    @staticmethod
    async def _stop_on(stop: asyncio.Event, reader: asyncio.Task[None]) -> None:
        await stop.wait()
        reader.cancel()

    def process(self, p: Packet) -> None:
        """One packet: recorded as received, then through its band's pipeline.

        Nothing a packet holds stops the session: ingest checks and counts what is wrong
        with it, and an exception that still escapes (a bug) costs only this packet."""
        self.stats.packets += 1
        if self.recorder is not None:
            self.recorder.write(p)
        bp = self._band(p.band, 1)
        if bp is None:
            return
        try:
            self._out.extend(bp.push(p))
        except Exception:
            self._internal_error(p.band, f"a {p.kind.name} packet")

    def process_many(self, packets: list[Packet]) -> None:
        """``process`` of each packet, in order; a band's consecutive packets go through
        its pipeline together (``BandPipeline.push_many``: the same records). An
        exception that escapes (a bug) costs that run of packets."""
        i, n = 0, len(packets)
        while i < n:
            band = packets[i].band
            j = i + 1
            while j < n and packets[j].band == band:
                j += 1
            if j - i == 1:
                self.process(packets[i])
            else:
                run = packets[i:j]
                self.stats.packets += len(run)
                if self.recorder is not None:
                    for p in run:
                        self.recorder.write(p)
                bp = self._band(band, len(run))
                if bp is not None:
                    try:
                        self._out.extend(bp.push_many(run))
                    except Exception:
                        self._internal_error(band, f"{len(run)} packets")
            i = j

    def _band(self, band: str, packets: int) -> BandPipeline | None:
        bp = self.bands.get(band)
        if bp is None:
            if len(self.bands) >= MAX_BANDS:
                self.packets_refused += packets
                self.rlog.warning("bands", "more than %d bands in one session: packets of "
                                  "band %r skipped", MAX_BANDS, band[:64])
                return None
            bp = self.bands[band] = BandPipeline(band, self._analyzer_factory(),
                                                 coalesce_samples=self._coalesce,
                                                 raw_samples=self._raw, rlog=self.rlog)
        return bp

    def _internal_error(self, band: str, what: str) -> None:
        self.internal_errors += 1
        self.rlog.error(f"internal:{band}", "band %s: %s could not be processed (a bug in "
                        "twitchwatch: please report it with the recording); skipped", band,
                        what, exc_info=True)

    async def _fanout_pending(self) -> None:
        out, self._out = self._out, []
        for r in out:
            if (self.outbox is not None and isinstance(r, EventRecord) and r.event.final
                    and self.outbox.enabled):
                self._make_durable(r)
            for sink, ch in zip(self.sinks, self.channels, strict=True):
                if isinstance(r, sink.accepts):
                    with contextlib.suppress(Closed):
                        await ch.put(r)
