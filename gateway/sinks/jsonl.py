"""Final events and sleep onsets, one JSON object per line: the file a night's review
starts from (format: docs/storage.md)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import pathlib
from collections.abc import Callable
from types import TracebackType

from ..errors import SinkError
from ..private_files import private_fd
from ..ratelog import RateLimitedLog
from ..records import EventRecord, Record, SleepOnsetRecord

log = logging.getLogger(__name__)


def utc_iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).isoformat(timespec="milliseconds")


def event_json(r: EventRecord) -> dict[str, object]:
    """An event as the JSONL files, MQTT and the docs describe it."""
    d: dict[str, object] = {"band": r.band, **r.event.to_dict()}
    d["start_utc"] = utc_iso(r.start_ns)
    d["end_utc"] = utc_iso(r.end_ns)
    return d


# What serialising one record can raise on a value it cannot represent (a wall time
# outside datetime's years, a NaN that strict JSON refuses): that record is dropped and
# counted, never the batch around it.
SERIALISE_ERRORS = (ValueError, OverflowError, OSError, TypeError)


def onset_json(r: SleepOnsetRecord) -> dict[str, object]:
    """A sleep onset line: ``type`` tells it from the events (the MQTT message has no
    ``type``: its topic says it)."""
    return {"band": r.band, "type": "sleep_onset", "id": r.onset.id, "start": r.onset.start,
            "confirmed": r.onset.confirmed, "start_utc": utc_iso(r.start_ns)}


def event_line(r: EventRecord | SleepOnsetRecord) -> str:
    d = event_json(r) if isinstance(r, EventRecord) else onset_json(r)
    return json.dumps(d, allow_nan=False) + "\n"


class JsonlEventSink:
    """Appends final events and sleep onsets. A record that cannot be serialised is
    dropped and counted (``records_dropped``); a write the disk refuses (full, gone) loses
    that batch, counted (``records_lost``) and said once a minute, and the next batch
    tries again."""

    name = "events-file"
    accepts: tuple[type, ...] = (EventRecord, SleepOnsetRecord)
    durable = True  # takes part in the outbox (store/outbox.py): acknowledges what it wrote
    delivered: Callable[[Record], None] | None = None
    queue_size = 10_000  # hours of events; only a stalled disk could fill it
    batch_max = 256
    batch_wait_s = 0.2

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = pathlib.Path(path)
        self.written = 0
        self.records_dropped = 0
        self.records_lost = 0
        self._fd = -1
        self._rlog = RateLimitedLog(log)

    async def __aenter__(self) -> JsonlEventSink:
        try:
            # health data: 0600 in a 0700 directory, whatever the umask
            self._fd = private_fd(self.path, os.O_WRONLY | os.O_APPEND)
        except OSError as e:
            raise SinkError(f"events file {self.path}: cannot write ({e.strerror or e})") \
                from None
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._fd >= 0:
            try:
                os.fsync(self._fd)
            except OSError as err:
                self._rlog.error("fsync", "events file %s: %s", self.path, err.strerror)
            os.close(self._fd)
            self._fd = -1
        self._rlog.flush()

    async def write(self, batch: list[Record]) -> None:
        assert self._fd >= 0
        lines = []
        done: list[Record] = []
        for r in batch:
            if not (isinstance(r, SleepOnsetRecord) or
                    (isinstance(r, EventRecord) and r.event.final)):
                continue
            try:
                lines.append(event_line(r))
                done.append(r)
            except SERIALISE_ERRORS as e:
                self.records_dropped += 1
                rid = r.event.id if isinstance(r, EventRecord) else r.onset.id
                self._rlog.warning("value", "events file: record %s of band %s dropped: %s",
                                   rid, r.band, e)
        if not lines:
            return
        data = "".join(lines).encode()
        size = os.fstat(self._fd).st_size
        try:
            off = 0
            while off < len(data):  # a short write: the disk filled up in the middle
                off += os.write(self._fd, data[off:])
        except OSError as e:
            self.records_lost += len(lines)
            with contextlib.suppress(OSError):  # no half line for a reader to trip on
                os.ftruncate(self._fd, size)
            self._rlog.error("write", "events file %s: cannot write (%s): %d event(s) not "
                             "written; the other outputs go on", self.path, e.strerror,
                             len(lines))
            return
        self.written += len(lines)
        if self.delivered is not None:
            for r in done:
                if isinstance(r, EventRecord):  # the outbox holds final events only
                    self.delivered(r)
