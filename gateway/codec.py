"""Decoder for protocol v1 (docs/protocol.md): data frames, metadata and status.

Pure functions: bytes in, values out. Samples are decoded with one ``np.frombuffer``
per frame, so the cost per frame does not depend on how many samples it carries.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from .errors import FrameError, ProtocolError

VERSION = 1
HEADER_SIZE = 20
F_ACC, F_GYRO, F_BACKLOG, F_LOSS = 0x01, 0x02, 0x04, 0x08
_KNOWN_FLAGS = F_ACC | F_GYRO | F_BACKLOG | F_LOSS
PERIOD_MIN_US, PERIOD_MAX_US = 1_000, 50_000

REJECT_REASONS = ("short", "version", "flags", "count", "length", "period", "ranges")

_HDR = struct.Struct("<BBHIQHBB")
_META = struct.Struct("<BBBBHBBbbbbbbBBI")
_STATUS = struct.Struct("<BBHBBHIIIIIQI")
STATUS_SIZE = _STATUS.size
STATUS_MTU_TOO_SMALL = 0x02  # a bit of Status.state
_I16 = np.dtype("<i2")

IMU_PARTS = {0: "unknown", 1: "MPU6050", 2: "MPU6886", 3: "ICM-42688-P", 4: "LSM6DSO"}


def accel_full_scale_g(ranges: int) -> float:
    return 2.0 * (1 << (ranges & 0x0F))


def gyro_full_scale_dps(ranges: int) -> float:
    return 250.0 * (1 << (ranges >> 4))


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded data frame; ``raw`` is (count, 3 or 6) int16 in sensor axes."""

    flags: int
    seq: int
    first_index: int
    t_us: int
    period_us: int
    ranges: int
    raw: np.ndarray

    @property
    def count(self) -> int:
        return int(self.raw.shape[0])

    @property
    def backlog(self) -> bool:
        return bool(self.flags & F_BACKLOG)

    @property
    def loss_before(self) -> bool:
        return bool(self.flags & F_LOSS)

    @property
    def has_gyro(self) -> bool:
        return bool(self.flags & F_GYRO)

    def acc_g(self) -> np.ndarray:
        return self.raw[:, :3] * (accel_full_scale_g(self.ranges) / 32768.0)

    def gyro_dps(self) -> np.ndarray | None:
        if not self.has_gyro:
            return None
        return self.raw[:, 3:6] * (gyro_full_scale_dps(self.ranges) / 32768.0)


def decode_frame(data: bytes | bytearray | memoryview) -> Frame:
    """Decode one data notification, or raise FrameError naming what is wrong."""
    n = len(data)
    if n < HEADER_SIZE + 2:
        raise FrameError("short", f"{n} bytes, a frame has at least {HEADER_SIZE + 2}")
    version, flags, seq, first_index, t_us, period_us, count, ranges = _HDR.unpack_from(data)
    if version != VERSION:
        raise FrameError("version", f"protocol version {version}, this gateway speaks {VERSION}")
    if not flags & F_ACC or flags & ~_KNOWN_FLAGS:
        raise FrameError("flags", f"flags 0x{flags:02x} (ACC must be set, bits 4-7 clear)")
    if count == 0:
        raise FrameError("count", "count is 0")
    channels = 6 if flags & F_GYRO else 3
    expected = HEADER_SIZE + count * channels * 2
    if n != expected:
        raise FrameError("length",
                         f"{n} bytes, {count} samples x {channels} channels need {expected}")
    if not PERIOD_MIN_US <= period_us <= PERIOD_MAX_US:
        raise FrameError("period", f"period {period_us} us outside {PERIOD_MIN_US}-{PERIOD_MAX_US}")
    if (ranges & 0x0F) > 3 or (ranges >> 4) > 3:
        raise FrameError("ranges", f"range byte 0x{ranges:02x} has a code above 3")
    raw = np.frombuffer(data, dtype=_I16, count=count * channels, offset=HEADER_SIZE)
    return Frame(flags, seq, first_index, t_us, period_us, ranges, raw.reshape(count, channels))


_HDR_DTYPE = np.dtype([("version", "u1"), ("flags", "u1"), ("seq", "<u2"),
                       ("first_index", "<u4"), ("t_us", "<u8"), ("period_us", "<u2"),
                       ("count", "u1"), ("ranges", "u1")])
assert _HDR_DTYPE.itemsize == _HDR.size == HEADER_SIZE


@dataclass(frozen=True, slots=True)
class FrameBatch:
    """Many data notifications decoded at once (a recording's block, a batch of packets).

    ``ok[i]``: ``decode_frame`` accepts notification i (every check it makes, made on
    arrays); the header fields of the others mean nothing, and their error (reason and
    text) is ``decode_frame``'s own: callers pass those to it. Samples of ok frames come
    from ``raw(i, j)``, the same int16 values ``decode_frame`` gives.
    """

    data: np.ndarray  # uint8: the bytes the notifications are in
    offsets: np.ndarray  # int64: where each notification starts in data
    lengths: np.ndarray  # int64
    ok: np.ndarray  # bool
    flags: np.ndarray  # int64, as are the fields below
    seq: np.ndarray
    first_index: np.ndarray
    t_us: np.ndarray  # uint64 (the field is u64; checks bound it before use)
    period_us: np.ndarray
    count: np.ndarray
    ranges: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets)

    def payload(self, i: int) -> bytes:
        o = int(self.offsets[i])
        return self.data[o:o + int(self.lengths[i])].tobytes()

    def raw(self, i: int, j: int) -> np.ndarray:
        """The samples of ok frames i..j-1, which have one channel count, concatenated:
        (samples, 3 or 6) int16 in sensor axes."""
        ch = 6 if self.flags[i] & F_GYRO else 3
        offs, lens = self.offsets[i:j], self.lengths[i:j]
        width = int(lens[0]) - HEADER_SIZE
        n = j - i
        if n > 1 and (lens == lens[0]).all():
            stride = int(offs[1] - offs[0])
            if stride >= lens[0] and (np.diff(offs) == stride).all():
                # Evenly spaced, same length (the common case): a strided view, one copy.
                start = int(offs[0]) + HEADER_SIZE
                view = np.lib.stride_tricks.as_strided(
                    self.data[start:], shape=(n, width), strides=(stride, 1), writeable=False)
                return np.ascontiguousarray(view).view(_I16).reshape(-1, ch)
            # Same length, other packets between them: one gather.
            at = (offs + HEADER_SIZE)[:, None] + np.arange(width)
            return self.data[at].view(_I16).reshape(-1, ch)
        widths = lens - HEADER_SIZE
        total = int(widths.sum())
        first = np.cumsum(widths) - widths  # where each frame's bytes go
        at = np.repeat(offs + HEADER_SIZE - first, widths) + np.arange(total)
        return self.data[at].view(_I16).reshape(-1, ch)

    def frame(self, i: int) -> Frame:
        """Frame i as ``decode_frame`` gives it (ok frames only)."""
        return decode_frame(self.payload(i))


def decode_frames(data: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> FrameBatch:
    """Check and decode the headers of many data notifications at once.

    ``data`` is uint8; notification i is ``data[offsets[i]:offsets[i] + lengths[i]]``.
    Tested against ``decode_frame`` (tests/test_codec_batch.py): the same verdict and the
    same fields and samples for every frame, malformed ones included.
    """
    offsets = np.asarray(offsets, np.int64)
    lengths = np.asarray(lengths, np.int64)
    n = len(offsets)
    long_enough = lengths >= HEADER_SIZE + 2
    if n and len(data) >= HEADER_SIZE:
        at = np.where(long_enough, offsets, 0)
        hdr = data[at[:, None] + np.arange(HEADER_SIZE)].view(_HDR_DTYPE).reshape(n)
    else:
        hdr = np.zeros(n, _HDR_DTYPE)
    flags = hdr["flags"].astype(np.int64)
    count = hdr["count"].astype(np.int64)
    period = hdr["period_us"].astype(np.int64)
    ranges = hdr["ranges"].astype(np.int64)
    channels = np.where(flags & F_GYRO, 6, 3)
    ok = (long_enough & (hdr["version"] == VERSION) & ((flags & F_ACC) != 0)
          & ((flags & ~_KNOWN_FLAGS) == 0) & (count != 0)
          & (lengths == HEADER_SIZE + count * channels * 2)
          & (period >= PERIOD_MIN_US) & (period <= PERIOD_MAX_US)
          & ((ranges & 0x0F) <= 3) & ((ranges >> 4) <= 3))
    return FrameBatch(data, offsets, lengths, ok, flags, hdr["seq"].astype(np.int64),
                      hdr["first_index"].astype(np.int64), hdr["t_us"].copy(), period, count,
                      ranges)


@dataclass(frozen=True, slots=True)
class Metadata:
    fw_version: tuple[int, int, int]
    rate_hz: int
    ranges: int
    channel_flags: int
    acc_map: tuple[int, int, int]
    gyro_map: tuple[int, int, int]
    part: str
    wear_flags: int
    ring_capacity: int

    def axis_matrix(self, gyro: bool = False) -> np.ndarray:
        """3x3 matrix taking sensor axes to band axes (rows: band x, y, z)."""
        return _axis_matrix(self.gyro_map if gyro else self.acc_map)


def _axis_matrix(amap: tuple[int, int, int]) -> np.ndarray:
    m = np.zeros((3, 3))
    for band_axis, code in enumerate(amap):
        if not 1 <= abs(code) <= 3:
            raise ProtocolError(f"axis map {amap}: entry {code} is not +-1..3")
        m[band_axis, abs(code) - 1] = 1.0 if code > 0 else -1.0
    if abs(np.linalg.det(m)) != 1.0:
        raise ProtocolError(f"axis map {amap} uses a sensor axis twice")
    return m


def decode_meta(data: bytes | bytearray) -> Metadata:
    if len(data) < _META.size:
        raise ProtocolError(f"metadata of {len(data)} bytes, need {_META.size}")
    v = _META.unpack_from(data)
    if v[0] != VERSION:
        raise ProtocolError(f"metadata version {v[0]}, this gateway speaks {VERSION}")
    meta = Metadata(
        fw_version=(v[1], v[2], v[3]), rate_hz=v[4], ranges=v[5], channel_flags=v[6],
        acc_map=(v[7], v[8], v[9]), gyro_map=(v[10], v[11], v[12]),
        part=IMU_PARTS.get(v[13], f"part {v[13]}"), wear_flags=v[14], ring_capacity=v[15],
    )
    meta.axis_matrix()
    if meta.channel_flags & F_GYRO:
        meta.axis_matrix(gyro=True)
    return meta


@dataclass(frozen=True, slots=True)
class Status:
    battery_pct: int | None
    battery_mv: int
    state: int
    last_error: int
    mtu: int
    notifications_sent: int
    notify_retries: int
    fifo_overflows: int
    ring_dropped: int
    ring_waiting: int
    device_time_us: int
    since_sync_s: int | None

    @property
    def mtu_too_small(self) -> bool:
        return bool(self.state & STATUS_MTU_TOO_SMALL)


def decode_status(data: bytes | bytearray) -> Status:
    if len(data) < _STATUS.size:
        raise ProtocolError(f"status of {len(data)} bytes, need {_STATUS.size}")
    v = _STATUS.unpack_from(data)
    if v[0] != VERSION:
        raise ProtocolError(f"status version {v[0]}, this gateway speaks {VERSION}")
    return Status(
        battery_pct=None if v[1] == 255 else v[1], battery_mv=v[2], state=v[3],
        last_error=v[4], mtu=v[5], notifications_sent=v[6], notify_retries=v[7],
        fifo_overflows=v[8], ring_dropped=v[9], ring_waiting=v[10], device_time_us=v[11],
        since_sync_s=None if v[12] == 0xFFFFFFFF else v[12],
    )


OP_START, OP_STOP, OP_SET_RATE, OP_SET_RANGE, OP_TIME_SYNC = 1, 2, 3, 4, 5


def encode_control(op: int, arg: int | None = None) -> bytes:
    """A control write. The gateway's only encoder: commands flow gateway -> band."""
    if op in (OP_START, OP_STOP):
        return bytes([op])
    if op == OP_SET_RATE and arg is not None:
        return struct.pack("<BH", op, arg)
    if op == OP_SET_RANGE and arg is not None:
        return struct.pack("<BB", op, arg)
    if op == OP_TIME_SYNC and arg is not None:
        return struct.pack("<BQ", op, arg)
    raise ProtocolError(f"control opcode {op} with argument {arg!r}")
