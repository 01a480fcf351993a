"""``twitchwatch run``: the main job. Bands in, events out, everything recorded.

With no bands configured it runs a simulated band through the real pipeline, so the
whole system can be seen working on any machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import pathlib
from typing import Any

from ..cli import complete_path
from ..settings import add_sink_arguments

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
    sim.add_argument("--hours", type=float, default=8.0,
                     help="length of the night, which ends now (8)")
    sim.add_argument("--speed", type=float, default=SPEED,
                     help=f"times faster than real time ({SPEED:g}: an 8-hour night in "
                          f"{8 * 3600 / SPEED:g} s)")
    sim.add_argument("--fast", action="store_true", help="as fast as possible")
    sim.add_argument("--seed", type=int, default=1, help="which synthetic night (1)")
    sim.add_argument("--profile", default="mixed", choices=PROFILES,
                     help="what the night holds (mixed)")
    sim.add_argument("--rate", type=int, default=100, choices=(50, 100, 200),
                     help="sample rate, Hz (100)")
    sim.add_argument("--no-gyro", action="store_true", help="accelerometer only")
    sim.add_argument("--frame-loss", type=float, default=0.0, metavar="P",
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


def main(args: argparse.Namespace) -> int:
    import asyncio  # here, not at the top: every subcommand's parser is built at start

    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    from ..pipeline import Session
    from ..settings import load as load_settings
    from ..sinks.console import zone_text
    from ..sources.sim import SimBand, SimOptions
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
    base = settings.out_dir / f"{run_id}-{stem}"
    events_path = pathlib.Path(f"{base}.events.jsonl")
    status = StatusLine()
    sinks = build_sinks(settings, events_path, status, quiet=args.quiet)
    recorder = RecordingWriter(f"{base}{SUFFIX}") if settings.record else None
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
    try:
        with stop_on_signals() as stop:
            async with source, Session(sinks, recorder=recorder, live=True) as session:
                status.session = session
                if isinstance(source, SimBand):
                    source.write_labels(pathlib.Path(f"{base}.labels.json"))
                await session.run(aiter(source), stop)
    finally:
        if recorder is not None:
            recorder.close()
    if not args.quiet:
        print(summary(session))
        print(f"events: {events_path}" + (f"\nrecording: {recorder.path}  (replay it with "
                                          f"'twitchwatch replay {recorder.path}')"
                                          if recorder else ""))
    return 0
