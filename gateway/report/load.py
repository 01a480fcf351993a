"""Nights from files: a session recording, a CSV/CSV.gz of samples, or an events file.

- ``.twrec``: the packets go through the gateway's own per-band pipeline (``BandPipeline``,
  as ``replay`` runs it), so events, onsets and wall times are the live run's.
- samples (``.csv`` / ``.csv.gz`` and the research devices' files that ``gateway.inputs``
  reads: Axivity, GENEActiv, ActiGraph, EDF/BDF): the streaming analyzer over the samples
  (``load_samples``: the one place that reads sample files).
- ``.jsonl``: a session's events file. Events and sleep onsets only: no sleep/wake per
  second and no data quality, which the report then says it cannot show.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import pathlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import RecordingError
from ..inputs import SUFFIXES as INPUT_SUFFIXES
from ..inputs import InputInfo, InputOptions
from .collect import NightBuilder
from .night_model import CLASSES, Night, resolve_tz

log = logging.getLogger(__name__)

SUFFIXES = (".events.jsonl", ".jsonl", ".twrec", *INPUT_SUFFIXES)
# (band, t_s, acc_g (n, 3), gyro_dps (n, 3) or None): samples as the analyzer got them
SampleCallback = Callable[[str, np.ndarray, np.ndarray, np.ndarray | None], None]


@dataclass
class LoadOptions:
    tz: dt.tzinfo
    tz_name: str
    start_utc: dt.datetime | None = None  # clock time of the first sample (CSV)
    reading: InputOptions | None = None  # how to read sample files (columns, units, ...)

    @classmethod
    def make(cls, tz: str | None = None, start: str | None = None) -> LoadOptions:
        zone, name = resolve_tz(tz)
        return cls(zone, name, parse_start(start, zone) if start else None)


def parse_start(text: str, tz: dt.tzinfo) -> dt.datetime:
    """``--start``: an ISO 8601 date and time; without an offset it is in ``tz``."""
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise RecordingError(f"start time {text!r}: use ISO 8601, e.g. "
                             f"2026-11-24T22:41:00 or 2026-11-24T22:41:00+01:00") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=tz)
    return t.astimezone(dt.UTC)


def stem(path: pathlib.Path) -> str:
    name = path.name
    for s in SUFFIXES:
        if name.endswith(s):
            return name[: -len(s)]
    return path.stem


def kind_of(path: pathlib.Path) -> str:
    name = path.name.lower()
    if name.endswith(".twrec"):
        return "recording"
    if name.endswith(".jsonl"):
        return "events"
    if name.endswith(INPUT_SUFFIXES):
        return "samples"
    raise RecordingError(f"{path}: not an input the report reads (a .twrec recording, a "
                         f"samples file ({', '.join(INPUT_SUFFIXES)}), or an events .jsonl)")


def load(path: pathlib.Path, opts: LoadOptions, samples: SampleCallback | None = None
         ) -> list[Night]:
    """The nights in one file, one per band. ``samples`` also gets every sample (export)."""
    if not path.is_file():
        raise RecordingError(f"{path}: no such file")
    kind = kind_of(path)
    if kind == "recording":
        return _load_recording(path, opts, samples)
    if kind == "samples":
        return [_load_samples_file(path, opts, samples)]
    return load_events(path, opts)


def _names(path: pathlib.Path, bands: list[str]) -> dict[str, str]:
    base = stem(path)
    return {b: base if len(bands) == 1 else f"{base}.{_safe(b)}" for b in bands}


def _safe(band: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in band) or "band"


def _load_recording(path: pathlib.Path, opts: LoadOptions, samples: SampleCallback | None
                    ) -> list[Night]:
    from twitchwatch import dsp

    from .. import codec
    from ..ingest.from_recording import iter_recording_samples
    from ..pipeline import HOLD_MAX_SAMPLES, BandPipeline
    from ..store.recording import ReadStats, read_recording

    stats = ReadStats()
    pipes: dict[str, BandPipeline] = {}
    builders: dict[str, NightBuilder] = {}
    for p in read_recording(path, stats):
        bp = pipes.get(p.band)
        if bp is None:
            bp = pipes[p.band] = BandPipeline(p.band, dsp.Analyzer(),
                                              coalesce_samples=HOLD_MAX_SAMPLES)
            builders[p.band] = NightBuilder(p.band)
        b = builders[p.band]
        for r in bp.push(p):
            b.add_record(r)
    for band, bp in pipes.items():
        for r in bp.finish():
            builders[band].add_record(r)
        q = builders[band].quality
        q.rate_hz = bp.analyzer.rate_hz
        meta = bp.ingest.meta
        q.has_gyro = None if meta is None else bool(meta.channel_flags & codec.F_GYRO)
        q.notes += stats.warnings
    if not builders:
        raise RecordingError(f"{path}: no data from any band")
    if samples is not None:  # a second pass: the pipeline keeps its samples to itself
        for band, t, acc, gyro in iter_recording_samples(path):
            samples(band, t, acc, gyro)
    names = _names(path, list(builders))
    return [b.build(names[band], f"session recording {path.name}", opts.tz, opts.tz_name)
            for band, b in builders.items()]


def load_samples(path: pathlib.Path, reading: InputOptions | None = None
                 ) -> tuple[InputInfo, Iterator[tuple[np.ndarray, np.ndarray,
                                                      np.ndarray | None]]]:
    """The file's description and its (t_s, acc_g, gyro_dps) chunks, in time order."""
    from ..inputs import open_input

    inp = open_input(path, reading)
    return inp.info, ((c.t_s, c.acc_g, c.gyro_dps) for c in inp.chunks())


def _load_samples_file(path: pathlib.Path, opts: LoadOptions,
                       samples: SampleCallback | None) -> Night:
    from twitchwatch import dsp

    an = dsp.Analyzer()
    b = NightBuilder("")
    info, chunks = load_samples(path, opts.reading)
    start = opts.start_utc or info.start_utc
    if start is None and info.start_local is not None:  # a device clock without a zone
        start = info.start_local.replace(tzinfo=opts.tz).astimezone(dt.UTC)
        b.quality.notes.append(f"The device's clock carries no time zone; it is taken as "
                               f"{opts.tz_name} (--tz).")
    wall0 = None if start is None else int(start.timestamp() * 1e9)
    t0: float | None = None
    n = 0
    gyro_seen = False
    for t, acc, gyro in chunks:
        if len(t) == 0:
            continue
        if t0 is None:
            t0 = float(t[0])
            b.first_sample_s = t0
            if wall0 is not None:
                b.anchor(t0, wall0)
        b.last_sample_s = float(t[-1])
        n += len(t)
        gyro_seen |= gyro is not None
        if samples is not None:
            samples("", t, acc, gyro)
        b.add_outputs(an.feed(t, acc, gyro), wall0, t0)
    if t0 is None:
        raise RecordingError(f"{path}: no samples")
    b.add_outputs(an.finish(), wall0, t0)
    q = b.quality
    q.rate_hz, q.has_gyro, q.samples = an.rate_hz, gyro_seen, n
    if wall0 is None:
        q.notes.append("The file holds seconds from the start of the recording only, so "
                       "times are shown as elapsed time (give --start for clock time).")
    b.quality.notes += info.warnings  # complete once the file has been read
    what = (f"samples file {path.name}" if info.format == "CSV" else
            f"{info.format} file {path.name}")
    return b.build(stem(path), what, opts.tz, opts.tz_name)


def load_events(path: pathlib.Path, opts: LoadOptions) -> list[Night]:
    """A session's events file (``*.events.jsonl``): final events and sleep onsets."""
    from twitchwatch import dsp

    builders: dict[str, NightBuilder] = {}
    bad = 0
    anchors: dict[str, list[tuple[float, int]]] = {}
    with open(path, encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                kind = d["type"]
                band = str(d.get("band", ""))
                start = float(d["start"])
                wall = _utc_ns(d.get("start_utc"))
                if kind == "sleep_onset":
                    item: Any = dsp.SleepOnset(str(d.get("id", "")), start,
                                               float(d.get("confirmed", start)))
                elif kind in CLASSES:
                    if d.get("final") is False:
                        continue
                    item = dsp.Event(str(d.get("id", "")), kind, start, float(d["end"]),
                                     float(d["peak_g"]), 0.0, True, _opt(d, "freq_hz"),
                                     d.get("cluster"), d.get("tremor_type"))
                else:
                    continue  # a record type this report does not know: not an error
            except (ValueError, KeyError, TypeError) as e:
                bad += 1
                if bad == 1:
                    log.warning("%s:%d: unreadable line skipped (%s)", path, ln, e)
                continue
            b = builders.get(band)
            if b is None:
                b = builders[band] = NightBuilder(band)
            if isinstance(item, dsp.SleepOnset):
                b.add_onset(item, wall)
            else:
                b.add_event(item, wall)
            if wall is not None:
                anchors.setdefault(band, []).append((start, wall))
    if not builders:
        raise RecordingError(f"{path}: no events or sleep onsets in this file"
                             + (f" ({bad} unreadable lines)" if bad else ""))
    names = _names(path, list(builders))
    nights = []
    for band, b in builders.items():
        for t, w in sorted(anchors.get(band, [])):
            b.anchor(t, w)
        b.quality.notes.append(
            "Made from the events file alone: sleep and wake, time in bed, sleep time, rates "
            "per hour of sleep and of wake, gaps and data quality need the recording "
            "(.twrec) or InfluxDB.")
        if bad:
            b.quality.notes.append(f"{bad} unreadable lines of {path.name} were skipped.")
        nights.append(b.build(names[band], f"events file {path.name}", opts.tz, opts.tz_name,
                              motion=False))
    return nights


def _opt(d: dict[str, Any], key: str) -> float | None:
    v = d.get(key)
    return None if v is None else float(v)


def _utc_ns(text: object) -> int | None:
    if not isinstance(text, str):
        return None
    t = dt.datetime.fromisoformat(text)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return int(t.timestamp()) * 1_000_000_000 + t.microsecond * 1000
