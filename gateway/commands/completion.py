"""``twitchwatch completion SHELL``: a completion script for the command, on stdout.

Made by shtab from this command's own parser, so it completes every subcommand, option
and choice there is, and files or directories where an argument is a path. The script is
static: completing runs no Python.

    twitchwatch completion bash > ~/.local/share/bash-completion/completions/twitchwatch
    twitchwatch completion zsh > ~/.zfunc/_twitchwatch     # a directory on $fpath
"""

from __future__ import annotations

import argparse
import sys

SHELLS = ("bash", "zsh", "tcsh")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("completion", help="print a shell completion script (bash, zsh, tcsh)",
                       description="Print a completion script for twitchwatch. bash: save it "
                                   "as ~/.local/share/bash-completion/completions/twitchwatch; "
                                   "zsh: as _twitchwatch in a directory on $fpath.")
    p.add_argument("shell", choices=SHELLS)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    import shtab

    from ..cli import build_parser

    try:  # path arguments carry their hints (cli.complete_path)
        sys.stdout.write(shtab.complete(build_parser(), shell=args.shell))
        sys.stdout.flush()
    except BrokenPipeError:  # piped into head: not an error of ours
        sys.stderr.close()
    return 0
