"""Recordings from files: research devices and CSV, one reader per format.

``open_input(path, options)`` picks the reader from the file's suffix and checks that the
content agrees (or, for an unknown suffix, from the content alone), reads the header and
returns an :class:`Input`: its :class:`InputInfo` (format, start, rate, device, warnings)
and ``chunks()``, the samples in blocks of :class:`Chunk` (seconds from the first sample,
g, deg/s), memory flat for any length. A file that cannot be read raises
:class:`~gateway.errors.RecordingError` with a one-line reason. Formats, readers and their
limits: docs/inputs.md.
"""

from __future__ import annotations

import pathlib

from ..errors import ConfigError, RecordingError
from ._base import (
    ACC_UNITS,
    GYRO_UNITS,
    TIME_FORMATS,
    Chunk,
    Input,
    InputInfo,
    InputOptions,
)
from .screening import MIN_RATE_HZ, checked_chunks

__all__ = [
    "ACC_UNITS",
    "FORMATS",
    "FORMAT_NAMES",
    "GYRO_UNITS",
    "MIN_RATE_HZ",
    "SUFFIXES",
    "TIME_FORMATS",
    "Chunk",
    "Input",
    "InputInfo",
    "InputOptions",
    "checked_chunks",
    "open_input",
    "parse_columns",
    "sniff",
]

# suffix (lower case) -> format key; the longest suffix wins (.csv.gz before .gz)
FORMATS = {
    ".csv.gz": "csv", ".csv": "csv", ".cwa": "cwa", ".bin": "geneactiv", ".gt3x": "gt3x",
    ".edf": "edf", ".bdf": "edf",
}
SUFFIXES = tuple(FORMATS)
FORMAT_NAMES = {"csv": "CSV", "cwa": "Axivity CWA", "geneactiv": "GENEActiv .bin",
          "gt3x": "ActiGraph GT3X", "edf": "EDF/BDF"}


def sniff(head: bytes) -> str | None:
    """The format the first bytes of a file point to, or None."""
    if head[:2] == b"MD" and len(head) >= 4 and head[2:4] == b"\xfc\x03":
        return "cwa"
    if head.startswith(b"Device Identity"):
        return "geneactiv"
    if head[:4] == b"PK\x03\x04":
        return "gt3x"
    if head[:8] in (b"0       ", b"\xffBIOSEMI"):
        return "edf"
    return None


def _by_suffix(path: pathlib.Path) -> str | None:
    name = path.name.lower()
    for suffix in sorted(FORMATS, key=len, reverse=True):
        if name.endswith(suffix):
            return FORMATS[suffix]
    return None


def open_input(path: str | pathlib.Path, options: InputOptions | None = None) -> Input:
    path = pathlib.Path(path)
    options = options or InputOptions()
    if not path.is_file():
        raise RecordingError(f"{path}: no such file")
    try:
        with open(path, "rb") as f:
            head = f.read(32)
    except OSError as e:
        raise RecordingError(f"{path}: {e.strerror or e}") from None
    if not head:
        raise RecordingError(f"{path}: empty file")
    by_name, by_content = _by_suffix(path), sniff(head)
    if by_name is None and by_content is None:
        raise RecordingError(f"{path}: unknown format (expected one of "
                             f"{', '.join(SUFFIXES)}, or .twrec for analyze)")
    kind = by_name or by_content
    if by_name not in (None, "csv") and by_content != by_name:
        found = FORMAT_NAMES[by_content] if by_content else "unrecognised content"
        raise RecordingError(f"{path}: offset 0: the name says {FORMAT_NAMES[by_name]}, the "
                             f"content does not ({found}: {head[:16]!r})")
    if kind == "cwa":
        from .cwa import CwaInput

        return CwaInput(path, options)
    if kind == "geneactiv":
        from .geneactiv import GeneactivInput

        return GeneactivInput(path, options)
    if kind == "gt3x":
        from .gt3x import Gt3xInput

        return Gt3xInput(path, options)
    if kind == "edf":
        from .edf import EdfInput

        return EdfInput(path, options)
    from .csvfile import CsvInput

    return CsvInput(path, options)


def parse_columns(text: str) -> dict[str, str]:
    """``t=time,ax=x,...`` -> {"t": "time", "ax": "x", ...}; names checked."""
    out: dict[str, str] = {}
    allowed = ("t", "ax", "ay", "az", "gx", "gy", "gz")
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, val = part.partition("=")
        key = key.strip()
        if not sep or key not in allowed or not val.strip():
            raise ConfigError(f"--columns {text!r}: {part.strip()!r} is not NAME=COLUMN "
                                 f"with NAME one of {', '.join(allowed)}")
        out[key] = val.strip()
    return out
