"""ActiGraph ``.gt3x`` (firmware 3.0 and later: GT3X+, wGT3X+, wGT3X-BT, ActiSleep+,
GT9X Link), read with our own code.

Why our own: the format is documented by ActiGraph (actigraph/GT3X-File-Format): a zip
with ``info.txt`` (rate, start, time zone, serial) and ``log.bin``, a stream of records
``0x1E, type, Unix second, size, payload, XOR checksum``; ACTIVITY (0x00) holds one second
of 12-bit YXZ samples, ACTIVITY2 (0x1A) one second of int16 XYZ. ActiGraph's own reader
``pygt3x`` is GPL-3.0 (this project is MIT) and pulls in pandas; ``actipy`` needs Java and
has a non-commercial licence.

Checked where it enters: the zip, ``info.txt`` (rate, scale), and every record's separator,
size and checksum. A bad record is skipped and counted, and reading resumes at the next
separator that starts a record with a good checksum; zero bytes between records are
allowed (the documentation says so). No activity record, or a broken zip, raises
:class:`RecordingError`.

Idle sleep mode: a device set to sleep when still writes no samples, only an EVENT record
(payload 0x08 entering, 0x09 leaving). Like pygt3x (and ActiLife), the still seconds are
filled with the last sample, and a warning says how long. Other missing seconds stay gaps.

Not read: the NHANES-era files (firmware 2.5.0 and older: ``activity.bin`` and
``log.txt``), and the on-device calibration (``calibration.json``): samples are the raw
scale the device reports, as pygt3x gives them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import pathlib
import re
import zipfile
from collections.abc import Callable, Iterator
from typing import IO

import numpy as np

from ..errors import RecordingError
from ._base import BLOCK_BYTES, Chunk, InputInfo, InputOptions, set_clock

SEP = 0x1E
ACTIVITY, EVENT, PARAMETERS, ACTIVITY2 = 0x00, 0x03, 0x15, 0x1A
ISM_ON, ISM_OFF = b"\x08", b"\x09"
MAX_PAYLOAD = 65535
# Samples of a chunk before it is handed on (about a minute at 100 Hz).
CHUNK_SAMPLES = 6000


def decode_float(v: int) -> float:
    """ActiGraph's parameter float: a 24-bit two's complement fraction and an 8-bit
    exponent (LogRecords/Parameters.md)."""
    if v in (0x007FFFFF, 0x00800000):
        return float("inf") if v == 0x007FFFFF else float("-inf")
    exp = (v >> 24) & 0xFF
    exp = exp - 256 if exp & 0x80 else exp
    frac = v & 0xFFFFFF
    frac = frac - (1 << 24) if frac & 0x800000 else frac
    return frac / float(1 << 23) * 2.0 ** exp


def unpack_activity(payload: bytes) -> np.ndarray:
    """ACTIVITY: 12-bit big-endian YXZ triplets -> (n, 3) raw XYZ counts."""
    b = np.frombuffer(payload, dtype=np.uint8)
    nib = np.empty(2 * len(b), dtype=np.int32)
    nib[0::2] = b >> 4
    nib[1::2] = b & 0x0F
    n = len(nib) // 9
    v = nib[: n * 9].reshape(n, 3, 3)
    v = (v[..., 0] << 8) | (v[..., 1] << 4) | v[..., 2]
    v = np.where(v >= 2048, v - 4096, v)
    return v[:, [1, 0, 2]]


def unpack_activity2(payload: bytes) -> np.ndarray:
    n = len(payload) // 6
    return np.frombuffer(payload, dtype="<i2", count=n * 3).reshape(n, 3).astype(np.int32)


class Gt3xInput:
    FORMAT = "ActiGraph GT3X"

    def __init__(self, path: pathlib.Path, options: InputOptions) -> None:
        self.path = path
        self.info = InputInfo(format=self.FORMAT, path=path)
        self.scale: float | None = None
        with self._zip() as z:
            self._read_info(z, options)
        self._first: int | None = None
        with self._zip() as z, z.open("log.bin") as f:
            for rec in self._records(f, count=False):
                if rec[0] in (ACTIVITY, ACTIVITY2) and len(rec[2]) > 1:
                    self._first = rec[1]
                    break
                if rec[0] == PARAMETERS:
                    self._parameters(rec[2])
        if self._first is None:
            raise RecordingError(f"{path}: log.bin holds no activity record (raw samples); "
                                 "was the device set to record epochs only?")
        start = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=self._first)
        set_clock(self.info, start, utc_offset=self._utc_offset, tz=options.tz)

    def _zip(self) -> zipfile.ZipFile:
        try:
            return zipfile.ZipFile(self.path)
        except (OSError, zipfile.BadZipFile) as e:
            raise RecordingError(f"{self.path}: not a GT3X file (a zip archive expected: "
                                 f"{e})") from None

    def _read_info(self, z: zipfile.ZipFile, options: InputOptions) -> None:
        names = set(z.namelist())
        if "log.bin" not in names:
            if "activity.bin" in names:
                raise RecordingError(f"{self.path}: an old (NHANES-era, firmware 2.5.0 or "
                                     "earlier) GT3X file with activity.bin: not supported")
            raise RecordingError(f"{self.path}: the archive has no log.bin "
                                 f"(found {', '.join(sorted(names)) or 'nothing'})")
        if "info.txt" not in names:
            raise RecordingError(f"{self.path}: the archive has no info.txt")
        try:
            text = z.read("info.txt").decode("utf-8-sig", errors="replace")
            self.log_size = z.getinfo("log.bin").file_size
        except (OSError, zipfile.BadZipFile, EOFError) as e:
            raise RecordingError(f"{self.path}: info.txt unreadable ({e})") from None
        kv = {}
        for line in text.splitlines():
            k, sep, v = line.partition(":")
            if sep:
                kv[k.strip()] = v.strip()
        info = self.info
        try:
            rate = float(kv["Sample Rate"])
        except (KeyError, ValueError):
            raise RecordingError(f"{self.path}: info.txt: 'Sample Rate' missing or not a "
                                 f"number ({kv.get('Sample Rate')!r})") from None
        if not 0 < rate <= 1000:
            raise RecordingError(f"{self.path}: info.txt: sample rate {rate} Hz out of range")
        info.nominal_rate_hz = info.rate_hz = rate
        info.serial = kv.get("Serial Number") or None
        info.device = kv.get("Device Type") or None
        if "Acceleration Scale" in kv:
            with contextlib.suppress(ValueError):
                self.scale = float(kv["Acceleration Scale"])
        if self.scale is None:
            # the documented default: NEO/CLE serials 341 counts/g, MOS 256
            self.scale = 256.0 if (info.serial or "").startswith("MOS") else 341.0
        try:
            info.acc_range_g = float(kv["Acceleration Max"])
        except (KeyError, ValueError):
            info.acc_range_g = 6.0 if self.scale == 341.0 else 8.0
        self._utc_offset = None
        m = re.match(r"^([+-])?(\d{1,2}):(\d{2})(:\d{2})?$", kv.get("TimeZone", ""))
        if m:
            sign = -1 if m.group(1) == "-" else 1
            self._utc_offset = sign * dt.timedelta(hours=int(m.group(2)),
                                                   minutes=int(m.group(3)))

    def _parameters(self, payload: bytes) -> None:
        for i in range(0, len(payload) - 7, 8):
            space = int.from_bytes(payload[i:i + 2], "little")
            ident = int.from_bytes(payload[i + 2:i + 4], "little")
            value = int.from_bytes(payload[i + 4:i + 8], "little")
            if space == 0 and ident == 55:  # ACCEL_SCALE, documented to win over defaults
                scale = decode_float(value)
                if 10.0 < scale < 100_000.0:
                    self.scale = scale

    def _records(self, f: IO[bytes], count: bool, progress: Callable[[float], None] | None
                 = None) -> Iterator[tuple[int, int, bytes]]:
        """(type, timestamp, payload) of every record with a good checksum."""
        buf = b""
        pos = 0  # offset in log.bin of buf[0]
        eof = False
        i = 0
        resync = False  # after a bad record: false starts inside it are not counted again
        while True:
            if len(buf) - i < 8 + MAX_PAYLOAD + 1 and not eof:
                more = f.read(BLOCK_BYTES)
                eof = not more
                buf, pos, i = buf[i:] + more, pos + i, 0
                if progress is not None:
                    progress(min(1.0, pos / max(1, self.log_size)))
            if i >= len(buf):
                return
            if buf[i] != SEP:
                if buf[i] != 0:  # zero padding is allowed; anything else is damage
                    j = buf.find(bytes([SEP]), i)
                    self._bad(pos + i, "bytes outside a record", count and not resync)
                    resync = True
                    i = len(buf) if j < 0 else j
                else:
                    i += 1
                continue
            if len(buf) - i < 9:
                self._bad(pos + i, "a record cut short by the end of log.bin",
                          count and not resync)
                return
            typ = buf[i + 1]
            stamp = int.from_bytes(buf[i + 2:i + 6], "little")
            size = int.from_bytes(buf[i + 6:i + 8], "little")
            end = i + 8 + size
            if end >= len(buf):  # at the end of log.bin: cut short, or a damaged size
                self._bad(pos + i, "a record cut short by the end of log.bin",
                          count and not resync)
                resync = True
                i += 1
                continue
            rec = buf[i:end]
            x = np.bitwise_xor.reduce(np.frombuffer(rec, dtype=np.uint8)) if size > 64 else \
                _xor(rec)
            if (~int(x)) & 0xFF != buf[end]:
                self._bad(pos + i, f"a record (type 0x{typ:02x}) with a bad checksum",
                          count and not resync)
                resync = True
                i += 1  # resynchronise on the next separator
                continue
            resync = False
            yield typ, stamp, rec[8:]
            i = end + 1

    def _bad(self, offset: int, why: str, count: bool) -> None:
        if not count:
            return
        self.n_bad += 1
        if self.n_bad == 1:
            self.first_bad = f"{why} at log.bin offset {offset}"

    def chunks(self, progress: Callable[[float], None] | None = None) -> Iterator[Chunk]:
        assert self.scale is not None and self._first is not None
        self.n_bad = 0
        rate = self.info.nominal_rate_hz or 1.0
        t_parts: list[np.ndarray] = []
        a_parts: list[np.ndarray] = []
        n_held = 0
        last_sec: int | None = None
        last_xyz: np.ndarray | None = None
        ism_since: int | None = None
        ism_filled = 0
        repeated = 0
        partial = 0

        def add(sec: int, xyz: np.ndarray) -> None:
            nonlocal n_held
            j = np.arange(len(xyz))
            t_parts.append((sec - self._first) + j / rate)  # type: ignore[operator]
            a_parts.append(xyz)
            n_held += len(xyz)

        def fill(until: int) -> None:
            nonlocal ism_filled
            if last_sec is None or last_xyz is None:
                return
            for sec in range(last_sec + 1, until):
                add(sec, np.repeat(last_xyz[None, :], round(rate), axis=0))
                ism_filled += 1

        with self._zip() as z:
            try:
                f = z.open("log.bin")
            except (OSError, zipfile.BadZipFile) as e:
                raise RecordingError(f"{self.path}: log.bin unreadable ({e})") from None
            with f:
                try:
                    for typ, sec, payload in self._records(f, True, progress):
                        if typ == EVENT and payload == ISM_ON:
                            ism_since = sec
                            continue
                        if typ == EVENT and payload == ISM_OFF:
                            if ism_since is not None:
                                fill(sec)
                                last_sec = max(last_sec or sec, sec - 1)
                            ism_since = None
                            continue
                        if typ not in (ACTIVITY, ACTIVITY2) or len(payload) <= 1:
                            continue  # 1-byte activity records mark a USB connection
                        if last_sec is not None and sec <= last_sec:
                            repeated += 1
                            continue
                        if ism_since is not None:
                            fill(sec)
                            ism_since = None
                        raw = unpack_activity(payload) if typ == ACTIVITY else \
                            unpack_activity2(payload)
                        if len(raw) != round(rate):
                            partial += 1
                        xyz = raw / self.scale
                        if len(xyz):
                            add(sec, xyz)
                            last_sec, last_xyz = sec, xyz[-1]
                        if n_held >= CHUNK_SAMPLES:
                            yield Chunk(np.concatenate(t_parts), np.concatenate(a_parts), None)
                            t_parts.clear()
                            a_parts.clear()
                            n_held = 0
                except (zipfile.BadZipFile, EOFError, OSError) as e:
                    self.info.warn(f"log.bin stops being readable ({e}): the rest is lost")
        if ism_since is not None and last_sec is not None and ism_since > last_sec:
            fill(ism_since + 1)
        if t_parts:
            yield Chunk(np.concatenate(t_parts), np.concatenate(a_parts), None)
        if progress is not None:
            progress(1.0)
        info = self.info
        if self.n_bad:
            info.warn(f"skipped {self.n_bad} damaged record(s) (first: {self.first_bad})")
        if ism_filled:
            info.warn(f"{ism_filled} s of idle sleep mode (the device slept while still) "
                      "filled with the last sample")
        if repeated:
            info.warn(f"{repeated} activity record(s) repeated an earlier second: skipped")
        if partial:
            info.warn(f"{partial} activity record(s) did not hold {round(rate)} samples")


def _xor(b: bytes) -> int:
    x = 0
    for c in b:
        x ^= c
    return x
