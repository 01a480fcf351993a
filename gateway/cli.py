"""``twitchwatch`` console command: one subcommand per module in ``commands/``.

Each module there has ``register(subparsers)``, which adds its parser and sets
``func(args) -> int``. Modules import their heavy dependencies inside ``func`` so that
``twitchwatch --help`` stays instant.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys

from .errors import TwitchwatchError
from .redact import install_log_redaction, redact

COMMANDS = ("run", "replay", "analyze", "report", "export", "scan", "pair", "firmware",
            "completion")

# What `twitchwatch completion` offers for a path argument: shtab's FILE and DIRECTORY
# hints, kept here as data because importing shtab (~40 ms) would slow every start.
# tests/test_cli_completion.py checks them against shtab's own.
FILE = {"bash": "_shtab_compgen_files", "zsh": "_files", "tcsh": "f"}
DIRECTORY = {"bash": "_shtab_compgen_dirs", "zsh": "_files -/", "tcsh": "d"}


def complete_path(action: argparse.Action, directory: bool = False) -> argparse.Action:
    """Mark a parser argument as a path for shell completion; returns it."""
    action.complete = DIRECTORY if directory else FILE  # type: ignore[attr-defined]
    return action


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="twitchwatch",
        description="Night-time myoclonic jerks, tremor and hypnic jerks from a wrist band.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__package__}.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__package__}.commands.{name}":
                raise
            continue  # a command whose module is not written yet
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction()  # no secret in any log line (docs/security.md)
    try:
        return int(args.func(args) or 0)
    except TwitchwatchError as e:
        print(f"twitchwatch {args.command}: {redact(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"twitchwatch {args.command}: interrupted", file=sys.stderr)
        return 130


def console() -> None:
    """The ``twitchwatch`` command's entry point (and ``python -m twitchwatch``): ``main``,
    then a quick exit. By the time ``main`` returns, everything the command opened is
    closed and synced; what would follow is the interpreter tearing down numpy's, scipy's
    and asyncio's modules, 0.15-0.2 s on a loaded 2-core machine: most of what a stop on
    SIGTERM would take (docs/benchmarks.md), and needed by nothing."""
    code = main()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    console()
