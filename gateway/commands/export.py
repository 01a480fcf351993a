"""``twitchwatch export INPUT... --format edf|csv --out DIR``: files clinics open.

``edf``: ``DIR/NAME.edf``, EDF+ with the acceleration (and rotation) channels and every
event, sleep onset and sleep/wake period as an annotation (EDFbrowser, MNE, ...); from an
events file or InfluxDB, an annotation-only EDF+. ``csv``: ``DIR/NAME.events.csv``, one
row per event, for spreadsheets. Same inputs as ``report``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .report import add_input_arguments


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "export", help="export nights as EDF+ (signals + annotations) or events CSV",
        description="Export each night as EDF+ (motion channels with the events as "
                    "annotations) or as a CSV of events, from the same inputs as report.")
    add_input_arguments(p)
    p.add_argument("--format", choices=("edf", "csv"), required=True,
                   help="edf: NAME.edf (EDF+C); csv: NAME.events.csv")
    p.add_argument("--patient-code", metavar="CODE", default="X",
                   help="the clinic's code for the patient, written into the EDF header "
                        "(default X: anonymous)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ..errors import ConfigError, TwitchwatchError
    from ..export import SampleStore, write_edf, write_events_csv
    from .report import load_inputs

    if not args.inputs and not args.influx_url:
        raise ConfigError("name at least one INPUT file, or --influx-url with --band")
    failed = 0
    used: set[str] = set()
    # One input at a time: the samples of one file are in memory, never all of them.
    jobs: list[argparse.Namespace] = [argparse.Namespace(**{**vars(args), "inputs": [p],
                                                            "influx_url": None})
                                      for p in args.inputs]
    if args.influx_url:
        jobs.append(argparse.Namespace(**{**vars(args), "inputs": []}))
    for job in jobs:
        store = SampleStore() if args.format == "edf" and job.inputs else None
        try:
            nights = load_inputs(job, samples=store)
            for n in nights:
                name = n.name
                k = 2
                while name in used:
                    name, k = f"{n.name}-{k}", k + 1
                used.add(name)
                if args.format == "csv":
                    print(write_events_csv(n, args.out / f"{name}.events.csv"))
                else:
                    samples = store.bands.get(n.band) if store is not None else None
                    print(write_edf(n, samples, args.out / f"{name}.edf", args.patient_code))
        except TwitchwatchError as e:
            failed += 1
            print(f"twitchwatch export: {e}", file=sys.stderr)
    return 1 if failed else 0
