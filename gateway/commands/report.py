"""``twitchwatch report INPUT... --out DIR``: the neurologist's night report.

One self-contained HTML page per night (``DIR/NAME.html``; ``--pdf`` adds ``NAME.pdf``), and
a trend page per band given several nights. Inputs: session recordings (``.twrec``),
samples (``.csv``/``.csv.gz``), events files (``.jsonl``), or InfluxDB (``--influx-url`` with
``--band`` and ``--night`` or ``--from``/``--to``).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..report import Night, SampleCallback


def add_input_arguments(p: argparse.ArgumentParser) -> None:
    from .analyze import add_input_arguments as add_reading_arguments

    p.add_argument("inputs", nargs="*", type=pathlib.Path, metavar="INPUT",
                   help=".twrec recording, samples (.csv/.csv.gz, Axivity .cwa, GENEActiv "
                        ".bin, ActiGraph .gt3x, EDF/BDF), or an events .jsonl")
    p.add_argument("--out", type=pathlib.Path, metavar="DIR", required=True,
                   help="where the files go (created 0700; files 0600: health data)")
    p.add_argument("--tz", metavar="ZONE",
                   help="time zone for clock times, e.g. Europe/Berlin (this machine's); "
                        "also the zone of a device clock that carries no UTC offset")
    p.add_argument("--start", metavar="ISO",
                   help="clock time of the first sample of a CSV file, e.g. "
                        "2026-11-24T22:41:00 (in --tz unless it has an offset)")
    g = p.add_argument_group(
        "InfluxDB (instead of files; credentials only from --config or TWITCHWATCH_INFLUX_"
        "USERNAME/PASSWORD/TOKEN, never on the command line)")
    g.add_argument("--influx-url", metavar="URL", help="e.g. http://127.0.0.1:8086")
    g.add_argument("--influx-db", metavar="NAME", help="database (twitchwatch)")
    g.add_argument("--config", metavar="FILE", help="TOML settings file ([influxdb])")
    g.add_argument("--band", metavar="NAME", help="the band's id, as in InfluxDB")
    g.add_argument("--night", metavar="YYYY-MM-DD", action="append",
                   help="the night that began that evening (noon to noon in --tz); "
                        "repeat for several nights")
    g.add_argument("--from", dest="time_from", metavar="ISO", help="start of a time range")
    g.add_argument("--to", dest="time_to", metavar="ISO", help="end of a time range")
    add_reading_arguments(p, tz=False)


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "report", help="write the night report (HTML, optional PDF) for a neurologist",
        description="Write one self-contained HTML report per night (and a trend page for "
                    "several nights of one band) from recordings, samples files, events "
                    "files or InfluxDB.")
    add_input_arguments(p)
    p.add_argument("--pdf", action="store_true",
                   help="also NAME.pdf (A4), printed by headless Chromium")
    p.set_defaults(func=main)


def load_inputs(args: argparse.Namespace, samples: SampleCallback | None = None,
                on_error: Any = None) -> list[Night]:
    """Every night named on the command line. A file that cannot be read is reported
    through ``on_error`` (when given) and skipped; the others still count."""
    from ..errors import ConfigError, TwitchwatchError
    from ..report import LoadOptions, load

    if not args.inputs and not args.influx_url:
        raise ConfigError("name at least one INPUT file, or --influx-url with --band")
    from .analyze import input_options

    opts = LoadOptions.make(args.tz, args.start)
    opts.reading = input_options(args)
    nights: list[Night] = []
    for path in args.inputs:
        try:
            nights += load(path, opts, samples)
        except TwitchwatchError as e:
            if on_error is None:
                raise
            on_error(e)
    if args.influx_url:
        nights += _influx_nights(args, opts)
    seen: dict[str, int] = {}
    for n in nights:  # a recording and its events file share a stem: both get a file
        k = seen[n.name] = seen.get(n.name, 0) + 1
        if k > 1:
            n.name = f"{n.name}-{k}"
    return nights


def _influx_nights(args: argparse.Namespace, opts: Any) -> list[Night]:
    from .. import config
    from ..errors import ConfigError
    from ..report.from_influx import load_influx, night_window
    from ..report.load import parse_start

    if not args.band:
        raise ConfigError("InfluxDB needs --band NAME (the band's id)")
    ns = argparse.Namespace(config=args.config, influx_url=args.influx_url,
                            influx_db=args.influx_db)
    settings = config.load(ns)
    assert settings.influx is not None  # the URL alone makes the section
    windows = []
    for d in args.night or []:
        windows.append(night_window(d, opts.tz))
    if args.time_from or args.time_to:
        if not (args.time_from and args.time_to):
            raise ConfigError("--from and --to go together")
        windows.append((parse_start(args.time_from, opts.tz), parse_start(args.time_to, opts.tz)))
    if not windows:
        raise ConfigError("InfluxDB needs --night YYYY-MM-DD or --from/--to")
    return [load_influx(settings.influx, args.band, a, b, opts) for a, b in windows]


def main(args: argparse.Namespace) -> int:
    from ..report import write_night, write_trends

    failed = 0

    def on_error(e: Exception) -> None:
        nonlocal failed
        failed += 1
        print(f"twitchwatch report: {e}", file=sys.stderr)

    nights = load_inputs(args, on_error=on_error)
    for n in nights:
        for path in write_night(n, args.out, pdf=args.pdf):
            print(path)
    for path in write_trends(nights, args.out, pdf=args.pdf):
        print(path)
    return 1 if failed else 0
