"""InfluxDB sink: batched line protocol.

Two transports behind one sink:
- ``V1Transport``: ``POST /write`` with InfluxQL-era parameters. The one endpoint that
  InfluxDB 1.x, 2.x (v1 compatibility API, token in the Authorization header) and 3 Core
  all accept, and the only one Debian's 1.6 has.
- ``ClientTransport``: the ``influxdb-client`` package (``/api/v2/write``), for 2.x/3.x
  users who configure a token, org and bucket.

Points are keyed by measurement + tags + sensor-derived timestamp, so a batch that is
sent twice (a retry after a timeout, a replay of the same recording) overwrites itself.
"""

from __future__ import annotations

import asyncio
import logging
import random
from types import TracebackType
from typing import Protocol

import aiohttp

from ..config import InfluxConfig
from ..errors import SinkError
from ..lineproto import to_line
from ..records import EpochRecord, EventRecord, LinkRecord, Record

log = logging.getLogger(__name__)

RETRY_FIRST_S = 0.5
RETRY_CAP_S = 30.0  # InfluxDB restarts take seconds; polling faster only adds load
MAX_ATTEMPTS = 8  # ~1 minute of trying before a batch is given up (and counted)


class WriteRejected(Exception):
    """The server refused the data itself (4xx): retrying cannot help."""


class Transport(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def write(self, body: str) -> None: ...


class V1Transport:
    def __init__(self, cfg: InfluxConfig) -> None:
        self.cfg = cfg
        self._http: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        c = self.cfg
        headers = {"Authorization": f"Token {c.token}"} if c.token else {}
        auth = aiohttp.BasicAuth(c.username, c.password or "") if c.username else None
        self._http = aiohttp.ClientSession(
            base_url=c.url.rstrip("/") + "/", headers=headers, auth=auth,
            timeout=aiohttp.ClientTimeout(total=c.timeout_s))
        if c.create_database:
            await self.create_database()

    async def create_database(self) -> None:
        assert self._http is not None
        q = f'CREATE DATABASE "{self.cfg.database}"'
        async with self._http.post("query", params={"q": q}) as resp:
            if resp.status >= 400:
                raise WriteRejected(f"CREATE DATABASE: HTTP {resp.status} "
                                    f"{(await resp.text())[:200]}")

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def write(self, body: str) -> None:
        assert self._http is not None
        params = {"db": self.cfg.database, "precision": "ms"}
        if self.cfg.retention_policy:
            params["rp"] = self.cfg.retention_policy
        async with self._http.post("write", params=params, data=body.encode()) as resp:
            if resp.status == 204:
                return
            text = (await resp.text())[:300]
            if resp.status == 404 and "database not found" in text and self.cfg.create_database:
                # 1.x answers 404 for a moment after a database is (re)created.
                await self.create_database()
                raise aiohttp.ClientResponseError(resp.request_info, (), status=503,
                                                  message="database not found yet")
            if 400 <= resp.status < 500 and resp.status != 429:
                raise WriteRejected(f"HTTP {resp.status}: {text}")
            raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status,
                                              message=text)


class ClientTransport:
    def __init__(self, cfg: InfluxConfig) -> None:
        self.cfg = cfg
        self._client: object | None = None

    async def open(self) -> None:
        from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

        c = self.cfg
        self._client = InfluxDBClientAsync(url=c.url, token=c.token or "", org=c.org or "",
                                           timeout=int(c.timeout_s * 1000))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()  # type: ignore[attr-defined]
            self._client = None

    async def write(self, body: str) -> None:
        from influxdb_client.client.exceptions import InfluxDBError
        from influxdb_client.domain.write_precision import WritePrecision

        assert self._client is not None
        api = self._client.write_api()  # type: ignore[attr-defined]
        try:
            await api.write(bucket=self.cfg.bucket, org=self.cfg.org, record=body,
                            write_precision=WritePrecision.MS)
        except InfluxDBError as e:
            status = getattr(e.response, "status", None)
            if status is not None and 400 <= status < 500 and status != 429:
                raise WriteRejected(f"HTTP {status}: {e.message}") from e
            raise


class InfluxSink:
    name = "influxdb"
    accepts: tuple[type, ...] = (EventRecord, EpochRecord, LinkRecord)
    queue_size = 50_000  # ~14 h of per-second points for one band
    batch_max = 5_000  # the batch size InfluxDB ingests best (docs: storage notes)
    batch_wait_s = 1.0

    def __init__(self, cfg: InfluxConfig) -> None:
        self.cfg = cfg
        use_client = bool(cfg.token and cfg.org and cfg.bucket)
        self.transport: Transport = ClientTransport(cfg) if use_client else V1Transport(cfg)
        self.points_written = 0
        self.points_rejected = 0
        self.points_given_up = 0
        self.retries = 0

    async def __aenter__(self) -> InfluxSink:
        try:
            await self.transport.open()
        except (aiohttp.ClientError, OSError, WriteRejected) as e:
            await self.transport.close()
            raise SinkError(f"InfluxDB at {self.cfg.url}: {e}") from e
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.transport.close()

    async def write(self, batch: list[Record]) -> None:
        lines = [line for r in batch if (line := to_line(r)) is not None]
        if not lines:
            return
        body = "\n".join(lines)
        delay = RETRY_FIRST_S
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                await self.transport.write(body)
                self.points_written += len(lines)
                return
            except WriteRejected as err:
                self.points_rejected += len(lines)
                log.error("InfluxDB refused %d points: %s", len(lines), err)
                return
            except (aiohttp.ClientError, OSError, TimeoutError) as err:
                if attempt == MAX_ATTEMPTS:
                    break
                self.retries += 1
                log.warning("InfluxDB write failed (%s); retry %d in %.1f s", err, attempt,
                            delay)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(RETRY_CAP_S, delay * 2)
        self.points_given_up += len(lines)
        log.error("InfluxDB unreachable: gave up %d points after %d attempts", len(lines),
                  MAX_ATTEMPTS)
