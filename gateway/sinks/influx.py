"""InfluxDB sink: batched line protocol that no outage loses.

Two transports behind one sink:
- ``V1Transport``: ``POST /write`` with InfluxQL-era parameters. The one endpoint that
  InfluxDB 1.x, 2.x (v1 compatibility API, token in the Authorization header) and 3 Core
  all accept, and the only one Debian's 1.6 has.
- ``ClientTransport``: the ``influxdb-client`` package (``/api/v2/write``), for 2.x/3.x
  users who configure a token, org and bucket. The package itself neither retries nor
  buffers (async API), so both transports get the same durability from this sink.

Durability (docs/storage.md, "Delivery"):
- ``write`` (called by the session's driver task with a batch from the sink's bounded
  channel) either gets a 2xx from the server or has the batch fsync'd in the disk spool
  (``gateway/spool.py``) before it returns. While the spool holds anything, new batches
  go to the spool too, so the server receives data oldest first and ``write`` never waits
  on a server that is down.
- One replayer task owned by the sink empties the spool oldest first. After a failure it
  probes ``/ping`` with capped exponential backoff and jitter before trying again.
- Lines the server refuses as bad data (4xx) are bisected down to the refused lines, which
  go to the quarantine file with the server's reason; the rest are written. Never retried
  forever. Credentials refused (401/403) or a missing database (404) are not bad data:
  they are retried like an outage.
- At exit, the replayer drains what it can for ``drain_timeout_s`` and stops between
  requests (never cancelled mid-request); whatever is left stays in the spool and the next
  start replays it.

Points are keyed by measurement + tags + sensor-derived timestamp, so a batch that is
sent twice (a retry after a timeout, a bisected batch, a replay of the same recording, two
processes replaying one spool) overwrites itself.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import pathlib
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol

import aiohttp

from ..backoff import Backoff
from ..errors import SinkError
from ..ratelog import RateLimitedLog
from ..records import EpochRecord, EventRecord, LinkRecord, Record, SleepOnsetRecord
from ..settings import InfluxConfig
from ..store.influxql import quote_ident
from ..store.lineproto import to_line
from ..store.spool import Spool
from ..tls import client_context

log = logging.getLogger(__name__)

DEFAULT_SPOOL_DIR = "twitchwatch-data/influx-spool"
RAW_RP = "twitchwatch_raw"  # the retention policy of raw samples (InfluxRawSink)
BISECT_MAX_REQUESTS = 64  # per refused batch: isolates a few bad lines in a 5,000-line batch
MIB = 1024 * 1024


class WriteRejected(Exception):
    """The server refused the data itself (4xx other than auth/404/429): resending the
    same lines cannot help."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"HTTP {status}: {text}")
        self.status = status


class Unavailable(Exception):
    """The server did not take the data for a reason that may pass: down, overloaded,
    restarting, database not (yet) there, credentials refused."""


class Transport(Protocol):
    async def open(self) -> None: ...
    async def prepare(self) -> None: ...
    async def ping(self) -> bool: ...
    async def write(self, body: str, rp: str) -> None: ...
    async def close(self) -> None: ...


def _classify(status: int, text: str) -> Exception:
    if status in (401, 403):
        return Unavailable(f"credentials refused (HTTP {status}): {text}")
    if status == 404:
        return Unavailable(f"HTTP 404 (database or bucket missing?): {text}")
    if 400 <= status < 500 and status != 429:
        return WriteRejected(status, text)
    return Unavailable(f"HTTP {status}: {text}")


_NET_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)


class V1Transport:
    """``precision``: of the timestamps this transport's lines carry ("ms", or "u" for raw
    samples). ``retention``: (name, duration) of a retention policy that ``prepare``
    creates, or alters to that duration, beside the database (1.x, ``create_database``).
    ``ensure``: one that ``prepare`` only creates when it is missing, never alters."""

    def __init__(self, cfg: InfluxConfig, precision: str = "ms",
                 retention: tuple[str, str] | None = None,
                 ensure: tuple[str, str] | None = None) -> None:
        self.cfg = cfg
        self.precision = precision
        self.retention = retention
        self.ensure = ensure
        self._http: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        c = self.cfg
        headers = {"Authorization": f"Token {c.token}"} if c.token else {}
        if c.username:  # Basic auth, built here: aiohttp.BasicAuth is deprecated in 3.14
            basic = base64.b64encode(f"{c.username}:{c.password or ''}".encode()).decode()
            headers["Authorization"] = f"Basic {basic}"
        connector = None
        if c.url.startswith("https://"):
            connector = aiohttp.TCPConnector(ssl=client_context(
                "influxdb", c.ca_file, c.cert_file, c.key_file, c.tls_insecure))
        self._http = aiohttp.ClientSession(
            base_url=c.url.rstrip("/") + "/", headers=headers,
            connector=connector, timeout=aiohttp.ClientTimeout(total=c.timeout_s))

    async def _query(self, q: str) -> None:
        assert self._http is not None
        try:
            async with self._http.post("query", params={"q": q}) as resp:
                text = (await resp.text())[:300]
                if resp.status >= 400 or '"error"' in text:
                    if resp.status in (401, 403) or resp.status < 400:
                        raise WriteRejected(resp.status, f"{q}: {text}")
                    raise _classify(resp.status, f"{q}: {text}")
        except _NET_ERRORS as e:
            raise Unavailable(f"{q}: {e or type(e).__name__}") from e

    async def prepare(self) -> None:
        """Create the database and the retention policy (1.x, ``create_database``;
        idempotent), then check that this user may write there. Raises WriteRejected if
        refused (credentials, rights), Unavailable if the server or database is away."""
        if self.cfg.create_database:
            await self._create()
        await self._probe()

    async def _create(self) -> None:
        db = quote_ident(self.cfg.database)
        await self._query(f"CREATE DATABASE {db}")
        if self.ensure is not None:  # the raw samples' policy, even with raw samples off
            await self._create_policy(db, *self.ensure, follow=False)
        if self.retention is not None:
            # It may exist with another duration (the setting changed since): follow it.
            await self._create_policy(db, *self.retention, follow=True)

    async def _create_policy(self, db: str, name: str, duration: str, *, follow: bool) -> None:
        rp = quote_ident(name)
        try:
            await self._query(f"CREATE RETENTION POLICY {rp} ON {db} "
                              f"DURATION {duration} REPLICATION 1")
        except WriteRejected as e:
            if "already exists" not in str(e):
                raise
            if follow:
                await self._query(f"ALTER RETENTION POLICY {rp} ON {db} DURATION {duration}")

    async def _probe(self) -> None:
        # An empty write is authenticated and authorised like a real one and stores
        # nothing (1.x: 204; 401 credentials refused, 403 no write right, 404 no such
        # database). It needs no admin right, so it works with create_database = false.
        assert self._http is not None
        params = {"db": self.cfg.database}
        if self.cfg.retention_policy:
            params["rp"] = self.cfg.retention_policy
        try:
            async with self._http.post("write", params=params, data=b"") as resp:
                if 200 <= resp.status < 300:
                    return
                text = (await resp.text())[:300]
        except aiohttp.ClientConnectorCertificateError as e:
            # A certificate that does not verify is a setting to fix (ca_file, host
            # name), not an outage that passes.
            raise WriteRejected(0, f"TLS: {e.certificate_error}") from e
        except _NET_ERRORS as e:
            raise Unavailable(str(e) or type(e).__name__) from e
        if resp.status in (401, 403):
            raise WriteRejected(resp.status, f"credentials refused: {text.strip()}")
        raise _classify(resp.status, text)

    async def ping(self) -> bool:
        assert self._http is not None
        try:
            async with self._http.get("ping") as resp:
                return 200 <= resp.status < 300
        except _NET_ERRORS:
            return False

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def write(self, body: str, rp: str) -> None:
        assert self._http is not None
        params = {"db": self.cfg.database, "precision": self.precision}
        if rp or self.cfg.retention_policy:
            params["rp"] = rp or str(self.cfg.retention_policy)
        try:
            async with self._http.post("write", params=params, data=body.encode()) as resp:
                if 200 <= resp.status < 300:
                    return
                text = (await resp.text())[:300]
        except _NET_ERRORS as e:
            raise Unavailable(str(e) or type(e).__name__) from e
        raise _classify(resp.status, text)


class ClientTransport:
    """influxdb-client's async API: one POST per call, no retry, no buffer (we add both)."""

    def __init__(self, cfg: InfluxConfig, precision: str = "ms") -> None:
        self.cfg = cfg
        self.precision = precision
        self._client: Any = None

    async def open(self) -> None:
        from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

        c = self.cfg
        # Must be built inside the running loop (it creates its aiohttp session here).
        self._client = InfluxDBClientAsync(url=c.url, token=c.token or "", org=c.org or "",
                                           timeout=int(c.timeout_s * 1000))

    async def prepare(self) -> None:
        return None  # buckets are created by whoever issues the token

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except Exception:  # the client raises whatever its HTTP layer raised
            return False

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def write(self, body: str, rp: str) -> None:
        from influxdb_client.client.exceptions import InfluxDBError
        from influxdb_client.domain.write_precision import WritePrecision

        assert self._client is not None
        precision = WritePrecision.US if self.precision == "u" else WritePrecision.MS
        bucket = str(self.cfg.bucket)
        if rp:  # 1.x-style "db/rp" bucket names map the raw RP; 2.x: a bucket of that name
            bucket = f"{bucket.split('/')[0]}/{rp}" if "/" in bucket else f"{bucket}_{rp}"
        try:
            await self._client.write_api().write(bucket=bucket, org=self.cfg.org,
                                                 record=body,
                                                 write_precision=precision)
        except InfluxDBError as e:
            status = getattr(e, "status", None) or getattr(e.response, "status", None) or 0
            if not status:  # the HTTP layer failed before a response (status 0)
                raise Unavailable(str(e.message)) from e
            raise _classify(int(status), str(e.message)[:300]) from e
        except _NET_ERRORS as e:
            raise Unavailable(str(e) or type(e).__name__) from e


class InfluxSink:
    name = "influxdb"
    accepts: tuple[type, ...] = (EventRecord, EpochRecord, LinkRecord, SleepOnsetRecord)
    # The session's channel for this sink: drop-oldest in live mode. ``write`` returns in
    # milliseconds whether or not InfluxDB is up (it spools), so the channel only fills if
    # the disk itself stalls; 50,000 records are ~4 h of one band's per-second points.
    queue_size = 50_000
    batch_max = 5_000  # the batch size InfluxDB ingests best (docs: storage notes)
    batch_wait_s = 1.0
    lines_per_request = 5_000  # replaying the spool: files merged up to this many lines
    precision = "ms"  # of the timestamps in this sink's lines (lineproto.py)
    durable = True  # takes part in the outbox: acknowledges events sent or spooled
    delivered: Callable[[Record], None] | None = None

    def __init__(self, cfg: InfluxConfig, *, spool_subdir: str = "",
                 retention: tuple[str, str] | None = None) -> None:
        self.cfg = cfg
        use_client = bool(cfg.token and cfg.org and cfg.bucket)
        # The raw samples' retention policy exists whether or not raw samples are on: the
        # Live dashboard's raw panels then show "no data" instead of failing with
        # "retention policy not found". Created when missing, never altered (that is the
        # raw sink's, which follows raw_retention).
        self.transport: Transport = (
            ClientTransport(cfg, self.precision) if use_client
            else V1Transport(cfg, self.precision, retention,
                             ensure=None if retention else (RAW_RP, cfg.raw_retention)))
        # A subdirectory is a spool of its own: Spool only looks at its directory's files.
        self.spool = Spool(pathlib.Path(cfg.spool_dir or DEFAULT_SPOOL_DIR) / spool_subdir,
                           max_bytes=max(1, int(cfg.spool_max_mb * MIB)))
        self.points_written = 0  # acknowledged by the server (directly or from the spool)
        self.points_replayed = 0  # of which from the spool
        self.points_quarantined = 0
        self.points_lost = 0  # could not even be spooled (disk full or read-only)
        self.records_dropped = 0  # records with a value line protocol cannot carry
        self._rlog = RateLimitedLog(log)
        self.failures = 0  # failed requests (outage, overload), each followed by backoff
        self._prepared = False
        self._closing = False
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._drain_deadline = 0.0
        self._backoff = Backoff(initial_s=cfg.retry_first_s, max_s=cfg.retry_max_s)

    # -- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> InfluxSink:
        try:
            self.spool.open()
        except OSError as e:
            raise SinkError(f"InfluxDB spool directory {self.spool.dir}: {e.strerror}") from e
        await self.transport.open()
        try:
            await self.transport.prepare()
            self._prepared = True
        except WriteRejected as e:
            # Refused credentials or rights at start are a setting to fix, not an outage.
            await self.transport.close()
            raise SinkError(f"InfluxDB at {self.cfg.url}: {e}") from e
        except Unavailable as e:
            log.warning("InfluxDB at %s is not answering (%s): spooling to %s until it does",
                        self.cfg.url, e, self.spool.dir)
        if len(self.spool):
            log.info("InfluxDB spool %s holds %d file(s) from an earlier run: replaying",
                     self.spool.dir, len(self.spool))
        self._task = asyncio.create_task(self._replayer(), name="influxdb-replayer")
        self._wake.set()
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        loop = asyncio.get_running_loop()
        self._closing = True
        self._drain_deadline = loop.time() + self.cfg.drain_timeout_s
        self._stop.set()
        self._wake.set()
        try:
            if self._task is not None:
                # Join: the replayer stops between requests by itself. The bound is a
                # safety net (a request is bounded by timeout_s) and should never trip.
                done, _ = await asyncio.wait(
                    {self._task}, timeout=self.cfg.drain_timeout_s + self.cfg.timeout_s + 5)
                if not done:
                    log.error("InfluxDB replayer did not stop; cancelled")
                    self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        finally:
            await self.transport.close()
        if len(self.spool):
            log.warning("InfluxDB: %d point(s) left in the spool %s; the next start "
                        "replays them", self.spool.pending_points(), self.spool.dir)

    # -- the driver's side -------------------------------------------------------------

    async def write(self, batch: list[Record]) -> None:
        lines = []
        events: list[Record] = []
        for r in batch:
            try:
                line = to_line(r)
            except ValueError as e:  # that record only, never the batch
                self.records_dropped += 1
                self._rlog.warning("value", "InfluxDB: a %s of band %s dropped: %s",
                                   type(r).__name__, r.band, e)
                continue
            if line is not None:
                lines.append(line)
                if isinstance(r, EventRecord):
                    events.append(r)
        if lines and await self._deliver(lines, "") and self.delivered is not None:
            for r in events:  # on the server, or fsync'd in the spool
                self.delivered(r)

    async def _deliver(self, lines: list[str], rp: str) -> bool:
        """Send or spool; False only if the lines could not even be spooled (lost)."""
        if len(self.spool) or not self._prepared:
            return self._to_spool(lines, rp)
        try:
            await self._send(lines, rp)
        except Unavailable as err:
            self.failures += 1
            log.warning("InfluxDB write failed (%s): spooling to %s", err, self.spool.dir)
            self._prepared = False  # a restarted or recreated server: prepare again
            ok = self._to_spool(lines, rp)
            self._wake.set()
            return ok
        return True

    def _to_spool(self, lines: list[str], rp: str) -> bool:
        try:
            self.spool.put(lines, rp)
        except OSError as e:
            self.points_lost += len(lines)
            self._rlog.error("spool", "InfluxDB spool %s: cannot write (%s): %d points lost",
                             self.spool.dir, e.strerror, len(lines))
            return False
        finally:
            self._wake.set()
        return True

    async def _send(self, lines: list[str], rp: str) -> None:
        """Write lines; refused lines are isolated and quarantined. Raises Unavailable."""
        try:
            await self.transport.write("\n".join(lines), rp)
            self.points_written += len(lines)
            return
        except WriteRejected as err:
            first_err = err
        # Refusals are mostly per measurement (a field type conflict): try each measurement
        # on its own first, then bisect the ones still refused.
        groups: dict[str, list[str]] = {}
        for ln in lines:
            groups.setdefault(ln.split(",", 1)[0].split(" ", 1)[0], []).append(ln)
        budget = [BISECT_MAX_REQUESTS]
        if len(groups) == 1:
            await self._bisect(lines, rp, first_err, budget)
            return
        for part in groups.values():
            budget[0] -= 1
            try:
                await self.transport.write("\n".join(part), rp)
                self.points_written += len(part)
            except WriteRejected as e:
                await self._bisect(part, rp, e, budget)

    async def _bisect(self, lines: list[str], rp: str, err: WriteRejected,
                      budget: list[int]) -> None:
        # 1.x writes the good points of a refused batch and names only the first bad line;
        # resending halves is harmless (same keys) and finds the refused lines. Past the
        # budget, what is left of a refused part is set aside whole (with the reason).
        if len(lines) == 1 or budget[0] <= 0:
            try:
                self.spool.quarantine(lines, str(err), rp)
            except OSError as e:
                self.points_lost += len(lines)
                self._rlog.error("quarantine", "InfluxDB refused %d line(s) (%s) and the "
                                 "quarantine file cannot be written (%s): lost", len(lines),
                                 err, e.strerror)
                return
            self.points_quarantined += len(lines)
            log.error("InfluxDB refused %d line(s) (%s): set aside in %s", len(lines), err,
                      self.spool.dir / "quarantine.lp")
            return
        mid = len(lines) // 2
        for half in (lines[:mid], lines[mid:]):
            budget[0] -= 1
            try:
                await self.transport.write("\n".join(half), rp)
                self.points_written += len(half)
            except WriteRejected as e:
                await self._bisect(half, rp, e, budget)

    # -- the replayer ------------------------------------------------------------------

    async def _pause(self, delay_s: float) -> None:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # arrives as the awaited thing completes, and a task that ignores its cancellation
        # hangs the shutdown (gh-86296).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay_s):
                await self._stop.wait()

    async def _replayer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not len(self.spool):
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                if not len(self.spool):
                    self.spool.rescan()  # files other processes may have left
                continue
            if self._closing and loop.time() > self._drain_deadline:
                return
            if self._backoff.attempt and not await self.transport.ping():
                if self._closing:
                    return
                self.failures += 1
                await self._pause(self._backoff.next_delay_s())
                continue
            try:
                chunks = self.spool.oldest(self.lines_per_request)
            except OSError as e:  # a disk error reading the spool: wait, try again
                self.failures += 1
                self._rlog.error("spool-read", "InfluxDB spool %s: cannot read (%s)",
                                 self.spool.dir, e.strerror)
                if self._closing:
                    return
                await self._pause(self._backoff.next_delay_s())
                continue
            if not chunks:
                continue
            lines = [ln for c in chunks for ln in c.lines]
            try:
                if not self._prepared:
                    await self.transport.prepare()
                    self._prepared = True
                await self._send(lines, chunks[0].rp)
            except (Unavailable, WriteRejected) as err:
                # WriteRejected here can only come from prepare (CREATE DATABASE refused).
                self.failures += 1
                if self._closing:
                    return
                delay = self._backoff.next_delay_s()
                log.warning("InfluxDB replay of %d spooled points failed (%s); next try in "
                            "%.1f s", len(lines), err, delay)
                await self._pause(delay)
                continue
            self.spool.remove(chunks)
            self.points_replayed += len(lines)
            if self._backoff.attempt:
                log.info("InfluxDB at %s answers again; replaying the spool",
                         self.cfg.url)
            self._backoff.reset()
            if not len(self.spool):
                log.info("InfluxDB spool empty: %d points replayed so far",
                         self.points_replayed)
            await asyncio.sleep(0)  # let the driver spool while a long replay runs

    def stats(self) -> dict[str, object]:
        return {"written": self.points_written, "replayed": self.points_replayed,
                "quarantined": self.points_quarantined, "lost": self.points_lost,
                "failures": self.failures, "spool": self.spool.stats()}
