"""Session recordings: every packet a band sent, as received, in an append-only file.

Layout (little-endian): an 8-byte file magic, then records of

    magic u16 0x5754 | kind u8 | slot u8 | length u16 | crc32 u32 | recv_wall_ns i64
    | recv_mono_ns i64 | payload[length]

``kind`` 0 names a band (payload: its id, UTF-8) and binds it to ``slot``; kinds 1-4 are
``packets.Kind``. The CRC covers everything after itself. Records are written whole, and
only ever appended, so a crash leaves at most one torn record at the tail: the reader
replays up to the last complete record and warns. A damaged record in the middle is
counted and skipped by resynchronising on the next record magic.
"""

from __future__ import annotations

import logging
import os
import pathlib
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..errors import RecordingError
from ..packets import Kind, Packet

log = logging.getLogger(__name__)

FILE_MAGIC = b"TWREC\x01\r\n"
SUFFIX = ".twrec"
_REC = struct.Struct("<HBBHIqq")
_REC_MAGIC = 0x5754
_BAND = 0
MAX_PAYLOAD = 0xFFFF
READ_BLOCK = 1 << 20  # replay reads 1 MiB at a time: memory stays flat for any length


class RecordingWriter:
    """Append packets to a recording. Not async: one write() per flush, cheap enough.

    ``flush_s`` bounds what a crash can lose (data still in this process's buffer);
    ``fsync_s`` bounds what a power cut can lose (data in the OS page cache).
    """

    def __init__(self, path: str | os.PathLike[str], *, flush_s: float = 0.5,
                 fsync_s: float = 5.0, buffer_bytes: int = 256 * 1024) -> None:
        self.path = pathlib.Path(path)
        self.flush_s, self.fsync_s, self.buffer_bytes = flush_s, fsync_s, buffer_bytes
        self._slots: dict[str, int] = {}
        self._buf = bytearray()
        self._file: object | None = None
        self._fd = -1
        self._last_flush = self._last_sync = time.monotonic()
        self.records = 0
        self.bytes_written = 0

    def __enter__(self) -> RecordingWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if os.fstat(self._fd).st_size == 0:
            os.write(self._fd, FILE_MAGIC)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            self.flush(sync=True)
            os.close(self._fd)
            self._fd = -1

    def write(self, packet: Packet) -> None:
        slot = self._slots.get(packet.band)
        if slot is None:
            slot = self._slots[packet.band] = len(self._slots)
            if slot > 255:
                raise RecordingError(f"{self.path}: more than 256 bands in one recording")
            self._append(_BAND, slot, packet.recv_wall_ns, packet.recv_mono_ns,
                         packet.band.encode())
        self._append(int(packet.kind), slot, packet.recv_wall_ns, packet.recv_mono_ns,
                     packet.payload)
        now = time.monotonic()
        if len(self._buf) >= self.buffer_bytes or now - self._last_flush >= self.flush_s:
            self.flush(sync=now - self._last_sync >= self.fsync_s)

    def _append(self, kind: int, slot: int, wall_ns: int, mono_ns: int, payload: bytes) -> None:
        if len(payload) > MAX_PAYLOAD:
            raise RecordingError(f"{self.path}: a {len(payload)}-byte packet exceeds "
                                 f"{MAX_PAYLOAD}")
        body = struct.pack("<BBHIqq", kind, slot, len(payload), 0, wall_ns, mono_ns)
        crc = zlib.crc32(payload, zlib.crc32(body[:4] + body[8:]))
        self._buf += _REC.pack(_REC_MAGIC, kind, slot, len(payload), crc, wall_ns, mono_ns)
        self._buf += payload
        self.records += 1

    def flush(self, sync: bool = False) -> None:
        if self._fd < 0:
            return
        if self._buf:
            os.write(self._fd, self._buf)  # O_APPEND: one write, never interleaved
            self.bytes_written += len(self._buf)
            self._buf.clear()
        self._last_flush = time.monotonic()
        if sync:
            os.fsync(self._fd)
            self._last_sync = self._last_flush


@dataclass
class ReadStats:
    records: int = 0
    packets: int = 0
    corrupt_records: int = 0
    skipped_bytes: int = 0
    truncated_tail_bytes: int = 0
    bytes_read: int = 0  # of the file so far: progress for long recordings
    warnings: list[str] = field(default_factory=list)


def read_recording(path: str | os.PathLike[str], stats: ReadStats | None = None
                   ) -> Iterator[Packet]:
    """Packets of a recording in file order. Damage is counted in ``stats`` and logged."""
    path = pathlib.Path(path)
    st = stats if stats is not None else ReadStats()
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed in the finally below
    except OSError as e:
        raise RecordingError(f"{path}: cannot open ({e.strerror})") from e
    try:
        if f.read(len(FILE_MAGIC)) != FILE_MAGIC:
            raise RecordingError(f"{path}: not a twitchwatch recording (bad file magic)")
        bands: dict[int, str] = {}
        buf = b""
        offset = len(FILE_MAGIC)  # file offset of buf[0], for messages
        last_good = offset  # file offset just after the last complete record
        eof = False
        pos = 0
        while True:
            if len(buf) - pos < _REC.size + MAX_PAYLOAD and not eof:
                chunk = f.read(READ_BLOCK)
                eof = not chunk
                offset += pos
                buf = buf[pos:] + chunk
                pos = 0
            if len(buf) - pos < _REC.size:
                break
            magic, kind, slot, length, crc, wall, mono = _REC.unpack_from(buf, pos)
            end = pos + _REC.size + length
            if magic != _REC_MAGIC or kind > max(Kind):
                pos = _resync(buf, pos + 1, st)
                continue
            if end > len(buf):
                if eof:  # torn tail, or a damaged length field: look further
                    pos = _resync(buf, pos + 1, st)
                continue  # otherwise the loop tops the buffer up
            payload = buf[pos + _REC.size:end]
            head = buf[pos + 2:pos + 6] + buf[pos + 10:pos + _REC.size]
            if zlib.crc32(payload, zlib.crc32(head)) != crc:
                st.corrupt_records += 1
                msg = f"{path}: damaged record at byte {offset + pos} skipped"
                st.warnings.append(msg)
                log.warning(msg)
                pos = _resync(buf, pos + 1, st)
                continue
            st.records += 1
            pos = end
            last_good = offset + pos
            st.bytes_read = last_good
            if kind == _BAND:
                bands[slot] = payload.decode("utf-8", "replace")
                continue
            band = bands.get(slot)
            if band is None:
                st.corrupt_records += 1
                continue
            st.packets += 1
            yield Packet(band, Kind(kind), payload, wall, mono)
        tail = offset + len(buf) - last_good
        if tail:
            st.truncated_tail_bytes = tail
            msg = (f"{path}: {tail} bytes after the last complete record (cut short by a "
                   f"crash?); replayed up to the last complete record")
            st.warnings.append(msg)
            log.warning(msg)
    finally:
        f.close()


def _resync(buf: bytes, start: int, st: ReadStats) -> int:
    """Position of the next record magic at or after start (or the end of buf)."""
    i = buf.find(b"\x54\x57", start)
    new = len(buf) if i < 0 else i
    st.skipped_bytes += new - (start - 1)
    return new
