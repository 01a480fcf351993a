"""Streaming reader of IMU recordings in CSV (``t,ax,ay,az[,gx,gy,gz]``, optionally .gz).

The format is the evaluation set's (``../shared/eval/README.md``): ``t`` in seconds,
acceleration in g, the gyroscope in deg/s. The file is read in blocks with pyarrow's
streaming CSV reader (the fastest single-core parser measured here, see docs/dsp.md), so
memory stays flat for any length. A file that breaks the format raises
:class:`CsvFormatError` naming the file and the line: missing columns, a row that is not
numbers, time going backwards.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import pathlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from ..errors import RecordingError

ACC = ("ax", "ay", "az")
GYRO = ("gx", "gy", "gz")
BLOCK_BYTES = 1 << 20  # ~30k rows: fast, and small enough to keep memory flat


class CsvFormatError(RecordingError):
    """A CSV recording that breaks the format; the message names the file and line."""


@dataclass
class Chunk:
    t_s: np.ndarray
    acc_g: np.ndarray
    gyro_dps: np.ndarray | None
    first_line: int  # file line number of the first row (the header is line 1)


def iter_csv(path: str | pathlib.Path, *, block_bytes: int = BLOCK_BYTES,
             progress: Callable[[float], None] | None = None) -> Iterator[Chunk]:
    """Chunks of the file in order. ``progress`` gets the fraction of the file read."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    path = pathlib.Path(path)
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed in the finally below
    except OSError as e:
        raise CsvFormatError(f"{path}: {e.strerror or e}") from None
    try:
        size = max(1, path.stat().st_size)
        head = raw.read(2)
        raw.seek(0)
        stream: object = pa.PythonFile(raw, mode="r")
        if head == b"\x1f\x8b":
            stream = pa.CompressedInputStream(stream, "gzip")
        header = _header(path)
        names = [h.strip() for h in header]
        missing = [c for c in ("t", *ACC) if c not in names]
        if missing:
            raise CsvFormatError(f"{path}:1: missing column(s) {', '.join(missing)} "
                                 f"(header: {','.join(names)})")
        gyro_cols = [c for c in GYRO if c in names]
        if gyro_cols and len(gyro_cols) != 3:
            raise CsvFormatError(f"{path}:1: gyroscope needs gx, gy and gz, found "
                                 f"{', '.join(gyro_cols)}")
        has_gyro = len(gyro_cols) == 3
        wanted = ["t", *ACC, *(GYRO if has_gyro else ())]
        try:  # the reader parses its first block here already
            reader = pcsv.open_csv(
                stream,
                read_options=pcsv.ReadOptions(block_size=block_bytes, use_threads=False),
                parse_options=pcsv.ParseOptions(),
                convert_options=pcsv.ConvertOptions(
                    column_types={c: pa.float64() for c in wanted}, include_columns=wanted,
                    strings_can_be_null=False, quoted_strings_can_be_null=False))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
            raise CsvFormatError(_locate(path, wanted, str(e))) from None
        line = 2
        last_t = -math.inf
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
                raise CsvFormatError(_locate(path, wanted, str(e))) from None
            n = batch.num_rows
            if n == 0:
                continue
            cols = [batch.column(c) for c in wanted]
            if any(c.null_count for c in cols):
                raise CsvFormatError(_locate(path, wanted, "empty value"))
            arr = [c.to_numpy() for c in cols]
            t = arr[0]
            bad = ~np.isfinite(t)
            for a in arr[1:]:
                bad |= ~np.isfinite(a)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise CsvFormatError(f"{path}:{line + i}: a value is not a finite number")
            back = np.flatnonzero(np.diff(t, prepend=last_t) < 0)
            if len(back):
                i = int(back[0])
                prev = last_t if i == 0 else float(t[i - 1])
                raise CsvFormatError(f"{path}:{line + i}: time goes backwards "
                                     f"({float(t[i]):.6f} after {prev:.6f})")
            last_t = float(t[-1])
            acc = np.stack(arr[1:4], axis=1)
            gyro = np.stack(arr[4:7], axis=1) if has_gyro else None
            yield Chunk(t, acc, gyro, line)
            line += n
            if progress is not None:
                progress(min(1.0, raw.tell() / size))
    finally:
        raw.close()


def _open_text(path: pathlib.Path) -> io.TextIOBase:
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    if gz:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _header(path: pathlib.Path) -> list[str]:
    try:
        with _open_text(path) as f:
            row = next(csv.reader(f), None)
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as e:
        raise CsvFormatError(f"{path}: cannot read ({e})") from None
    if not row:
        raise CsvFormatError(f"{path}:1: empty file, expected a header t,ax,ay,az")
    return row


def _locate(path: pathlib.Path, wanted: list[str], why: str) -> str:
    """The fast parser failed: find the first bad line the slow way, for the message."""
    with _open_text(path) as f:
        rows = csv.reader(f)
        header = [h.strip() for h in next(rows)]
        idx = [header.index(c) for c in wanted]
        for ln, row in enumerate(rows, start=2):
            if not row:
                continue
            if len(row) < len(header):
                return f"{path}:{ln}: expected {len(header)} fields, found {len(row)}"
            for c, i in zip(wanted, idx, strict=True):
                try:
                    v = float(row[i])
                except ValueError:
                    return f"{path}:{ln}: {c} is not a number: {row[i]!r}"
                if not math.isfinite(v):
                    return f"{path}:{ln}: {c} is not a finite number: {row[i]!r}"
    return f"{path}: unreadable ({why.splitlines()[0] if why else 'parse error'})"
