"""A disk spool for line protocol that InfluxDB could not take yet, and a quarantine for
lines it refused.

Spool: one file per batch, ``<wall ns>-<pid>-<seq>.lp``, written as ``.tmp``, fsync'd and
renamed (then the directory fsync'd), so a file is either whole or absent after a crash or
power cut. File names sort oldest first; wall time (not monotonic) names them because the
order must survive a restart. Each file starts with one header line (``#tw-spool`` with
the retention policy and the line count) that is never sent.

Several gateway processes may share a spool directory (a live run and a replay into the
same database): every file is resent whole and a point is keyed by measurement + tags +
sensor-derived timestamp, so a file sent twice overwrites itself; a file that another
process already removed is skipped.

Size on disk is bounded (``max_bytes``). Policy when full: drop the oldest files, counted
in ``dropped_points`` and logged, the same drop-oldest policy as the live sink channels:
the newest data matter most, and the bound protects the recording, which holds every
sample anyway and can be replayed into InfluxDB later.

Quarantine: lines the server refused as bad data (HTTP 4xx), appended to
``quarantine.lp`` with a ``#`` comment line naming the time and the server's reason.
Kept for a human: never resent automatically.

Own code, not persist-queue or diskcache (bench/bench_libraries.py, 40 batches of 5,000
lines, fsync'd): a put costs about the same in all three (13-25 ms), reading back and
removing is 7 ms here against 17 ms (diskcache, SQLite synchronous=FULL) and 56 ms
(persist-queue). What neither offers: files of plain line protocol that a person can read
or import by hand, a bound in bytes with drop-oldest, several processes sharing one
spool, and durability of large batches (diskcache keeps values over 32 kB in files it
does not fsync).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import pathlib
import time
from dataclasses import dataclass

from ..private_files import open_private, private_dir

log = logging.getLogger(__name__)

SUFFIX = ".lp"
HEADER = "#tw-spool v1"
QUARANTINE = "quarantine.lp"
DEFAULT_MAX_BYTES = 512 * 1024 * 1024  # ~60 band-nights of per-second data (~8 MB each)


@dataclass(frozen=True, slots=True)
class SpoolChunk:
    """One spooled batch as read back: its file, the RP it was meant for, its lines."""

    path: pathlib.Path
    rp: str
    lines: list[str]


def _fsync_dir(d: pathlib.Path) -> None:
    fd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    def __init__(self, directory: str | os.PathLike[str], *,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes < 1:
            raise ValueError(f"spool {directory}: max_bytes {max_bytes} < 1")
        self.dir = pathlib.Path(directory)
        self.max_bytes = max_bytes
        self.spooled_points = 0  # lines written to the spool by this process
        self.replayed_points = 0  # lines removed after the server took them
        self.dropped_points = 0  # lines lost to the size bound (drop-oldest)
        self.quarantined_points = 0
        self._seq = 0
        self._files: dict[pathlib.Path, int] = {}  # known spool files -> size in bytes
        self._bytes = 0

    # -- lifecycle ---------------------------------------------------------------------

    def open(self) -> None:
        """Create the directory, clear half-written files, index what earlier runs left."""
        private_dir(self.dir)
        for p in self.dir.glob(f"*{SUFFIX}.tmp"):
            # A .tmp file was never renamed: its batch was never reported as spooled.
            p.unlink(missing_ok=True)
        self.rescan()

    def rescan(self) -> None:
        files: dict[pathlib.Path, int] = {}
        for p in self.dir.glob(f"*{SUFFIX}"):
            if p.name == QUARANTINE:
                continue
            try:
                files[p] = p.stat().st_size
            except FileNotFoundError:  # another process replayed it meanwhile
                continue
        self._files = dict(sorted(files.items()))
        self._bytes = sum(files.values())

    # -- state -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._files)

    @property
    def bytes(self) -> int:
        return self._bytes

    def pending_points(self) -> int:
        """Lines waiting in the spool (reads each file's header: for reports, not hot paths)."""
        return sum(self._count(p) for p in self._files)

    # -- writing -----------------------------------------------------------------------

    def put(self, lines: list[str], rp: str = "") -> pathlib.Path:
        """Spool one batch durably: it is on disk when this returns. Raises OSError."""
        if not lines:
            raise ValueError("spool: empty batch")
        private_dir(self.dir)
        self._seq += 1
        name = f"{time.time_ns():020d}-{os.getpid()}-{self._seq:08d}{SUFFIX}"
        path = self.dir / name
        tmp = path.with_name(name + ".tmp")
        body = f"{HEADER} rp={rp} lines={len(lines)}\n" + "\n".join(lines) + "\n"
        data = body.encode()
        try:
            with open_private(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError:
            # Disk full or gone: a half-written .tmp must not stay behind (it would only
            # be cleared at the next start, and it holds the space another batch needs).
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.dir)
        self._files[path] = len(data)
        self._bytes += len(data)
        self.spooled_points += len(lines)
        self._enforce_bound()
        return path

    def _enforce_bound(self) -> None:
        # Never drop the file just written: a single batch larger than the bound still
        # gets its chance to be sent.
        while self._bytes > self.max_bytes and len(self._files) > 1:
            oldest = next(iter(self._files))
            n = self._count(oldest)
            self._forget(oldest)
            oldest.unlink(missing_ok=True)
            self.dropped_points += n
            log.error("InfluxDB spool %s over %d bytes: dropped its oldest file %s "
                      "(%d points)", self.dir, self.max_bytes, oldest.name, n)

    # -- reading -----------------------------------------------------------------------

    def oldest(self, max_lines: int) -> list[SpoolChunk]:
        """The oldest files, in order, until ``max_lines`` is reached (at least one file).

        All chunks returned target the same retention policy, so they make one request.
        """
        out: list[SpoolChunk] = []
        total = 0
        for p in list(self._files):
            chunk = self._read(p)
            if chunk is None:
                continue
            if out and (chunk.rp != out[0].rp or total + len(chunk.lines) > max_lines):
                break
            out.append(chunk)
            total += len(chunk.lines)
            if total >= max_lines:
                break
        return out

    def remove(self, chunks: list[SpoolChunk]) -> None:
        """Forget chunks the server has taken (lines it refused are in the quarantine)."""
        for c in chunks:
            self._forget(c.path)
            c.path.unlink(missing_ok=True)  # another process may have replayed it too
            self.replayed_points += len(c.lines)

    def _read(self, p: pathlib.Path) -> SpoolChunk | None:
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            self._forget(p)
            return None
        head, _, rest = text.partition("\n")
        lines = [ln for ln in rest.split("\n") if ln]
        meta = dict(kv.split("=", 1) for kv in head.split()[2:] if "=" in kv)
        if not head.startswith(HEADER) or int(meta.get("lines", -1)) != len(lines):
            # Renamed files are whole, so this is damage from outside (disk, a person):
            # keep the evidence, do not send it.
            bad = p.with_name(p.name + ".damaged")
            os.replace(p, bad)
            self._forget(p)
            log.error("InfluxDB spool file %s is damaged (header %r, %d lines): moved to %s",
                      p, head[:80], len(lines), bad.name)
            return None
        return SpoolChunk(p, meta.get("rp", ""), lines)

    def _count(self, p: pathlib.Path) -> int:
        try:
            with open(p, encoding="utf-8") as f:
                head = f.readline()
        except FileNotFoundError:
            return 0
        for kv in head.split()[2:]:
            if kv.startswith("lines="):
                return int(kv[6:])
        return 0

    def _forget(self, p: pathlib.Path) -> None:
        size = self._files.pop(p, None)
        if size is not None:
            self._bytes -= size

    # -- quarantine --------------------------------------------------------------------

    def quarantine(self, lines: list[str], reason: str, rp: str = "") -> None:
        """Set refused lines aside with the server's reason (appended, fsync'd)."""
        private_dir(self.dir)
        when = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        one_line_reason = " ".join(reason.split())
        body = (f"# {when} rp={rp} refused {len(lines)} line(s): {one_line_reason}\n"
                + "\n".join(lines) + "\n")
        with open_private(self.dir / QUARANTINE, "a") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())  # raises OSError when the disk is full: the caller counts
        self.quarantined_points += len(lines)

    def stats(self) -> dict[str, object]:
        return {"dir": str(self.dir), "files": len(self._files), "bytes": self._bytes,
                "max_bytes": self.max_bytes, "spooled": self.spooled_points,
                "replayed": self.replayed_points, "dropped": self.dropped_points,
                "quarantined": self.quarantined_points}
