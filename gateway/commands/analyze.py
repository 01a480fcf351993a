"""``twitchwatch analyze PATH...``: the DSP over recordings, as fast as it goes.

CSV / CSV.gz files (``t,ax,ay,az[,gx,gy,gz]``, the eval format) and the project's own
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

SUFFIXES = (".csv.gz", ".csv", ".twrec")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "analyze", help="detect jerks, tremor and hypnic jerks in recordings",
        description="Analyze recordings (CSV or CSV.gz with header t,ax,ay,az and optional "
                    "gx,gy,gz; or .twrec sessions) with the streaming DSP, offline.")
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
    p.set_defaults(func=main)


def stem(path: pathlib.Path) -> str:
    name = path.name
    for s in SUFFIXES:
        if name.endswith(s):
            return name[: -len(s)]
    return path.stem


def main(args: argparse.Namespace) -> int:
    try:
        return _main(args)
    except BrokenPipeError:  # e.g. piped into head: not an error of ours
        sys.stderr.close()
        return 0


def _main(args: argparse.Namespace) -> int:
    from twitchwatch import dsp  # noqa: F401 - imported before the clock starts (scipy takes ~0.9 s)

    from ..errors import TwitchwatchError
    from ..inputs import csvfile  # noqa: F401

    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    show_progress = sys.stderr.isatty() if args.progress is None else args.progress
    failed = 0
    for path in args.paths:
        t0 = time.perf_counter()
        try:
            results = analyze_file(path, progress=show_progress, epochs=args.epochs)
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


def analyze_file(path: pathlib.Path, *, progress: bool = False, epochs: bool = False
                 ) -> dict[str, dict[str, Any]]:
    """Final events (and optionally epochs) per band of one file: {band: {...}}."""
    from ..errors import RecordingError

    if not path.is_file():
        raise RecordingError(f"{path}: no such file")
    bar = _Progress(path.name) if progress else None
    try:
        if path.name.endswith(".twrec"):
            res = _analyze_recording(path, bar, epochs)
        else:
            res = _analyze_csv(path, bar, epochs)
    finally:
        if bar is not None:
            bar.done()
    for r in res.values():
        r["events"].sort(key=lambda e: (e["start"], e["type"]))
    return res


def _result() -> dict[str, Any]:
    return {"events": [], "epochs": [], "onsets": [], "samples": 0}


def _analyze_csv(path: pathlib.Path, bar: _Progress | None, epochs: bool
                 ) -> dict[str, dict[str, Any]]:
    from twitchwatch.dsp import Analyzer, Epoch, Event, SleepOnset

    from ..inputs.csvfile import iter_csv

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

    for c in iter_csv(path, progress=bar.update if bar else None):
        r["samples"] += len(c.t_s)
        take(an.feed(c.t_s, c.acc_g, c.gyro_dps))
    take(an.finish())
    r["rate_hz"] = an.rate_hz
    return {"": r}


def _analyze_recording(path: pathlib.Path, bar: _Progress | None, epochs: bool
                       ) -> dict[str, dict[str, Any]]:
    """A session recording through the per-band pipeline that live and replay run
    (ingest, then the DSP in chunks of up to HOLD_MAX_SAMPLES): the same events."""
    from twitchwatch.dsp import Analyzer

    from ..pipeline import HOLD_MAX_SAMPLES, BandPipeline
    from ..records import EpochRecord, EventRecord, SleepOnsetRecord
    from ..store.recording import ReadStats, read_recording

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

    for n, p in enumerate(read_recording(path, stats)):
        bp = bands.get(p.band)
        if bp is None:
            bp = bands[p.band] = BandPipeline(p.band, Analyzer(epochs=epochs),
                                              coalesce_samples=HOLD_MAX_SAMPLES)
            res[p.band] = _result()
        take(p.band, bp.push(p))
        if bar is not None and n % 4096 == 0:
            bar.update(stats.bytes_read / size)
    for band, bp in bands.items():
        take(band, bp.finish())
        res[band]["samples"] = bp.ingest.counters.samples
        res[band]["rate_hz"] = bp.analyzer.rate_hz
    return res


def _write_jsonl(path: pathlib.Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    tmp.replace(path)


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
    out.write(f"== {title}: {res['samples']:,} samples at {rate_s}, analysed in "
              f"{elapsed:.2f} s\n   {summary}")
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
