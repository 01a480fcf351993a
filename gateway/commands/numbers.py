"""argparse ``type=`` functions for the commands' numeric flags: a bad value is an
argparse error naming the flag, the value and the allowed range, never a traceback.

(Settings from the TOML file and the environment are checked by ``gateway.settings``.)
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _describe(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    parts = []
    if lo is not None:
        parts.append(f"{'above' if lo_open else 'at least'} {_num(lo)}")
    if hi is not None:
        parts.append(f"{'below' if hi_open else 'at most'} {_num(hi)}")
    return " and ".join(parts)


def number(kind: type[int] | type[float], lo: float | None = None, hi: float | None = None,
           *, lo_open: bool = False, hi_open: bool = False) -> Callable[[str], float]:
    """A type function accepting ``kind`` values in the range (argparse prefixes the flag)."""
    allowed = _describe(lo, hi, lo_open, hi_open)
    what = "an integer" if kind is int else "a number"

    def parse(text: str) -> float:
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what} ({allowed})") from None
        if isinstance(v, float) and not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number ({allowed})")
        if (lo is not None and (v <= lo if lo_open else v < lo)) or \
                (hi is not None and (v >= hi if hi_open else v > hi)):
            raise argparse.ArgumentTypeError(f"{text} is out of range: must be {allowed}")
        return v

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse
