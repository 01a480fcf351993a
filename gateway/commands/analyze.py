"""``twitchwatch analyze PATH...``: the DSP over recordings, as fast as it goes.

CSV / CSV.gz files (``t,ax,ay,az[,gx,gy,gz]``, the eval format, or other columns and units
with the options below), research-device files (Axivity ``.cwa``, GENEActiv ``.bin``,
ActiGraph ``.gt3x``, EDF/EDF+/BDF: ``gateway.inputs``, docs/inputs.md) and the project's own
``.twrec`` recordings. The analyzer is the streaming one the gateway runs live, fed in
blocks, so the events are the same as live and replay. Only final events are reported.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time
from typing import Any, TextIO

from ..cli import complete_path
from ..inputs import ACC_UNITS, GYRO_UNITS, TIME_FORMATS
from ..inputs import SUFFIXES as INPUT_SUFFIXES

SUFFIXES = (*INPUT_SUFFIXES, ".twrec")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "analyze", help="detect jerks, tremor and hypnic jerks in recordings",
        description="Analyze recordings with the streaming DSP, offline: CSV or CSV.gz "
                    "(t,ax,ay,az and optional gx,gy,gz in s, g, deg/s, or other columns and "
                    "units with the options below), Axivity .cwa (AX3, AX6), GENEActiv .bin, "
                    "ActiGraph .gt3x, EDF/EDF+/BDF with accelerometer channels, or .twrec "
                    "sessions.")
    complete_path(p.add_argument("paths", nargs="+", type=pathlib.Path, metavar="PATH",
                                 help="recording files"))
    p.add_argument("--format", choices=("table", "jsonl"), default="table",
                   help="table: a readable summary (default); jsonl: one JSON object per "
                        "event on stdout")
    complete_path(p.add_argument("--out", type=pathlib.Path, metavar="DIR",
                                 help="write one NAME.jsonl of events per input into DIR"),
                  directory=True)
    p.add_argument("--epochs", action="store_true",
                   help="with --out, also write NAME.epochs.jsonl (per-second context)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar on stderr (default: when stderr is a terminal)")
    add_input_arguments(p)
    p.set_defaults(func=main)


def add_input_arguments(p: argparse.ArgumentParser, *, tz: bool = True) -> None:
    """The options for reading files (shared with the commands that take recordings;
    ``tz=False`` where the command has a ``--tz`` of its own with the same meaning)."""
    g = p.add_argument_group("reading CSV (and EDF channels)")
    g.add_argument("--columns", metavar="NAME=COL,...",
                   help="which column (CSV) or signal label (EDF) holds t, ax, ay, az, gx, "
                        "gy, gz, e.g. t=time,ax=acc_x,ay=acc_y,az=acc_z (default: found by "
                        "common names)")
    g.add_argument("--acc-units", choices=ACC_UNITS,
                   help="acceleration units (default: from the header, else detected from "
                        "gravity: about 1 in g, 9.8 in m/s2)")
    g.add_argument("--gyro-units", choices=GYRO_UNITS,
                   help="gyroscope units: deg/s (dps, default) or rad/s (rads)")
    g.add_argument("--time-format", choices=TIME_FORMATS, default="auto",
                   help="CSV time column: seconds (s), milliseconds (ms), Unix epoch seconds "
                        "or milliseconds, ISO 8601 (default: detected and reported)")
    if tz:
        g.add_argument("--tz", metavar="ZONE",
                   help="time zone of files whose clock carries no UTC offset (Axivity, EDF, "
                        "ISO times without offset), e.g. Europe/Berlin")


def stem(path: pathlib.Path) -> str:
    name = path.name
    for s in SUFFIXES:
        if name.lower().endswith(s):
            return name[: -len(s)]
    return path.stem


def input_options(args: argparse.Namespace) -> Any:
    """The reading options from the command line (shared with report and export)."""
    from ..inputs import InputOptions, parse_columns

    return InputOptions(
        columns=parse_columns(args.columns) if getattr(args, "columns", None) else {},
        acc_units=getattr(args, "acc_units", None),
        gyro_units=getattr(args, "gyro_units", None),
        time_format=getattr(args, "time_format", "auto") or "auto",
        tz=getattr(args, "tz", None))


def main(args: argparse.Namespace) -> int:
    try:
        return _main(args)
    except BrokenPipeError:  # e.g. piped into head: not an error of ours
        sys.stderr.close()
        return 0


def _main(args: argparse.Namespace) -> int:
    from twitchwatch import dsp  # noqa: F401 - imported before the clock (scipy: ~0.9 s)

    from ..errors import TwitchwatchError
    from ..inputs import csvfile  # noqa: F401

    options = input_options(args)
    if options.tz:
        from ..inputs._base import zoneinfo

        zoneinfo(options.tz)  # a wrong name fails once, before any file
    if args.out is not None:
        from ..private_files import private_dir

        private_dir(args.out)  # reports are health data: 0700 (docs/security.md)
    show_progress = sys.stderr.isatty() if args.progress is None else args.progress
    failed = 0
    for path in args.paths:
        t0 = time.perf_counter()
        try:
            results = analyze_file(path, progress=show_progress, epochs=args.epochs,
                                   options=options)
        except TwitchwatchError as err:
            failed += 1
            print(f"twitchwatch analyze: {err}", file=sys.stderr)
            continue
        elapsed = time.perf_counter() - t0
        for band, res in results.items():
            name = stem(path) if len(results) == 1 else f"{stem(path)}.{band}"
            if args.out is not None:
                _write_jsonl(args.out / f"{name}.jsonl", res["events"])
                if args.epochs:
                    _write_jsonl(args.out / f"{name}.epochs.jsonl", res["epochs"])
            if args.format == "jsonl":
                for e in res["events"]:
                    print(json.dumps({"file": str(path), **({"band": band} if band else {}),
                                      **e}))
            else:
                _table(sys.stdout, path, band, res, elapsed)
    return 1 if failed else 0


def analyze_file(path: pathlib.Path, *, progress: bool = False, epochs: bool = False,
                 options: Any = None) -> dict[str, dict[str, Any]]:
    """Final events (and optionally epochs) per band of one file: {band: {...}}.

    For a file read by ``gateway.inputs`` each band's result also holds ``input``, the
    file's :class:`~gateway.inputs.InputInfo` (format, start time, warnings)."""
    from ..errors import RecordingError

    if not path.is_file():
        raise RecordingError(f"{path}: no such file")
    bar = _Progress(path.name) if progress else None
    try:
        if path.name.endswith(".twrec"):
            res = _analyze_recording(path, bar, epochs)
        else:
            res = _analyze_samples(path, bar, epochs, options)
    finally:
        if bar is not None:
            bar.done()
    for r in res.values():
        r["events"].sort(key=lambda e: (e["start"], e["type"]))
    return res


def _result() -> dict[str, Any]:
    return {"events": [], "epochs": [], "onsets": [], "samples": 0}


def _analyze_samples(path: pathlib.Path, bar: _Progress | None, epochs: bool,
                     options: Any) -> dict[str, dict[str, Any]]:
    """A file of samples (CSV or a research device's) through the analyzer."""
    from twitchwatch.dsp import Analyzer, Epoch, Event, SleepOnset

    from ..inputs import checked_chunks, open_input

    an = Analyzer(epochs=epochs)
    r = _result()

    def take(outs: list[Any]) -> None:
        for o in outs:
            if isinstance(o, Event):
                if o.final:
                    r["events"].append(o.to_dict())
            elif isinstance(o, SleepOnset):
                r["onsets"].append(o.to_dict())
            elif epochs and isinstance(o, Epoch):
                r["epochs"].append(o.to_dict())

    inp = open_input(path, options)
    # Time advancing, a rate the DSP can use, physical values, samples at all: checked
    # here, where the file enters, for every format (inputs/screening.py).
    for c in checked_chunks(inp, progress=bar.update if bar else None):
        r["samples"] += len(c.t_s)
        take(an.feed(c.t_s, c.acc_g, c.gyro_dps))
    take(an.finish())
    r["rate_hz"] = an.rate_hz
    r["input"] = inp.info
    return {"": r}


def _analyze_recording(path: pathlib.Path, bar: _Progress | None, epochs: bool
                       ) -> dict[str, dict[str, Any]]:
    """A session recording through the per-band pipeline that live and replay run
    (ingest, then the DSP in chunks of up to HOLD_MAX_SAMPLES): the same events."""
    import numpy as np

    from twitchwatch.dsp import Analyzer

    from ..pipeline import HOLD_MAX_SAMPLES, BandPipeline
    from ..records import EpochRecord, EventRecord, SleepOnsetRecord
    from ..store.recording import ReadStats, read_records

    size = max(1, path.stat().st_size)
    stats = ReadStats()
    bands: dict[str, BandPipeline] = {}
    res: dict[str, dict[str, Any]] = {}

    def take(band: str, records: list[Any]) -> None:
        r = res[band]
        for rec in records:
            if isinstance(rec, EventRecord):
                if rec.event.final:
                    r["events"].append(rec.event.to_dict())
            elif isinstance(rec, SleepOnsetRecord):
                r["onsets"].append(rec.onset.to_dict())
            elif epochs and isinstance(rec, EpochRecord):
                r["epochs"].append(rec.epoch.to_dict())

    for blk in read_records(path, stats):
        # Each band's consecutive packets go through its pipeline together.
        cuts = np.flatnonzero(np.diff(blk.band_ids)) + 1
        for a, b in zip([0, *cuts.tolist()], [*cuts.tolist(), len(blk)], strict=True):
            band = blk.bands[int(blk.band_ids[a])]
            bp = bands.get(band)
            if bp is None:
                # No periodic link records: analyze reports events only.
                bp = bands[band] = BandPipeline(band, Analyzer(epochs=epochs),
                                                coalesce_samples=HOLD_MAX_SAMPLES,
                                                link_stats_every_s=None)
                res[band] = _result()
            take(band, bp.push_records(blk.data, blk.kinds[a:b], blk.offsets[a:b],
                                       blk.lengths[a:b], blk.wall_ns[a:b], blk.mono_ns[a:b]))
        if bar is not None:
            bar.update(stats.bytes_read / size)
    for band, bp in bands.items():
        take(band, bp.finish())
        res[band]["samples"] = bp.ingest.counters.samples
        res[band]["rate_hz"] = bp.analyzer.rate_hz
    return res


def _write_jsonl(path: pathlib.Path, rows: list[dict[str, Any]]) -> None:
    from ..private_files import write_private

    write_private(path, "".join(json.dumps(r) + "\n" for r in rows), durable=False)


def _table(out: TextIO, path: pathlib.Path, band: str, res: dict[str, Any],
           elapsed: float) -> None:
    ev = res["events"]
    rate = res.get("rate_hz")
    title = f"{path}" + (f" [band {band}]" if band else "")
    counts: dict[str, int] = {}
    for e in ev:
        counts[e["type"]] = counts.get(e["type"], 0) + 1
    summary = ", ".join(f"{counts.get(k, 0)} {k}" for k in
                        ("myoclonic_jerk", "hypnic_jerk", "tremor"))
    rate_s = f"{rate:.1f} Hz" if rate else "?"
    info = res.get("input")
    if info is not None:
        what = [info.format]
        if info.device:
            what.append(info.device + (f" #{info.serial}" if info.serial else ""))
        if info.has_gyro:
            what.append("with gyroscope")
        title += f" [{', '.join(what)}]"
    out.write(f"== {title}: {res['samples']:,} samples at {rate_s}, analysed in "
              f"{elapsed:.2f} s\n")
    if info is not None:
        clock = info.clock_text()
        if clock:
            out.write(f"   recording started {clock}\n")
        for w in info.warnings:
            out.write(f"   note: {w}\n")
    out.write(f"   {summary}")
    if res["onsets"]:
        out.write("; sleep onset(s) at " + ", ".join(_hms(o["start"]) for o in res["onsets"]))
    out.write("\n")
    if not ev:
        return
    out.write(f"   {'start':>10} {'dur s':>7}  {'type':<15} {'peak g':>7} {'freq Hz':>7} "
              f"{'conf':>5}  detail\n")
    for e in ev:
        dur = e["end"] - e["start"]
        freq = f"{e['freq_hz']:.2f}" if e.get("freq_hz") is not None else ""
        detail = (e.get("tremor_type") or "") + (f"cluster {e['cluster']}" if e.get("cluster")
                                                  else "")
        out.write(f"   {_hms(e['start']):>10} {dur:7.2f}  {e['type']:<15} {e['peak_g']:7.3f} "
                  f"{freq:>7} {e['confidence']:5.2f}  {detail}\n")


def _hms(t: float) -> str:
    h, r = divmod(t, 3600)
    m, s = divmod(r, 60)
    return f"{int(h)}:{int(m):02d}:{s:05.2f}" if h else f"{int(m)}:{s:05.2f}"


class _Progress:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, name: str) -> None:
        self.name = name if len(name) <= 32 else "..." + name[-29:]
        self.last = 0.0
        self.shown = False

    def update(self, frac: float) -> None:
        now = time.monotonic()
        if now - self.last < 0.1 and frac < 1.0:
            return
        self.last = now
        width = 30
        fill = round(frac * width)
        sys.stderr.write(f"\r{self.name:<32} [{'#' * fill}{'.' * (width - fill)}] "
                         f"{frac * 100:5.1f}%")
        sys.stderr.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * 72 + "\r")
            sys.stderr.flush()
