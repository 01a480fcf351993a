"""Final events and sleep onsets, one JSON object per line: the file a night's review
starts from (format: docs/storage.md)."""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
from types import TracebackType
from typing import IO

from ..private_files import open_private
from ..records import EventRecord, Record, SleepOnsetRecord


def utc_iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).isoformat(timespec="milliseconds")


def event_json(r: EventRecord) -> dict[str, object]:
    """An event as the JSONL files, MQTT and the docs describe it."""
    d: dict[str, object] = {"band": r.band, **r.event.to_dict()}
    d["start_utc"] = utc_iso(r.start_ns)
    d["end_utc"] = utc_iso(r.end_ns)
    return d


def onset_json(r: SleepOnsetRecord) -> dict[str, object]:
    """A sleep onset line: ``type`` tells it from the events (the MQTT message has no
    ``type``: its topic says it)."""
    return {"band": r.band, "type": "sleep_onset", "id": r.onset.id, "start": r.onset.start,
            "confirmed": r.onset.confirmed, "start_utc": utc_iso(r.start_ns)}


class JsonlEventSink:
    name = "events-file"
    accepts: tuple[type, ...] = (EventRecord, SleepOnsetRecord)
    queue_size = 10_000  # hours of events; only a stalled disk could fill it
    batch_max = 256
    batch_wait_s = 0.2

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = pathlib.Path(path)
        self.written = 0
        self._f: IO[str] | None = None

    async def __aenter__(self) -> JsonlEventSink:
        self._f = open_private(self.path, "a")  # 0600 in a 0700 directory
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._f is not None:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
            self._f = None

    async def write(self, batch: list[Record]) -> None:
        assert self._f is not None
        lines = []
        for r in batch:
            if isinstance(r, EventRecord) and r.event.final:
                lines.append(json.dumps(event_json(r)) + "\n")
            elif isinstance(r, SleepOnsetRecord):
                lines.append(json.dumps(onset_json(r)) + "\n")
        if lines:
            self._f.writelines(lines)
            self._f.flush()
            self.written += len(lines)
