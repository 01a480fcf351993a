"""``twitchwatch replay FILE``: a recorded session through the same pipeline again."""

from __future__ import annotations

import argparse
import pathlib
from typing import Any

from ..cli import complete_path
from ..settings import add_sink_arguments
from .numbers import number


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "replay", help="feed a recording back through the pipeline",
        description="Replay a recorded session (a .twrec file) through decoding, loss "
                    "accounting, the DSP and the sinks: the same events as the live run.")
    complete_path(p.add_argument("recording", type=pathlib.Path, help="a .twrec file"))
    p.add_argument("--speed", type=number(float, 0, lo_open=True), metavar="X",
                   help="replay at X times the recorded pace (default: as fast as possible)")
    complete_path(p.add_argument("--events", type=pathlib.Path, metavar="FILE",
                   help="events file (default: RECORDING without .twrec + "
                        ".replay.events.jsonl)"))
    p.add_argument("--quiet", action="store_true", help="no live progress")
    add_sink_arguments(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    import asyncio  # here, not at the top: every subcommand's parser is built at start

    return asyncio.run(_replay(args))


async def _replay(args: argparse.Namespace) -> int:
    from ..errors import RecordingError
    from ..pipeline import Session
    from ..settings import load as load_settings
    from ..sources.recorded import Replay
    from .session import StatusLine, build_sinks, stop_on_signals, summary

    path: pathlib.Path = args.recording
    if not path.is_file():
        raise RecordingError(f"{path}: no such file")
    settings = load_settings(args)
    events = args.events or path.with_name(path.name.removesuffix(".twrec")
                                           + ".replay.events.jsonl")
    events.unlink(missing_ok=True)  # a replay's events file is the replay's alone
    status = StatusLine()
    sinks = build_sinks(settings, events, status, quiet=args.quiet)
    source = Replay(path, speed=args.speed)
    live = args.speed is not None
    with stop_on_signals() as stop:
        async with source, Session(sinks, live=live) as session:
            status.session = session
            await session.run(aiter(source), stop)
    st = source.stats
    if not args.quiet:
        print(summary(session))
        print(f"replayed {st.packets:,} packets from {path}; events: {events}")
    for w in st.warnings:
        print(f"warning: {w}")
    if st.corrupt_records:
        print(f"warning: {path}: {st.corrupt_records} damaged record(s) skipped in all, "
              f"{st.skipped_bytes} bytes")
    return 0
