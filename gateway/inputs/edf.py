"""EDF, EDF+ (C and D) and BDF/BDF+ files with accelerometer (and gyroscope) channels.

Why our own reader rather than edfio (which the tests use to write EDF+ and BDF files and
to cross-check this reader): edfio loads a BDF file whole into memory (its lazy loading is
EDF only) and reads EDF+D as if it were continuous; pyEDFlib refuses EDF+D. The layout is
simple and fixed (edfplus.info): an ASCII header of 256 bytes plus 256 per signal, then
data records of fixed size, 2-byte (EDF) or 3-byte (BDF) little-endian samples. Reading
records a megabyte at a time keeps memory flat for any length, and the time-keeping
annotation of each record places EDF+D records where they belong.

Checked where it enters: the version field, every numeric header field, the header size,
the digital and physical ranges (max > min), samples per record, the accelerometer
channels (found by label, or named with ``--columns ax=LABEL,...``) at one rate, the record
count against the file size (a cut last record is dropped with a warning), and the
time-keeping annotation of each record in EDF+D. Errors name the header field or record.

Units come from each channel's physical dimension (``g``, ``mg``, ``m/s^2``; ``deg/s``,
``rad/s``); a blank one is declared with ``--acc-units``/``--gyro-units`` or, for the
accelerometer, detected from gravity. The start is the header's local clock time (EDF has
no time zone; ``--tz`` gives one), with the sub-second part of EDF+.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from ..errors import RecordingError
from ._base import (
    AXES,
    BLOCK_BYTES,
    STANDARD_GRAVITY,
    Chunk,
    InputInfo,
    InputOptions,
    acc_scale,
    auto_axis,
    gyro_scale,
    monotonic_guard,
    set_clock,
)

ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_ACC_DIMS = {"g": 1.0, "mg": 1e-3, "m/s^2": 1.0 / STANDARD_GRAVITY,
             "m/s2": 1.0 / STANDARD_GRAVITY, "m/s/s": 1.0 / STANDARD_GRAVITY}
_GYRO_DIMS = {"deg/s": 1.0, "dps": 1.0, "degree/s": 1.0, "deg/sec": 1.0,
              "rad/s": 180.0 / np.pi}
PROBE_S = 60.0  # seconds read at opening to detect units from gravity when not declared


@dataclass
class _Signal:
    label: str
    dim: str
    pmin: float
    pmax: float
    dmin: int
    dmax: int
    spr: int
    offset: int  # first sample of this signal within a record (in samples)

    @property
    def gain(self) -> float:
        return (self.pmax - self.pmin) / (self.dmax - self.dmin)


class EdfInput:
    def __init__(self, path: pathlib.Path, options: InputOptions) -> None:
        self.path = path
        self.options = options
        self._read_header()
        self.info = InputInfo(format=self.fmt, path=path)
        self._pick_channels()
        self._start_time()
        self._units()

    def _fail(self, where: str, why: str) -> RecordingError:
        return RecordingError(f"{self.path}: {where}: {why}")

    # -- header
    def _read_header(self) -> None:
        try:
            with open(self.path, "rb") as f:
                head = f.read(256)
                self.size = f.seek(0, 2)
                f.seek(0)
                if len(head) < 256:
                    raise self._fail("header", f"{len(head)} bytes, an EDF header has 256 "
                                               "or more")
                version = head[:8]
                if version == b"\xffBIOSEMI":
                    self.bps, base = 3, "BDF"
                elif version == b"0       ":
                    self.bps, base = 2, "EDF"
                else:
                    raise self._fail("version field (bytes 0-7)", f"{version!r} is neither "
                                     "EDF ('0') nor BDF ('\\xffBIOSEMI')")
                text = head.decode("latin-1")
                ns = self._int(text[252:256], "number of signals (bytes 252-255)")
                if not 0 < ns <= 4096:
                    raise self._fail("number of signals", f"{ns}, expected 1 to 4096")
                hdr_bytes = self._int(text[184:192], "header bytes (bytes 184-191)")
                if hdr_bytes != 256 * (ns + 1):
                    raise self._fail("header bytes (bytes 184-191)", f"{hdr_bytes}, expected "
                                     f"{256 * (ns + 1)} for {ns} signals")
                sig = f.read(hdr_bytes)[256:].decode("latin-1")
                if len(sig) < 256 * ns:
                    raise self._fail("signal headers", "the file ends inside them")
        except OSError as e:
            raise RecordingError(f"{self.path}: {e.strerror or e}") from None
        reserved = text[192:236].strip()
        self.plus = reserved.startswith(("EDF+", "BDF+"))
        self.discontinuous = reserved.startswith(("EDF+D", "BDF+D"))
        self.fmt = (base + ("+D" if self.discontinuous else "+C" if self.plus else ""))
        self.patient, self.recording = text[8:88].strip(), text[88:168].strip()
        self.startdate, self.starttime = text[168:176], text[176:184]
        self.n_records = self._int(text[236:244], "number of data records (bytes 236-243)")
        self.duration = self._float(text[244:252], "data record duration (bytes 244-251)")
        self.header_bytes = hdr_bytes

        def field(width: int, start: int, i: int) -> str:
            at = start + i * width
            return sig[at:at + width].strip()

        widths = [16, 80, 8, 8, 8, 8, 8, 80, 8, 32]
        starts = np.concatenate([[0], np.cumsum(np.array(widths) * ns)[:-1]]).tolist()
        self.signals: list[_Signal] = []
        offset = 0
        for i in range(ns):
            label = field(16, starts[0], i)
            where = f"signal {i + 1} ({label!r})"
            s = _Signal(label=label, dim=field(8, starts[2], i),
                        pmin=self._float(field(8, starts[3], i), f"{where} physical minimum"),
                        pmax=self._float(field(8, starts[4], i), f"{where} physical maximum"),
                        dmin=self._int(field(8, starts[5], i), f"{where} digital minimum"),
                        dmax=self._int(field(8, starts[6], i), f"{where} digital maximum"),
                        spr=self._int(field(8, starts[8], i), f"{where} samples per record"),
                        offset=offset)
            if s.spr <= 0:
                raise self._fail(where, f"{s.spr} samples per record, expected 1 or more")
            if label not in ANNOTATION_LABELS:
                if s.dmax <= s.dmin:
                    raise self._fail(where, f"digital maximum {s.dmax} is not above the "
                                            f"minimum {s.dmin}")
                if s.pmax == s.pmin:
                    raise self._fail(where, f"physical minimum and maximum are both {s.pmin}")
            offset += s.spr
            self.signals.append(s)
        self.record_samples = offset
        self.record_bytes = offset * self.bps
        if self.duration <= 0:
            raise self._fail("data record duration", f"{self.duration} s: an annotation-only "
                                                     "file holds no motion signals")
        whole = (self.size - self.header_bytes) // self.record_bytes
        cut = (self.size - self.header_bytes) - whole * self.record_bytes
        self.file_records = whole
        self.header_warnings = []
        if self.n_records not in (-1, whole):
            self.header_warnings.append(f"the header says {self.n_records} data records, the "
                                        f"file holds {whole}: read {whole}")
        if cut:
            self.header_warnings.append(f"the last data record is cut short ({cut} of "
                                        f"{self.record_bytes} bytes): ignored")
        if whole == 0:
            raise self._fail("data records", "none in the file")

    def _int(self, text: str, what: str) -> int:
        try:
            return int(text.strip())
        except ValueError:
            raise self._fail(what, f"{text.strip()!r} is not an integer") from None

    def _float(self, text: str, what: str) -> float:
        try:
            v = float(text.strip())
        except ValueError:
            raise self._fail(what, f"{text.strip()!r} is not a number") from None
        if not np.isfinite(v):
            raise self._fail(what, f"{text.strip()!r} is not a finite number")
        return v

    # -- channels
    def _pick_channels(self) -> None:
        info = self.info
        info.warnings.extend(self.header_warnings)
        by_label = {s.label.strip().lower(): s for s in self.signals}
        chosen: dict[str, _Signal] = {}
        wanted = {k: v for k, v in self.options.columns.items() if k in AXES}
        for axis, label in wanted.items():
            s = by_label.get(label.strip().lower())
            if s is None:
                raise self._fail("--columns", f"{axis}={label}: no such signal (signals: "
                                 f"{self._labels()})")
            chosen[axis] = s
        for sig in self.signals:
            found = auto_axis(sig.label)
            if found and found not in chosen and found not in wanted:
                chosen[found] = sig
        missing = [a for a in ("ax", "ay", "az") if a not in chosen]
        if missing:
            raise self._fail("signals", f"no accelerometer channel for {', '.join(missing)} "
                             f"(signals: {self._labels()}); name them with --columns "
                             "ax=LABEL,ay=LABEL,az=LABEL")
        acc = [chosen[a] for a in ("ax", "ay", "az")]
        if len({s.spr for s in acc}) != 1:
            raise self._fail("signals", "the accelerometer channels differ in rate ("
                             + ", ".join(f"{s.label}: {s.spr / self.duration:g} Hz"
                                         for s in acc) + ")")
        gyro = [chosen[a] for a in ("gx", "gy", "gz") if a in chosen]
        if gyro and (len(gyro) != 3 or {s.spr for s in gyro} != {acc[0].spr}):
            info.warn("gyroscope channels ignored: " + (
                "not all three axes found" if len(gyro) != 3 else
                "their rate differs from the accelerometer's"))
            gyro = []
        self.acc, self.gyro = acc, gyro or None
        self.spr = acc[0].spr
        rate = self.spr / self.duration
        info.rate_hz = info.nominal_rate_hz = rate
        info.has_gyro = self.gyro is not None
        info.duration_s = self.file_records * self.duration
        info.acc_range_g = None
        self.ann = next((s for s in self.signals if s.label in ANNOTATION_LABELS), None)
        if self.plus and self.ann is None:
            info.warn("an EDF+ file without an annotation signal: records taken as "
                      "contiguous")
        m = re.search(r"Startdate \S+ \S+ \S+ (\S+)", self.recording)
        if m and m.group(1) != "X":
            info.device = m.group(1).replace("_", " ")

    def _labels(self) -> str:
        return ", ".join(repr(s.label) for s in self.signals) or "none"

    # -- time
    def _start_time(self) -> None:
        info = self.info
        try:
            d, mo, y = (int(x) for x in self.startdate.split("."))
            h, mi, s = (int(x) for x in self.starttime.split("."))
            year = 1900 + y if y >= 85 else 2000 + y
            m = re.match(r"Startdate (\d{2})-([A-Z]{3})-(\d{4})", self.recording)
            if self.plus and m and m.group(2) in _MONTHS:
                year = int(m.group(3))  # EDF+ keeps the 4-digit year here (after 2084 too)
            start = dt.datetime(year, mo, d, h, mi, s)
        except ValueError:
            info.warn(f"start date/time {self.startdate!r} {self.starttime!r} not readable "
                      "(expected dd.mm.yy hh.mm.ss): clock time unknown")
            start = None
        self.onset0 = 0.0
        if self.plus and self.ann is not None:
            with open(self.path, "rb") as f:
                f.seek(self.header_bytes)
                onsets = self._onsets(f.read(self.record_bytes), 0)
            self.onset0 = float(onsets[0])
            if start is not None and 0 < self.onset0 < 1:
                start += dt.timedelta(seconds=self.onset0)
        set_clock(info, start, tz=self.options.tz)

    def _onsets(self, raw: bytes, first_record: int) -> np.ndarray:
        """The time-keeping onset of each record (seconds from the header's start)."""
        assert self.ann is not None
        n = len(raw) // self.record_bytes
        rec = np.frombuffer(raw, dtype=np.uint8, count=n * self.record_bytes)
        rec = rec.reshape(n, self.record_bytes)
        a0 = self.ann.offset * self.bps
        ann = rec[:, a0:a0 + self.ann.spr * self.bps]
        out = np.empty(n)
        for i in range(n):
            text = ann[i].tobytes()
            head = text.split(b"\x14", 1)[0].split(b"\x15", 1)[0]
            try:
                out[i] = float(head.decode("ascii"))
            except (UnicodeDecodeError, ValueError):
                raise self._fail(f"data record {first_record + i}", "no time-keeping "
                                 f"annotation ('+seconds' expected, found {head[:20]!r})"
                                 ) from None
        return out

    # -- units
    def _units(self) -> None:
        info, opt = self.info, self.options
        dims = {s.dim.strip().lower() for s in self.acc}
        known = {_ACC_DIMS.get(d) for d in dims}
        self.acc_factor: float
        if opt.acc_units is None and len(known) == 1 and None not in known:
            self.acc_factor = known.pop()  # type: ignore[assignment]
        else:
            median = None
            if opt.acc_units is None:
                median = self._probe_norm()
                info.warn(f"accelerometer unit {'/'.join(sorted(dims)) or 'blank'!r} not "
                          "understood: decided from gravity")
            self.acc_factor = acc_scale(info, opt.acc_units, median, "acceleration")
        phys_max = max(max(abs(s.pmin), abs(s.pmax)) for s in self.acc)
        info.acc_range_g = round(phys_max * self.acc_factor, 3)
        self.gyro_factor = 1.0
        if self.gyro is not None:
            gdims = {s.dim.strip().lower() for s in self.gyro}
            gknown = {_GYRO_DIMS.get(d) for d in gdims}
            if opt.gyro_units is not None:
                self.gyro_factor = gyro_scale(info, opt.gyro_units)
            elif len(gknown) == 1 and None not in gknown:
                self.gyro_factor = gknown.pop()  # type: ignore[assignment]
            else:
                info.warn(f"gyroscope unit {'/'.join(sorted(gdims)) or 'blank'!r} not "
                          "understood: read as deg/s (declare --gyro-units)")
            info.gyro_range_dps = round(max(max(abs(s.pmin), abs(s.pmax))
                                            for s in self.gyro) * self.gyro_factor, 3)

    def _probe_norm(self) -> float | None:
        n = max(1, min(self.file_records, int(np.ceil(PROBE_S / self.duration))))
        with open(self.path, "rb") as f:
            f.seek(self.header_bytes)
            raw = f.read(n * self.record_bytes)
        acc = self._decode(raw, self.acc, 1.0)
        return float(np.median(np.linalg.norm(acc, axis=1))) if len(acc) else None

    # -- data
    def _decode(self, raw: bytes, sigs: list[_Signal], factor: float) -> np.ndarray:
        n = len(raw) // self.record_bytes
        if self.bps == 2:
            rec = np.frombuffer(raw, dtype="<i2", count=n * self.record_samples)
            rec = rec.reshape(n, self.record_samples)
        else:
            b = np.frombuffer(raw, dtype=np.uint8, count=n * self.record_bytes)
            b = b.reshape(n, self.record_samples, 3).astype(np.int32)
            rec = b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16)
            rec = np.where(rec >= 1 << 23, rec - (1 << 24), rec)
        cols = []
        for s in sigs:
            d = rec[:, s.offset:s.offset + s.spr].reshape(-1).astype(np.float64)
            cols.append(((d - s.dmin) * s.gain + s.pmin) * factor)
        return np.stack(cols, axis=1)

    def chunks(self, progress: Callable[[float], None] | None = None) -> Iterator[Chunk]:
        per_batch = max(1, BLOCK_BYTES // self.record_bytes)
        rate = self.spr / self.duration
        j = np.arange(self.spr) / rate
        last_end = last_t = -np.inf
        dropped = gaps = 0
        try:
            f = open(self.path, "rb")  # noqa: SIM115 - closed in the finally below
        except OSError as e:
            raise RecordingError(f"{self.path}: {e.strerror or e}") from None
        try:
            f.seek(self.header_bytes)
            k = 0
            while k < self.file_records:
                n = min(per_batch, self.file_records - k)
                raw = f.read(n * self.record_bytes)
                if len(raw) < n * self.record_bytes:
                    raise self._fail(f"data record {k}", "the file changed while being read")
                acc = self._decode(raw, self.acc, self.acc_factor)
                gyro = (self._decode(raw, self.gyro, self.gyro_factor)
                        if self.gyro is not None else None)
                starts: np.ndarray
                if self.discontinuous and self.ann is not None:
                    starts = self._onsets(raw, k) - self.onset0
                    prev = np.concatenate([[last_end], starts[:-1] + self.duration])
                    gaps += int((np.isfinite(prev) & (starts > prev + 0.5 / rate)).sum())
                    last_end = float(starts[-1] + self.duration)
                else:
                    starts = np.arange(k, k + n, dtype=np.float64) * self.duration
                t = (starts[:, None] + j[None, :]).reshape(-1)
                keep = monotonic_guard(t, last_t)
                if not keep.all():
                    dropped += int((~keep).sum())
                    t, acc = t[keep], acc[keep]
                    gyro = gyro[keep] if gyro is not None else None
                if len(t):
                    last_t = float(t[-1])
                    yield Chunk(t, acc, gyro)
                k += n
                if progress is not None:
                    progress(k / self.file_records)
        finally:
            f.close()
        if dropped:
            self.info.warn(f"{dropped} samples dropped: EDF+D records overlapped earlier ones")
        if gaps:
            self.info.warn(f"{gaps} gap(s) between EDF+D records")
