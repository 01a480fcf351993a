"""The durable boundary between "decided" and "delivered": final events on disk until every
sink that should have them has them (docs/storage.md, "Outbox").

A final event leaves the DSP, is appended here and fsync'd, and only then goes to the
sinks' channels. Each durable sink acknowledges it once it is safe on its side (InfluxDB:
acknowledged by the server or fsync'd into the spool; MQTT: PUBACK from the broker; the
events file: written). A SIGKILL, an OOM kill or a power cut between the two leaves the
event here, and the next ``run`` with the same output directory delivers it again.
Delivering twice is harmless: InfluxDB points with the same measurement, tags and time
overwrite; MQTT consumers de-duplicate by the event's ``id``; the events file is only
re-written for events it never got.

File: ``<out>/outbox.jsonl``, one JSON object per line, appended:

    {"put": 7, "to": ["events-file", "influxdb"], "file": "...jsonl", "rec": {...}}
    {"ack": 7, "sink": "influxdb"}

A put is fsync'd (that is the durability); acks are only flushed (a lost ack costs a
harmless second delivery). A torn last line (power cut) is skipped. At start and at a
clean exit the file is rewritten with only what is still pending. One process at a time
(an exclusive lock): a second gateway on the same directory runs without an outbox and
says so.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import pathlib
from dataclasses import dataclass, field
from typing import IO, Any

from twitchwatch.dsp import Event

from ..private_files import open_private
from ..records import EventRecord

log = logging.getLogger(__name__)

NAME = "outbox.jsonl"
MAX_PENDING = 10_000  # events waiting (weeks of nights): beyond it the oldest is dropped


@dataclass
class Pending:
    """One event not yet delivered to every sink it was meant for."""

    seq: int
    record: EventRecord
    sinks: set[str]
    file: str | None = None  # the events file it was meant for
    raw: dict[str, object] = field(default_factory=dict)


def record_json(r: EventRecord) -> dict[str, object]:
    return {"band": r.band, "event": r.event.to_dict(), "start_ns": r.start_ns,
            "end_ns": r.end_ns}


def record_from_json(d: dict[str, Any]) -> EventRecord:
    ev = d["event"]
    if not isinstance(ev, dict):
        raise ValueError("event is not an object")
    return EventRecord(str(d["band"]), Event(**ev), int(d["start_ns"]), int(d["end_ns"]))


class Outbox:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.path = pathlib.Path(directory) / NAME
        self.pending: dict[int, Pending] = {}
        self.recovered: list[Pending] = []  # pending from an earlier run, at open()
        self.dropped = 0  # over MAX_PENDING
        self.failed: str | None = None  # why the outbox is off (disk, lock)
        self._f: IO[str] | None = None
        self._seq = 0

    # -- lifecycle ---------------------------------------------------------------------

    def open(self) -> None:
        """Lock, read what an earlier run left (into ``recovered``), rewrite the file with
        only that. Never raises: without an outbox the gateway still runs (said once)."""
        try:
            # health data (the events themselves): 0600 in a 0700 directory
            f = open_private(self.path, "a+")
        except OSError as e:
            self._off(f"cannot open ({e.strerror})")
            return
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            self._off("another twitchwatch process uses it")
            return
        self._f = f
        f.seek(0)
        self._load(f)
        self.recovered = list(self.pending.values())
        self._compact()
        if self.recovered:
            log.warning("outbox %s: %d event(s) decided by an earlier run were not "
                        "delivered everywhere: delivering them now", self.path,
                        len(self.recovered))

    def close(self) -> None:
        if self._f is None:
            return
        self._compact()
        self._f.close()
        self._f = None

    def _off(self, why: str) -> None:
        self.failed = why
        log.error("outbox %s: %s; final events are delivered without it (a crash may "
                  "lose the last ones)", self.path, why)

    def _load(self, f: IO[str]) -> None:
        bad = 0
        for line in f:
            try:
                d = json.loads(line)
                if "put" in d:
                    seq = int(d["put"])
                    self.pending[seq] = Pending(seq, record_from_json(d["rec"]),
                                                set(map(str, d["to"])), d.get("file"), d)
                    self._seq = max(self._seq, seq)
                elif "ack" in d:
                    p = self.pending.get(int(d["ack"]))
                    if p is not None:
                        p.sinks.discard(str(d["sink"]))
                        if not p.sinks:
                            del self.pending[p.seq]
            except (ValueError, TypeError, KeyError, RecursionError):
                bad += 1  # a torn last line after a power cut, or damage from outside
        if bad:
            log.warning("outbox %s: %d unreadable line(s) skipped", self.path, bad)

    def _compact(self) -> None:
        assert self._f is not None
        tmp = self.path.with_name(NAME + ".tmp")
        try:
            with open_private(tmp, "w") as out:
                for p in self.pending.values():
                    out.write(json.dumps(self._put_line(p)) + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
            # The lock is on the old inode: take it on the new file before going on.
            new = open_private(self.path, "a+")
            fcntl.flock(new.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._f.close()
            self._f = new
        except OSError as e:
            with contextlib.suppress(OSError):
                tmp.unlink()
            log.warning("outbox %s: cannot compact (%s); it keeps its full history",
                        self.path, e.strerror)

    # -- use ---------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return self._f is not None

    def put(self, r: EventRecord, sinks: list[str], file: str | None = None) -> int | None:
        """Make a decided event durable before any sink sees it; its seq, or None when the
        outbox is off or the disk refused (said once, then it is off)."""
        if self._f is None or not sinks:
            return None
        self._seq += 1
        p = Pending(self._seq, r, set(sinks), file)
        try:
            self._f.write(json.dumps(self._put_line(p)) + "\n")
            self._f.flush()
            os.fsync(self._f.fileno())
        except OSError as e:
            self._off(f"cannot write ({e.strerror})")
            with contextlib.suppress(OSError):
                self._f.close()
            self._f = None
            return None
        self.pending[p.seq] = p
        if len(self.pending) > MAX_PENDING:
            del self.pending[next(iter(self.pending))]
            self.dropped += 1
        return p.seq

    def ack(self, seq: int, sink: str) -> None:
        p = self.pending.get(seq)
        if p is None or sink not in p.sinks:
            return
        p.sinks.discard(sink)
        if not p.sinks:
            del self.pending[seq]
        if self._f is not None:
            try:
                self._f.write(json.dumps({"ack": seq, "sink": sink}) + "\n")
                self._f.flush()
            except OSError:
                pass  # an ack that is not on disk only means a second, harmless delivery

    @staticmethod
    def _put_line(p: Pending) -> dict[str, object]:
        d: dict[str, object] = {"put": p.seq, "to": sorted(p.sinks),
                                "rec": record_json(p.record)}
        if p.file is not None:
            d["file"] = p.file
        return d
