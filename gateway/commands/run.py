"""``twitchwatch run``: the main job. Bands in, events out, everything recorded.

With no bands configured it runs a simulated band through the real pipeline, so the
whole system can be seen working on any machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import pathlib
import sys
from typing import Any

from ..cli import complete_path
from ..settings import add_sink_arguments
from .numbers import number

log = logging.getLogger(__name__)

# The longest simulated night: a day and a night (the synthesis streams, so memory does
# not grow with it, but the labels and the report do).
MAX_HOURS = 24.0

SPEED = 960.0  # the default: an 8-hour night in 30 s
PROFILES = ("mixed", "myoclonus", "parkinson", "essential", "healthy")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "run", help="stream from bands (or a simulated one) into files, InfluxDB and MQTT",
        description="Stream from the bands in --config, or from a simulated band when none "
                    "are configured, through decoding, loss accounting and the DSP into the "
                    "events file, the recording and any configured InfluxDB and MQTT broker.")
    sim = p.add_argument_group("simulated band (used when no band is configured)")
    sim.add_argument("--simulate", action="store_true",
                     help="use the simulated band even if bands are configured")
    sim.add_argument("--hours", type=number(float, 0, MAX_HOURS, lo_open=True), default=8.0,
                     help=f"length of the night, which ends now (8; at most {MAX_HOURS:g})")
    sim.add_argument("--speed", type=number(float, 0, lo_open=True), default=SPEED,
                     help=f"times faster than real time ({SPEED:g}: an 8-hour night in "
                          f"{8 * 3600 / SPEED:g} s)")
    sim.add_argument("--fast", action="store_true", help="as fast as possible")
    sim.add_argument("--seed", type=number(int, 0, 2 ** 32 - 1), default=1,
                     help="which synthetic night (1)")
    sim.add_argument("--profile", default="mixed", choices=PROFILES,
                     help="what the night holds (mixed)")
    sim.add_argument("--rate", type=int, default=100, choices=(50, 100, 200),
                     help="sample rate, Hz (100)")
    sim.add_argument("--no-gyro", action="store_true", help="accelerometer only")
    sim.add_argument("--frame-loss", type=number(float, 0, 1, hi_open=True), default=0.0,
                     metavar="P",
                     help="probability that a notification is lost on the way (0)")
    sim.add_argument("--band", metavar="NAME",
                     help="the simulated band's name (default sim-MMDD-HHMMSS of the run's "
                          "start: each run is a band of its own in every store)")
    out = p.add_argument_group("output")
    complete_path(out.add_argument("--out", metavar="DIR", help="where recordings and "
                                   "events go (twitchwatch-data)"), directory=True)
    out.add_argument("--no-record", action="store_true", help="do not record the session")
    out.add_argument("--quiet", action="store_true", help="no live progress")
    add_sink_arguments(p)
    p.set_defaults(func=main)


def check_writable(out_dir: pathlib.Path) -> None:
    """The output directory exists (or is made) and takes a file: else one line, at start,
    instead of a traceback later (issue 11)."""
    import tempfile

    from ..errors import ConfigError
    from ..private_files import private_dir

    try:
        private_dir(out_dir)
        fd, probe = tempfile.mkstemp(dir=out_dir, prefix=".twitchwatch-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ConfigError(f"output directory {out_dir} (--out): cannot write there "
                          f"({e.strerror or e})") from None


def main(args: argparse.Namespace) -> int:
    import asyncio  # here, not at the top: every subcommand's parser is built at start

    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    from ..pipeline import Session
    from ..settings import load as load_settings
    from ..sinks.console import zone_text
    from ..sources.sim import SimBand, SimOptions
    from ..store.outbox import Outbox
    from ..store.recording import SUFFIX, RecordingWriter
    from .session import STATUS_LEGEND, StatusLine, build_sinks, stop_on_signals, summary

    settings = load_settings(args)
    started = dt.datetime.now()
    run_id = started.strftime("%Y%m%d-%H%M%S")  # names this run's files
    bands_configured = bool(settings.raw.get("band"))
    simulated = not bands_configured or args.simulate
    if not simulated:
        from .run_ble import ble_source

        source: Any = ble_source(settings)
        stem = "bands"
    else:
        # The simulated night is in the past (it ends now), so a rerun overlaps the last
        # one in time: a band name of its own keeps the two apart in every store.
        band = args.band or f"sim-{started:%m%d-%H%M%S}"
        source = SimBand(SimOptions(
            name=band, duration_s=args.hours * 3600.0, speed=None if args.fast else args.speed,
            seed=args.seed, profile=args.profile, rate_hz=args.rate, gyro=not args.no_gyro,
            frame_loss=args.frame_loss))
        stem = "sim"
    check_writable(settings.out_dir)
    base = settings.out_dir / f"{run_id}-{stem}"
    events_path = pathlib.Path(f"{base}.events.jsonl")
    status = StatusLine()
    sinks = build_sinks(settings, events_path, status, quiet=args.quiet)
    recorder = RecordingWriter(f"{base}{SUFFIX}") if settings.record else None
    report = None
    if recorder is not None:  # the night's report at the end, from the same records
        from ..report import ReportSink

        report = ReportSink()
        sinks.append(report)
    if not args.quiet:
        if simulated:
            pace = "as fast as it goes" if args.fast else f"at {args.speed:g}x real time"
            what = (f"simulated band {band} (a synthetic {args.hours:g} h night that ends "
                    f"now, {pace})")
        else:
            what = "bands"
        print(f"twitchwatch: {what} -> {events_path}"
              + (f", recording {recorder.path}" if recorder else "")
              + (f", InfluxDB {settings.influx.url}" if settings.influx else "")
              + (f", MQTT {settings.mqtt.host}:{settings.mqtt.port}" if settings.mqtt else ""))
        print(f"  times: the night's clock time in {zone_text()} (the band's clock); "
              "the date is shown when it changes")
        print(f"  {STATUS_LEGEND}; Ctrl-C stops cleanly")
    if recorder is not None:
        recorder.__enter__()
    outbox = Outbox(settings.out_dir)  # decided -> delivered, durable (docs/storage.md)
    outbox.open()
    stopped = False
    try:
        with stop_on_signals() as stop:
            async with source, Session(sinks, recorder=recorder, live=True,
                                       outbox=outbox) as session:
                status.session = session
                if isinstance(source, SimBand):
                    try:
                        source.write_labels(pathlib.Path(f"{base}.labels.json"))
                    except OSError as e:  # the night goes on without its answer key
                        log.error("labels %s.labels.json: %s", base, e.strerror)
                await session.run(aiter(source), stop)
            stopped = stop.is_set()
    finally:
        outbox.close()
        if recorder is not None:
            recorder.close()
    if not args.quiet:
        print(summary(session))
        print(f"events: {events_path}" + (f"\nrecording: {recorder.path}  (replay it with "
                                          f"'twitchwatch replay {recorder.path}')"
                                          if recorder else ""))
    if report is not None and stopped:
        # Stopped by the user (or the service manager): exit now. The report (matplotlib,
        # a second or two) is a command away, from the same recording.
        print(f"stopped: make the night's report with 'twitchwatch report "
              f"{recorder.path if recorder else ''} --out {settings.out_dir}'")
        return 0
    if report is not None:
        from ..report import write_run_report

        try:
            for path in write_run_report(report, session, base):
                print(f"report: {path}")
        except Exception as e:
            # The night went to its outputs; the report is made from them afterwards. Like a
            # recording that stops on a full disk, this is said, and the run still succeeded.
            logging.getLogger(__name__).debug("report failed", exc_info=True)
            print(f"twitchwatch run: the night's report could not be written ({e}); make it "
                  f"with 'twitchwatch report {recorder.path if recorder else ''} --out DIR'",
                  file=sys.stderr)
    return 0
