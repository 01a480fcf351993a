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

import contextlib
import logging
import os
import pathlib
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from ..errors import RecordingError
from ..packets import Kind, Packet
from ..private_files import private_fd

log = logging.getLogger(__name__)

FILE_MAGIC = b"TWREC\x01\r\n"
SUFFIX = ".twrec"
_REC = struct.Struct("<HBBHIqq")
_REC_MAGIC = 0x5754
_BAND = 0
MAX_PAYLOAD = 0xFFFF
BAND_NAME_MAX = 128  # bytes of a band id (a BLE name is at most 248; ours are short)
READ_BLOCK = 1 << 20  # replay reads 1 MiB at a time: memory stays flat for any length


class RecordingWriter:
    """Append packets to a recording. Not async: one write() per flush, cheap enough.

    ``flush_s`` bounds what a crash can lose (data still in this process's buffer);
    ``fsync_s`` bounds what a power cut can lose (data in the OS page cache).

    A write that fails (disk full, the disk gone, a quota) stops the recording for good:
    the file is cut back to its last whole record, one error line says so, and every
    later packet is counted in ``packets_not_recorded``. It never raises into the
    pipeline: the sinks (events file, InfluxDB, MQTT) go on without the recording.
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
        self._size = 0  # file size after the last whole flush
        self.failed: str | None = None  # why the recording stopped
        self.packets_not_recorded = 0
        self._buf_packets = 0  # packets in _buf, not yet written

    def __enter__(self) -> RecordingWriter:
        try:
            # Health data: 0600 in a 0700 directory (docs/security.md, "Files").
            self._fd = private_fd(self.path, os.O_WRONLY | os.O_APPEND)
            self._size = os.fstat(self._fd).st_size
            if self._size == 0:
                self._write_all(FILE_MAGIC)
                self._size = len(FILE_MAGIC)
        except OSError as e:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
            raise RecordingError(f"{self.path}: cannot record ({e.strerror or e})") from None
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            self.flush(sync=True)
            os.close(self._fd)
            self._fd = -1

    def write(self, packet: Packet) -> None:
        if self.failed is not None or len(packet.payload) > MAX_PAYLOAD:
            self.packets_not_recorded += 1
            return
        slot = self._slots.get(packet.band)
        if slot is None:
            if len(self._slots) > 255 or len(packet.band.encode()) > BAND_NAME_MAX:
                self.packets_not_recorded += 1
                return  # one byte names the slot; a gateway never has this many bands
            slot = self._slots[packet.band] = len(self._slots)
            self._append(_BAND, slot, packet.recv_wall_ns, packet.recv_mono_ns,
                         packet.band.encode())
        self._append(int(packet.kind), slot, packet.recv_wall_ns, packet.recv_mono_ns,
                     packet.payload)
        self._buf_packets += 1
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
        if self._fd < 0 or self.failed is not None:
            return
        try:
            if self._buf:
                self._write_all(self._buf)  # O_APPEND: whole records, never interleaved
                self._size += len(self._buf)
                self.bytes_written += len(self._buf)
                self._buf.clear()
                self._buf_packets = 0
            self._last_flush = time.monotonic()
            if sync:
                os.fsync(self._fd)
                self._last_sync = self._last_flush
        except OSError as e:
            self._stop(e)

    def _write_all(self, data: bytes | bytearray) -> None:
        off = os.write(self._fd, data)  # (no memoryview: it would pin the bytearray)
        while off < len(data):  # a short write: the disk filled up in the middle
            off += os.write(self._fd, data[off:])

    def _stop(self, e: OSError) -> None:
        """Stop recording: cut a partly written flush off (so the file ends with a whole
        record), keep what was whole, say so once."""
        self.failed = e.strerror or str(e)
        self.packets_not_recorded += self._buf_packets
        self._buf_packets = 0
        self._buf.clear()
        # The reader treats a torn tail as the end of the recording anyway.
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, self._size)
        log.error("recording %s stopped: %s; it keeps its first %d bytes, and the other "
                  "outputs go on", self.path, self.failed, self._size)



@dataclass
class ReadStats:
    records: int = 0
    packets: int = 0
    corrupt_records: int = 0
    skipped_bytes: int = 0
    truncated_tail_bytes: int = 0
    bytes_read: int = 0  # of the file so far: progress for long recordings
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RecordBlock:
    """The packets of one stretch of a recording, as arrays (``read_records``).

    Packet i: band ``bands[band_ids[i]]``, kind ``kinds[i]``, payload
    ``data[offsets[i]:offsets[i] + lengths[i]]``, arrival ``wall_ns[i]``, ``mono_ns[i]``."""

    data: np.ndarray  # uint8
    bands: list[str]
    band_ids: np.ndarray
    kinds: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray
    wall_ns: np.ndarray
    mono_ns: np.ndarray

    def __len__(self) -> int:
        return len(self.kinds)

    def packet(self, i: int) -> Packet:
        o = int(self.offsets[i])
        return Packet(self.bands[int(self.band_ids[i])], Kind(int(self.kinds[i])),
                      self.data[o:o + int(self.lengths[i])].tobytes(), int(self.wall_ns[i]),
                      int(self.mono_ns[i]))


_REC_DTYPE = np.dtype([("magic", "<u2"), ("kind", "u1"), ("slot", "u1"), ("length", "<u2"),
                       ("crc", "<u4"), ("wall", "<i8"), ("mono", "<i8")])
assert _REC_DTYPE.itemsize == _REC.size


def read_recording(path: str | os.PathLike[str], stats: ReadStats | None = None
                   ) -> Iterator[Packet]:
    """Packets of a recording in file order. Damage is counted in ``stats`` and logged.

    ``stats.packets`` counts the packets yielded so far (a replay stopped early says how
    many it replayed); the other figures follow a block at a time."""
    st = stats if stats is not None else ReadStats()
    ahead = ReadStats()  # read_records' own figures: a block ahead of the consumer

    def catch_up() -> None:
        st.records, st.corrupt_records = ahead.records, ahead.corrupt_records
        st.skipped_bytes, st.truncated_tail_bytes = ahead.skipped_bytes, \
            ahead.truncated_tail_bytes
        st.bytes_read = ahead.bytes_read
        st.warnings[:] = ahead.warnings

    for block in read_records(path, ahead):
        for i in range(len(block)):
            st.packets += 1
            yield block.packet(i)
        catch_up()
    catch_up()


def read_records(path: str | os.PathLike[str], stats: ReadStats | None = None
                 ) -> Iterator[RecordBlock]:
    """The packets of a recording in file order, a block (about ``READ_BLOCK`` bytes) at
    a time. Damage is counted in ``stats`` and logged."""
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
        names: list[str] = []  # band ids of this reader: index into it
        name_ids: dict[str, int] = {}
        buf = b""
        offset = len(FILE_MAGIC)  # file offset of buf[0], for messages
        last_good = offset  # file offset just after the last complete record
        eof = False
        pos = 0
        mv = memoryview(buf)
        starts: list[int] = []  # this buffer's packet records: where each starts
        ids: list[int] = []  # and its band id
        max_kind = max(Kind)
        slot_ids = np.full(256, -1, np.int64)  # band id of each slot (-1: none bound)
        bulk = 0  # records _bulk may take at once (0: the next one goes the slow way)
        crc32 = zlib.crc32
        unpack = _REC.unpack_from
        hsize = _REC.size
        while True:
            if len(buf) - pos < hsize + MAX_PAYLOAD and not eof:
                if starts:
                    yield _block(buf, starts, ids, names)
                    starts, ids = [], []
                chunk = f.read(READ_BLOCK)
                eof = not chunk
                offset += pos
                buf = buf[pos:] + chunk
                pos = 0
                mv = memoryview(buf)
            if len(buf) - pos < hsize:
                break
            if bulk:
                # Most of a recording is one good packet record after another: take a
                # stretch of them at once, up to the first that needs a closer look.
                got, nxt = _bulk(buf, mv, pos, bulk, slot_ids)
                if got:
                    starts += got
                    ids += slot_ids[[buf[g + 3] for g in got]].tolist()
                    st.records += len(got)
                    st.packets += len(got)
                    pos = nxt
                    last_good = offset + pos
                    st.bytes_read = last_good
                    bulk = min(bulk * 2, BULK_MAX)
                    continue
                bulk = 0  # the record at pos goes the slow way; then bulk again
            bulk = bulk or BULK_MIN
            magic, kind, slot, length, crc, _wall, _mono = unpack(buf, pos)
            end = pos + hsize + length
            if magic != _REC_MAGIC or kind > max_kind:
                pos = _resync(buf, pos + 1, st)
                continue
            if end > len(buf):
                if eof:  # torn tail, or a damaged length field: look further
                    pos = _resync(buf, pos + 1, st)
                continue  # otherwise the loop tops the buffer up
            # The CRC covers kind..length, then wall, mono and the payload (contiguous).
            if crc32(mv[pos + 10:end], crc32(mv[pos + 2:pos + 6])) != crc:
                st.corrupt_records += 1
                _warn_once(st, f"{path}: damaged record at byte {offset + pos} skipped")
                pos = _resync(buf, pos + 1, st)
                continue
            st.records += 1
            start, pos = pos, end
            last_good = offset + pos
            st.bytes_read = last_good
            if kind == _BAND:
                payload = buf[start + hsize:end]
                name = payload.decode("utf-8", "replace")
                if 0 < len(payload) <= BAND_NAME_MAX and name.isprintable():
                    bands[slot] = name
                    if name not in name_ids:
                        name_ids[name] = len(names)
                        names.append(name)
                    slot_ids[slot] = name_ids[name]
                else:  # the slot's packets are skipped until a good name rebinds it
                    bands.pop(slot, None)
                    slot_ids[slot] = -1
                    st.corrupt_records += 1
                    at = offset + pos - hsize - length
                    _warn_once(st, f"{path}: a band record with an unusable name "
                                   f"({length} bytes) at byte {at} skipped")
                continue
            band = bands.get(slot)
            if band is None:
                st.corrupt_records += 1
                continue
            st.packets += 1
            starts.append(start)
            ids.append(name_ids[band])
        if starts:
            yield _block(buf, starts, ids, names)
        tail = offset + len(buf) - last_good
        if tail:
            st.truncated_tail_bytes = tail
            msg = (f"{path}: {tail} bytes after the last complete record (cut short by a "
                   f"crash?); replayed up to the last complete record")
            st.warnings.append(msg)
            log.warning(msg)
    finally:
        f.close()


BULK_MIN, BULK_MAX = 16, 4096


def _bulk(buf: bytes, mv: memoryview, pos: int, most: int, slot_ids: np.ndarray
          ) -> tuple[list[int], int]:
    """Starts of the packet records from ``pos`` on that the record-by-record loop in
    ``read_records`` would take without a second look (up to ``most``, all whole in
    ``buf``, right magic, a packet kind, a bound slot, the right CRC), and the position
    after them. The first record that is anything else is left to that loop."""
    hsize, n = _REC.size, len(buf)
    walk: list[int] = []
    p = pos
    while len(walk) < most and p + hsize <= n:  # follow the length fields
        e = p + hsize + (buf[p + 4] | buf[p + 5] << 8)
        if e > n:
            break
        walk.append(p)
        p = e
    if not walk:
        return [], pos
    at = np.array(walk, np.int64)
    hdr = np.frombuffer(buf, np.uint8)[at[:, None] + np.arange(hsize)].view(
        _REC_DTYPE).reshape(len(at))
    good = ((hdr["magic"] == _REC_MAGIC) & (hdr["kind"] >= 1) & (hdr["kind"] <= max(Kind))
            & (slot_ids[hdr["slot"]] >= 0))
    ends = at + hsize + hdr["length"]
    crc32 = zlib.crc32
    crcs = np.array([crc32(mv[a + 10:e], crc32(mv[a + 2:a + 6]))
                     for a, e in zip(walk, ends.tolist(), strict=True)], np.int64)
    good &= crcs == hdr["crc"]
    k = int(np.argmin(good)) if not good.all() else len(walk)
    return walk[:k], (int(ends[k - 1]) if k else pos)


def _block(buf: bytes, starts: list[int], ids: list[int], names: list[str]) -> RecordBlock:
    """The packet records starting at ``starts`` in ``buf`` (checked already), as arrays."""
    data = np.frombuffer(buf, np.uint8)
    at = np.array(starts, np.int64)
    hdr = data[at[:, None] + np.arange(_REC.size)].view(_REC_DTYPE).reshape(len(at))
    return RecordBlock(data, names, np.array(ids, np.int64), hdr["kind"].astype(np.int64),
                       at + _REC.size, hdr["length"].astype(np.int64),
                       hdr["wall"].astype(np.int64), hdr["mono"].astype(np.int64))


def _warn_once(st: ReadStats, msg: str) -> None:
    if len(st.warnings) < 20:  # damage is counted; the first lines say where it is
        st.warnings.append(msg)
        log.warning(msg)


def _resync(buf: bytes, start: int, st: ReadStats) -> int:
    """Position of the next record magic at or after start (or the end of buf)."""
    i = buf.find(b"\x54\x57", start)
    new = len(buf) if i < 0 else i
    st.skipped_bytes += new - (start - 1)
    return new
