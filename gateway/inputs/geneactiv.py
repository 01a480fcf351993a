"""GENEActiv ``.bin``, read with our own code.

Why our own: the file is text (the manufacturer's "Decoding .bin files"): a header of
``key:value`` lines (calibration gain/offset per axis, rate, time zone), then pages of nine
header lines and one line of 3600 hex digits, 300 samples of 12 hex digits each (x, y, z as
12-bit two's complement, then light and button). g = (raw x 100 - offset) / gain. There is
no maintained Python package for it; scikit-digital-health reads it but brings a whole
analysis stack.

Checked where it enters: the header's calibration, rate and page count; for every page its
``Recorded Data`` line, sequence number, page time, rate and a data line of exactly 3600
hex digits. A damaged page is skipped and counted, and reading resumes at the next
``Recorded Data`` line; a file without one good page raises :class:`RecordingError`.

Time: each page's time stamps its first sample, the others follow at the page's rate. The
clock is local time; the header's ``Time Zone`` (``GMT -04:00``) gives the UTC offset.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import re
from collections.abc import Callable, Iterator
from typing import IO

import numpy as np

from ..errors import RecordingError
from ._base import Chunk, InputInfo, InputOptions, set_clock

SAMPLES_PER_PAGE = 300
HEX_PER_PAGE = SAMPLES_PER_PAGE * 12
PAGES_PER_BATCH = 256  # ~1 MB of text
_HEX = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789ABCDEF"):
    _HEX[_c] = _i
    _HEX[ord(chr(_c).lower())] = _i
_TZ = re.compile(r"^GMT\s*([+-])\s*(\d{1,2}):(\d{2})$")
_TIME_FMT = "%Y-%m-%d %H:%M:%S:%f"


def _parse_time(text: str) -> dt.datetime:
    # "2019-05-21 16:16:43:500": milliseconds after the last colon
    head, _, ms = text.strip().rpartition(":")
    stamp = dt.datetime.strptime(head, "%Y-%m-%d %H:%M:%S")
    return stamp + dt.timedelta(milliseconds=int(ms))


class GeneactivInput:
    FORMAT = "GENEActiv BIN"

    def __init__(self, path: pathlib.Path, options: InputOptions) -> None:
        self.path = path
        self.info = InputInfo(format=self.FORMAT, path=path)
        self._read_header(options)
        self.n_bad = 0
        self.bad_lines: list[int] = []

    def _fail(self, line: int, why: str) -> RecordingError:
        return RecordingError(f"{self.path}:{line}: {why}")

    def _open(self) -> IO[str]:
        try:
            return open(self.path, encoding="latin-1", newline=None)
        except OSError as e:
            raise RecordingError(f"{self.path}: {e.strerror or e}") from None

    def _read_header(self, options: InputOptions) -> None:
        fields: dict[str, tuple[int, str]] = {}
        with self._open() as f:
            first = f.readline()
            if first.strip() != "Device Identity":
                raise self._fail(1, "not a GENEActiv .bin file (expected 'Device Identity' "
                                    f"on line 1, found {first.strip()[:40]!r})")
            ln = 1
            for line in f:
                ln += 1
                s = line.strip()
                if s == "Recorded Data":
                    break
                if ln > 200:
                    raise self._fail(ln, "no 'Recorded Data' page within the first 200 lines")
                key, sep, val = s.partition(":")
                if sep:
                    fields.setdefault(key.strip(), (ln, val.strip()))
            else:
                raise self._fail(ln, "the file ends before the first 'Recorded Data' page")
            self.header_lines = ln - 1
            self.size = f.seek(0, 2)

        def num(key: str, cast: type = float) -> float:
            if key not in fields:
                raise self._fail(self.header_lines, f"header has no '{key}' line")
            ln, val = fields[key]
            m = re.match(r"^[-+]?\d+(\.\d*)?", val)
            if not m:
                raise self._fail(ln, f"{key} is not a number: {val!r}")
            return cast(m.group(0))

        self.gain = np.array([num(f"{a} gain") for a in "xyz"])
        self.offset = np.array([num(f"{a} offset") for a in "xyz"])
        if (self.gain <= 0).any():
            ln = fields["x gain"][0]
            raise self._fail(ln, f"calibration gain must be positive, found {self.gain}")
        info = self.info
        info.nominal_rate_hz = num("Measurement Frequency")
        if not 0 < info.nominal_rate_hz <= 1000:
            raise self._fail(fields["Measurement Frequency"][0],
                             f"measurement frequency {info.nominal_rate_hz} Hz out of range")
        info.rate_hz = info.nominal_rate_hz
        pages = int(num("Number of Pages")) if "Number of Pages" in fields else None
        if pages is not None:
            info.duration_s = pages * SAMPLES_PER_PAGE / info.nominal_rate_hz
        self.pages_declared = pages
        model = fields.get("Device Model", (0, ""))[1]
        info.device = f"model {model}" if model else None
        info.serial = fields.get("Device Unique Serial Code", (0, None))[1] or None
        rng = re.match(r"^-?(\d+(\.\d+)?) to", fields.get("Accelerometer Range", (0, ""))[1])
        info.acc_range_g = float(rng.group(1)) if rng else None
        offset = None
        tz_ln, tz = fields.get("Time Zone", (0, ""))
        m = _TZ.match(tz)
        if m:
            sign = -1 if m.group(1) == "-" else 1
            offset = sign * dt.timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
        elif tz:
            info.warn(f"line {tz_ln}: time zone {tz!r} not understood (expected 'GMT +hh:mm')")
        self._utc_offset = offset
        self._tz = options.tz
        # the start: the first page's time (the header's Start Time is when it was armed)
        start = None
        for page in self._pages(count=False):
            start = page[1]
            break
        if start is None:
            raise self._fail(self.header_lines + 1, "no readable page of data")
        self._start = start
        set_clock(info, start, utc_offset=offset, tz=options.tz)

    def _pages(self, count: bool, progress: Callable[[float], None] | None = None
               ) -> Iterator[tuple[int, dt.datetime, float, str]]:
        """(line of the page, page time, rate, hex data) for each good page."""
        with self._open() as f:
            ln = 0
            for _ in range(self.header_lines):
                f.readline()
                ln += 1
            page: list[str] = []
            page_ln = 0
            done = 0  # characters read, for progress (tell() is off while iterating)
            for line in f:
                ln += 1
                done += len(line)
                s = line.strip()
                if s == "Recorded Data":
                    if page:
                        self._bad(page_ln, "an incomplete page", count)
                    page, page_ln = [s], ln
                    continue
                if not page:
                    if s:
                        self._bad(ln, "text outside a page", count)
                    continue
                page.append(s)
                if len(page) == 10:
                    got = self._check(page, page_ln, count)
                    page = []
                    if got is not None:
                        yield got
                        if progress is not None and int(got[0]) % 1000 < 10:
                            progress(min(1.0, done / self.size))
            if progress is not None:
                progress(1.0)
            if page:
                self._bad(page_ln, "a page cut short by the end of the file", count)

    def _bad(self, line: int, why: str, count: bool) -> None:
        if count:
            self.n_bad += 1
            if len(self.bad_lines) < 3:
                self.bad_lines.append(line)
            if self.n_bad == 1:
                self.first_bad = f"{why} at line {line}"

    def _check(self, page: list[str], ln: int, count: bool
               ) -> tuple[int, dt.datetime, float, str] | None:
        keys = ("Recorded Data", "Device Unique Serial Code", "Sequence Number", "Page Time",
                "Unassigned", "Temperature", "Battery voltage", "Device Status",
                "Measurement Frequency")
        vals = {}
        for i, key in enumerate(keys[1:], start=1):
            k, sep, v = page[i].partition(":")
            if k.strip() != key or not sep:
                self._bad(ln + i, f"expected '{key}:'", count)
                return None
            vals[key] = v.strip()
        try:
            stamp = _parse_time(vals["Page Time"])
            rate = float(vals["Measurement Frequency"])
            int(vals["Sequence Number"])
        except ValueError:
            self._bad(ln, "a page with an unreadable time, rate or sequence number", count)
            return None
        data = page[9]
        if len(data) != HEX_PER_PAGE or not 0 < rate <= 1000:
            self._bad(ln + 9, f"a data line of {len(data)} characters (expected "
                              f"{HEX_PER_PAGE})", count)
            return None
        return ln, stamp, rate, data

    def _decode(self, data: list[str]) -> np.ndarray | None:
        raw = np.frombuffer("".join(data).encode("latin-1"), dtype=np.uint8)
        nib = _HEX[raw]
        if (nib == 255).any():
            return None
        v = nib.reshape(len(data), SAMPLES_PER_PAGE, 4, 3).astype(np.int32)
        v = (v[..., 0] << 8) | (v[..., 1] << 4) | v[..., 2]
        xyz = v[..., :3]
        xyz = np.where(xyz >= 2048, xyz - 4096, xyz)
        return (xyz * 100.0 - self.offset) / self.gain

    def chunks(self, progress: Callable[[float], None] | None = None) -> Iterator[Chunk]:
        self.n_bad, self.bad_lines = 0, []
        last_end: float | None = None  # time of the sample after the previous page
        overlaps = 0
        rates: set[float] = set()
        batch: list[tuple[int, dt.datetime, float, str]] = []

        def flush() -> Iterator[Chunk]:
            nonlocal last_end, overlaps
            acc = self._decode([p[3] for p in batch])
            if acc is None:  # a bad hex digit somewhere: find the page(s), one by one
                keep = [p for p in batch if self._decode([p[3]]) is not None]
                for p in batch:
                    if p not in keep:
                        self._bad(p[0] + 9, "a data line with a character that is not hex",
                                  True)
                if not keep:
                    return
                acc = self._decode([p[3] for p in keep])
                assert acc is not None
                pages = keep
            else:
                pages = batch
            j = np.arange(SAMPLES_PER_PAGE)
            ts = []
            for _, stamp, rate, _ in pages:
                rates.add(rate)
                t0 = (stamp - self._start).total_seconds()
                if last_end is not None and t0 < last_end - 0.5 / rate:
                    overlaps += 1  # the page starts inside the previous one: lay it after
                    t0 = last_end
                ts.append(t0 + j / rate)
                last_end = t0 + SAMPLES_PER_PAGE / rate
            yield Chunk(np.concatenate(ts), acc.reshape(-1, 3), None)

        for page in self._pages(count=True, progress=progress):
            batch.append(page)
            if len(batch) == PAGES_PER_BATCH:
                yield from flush()
                batch = []
        if batch:
            yield from flush()
        info = self.info
        if self.n_bad:
            where = ", ".join(f"line {x}" for x in self.bad_lines)
            info.warn(f"skipped {self.n_bad} damaged page part(s) (first: {self.first_bad}; "
                      f"at {where}{', ...' if self.n_bad > len(self.bad_lines) else ''})")
        if overlaps:
            info.warn(f"{overlaps} page(s) stamped before the previous page ended: laid end "
                      "to end")
        if len(rates) > 1:
            info.warn(f"the rate changes between pages: {sorted(rates)} Hz")
