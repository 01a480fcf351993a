"""Axivity ``.cwa`` (AX3 accelerometer; AX6 with gyroscope), read with our own code.

Why our own: the format is small and fully documented (OpenMovement ``cwa.h``: a 1024-byte
``MD`` header, then 512-byte ``AX`` blocks with a checksum), and numpy decodes a megabyte
of blocks at a time. The PyPI readers are either old builds (``openmovement`` 0.0.1,
2021), pull in pandas and a compiled wheel (``cwa-reader-rs``), or bring a whole analysis
stack (``scikit-digital-health``: scikit-learn, lightgbm, matplotlib).

Checked where it enters: the header magic and length, and for every block its magic,
length, zero-sum checksum, session id, axes/packing (the same as the first block), sample
count, rate code and timestamp fields. A block that fails is skipped and counted (blocks
sit at fixed 512-byte offsets, so the next one is found whatever the damage); a file with
no good block, or not a CWA file, raises :class:`RecordingError`.

Time: each block stamps one sample with the device's clock (whole seconds, plus a 1/65536 s
fraction on current firmware). The firmware wrote the stamp when ``timestampOffset +
fraction x rate`` samples were in its FIFO (the rule GGIRread applies); samples are placed by
linear interpolation between consecutive blocks' stamps, so the device's real rate (AX3
often 98-99 Hz for "100 Hz") and its slow drift are followed. The clock is local time with
no zone in the file (``--tz`` gives one).
"""

from __future__ import annotations

import datetime as dt
import pathlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import RecordingError
from ._base import (
    BLOCK_BYTES,
    Chunk,
    InputInfo,
    InputOptions,
    days_from_civil,
    monotonic_guard,
    set_clock,
)

BLOCK = 512
HEADER = 1024
BATCH_BLOCKS = BLOCK_BYTES // BLOCK

_BLOCK = np.dtype([
    ("magic", "<u2"), ("length", "<u2"), ("frac", "<u2"), ("session", "<u4"),
    ("seq", "<u4"), ("stamp", "<u4"), ("light", "<u2"), ("temp", "<u2"), ("events", "u1"),
    ("battery", "u1"), ("rate", "u1"), ("axbps", "u1"), ("toff", "<i2"), ("count", "<u2"),
    ("data", "V480"), ("checksum", "<u2")])
assert _BLOCK.itemsize == BLOCK
MAGIC_AX = 0x5841  # "AX" little-endian
AX6_TYPES = {0x64: "AX6"}
AX3_TYPES = {0x00, 0x17, 0xFF}
# A stamped period further than this from the nominal one is a clock step, not the rate:
# the ADXL345/BMI160 run within a few percent of their nominal rate.
PERIOD_TOLERANCE = (0.8, 1.25)
# Blocks each side whose stamps time a block: the AX6 places its stamp to +/-1 sample, and
# a line through 17 stamps (7 s at 100 Hz on an AX6, 10 s at 200 Hz on an AX3) averages that
# out while still following the crystal's slow drift.
FIT_HALF = 8


def rate_from_code(code: int) -> float:
    return 3200.0 / (1 << (15 - (code & 0x0F)))


@dataclass
class _Pending:
    """Decoded good blocks, some waiting for the stamps after them (to be timed)."""

    seq: np.ndarray
    anchor_t: np.ndarray  # device-clock seconds of the stamped sample
    anchor_i: np.ndarray  # index in the block of the stamped sample (may be >= count)
    count: np.ndarray
    acc: np.ndarray  # (k, cap, 3) g
    gyro: np.ndarray | None  # (k, cap, 3) deg/s


class CwaInput:
    FORMAT = "Axivity CWA"

    def __init__(self, path: pathlib.Path, options: InputOptions) -> None:
        self.path = path
        self.options = options
        self.info = InputInfo(format=self.FORMAT, path=path)
        self._read_header()
        self._layout: tuple[int, int, int] | None = None  # axes, packing, rate code
        self.bad: dict[str, list[int]] = {}  # why -> first few block numbers
        self.bad_n: dict[str, int] = {}
        gen = self._absolute(count=False)
        first = next(gen, None)
        gen.close()
        if first is None:
            for _ in self._absolute(count=True):  # again, counting why, for the message
                pass
            raise RecordingError(f"{path}: no readable data block ({self._bad_text()})")
        self._t0 = float(first[0][0])
        self.info.has_gyro = first[2] is not None
        self._measure_rate()
        set_clock(self.info, dt.datetime(1970, 1, 1) + dt.timedelta(seconds=self._t0),
                  tz=options.tz)

    # -- header
    def _read_header(self) -> None:
        try:
            with open(self.path, "rb") as f:
                head = f.read(HEADER)
                self.size = f.seek(0, 2)
        except OSError as e:
            raise RecordingError(f"{self.path}: {e.strerror or e}") from None
        if len(head) < HEADER or head[:2] != b"MD":
            raise RecordingError(f"{self.path}: offset 0: not an Axivity CWA file (expected "
                                 f"an 'MD' header of 1024 bytes, found {head[:2]!r})")
        length = int.from_bytes(head[2:4], "little")
        if length != HEADER - 4:
            raise RecordingError(f"{self.path}: offset 2: header length {length}, expected "
                                 f"{HEADER - 4}")
        hw = head[4]
        model = AX6_TYPES.get(hw) or ("AX3" if hw in AX3_TYPES else f"hardware 0x{hw:02x}")
        lower = int.from_bytes(head[5:7], "little")
        upper = int.from_bytes(head[11:13], "little")
        self.session = int.from_bytes(head[7:11], "little")
        sensor = head[35]
        rate_code = head[36]
        info = self.info
        info.device = model
        info.serial = str(lower | ((0 if upper == 0xFFFF else upper) << 16))
        info.nominal_rate_hz = rate_from_code(rate_code)
        info.acc_range_g = float(16 >> (rate_code >> 6))
        self.header_gyro_dps = None
        if sensor not in (0x00, 0xFF) and sensor & 0x0F:
            self.header_gyro_dps = 8000.0 / (1 << (sensor & 0x0F))
            info.gyro_range_dps = self.header_gyro_dps
        self.nominal_hz = info.nominal_rate_hz
        # the firmware's integer rate, used when it placed the stamp in its FIFO
        self.firmware_hz = max(1, int(self.nominal_hz))
        n_blocks = (self.size - HEADER) // BLOCK
        if n_blocks <= 0:
            raise RecordingError(f"{self.path}: offset {HEADER}: no data block after the "
                                 "header (file too short)")
        self.n_blocks = n_blocks

    # -- blocks
    def _count_bad(self, why: str, block_numbers: np.ndarray) -> None:
        if not len(block_numbers):
            return
        lst = self.bad.setdefault(why, [])
        lst.extend(int(b) for b in block_numbers[: max(0, 3 - len(lst))])
        self.bad_n[why] = self.bad_n.get(why, 0) + len(block_numbers)

    def _bad_text(self) -> str:
        parts = []
        for why, blocks in self.bad.items():
            n = self.bad_n[why]
            where = ", ".join(f"block {b} (offset {HEADER + b * BLOCK})" for b in blocks)
            parts.append(f"{n} {why}: {where}{', ...' if n > len(blocks) else ''}")
        return "; ".join(parts) or "the file holds no data block"

    def _decode(self, raw: bytes, first_block: int, count: bool) -> _Pending | None:
        n = len(raw) // BLOCK
        b = np.frombuffer(raw, dtype=_BLOCK, count=n)
        numbers = np.arange(first_block, first_block + n)
        words = np.frombuffer(raw, dtype="<u2", count=n * 256).reshape(n, 256)
        ok = (b["magic"] == MAGIC_AX) & (b["length"] == BLOCK - 4)
        blank = ~ok & ((words == 0xFFFF).all(axis=1) | (words == 0).all(axis=1))
        if count:
            self._count_bad("blocks that are not data blocks", numbers[~ok & ~blank])
            self._count_bad("empty blocks", numbers[blank])
        sums = words.sum(axis=1, dtype=np.uint64) & 0xFFFF
        bad_sum = ok & (sums != 0)
        if count:
            self._count_bad("damaged blocks (checksum)", numbers[bad_sum])
        ok &= ~bad_sum
        if self._layout is None and ok.any():
            i = int(np.flatnonzero(ok)[0])
            axes, packing = int(b["axbps"][i]) >> 4, int(b["axbps"][i]) & 0x0F
            if axes not in (3, 6, 9) or packing not in (0, 2) or (packing == 0 and axes != 3):
                raise RecordingError(f"{self.path}: block {first_block + i} (offset "
                                     f"{HEADER + (first_block + i) * BLOCK}): unsupported "
                                     f"sample layout 0x{int(b['axbps'][i]):02x} (expected 3 "
                                     "packed, or 3/6/9 16-bit axes)")
            self._layout = (axes, packing, int(b["rate"][i]) & 0x0F)
            block_hz = rate_from_code(int(b["rate"][i]))
            if block_hz != self.nominal_hz:
                self.info.warn(f"the header says {self.nominal_hz:g} Hz, the data blocks "
                               f"{block_hz:g} Hz: the blocks are followed")
                self.nominal_hz = self.info.nominal_rate_hz = block_hz
                self.firmware_hz = max(1, int(block_hz))
            if b["session"][i] != self.session and self.session not in (0, 0xFFFFFFFF):
                self.info.warn(f"data blocks belong to session {int(b['session'][i])}, the "
                               f"header to {self.session}")
                self.session = int(b["session"][i])
        if self._layout is None:
            return None
        axes, packing, rate = self._layout
        cap = 120 if packing == 0 else 240 // axes
        st = b["stamp"].astype(np.int64)
        year, month, day = 2000 + ((st >> 26) & 0x3F), (st >> 22) & 0x0F, (st >> 17) & 0x1F
        hour, minute, sec = (st >> 12) & 0x1F, (st >> 6) & 0x3F, st & 0x3F
        sane = ((month >= 1) & (month <= 12) & (day >= 1) & (day <= 31) & (hour < 24)
                & (minute < 60) & (sec < 60))
        checks = [
            ((b["axbps"] >> 4 != axes) | (b["axbps"] & 0x0F != packing), "blocks with "
             "another sample layout"),
            ((b["count"] == 0) | (b["count"] > cap), "blocks with an impossible sample count"),
            (b["rate"] & 0x0F != rate, "blocks with another rate code"),
            (~sane, "blocks with an impossible timestamp"),
            ((b["session"] != self.session) & (self.session not in (0, 0xFFFFFFFF)),
             "blocks of another session"),
        ]
        for fail, why in checks:
            fail = ok & fail
            if count and fail.any():
                self._count_bad(why, numbers[fail])
            ok &= ~fail
        if not ok.any():
            return None
        b = b[ok]
        secs = (days_from_civil(year[ok], month[ok], day[ok]) * 86400 + hour[ok] * 3600
                + minute[ok] * 60 + sec[ok]).astype(np.float64)
        has_frac = (b["frac"] & 0x8000) != 0
        f16 = np.where(has_frac, (b["frac"].astype(np.int64) & 0x7FFF) << 1, 0)
        anchor_i = b["toff"].astype(np.int64) + ((f16 * self.firmware_hz) >> 16)
        anchor_t = secs + f16 / 65536.0
        data = b["data"].tobytes()
        k = len(b)
        light = b["light"].astype(np.int64)
        if packing == 0:
            v = np.frombuffer(data, dtype="<u4").reshape(k, 120).astype(np.int64)
            e = v >> 30
            xyz = np.stack([(v >> s) & 0x3FF for s in (0, 10, 20)], axis=-1)
            xyz = np.where(xyz >= 512, xyz - 1024, xyz) << e[..., None]
            acc = xyz / 256.0
            gyro = None
        else:
            raw16 = np.frombuffer(data, dtype="<i2").reshape(k, 240)[:, : cap * axes]
            raw16 = raw16.reshape(k, cap, axes).astype(np.float64)
            acc_scale = 1.0 / (1 << (8 + ((light >> 13) & 0x07)))
            a0 = 0 if axes == 3 else 3
            acc = raw16[:, :, a0:a0 + 3] * acc_scale[:, None, None]
            gyro = None
            if axes >= 6:
                code = (light >> 10) & 0x07
                if self.header_gyro_dps is None and (code == 0).any():
                    raise RecordingError(f"{self.path}: block {first_block}: gyroscope range "
                                         "missing from both the header and the blocks")
                rng = np.where(code > 0, 8000.0 / (1 << code), self.header_gyro_dps or 0.0)
                gyro = raw16[:, :, 0:3] * (rng / 32768.0)[:, None, None]
                if self.info.gyro_range_dps is None:
                    self.info.gyro_range_dps = float(rng[0])
        return _Pending(seq=b["seq"].astype(np.int64), anchor_t=anchor_t,
                        anchor_i=anchor_i, count=b["count"].astype(np.int64), acc=acc,
                        gyro=gyro)

    def _absolute(self, count: bool = True,
                  progress: Callable[[float], None] | None = None
                  ) -> Generator[tuple[np.ndarray, np.ndarray, np.ndarray | None], None, None]:
        """(device-clock seconds, acc, gyro) per batch of blocks.

        A block is timed by a straight line fitted through the stamps of the blocks around
        it (``FIT_HALF`` each side, within one unbroken run), so it waits for those after
        it; a run breaks where blocks are missing or the clock steps."""
        nominal = 1.0 / self.nominal_hz
        state = {"period": nominal, "steps": 0}
        buf: _Pending | None = None
        done = 0  # blocks of buf already emitted (kept as left context)
        try:
            f = open(self.path, "rb")  # noqa: SIM115 - closed in the finally below
        except OSError as e:
            raise RecordingError(f"{self.path}: {e.strerror or e}") from None
        try:
            f.seek(HEADER)
            block_no = 0
            while True:
                raw = f.read(BATCH_BLOCKS * BLOCK)
                whole = len(raw) // BLOCK * BLOCK
                if whole < len(raw) and count:
                    self.info.warn(f"the file ends inside a block ({len(raw) - whole} bytes "
                                   f"after block {block_no + whole // BLOCK - 1}): ignored")
                cur = self._decode(raw[:whole], block_no, count) if whole else None
                block_no += whole // BLOCK
                if progress is not None:
                    progress(min(1.0, f.tell() / self.size))
                end = whole < BATCH_BLOCKS * BLOCK
                if cur is not None:
                    buf = cur if buf is None else _concat(buf, cur)
                if buf is not None:
                    k = len(buf.seq)
                    stop = k if end else k - FIT_HALF
                    if stop > done:
                        yield self._place(buf, done, stop, state, count)
                        done = stop
                    keep = max(0, done - FIT_HALF)
                    buf, done = _take(buf, slice(keep, k)), done - keep
                if end:
                    break
        finally:
            f.close()
        if count and state["steps"]:
            self.info.warn(f"the device clock stepped {state['steps']} time(s) between "
                           "consecutive blocks: timing restarted after each step")

    def _place(self, p: _Pending, first: int, stop: int, state: dict[str, Any], count: bool
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Times of the samples of blocks [first, stop) of ``p`` (see :meth:`_absolute`)."""
        nominal = 1.0 / self.nominal_hz
        k = len(p.seq)
        idx0 = np.concatenate([[0], np.cumsum(p.count)[:-1]])
        ai = idx0 + p.anchor_i  # stamped sample, counted from the buffer's first sample
        at = p.anchor_t
        with np.errstate(divide="ignore", invalid="ignore"):
            step_period = np.diff(at) / np.diff(ai)
        joined = (np.diff(p.seq) == 1) & (step_period > PERIOD_TOLERANCE[0] * nominal) & (
            step_period < PERIOD_TOLERANCE[1] * nominal)
        if count:
            state["steps"] += int(((np.diff(p.seq) == 1) & ~joined)[max(0, first - 1):
                                                                  stop - 1].sum())
        run = np.concatenate([[0], np.cumsum(~joined)])
        rows = np.arange(first, stop)
        win = rows[:, None] + np.arange(-FIT_HALF, FIT_HALF + 1)[None, :]
        inside = (win >= 0) & (win < k)
        win = np.clip(win, 0, k - 1)
        inside &= run[win] == run[rows][:, None]
        di = np.where(inside, ai[win] - ai[rows][:, None], 0.0)
        dt_ = np.where(inside, at[win] - at[rows][:, None], 0.0)
        n = inside.sum(axis=1)
        mi, mt = di.sum(axis=1) / n, dt_.sum(axis=1) / n
        ci = np.where(inside, di - mi[:, None], 0.0)
        var = (ci * ci).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = (ci * np.where(inside, dt_ - mt[:, None], 0.0)).sum(axis=1) / var
        fitted = (n >= 2) & (var > 0) & np.isfinite(slope)
        # a block alone in its run keeps its stamp and the last measured period
        prev = np.where(fitted, np.arange(len(rows)), -1)
        prev = np.maximum.accumulate(prev)
        fallback = np.where(prev >= 0, slope[np.maximum(prev, 0)], state["period"])
        slope = np.where(fitted, slope, fallback)
        offset = np.where(fitted, mt - slope * mi, 0.0)
        if fitted.any():
            state["period"] = float(slope[np.flatnonzero(fitted)[-1]])
        cnt = p.count[first:stop]
        cap = p.acc.shape[1]
        j = np.arange(cap)
        t = (at[rows] + offset)[:, None] + (j[None, :] - p.anchor_i[rows][:, None]) * \
            slope[:, None]
        mask = j[None, :] < cnt[:, None]
        acc = p.acc[first:stop][mask]
        gyro = p.gyro[first:stop][mask] if p.gyro is not None else None
        return t[mask], acc, gyro

    def _measure_rate(self) -> None:
        """Rate and length from the first and last good blocks' stamps (two reads)."""
        first = self._edge_block(from_end=False)
        last = self._edge_block(from_end=True)
        info = self.info
        if first is None or last is None or last.seq[0] <= first.seq[0]:
            info.rate_hz = self.nominal_hz
            return
        n = (last.seq[0] - first.seq[0]) * first.acc.shape[1] + last.anchor_i[0] - \
            first.anchor_i[0]
        span = float(last.anchor_t[0] - first.anchor_t[0])
        if span > 0 and n > 0:
            rate = n / span
            if PERIOD_TOLERANCE[0] < self.nominal_hz / rate < PERIOD_TOLERANCE[1]:
                info.rate_hz = round(rate, 3)
                info.duration_s = round(span + last.count[0] / rate, 3)
                return
        info.rate_hz = self.nominal_hz

    def _edge_block(self, from_end: bool) -> _Pending | None:
        with open(self.path, "rb") as f:
            for k in range(min(self.n_blocks, 64)):
                i = self.n_blocks - 1 - k if from_end else k
                f.seek(HEADER + i * BLOCK)
                p = self._decode(f.read(BLOCK), i, count=False)
                if p is not None:
                    return p
        return None

    def chunks(self, progress: Callable[[float], None] | None = None) -> Iterator[Chunk]:
        self.bad, self.bad_n = {}, {}
        last = -np.inf
        dropped = 0
        for t, acc, gyro in self._absolute(count=True, progress=progress):
            keep = monotonic_guard(t, last)
            if not keep.all():
                dropped += int((~keep).sum())
                t, acc = t[keep], acc[keep]
                gyro = gyro[keep] if gyro is not None else None
            if len(t):
                last = float(t[-1])
                yield Chunk(t - self._t0, acc, gyro)
        if self.bad:
            self.info.warn(f"skipped {self._bad_text()}")
        if dropped:
            self.info.warn(f"{dropped} samples dropped: their time went backwards (the "
                           "device clock was set back)")


def _concat(a: _Pending, b: _Pending) -> _Pending:
    return _Pending(
        seq=np.concatenate([a.seq, b.seq]), anchor_t=np.concatenate([a.anchor_t, b.anchor_t]),
        anchor_i=np.concatenate([a.anchor_i, b.anchor_i]),
        count=np.concatenate([a.count, b.count]), acc=np.concatenate([a.acc, b.acc]),
        gyro=None if a.gyro is None or b.gyro is None else np.concatenate([a.gyro, b.gyro]))


def _take(p: _Pending, sel: slice) -> _Pending:
    return _Pending(seq=p.seq[sel], anchor_t=p.anchor_t[sel], anchor_i=p.anchor_i[sel],
                    count=p.count[sel], acc=p.acc[sel],
                    gyro=None if p.gyro is None else p.gyro[sel])


def open_cwa(path: pathlib.Path, options: InputOptions) -> CwaInput:
    return CwaInput(path, options)
