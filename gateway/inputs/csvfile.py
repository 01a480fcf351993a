"""Streaming reader of IMU recordings in CSV (optionally .gz).

The native layout is the evaluation set's (``../shared/eval/README.md``): ``t,ax,ay,az``
and optionally ``gx,gy,gz``; ``t`` in seconds, acceleration in g, the gyroscope in deg/s.
:class:`CsvInput` also reads other CSV files: columns found by common names (``time``,
``Accelerometer X``, ``acc_x``, ``gyro_z``...) or named with ``--columns``; acceleration in
g, mg or m/s^2 (declared, a unit in the header like ``ax (m/s^2)``, or detected from gravity:
the median |a| over the first minute is about 1 in g and 9.8 in m/s^2); the gyroscope in
deg/s or rad/s; time as seconds, milliseconds, Unix epoch seconds or milliseconds, or ISO
8601 (detected from the first rows and said in the info, or declared with
``--time-format``). A UTF-8 byte-order mark is ignored.

The file is read in blocks with pyarrow's streaming CSV reader (the fastest single-core
parser measured here, see docs/dsp.md), so memory stays flat for any length. A file that
breaks the format raises :class:`CsvFormatError` naming the file and the line: missing
columns, a row that is not numbers (or not a time), time going backwards.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import itertools
import math
import pathlib
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import RecordingError
from ._base import (
    TIME_FORMATS,
    InputInfo,
    InputOptions,
    acc_scale,
    auto_axis,
    gyro_scale,
    set_clock,
)
from ._base import Chunk as InputChunk

_inflate: Any = zlib  # the gzip inflater of _GzipLines
_INFLATE_ERRORS: tuple[type[BaseException], ...] = (zlib.error,)
try:
    # ISA-L's inflate: the same bytes as zlib's in a quarter of the time (0.09 s instead
    # of 0.34 s for an 8-hour night's 28 MB, a sixth of `analyze`'s time); zlib where
    # it has no wheel
    from isal import isal_zlib

    _inflate = isal_zlib
    _INFLATE_ERRORS += (isal_zlib.IsalError,)  # type: ignore[operator]
except ImportError:  # pragma: no cover - a platform without isal
    pass

ACC = ("ax", "ay", "az")
GYRO = ("gx", "gy", "gz")
BLOCK_BYTES = 1 << 20  # ~30k rows: fast, and small enough to keep memory flat
PROBE_ROWS = 20_000  # rows read at opening to detect the time format and units
PROBE_S = 60.0  # the gravity check looks at the first minute


class CsvFormatError(RecordingError):
    """A CSV recording that breaks the format; the message names the file and line."""


@dataclass
class CsvBlock:
    t_s: np.ndarray
    acc_g: np.ndarray
    gyro_dps: np.ndarray | None
    first_line: int  # file line number of the first row (the header is line 1)


@dataclass
class CsvSpec:
    """How to turn the file's columns into t (s), acc (g) and gyro (deg/s)."""

    columns: dict[str, str] = field(default_factory=lambda: {c: c for c in ("t", *ACC)})
    time_mode: str = "s"  # s, ms, epoch, epoch-ms, iso, iso-utc
    t_origin: float = 0.0  # subtracted (in the column's own unit; µs for iso)
    acc_factor: float = 1.0
    gyro_factor: float = 1.0

    @property
    def has_gyro(self) -> bool:
        return all(g in self.columns for g in GYRO)


_TIME_SCALE = {"s": 1.0, "ms": 1e-3, "epoch": 1.0, "epoch-ms": 1e-3, "iso": 1e-6,
               "iso-utc": 1e-6}


def iter_csv(path: str | pathlib.Path, *, block_bytes: int = BLOCK_BYTES,
             progress: Callable[[float], None] | None = None,
             spec: CsvSpec | None = None,
             on_truncated: Callable[[int], None] = lambda rows: None) -> Iterator[CsvBlock]:
    """Chunks of the file in order. ``progress`` gets the fraction of the file read.

    Without ``spec`` the file must have the native columns (t, ax, ay, az, and gx, gy, gz
    when present) in s, g and deg/s."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    path = pathlib.Path(path)
    names = [h.strip() for h in _header(path)]
    if spec is None:
        spec = CsvSpec()
        missing = [c for c in ("t", *ACC) if c not in names]
        if missing:
            raise CsvFormatError(f"{path}:1: missing column(s) {', '.join(missing)} "
                                 f"(header: {','.join(names)})")
        gyro_cols = [c for c in GYRO if c in names]
        if gyro_cols and len(gyro_cols) != 3:
            raise CsvFormatError(f"{path}:1: gyroscope needs gx, gy and gz, found "
                                 f"{', '.join(gyro_cols)}")
        spec.columns.update({g: g for g in gyro_cols})
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed in the finally below
    except OSError as e:
        raise CsvFormatError(f"{path}: {e.strerror or e}") from None
    try:
        size = max(1, path.stat().st_size)
        head = raw.read(2)
        raw.seek(0)
        gz = _GzipLines(path) if head == b"\x1f\x8b" else None
        stream: object = pa.PythonFile(gz if gz is not None else raw, mode="r")
        ours = ["t", *ACC, *(GYRO if spec.has_gyro else ())]
        wanted = [spec.columns[c] for c in ours]
        types = {c: pa.float64() for c in wanted}
        if spec.time_mode == "iso":
            types[wanted[0]] = pa.timestamp("us")
        elif spec.time_mode == "iso-utc":
            types[wanted[0]] = pa.timestamp("us", tz="UTC")
        scale = _TIME_SCALE[spec.time_mode]
        try:  # the reader parses its first block here already
            reader = pcsv.open_csv(
                stream,
                read_options=pcsv.ReadOptions(block_size=block_bytes, use_threads=False),
                parse_options=pcsv.ParseOptions(),
                convert_options=pcsv.ConvertOptions(
                    column_types=types, include_columns=wanted,
                    strings_can_be_null=False, quoted_strings_can_be_null=False))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
            raise CsvFormatError(_locate(path, wanted, spec, str(e))) from None
        line = 2
        last_t = -math.inf
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
                raise CsvFormatError(_locate(path, wanted, spec, str(e))) from None
            n = batch.num_rows
            if n == 0:
                continue
            cols = [batch.column(c) for c in wanted]
            if any(c.null_count for c in cols):
                raise CsvFormatError(_locate(path, wanted, spec, "empty value"))
            tcol = cols[0]
            if spec.time_mode.startswith("iso"):
                tcol = tcol.cast(pa.int64())
            t = (tcol.to_numpy().astype(np.float64) - spec.t_origin) * scale
            arr = [c.to_numpy() for c in cols[1:]]
            # a sum is finite only if every value is (inf and NaN propagate; a finite
            # sum that overflows takes the per-value test too): one pass per column
            with np.errstate(over="ignore"):
                finite = all(math.isfinite(float(x.sum())) for x in (t, *arr))
            if not finite:
                bad = ~np.isfinite(t)
                for a in arr:
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
            acc = np.stack(arr[0:3], axis=1)
            if spec.acc_factor != 1.0:
                acc = acc * spec.acc_factor
            gyro = np.stack(arr[3:6], axis=1) if spec.has_gyro else None
            if gyro is not None and spec.gyro_factor != 1.0:
                gyro = gyro * spec.gyro_factor
            yield CsvBlock(t, acc, gyro, line)
            line += n
            if progress is not None:
                progress(min(1.0, (gz.raw.tell() if gz is not None
                                   else raw.tell()) / size))
        if gz is not None and gz.truncated:
            on_truncated(line - 2)
    finally:
        if gz is not None:
            gz.close()
        raw.close()


MAX_LINE = 64 * 1024  # characters in one CSV row: a few hundred is a wide file


def _lines(f: io.TextIOBase, path: pathlib.Path) -> Iterator[str]:
    """The file's lines, each at most ``MAX_LINE`` characters: a file with no line breaks
    (a sparse or binary file, one enormous line) is refused after reading that much,
    instead of being read whole into memory (a 2 GB sparse file took 4.1 GB)."""
    n = 0
    while True:
        try:
            line = f.readline(MAX_LINE + 1)
        except EOFError:  # a truncated .gz: what came before is still read
            return
        n += 1
        if not line:
            return
        if len(line) > MAX_LINE:
            raise CsvFormatError(f"{path}:{n}: a line longer than {MAX_LINE} characters: "
                                 "not a CSV file (or not one this reader takes)")
        if "\0" in line:
            raise CsvFormatError(f"{path}:{n}: a NUL byte: not a CSV text file")
        yield line


class _GzipLines(io.RawIOBase):
    """A gzip file's text as a raw stream that ends cleanly at the last whole line if the
    compressed data is cut short; ``truncated`` then says so. (pyarrow's own gzip stream
    raises on truncation, losing the rows before it.) An inflater directly, so that
    everything decompressed before the cut is kept."""

    def __init__(self, path: pathlib.Path) -> None:
        self.raw = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._z = _inflate.decompressobj(wbits=31)
        self._hold = b""  # decompressed bytes after the last newline
        self._out = b""
        self.truncated = False
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._out and not self._eof:
            comp = self.raw.read(1 << 18)
            try:
                if not comp:
                    self._eof = True
                    if not self._z.eof:  # the end of the file inside the gzip stream
                        self.truncated, self._hold = True, b""
                    self._out, self._hold = self._hold, b""
                    break
                chunk = self._z.decompress(comp)
                while self._z.eof and self._z.unused_data:  # a next gzip member
                    rest = self._z.unused_data
                    self._z = _inflate.decompressobj(wbits=31)
                    chunk += self._z.decompress(rest)
            except _INFLATE_ERRORS:  # damaged compressed data: stop at what was whole
                self.truncated, self._eof, self._hold = True, True, b""
                break
            data = self._hold + chunk
            cut = data.rfind(b"\n") + 1
            self._out, self._hold = data[:cut], data[cut:]
        n = min(len(b), len(self._out))
        b[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


def _open_text(path: pathlib.Path) -> io.TextIOBase:
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    # utf-8-sig: a byte-order mark (spreadsheets write one) is not part of the first name
    if gz:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _header(path: pathlib.Path) -> list[str]:
    try:
        with _open_text(path) as f:
            row = next(csv.reader(_lines(f, path)), None)
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile, csv.Error) as e:
        raise CsvFormatError(f"{path}: cannot read ({e})") from None
    if not row:
        raise CsvFormatError(f"{path}:1: empty file, expected a header t,ax,ay,az")
    return row


def _locate(path: pathlib.Path, wanted: list[str], spec: CsvSpec, why: str) -> str:
    """The fast parser failed: find the first bad line the slow way, for the message."""
    with _open_text(path) as f:
        rows = csv.reader(_lines(f, path))
        header = [h.strip() for h in next(rows)]
        idx = [header.index(c) for c in wanted]
        iso = spec.time_mode.startswith("iso")
        for ln, row in enumerate(rows, start=2):
            if not row:
                continue
            if len(row) < len(header):
                return f"{path}:{ln}: expected {len(header)} fields, found {len(row)}"
            for k, (c, i) in enumerate(zip(wanted, idx, strict=True)):
                if k == 0 and iso:
                    stamp = _iso(row[i])
                    if stamp is None or (stamp.tzinfo is not None) != (
                            spec.time_mode == "iso-utc"):
                        return (f"{path}:{ln}: {c} is not an ISO 8601 time "
                                f"{'with' if spec.time_mode == 'iso-utc' else 'without'} "
                                f"a UTC offset like the first rows: {row[i]!r}")
                    continue
                try:
                    v = float(row[i])
                except ValueError:
                    return f"{path}:{ln}: {c} is not a number: {row[i]!r}"
                if not math.isfinite(v):
                    return f"{path}:{ln}: {c} is not a finite number: {row[i]!r}"
    return f"{path}: unreadable ({why.splitlines()[0] if why else 'parse error'})"


def _iso(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None


# -- other layouts: columns, units and time found or declared ------------------------------

_T_NAMES = {"t", "time", "timestamp", "ts", "times", "seconds", "secs", "datetime", "date",
            "elapsed", "elapsedtime", "timesec", "timeseconds", "timems", "timestampms",
            "millis", "milliseconds", "unixtime", "epoch", "timeutc", "utc", "datetimeutc"}
_UNIT_WORDS = {
    "g": ("acc", "g"), "mg": ("acc", "mg"), "m/s^2": ("acc", "m/s2"), "m/s2": ("acc", "m/s2"),
    "m/s²": ("acc", "m/s2"), "ms^-2": ("acc", "m/s2"), "ms-2": ("acc", "m/s2"),
    "deg/s": ("gyro", "dps"), "dps": ("gyro", "dps"), "°/s": ("gyro", "dps"),
    "rad/s": ("gyro", "rads"), "s": ("time", "s"), "sec": ("time", "s"), "ms": ("time", "ms"),
}


def _split_unit(name: str) -> tuple[str, str | None]:
    """``Accelerometer X (m/s^2)`` -> (``Accelerometer X``, ``m/s^2``)."""
    m = re.match(r"^(.*?)[\s_]*[(\[]\s*([^)\]]+?)\s*[)\]]\s*$", name)
    return (m.group(1), m.group(2).lower()) if m else (name, None)


def _auto_columns(names: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Our names -> the file's columns, and the units the header states."""
    found: dict[str, str] = {}
    units: dict[str, str] = {}
    for name in names:
        base, unit = _split_unit(name)
        norm = re.sub(r"[^a-z0-9]", "", base.lower())
        ours: str | None
        if norm in _T_NAMES:
            ours = "t"
        elif norm in ("gx", "gy", "gz") and name.strip() in ("gx", "gy", "gz"):
            ours = norm
        else:
            ours = auto_axis(base)
        if ours is None or ours in found:
            continue
        found[ours] = name
        if unit in _UNIT_WORDS:
            units[ours] = _UNIT_WORDS[unit][1]
        elif norm in ("timems", "timestampms", "millis", "milliseconds"):
            units[ours] = "ms"
    return found, units


class CsvInput:
    """A CSV file as an :class:`~gateway.inputs.Input` (see the module docstring)."""

    FORMAT = "CSV"

    def __init__(self, path: pathlib.Path, options: InputOptions) -> None:
        self.path = path
        info = self.info = InputInfo(format=self.FORMAT, path=path)
        names = [h.strip() for h in _header(path)]
        auto, units = _auto_columns(names)
        cols = dict(auto)
        for ours, theirs in options.columns.items():
            if theirs not in names:
                raise CsvFormatError(f"{path}:1: --columns {ours}={theirs}: no such column "
                                     f"(header: {','.join(names)})")
            cols[ours] = theirs
            units.pop(ours, None)
        missing = [c for c in ("t", *ACC) if c not in cols]
        if missing:
            raise CsvFormatError(f"{path}:1: missing column(s) {', '.join(missing)} "
                                 f"(header: {','.join(names)}); name them with --columns "
                                 "t=COL,ax=COL,ay=COL,az=COL")
        gyro_cols = [c for c in GYRO if c in cols]
        if gyro_cols and len(gyro_cols) != 3:
            raise CsvFormatError(f"{path}:1: gyroscope needs gx, gy and gz, found "
                                 f"{', '.join(gyro_cols)}")
        if any(cols[c] != c for c in cols):
            info.warn("columns: " + ", ".join(f"{c}={cols[c]}" for c in
                                              ("t", *ACC, *GYRO) if c in cols))
        spec = self.spec = CsvSpec(columns=cols)
        info.has_gyro = spec.has_gyro
        t_raw, acc = self._probe(names, cols)
        self._time(t_raw, options.time_format, units.get("t"), options.tz)
        # gravity over the first minute of (unconverted) acceleration
        t_s = self._probe_t
        first_min = acc[t_s - t_s[0] <= PROBE_S] if len(t_s) else acc
        median = float(np.median(np.linalg.norm(first_min, axis=1))) if len(first_min) else None
        acc_units = {units.get(a) for a in ACC} - {None}
        declared = options.acc_units or (acc_units.pop() if len(acc_units) == 1 else None)
        spec.acc_factor = acc_scale(info, declared, median, "acceleration")
        if spec.has_gyro:
            gunits = {units.get(g) for g in GYRO} - {None}
            spec.gyro_factor = gyro_scale(info, options.gyro_units or (
                gunits.pop() if len(gunits) == 1 else None))

    def _probe(self, names: list[str], cols: dict[str, str]) -> tuple[list[str], np.ndarray]:
        """Time texts and acceleration of the first rows that parse (bad rows are left to
        the full read, which names their line)."""
        idx = [names.index(cols[c]) for c in ("t", *ACC)]
        times: list[str] = []
        acc: list[list[float]] = []
        with _open_text(self.path) as f:
            rows = csv.reader(_lines(f, self.path))
            next(rows, None)
            for row in itertools.islice(rows, PROBE_ROWS):
                try:
                    vals = [float(row[i]) for i in idx[1:]]
                    times.append(row[idx[0]].strip())
                except (ValueError, IndexError):
                    continue
                acc.append(vals)
        if not times:
            raise CsvFormatError(f"{self.path}:2: no samples: no row of numbers after the "
                                 "header")
        return times, np.array(acc, dtype=np.float64).reshape(-1, 3)

    def _time(self, texts: list[str], declared: str, unit_hint: str | None,
              tz: str | None) -> None:
        info, spec, path = self.info, self.spec, self.path
        col = spec.columns["t"]
        if declared not in TIME_FORMATS:
            raise CsvFormatError(f"{path}: --time-format {declared!r} not one of "
                                 f"{', '.join(TIME_FORMATS)}")
        nums: np.ndarray | None
        try:
            nums = np.array([float(x) for x in texts])
        except ValueError:
            nums = None
        mode = declared
        if mode == "auto":
            if nums is None:
                mode = "iso"
            elif nums[0] > 1e11:
                mode = "epoch-ms"
            elif nums[0] > 1e8:
                mode = "epoch"
            elif unit_hint == "ms":
                mode = "ms"
            else:
                step = float(np.median(np.diff(nums))) if len(nums) > 1 else 0.0
                mode = "ms" if step > 0.5 else "s"
                if mode == "ms":
                    info.warn(f"time column {col!r} read as milliseconds (median step "
                              f"{step:g}); declare --time-format s if it is seconds")
        if mode != "iso" and nums is None:
            bad = next(x for x in texts if not _is_float(x))
            raise CsvFormatError(f"{path}: time column {col!r} is not numbers "
                                 f"({bad!r}), as --time-format {mode} says")
        label = {"s": "seconds", "ms": "milliseconds", "epoch": "Unix epoch seconds",
                 "epoch-ms": "Unix epoch milliseconds"}
        start: dt.datetime | None = None
        if mode == "iso":
            stamps = [_iso(x) for x in texts]
            if stamps[0] is None:
                raise CsvFormatError(f"{path}:2: time column {col!r} is neither numbers nor "
                                     f"ISO 8601 ({texts[0]!r})")
            aware = stamps[0].tzinfo is not None
            mode = "iso-utc" if aware else "iso"
            first = stamps[0]
            origin = first.astimezone(dt.UTC).replace(tzinfo=None) if aware else first
            spec.t_origin = float((origin - dt.datetime(1970, 1, 1)) // dt.timedelta(
                microseconds=1))
            self._probe_t = np.array([
                ((s.astimezone(dt.UTC).replace(tzinfo=None) if aware else s) - origin
                 ).total_seconds() if s is not None and (s.tzinfo is not None) == aware
                else np.nan for s in stamps])
            if aware:
                off = first.utcoffset()
                set_clock(info, first.replace(tzinfo=None), utc_offset=off, tz=tz)
            else:
                set_clock(info, first, tz=tz)
            info.warn(f"time column {col!r}: ISO 8601 "
                      + ("with UTC offset" if aware else "local time (no UTC offset)"))
        else:
            assert nums is not None
            scale = _TIME_SCALE[mode]
            if mode.startswith("epoch"):
                spec.t_origin = float(nums[0])
                start = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=nums[0] * scale)
                set_clock(info, start, utc_offset=dt.timedelta(0), tz=None)
                info.tz_name = "UTC"
                if tz:
                    info.warn(f"--tz {tz} ignored: epoch times are UTC")
            self._probe_t = (nums - spec.t_origin) * scale
            if mode != "s":
                info.warn(f"time column {col!r}: {label[mode]}")
        spec.time_mode = mode
        steps = np.diff(self._probe_t[np.isfinite(self._probe_t)])
        steps = steps[steps > 0]
        if len(steps):
            info.rate_hz = info.nominal_rate_hz = round(1.0 / float(np.median(steps)), 3)

    def chunks(self, progress: Callable[[float], None] | None = None
               ) -> Iterator[InputChunk]:
        def cut(rows: int) -> None:
            self.info.warn(f"the gzip data ends early (a truncated copy?): analysed the "
                           f"{rows:,} whole rows before the cut")

        for c in iter_csv(self.path, progress=progress, spec=self.spec, on_truncated=cut):
            yield InputChunk(c.t_s, c.acc_g, c.gyro_dps)


def _is_float(x: str) -> bool:
    try:
        float(x)
    except ValueError:
        return False
    return True
