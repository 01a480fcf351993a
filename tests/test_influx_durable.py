"""Durable InfluxDB writes against the real server: outages, restarts, refused lines.

Nothing here is faked: the server is Debian's influxd (bench/servers.py), stopped and
started mid-night; the /api/v2 transport reaches it through a small forwarding proxy.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import urllib.request
import uuid

import pytest
from aiohttp import ClientError, ClientSession, web

from bench.servers import InfluxServer, free_port
from tests.helpers import T0_WALL_NS, Collect, data_packets, jerky_signal, link
from twitchwatch.gateway.pipeline import Session
from twitchwatch.gateway.records import EpochRecord, EventRecord, LinkRecord
from twitchwatch.gateway.settings import InfluxConfig
from twitchwatch.gateway.sinks.influx import InfluxSink
from twitchwatch.gateway.sources.sim import SimBand, SimOptions
from twitchwatch.gateway.store.lineproto import epoch_line
from twitchwatch.gateway.store.spool import QUARANTINE, Spool

T0_NS = 1_767_300_000_000_000_000  # the simulated night's start (wall ns)




def _cfg(server: InfluxServer, db: str, spool: object, **kw: object) -> InfluxConfig:
    return InfluxConfig(url=server.url, database=db, spool_dir=str(spool), retry_first_s=0.2,
                        retry_max_s=1.0, timeout_s=5.0, **kw)  # type: ignore[arg-type]


def _times(server: InfluxServer, q: str, db: str) -> list[int]:
    return [r["time"] for r in server.rows(q, db)]


async def _outage_source(band: SimBand, server: InfluxServer, down_s: float, up_s: float,
                         log: list[str]):
    """The band's packets; InfluxDB stops at night time down_s and restarts at up_s."""
    async for p in band:
        night_s = (p.recv_wall_ns - T0_NS) / 1e9
        if night_s >= down_s and not log:
            await asyncio.to_thread(server.stop)
            log.append(f"stopped at {night_s:.0f} s")
        elif night_s >= up_s and len(log) == 1:
            await asyncio.to_thread(server.start)
            log.append(f"started at {night_s:.0f} s")
        yield p


@pytest.mark.servers
async def test_outage_mid_night_loses_nothing(influxdb_private, tmp_path):
    server = influxdb_private
    db = "outage"
    sink = InfluxSink(_cfg(server, db, tmp_path / "spool"))
    # Small, frequent batches: the outage then fills the spool with many files, and the
    # replay has to merge them into requests.
    sink.batch_max, sink.batch_wait_s = 500, 0.02
    collect = Collect()
    events: list[str] = []
    opts = SimOptions(duration_s=5400.0, speed=None, seed=3, start_wall_ns=T0_NS)
    async with SimBand(opts) as band:
        # live=True: the sink channels drop their oldest item when full, as in a real night
        session = Session([sink, collect], live=True, coalesce_samples=4096)
        async with session:
            await session.run(_outage_source(band, server, 1200.0, 2700.0, events))
    assert len(events) == 2, events  # the outage really happened, and ended

    recs = collect.records
    finals = sorted(r.event.id for r in recs if isinstance(r, EventRecord) and r.event.final)
    epochs = sorted(r.start_ns // 1_000_000 for r in recs if isinstance(r, EpochRecord))
    links = sorted({r.t_ns // 1_000_000 for r in recs if isinstance(r, LinkRecord)})
    assert len(finals) >= 5 and len(epochs) >= 5000

    # Every final event and every per-second point exactly once.
    got_events = sorted(r["event_id"] for r in server.rows('SELECT "event_id" FROM "event"', db))
    assert got_events == finals
    assert _times(server, 'SELECT "activity_g" FROM "motion"', db) == epochs
    assert _times(server, 'SELECT "samples" FROM "link"', db) == links
    # ... and the outage did go through the spool, which is empty again.
    assert sink.failures > 0 and sink.spool.spooled_points > 0
    assert sink.points_replayed == sink.spool.spooled_points
    assert len(sink.spool) == 0 and sink.spool.dropped_points == 0
    assert sink.points_lost == 0 and sink.points_quarantined == 0
    assert all(ch.dropped == 0 for ch in session.channels)
    assert session.sink_errors == {"influxdb": 0, "collect": 0}


@pytest.mark.servers
async def test_server_down_at_start_then_up(influxdb_private, tmp_path):
    """A gateway that starts before InfluxDB (a reboot, compose) spools and catches up."""
    server = influxdb_private
    server.stop()
    sink = InfluxSink(_cfg(server, "late", tmp_path / "spool"))
    recs = [EpochRecord("b1", _epoch(i), T0_NS + i * 1_000_000_000) for i in range(300)]
    async with sink:
        await sink.write(recs[:100])
        assert sink.spool.spooled_points == 100
        await asyncio.to_thread(server.start)
        await sink.write(recs[100:])  # still behind the spool: oldest first
    assert sink.points_replayed == 300 and len(sink.spool) == 0
    assert len(_times(server, 'SELECT "activity_g" FROM "motion"', "late")) == 300


def _epoch(i: int):
    from twitchwatch.dsp import Epoch

    return Epoch(start=float(i), duration_s=1.0, activity_g=0.01 * (i % 7), tremor_power=1e-5,
                 state="sleep", coverage=1.0)


@pytest.mark.servers
async def test_spool_survives_a_killed_gateway(influxdb_private, tmp_path):
    """A gateway killed (SIGKILL) while InfluxDB is away: the next start replays its spool."""
    spool_dir = tmp_path / "spool"
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "twitchwatch", "run", "--simulate", "--hours", "0.5",
        "--speed", "120", "--quiet", "--no-record", "--out", str(tmp_path / "out"),
        "--influx-url", dead, "--influx-db", "killed", "--influx-spool", str(spool_dir),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        for _ in range(600):  # until a few batches are spooled (bounded wait, not timing)
            if len(list(spool_dir.glob("*.lp"))) >= 5:
                break
            await asyncio.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        await proc.wait()
    assert proc.returncode == -signal.SIGKILL

    spool = Spool(spool_dir)
    spool.open()
    pending = spool.pending_points()
    lines = [ln for c in spool.oldest(10**9) for ln in c.lines]
    assert len(spool) >= 5 and pending == len(lines) > 0
    per_measurement = {m: sum(ln.startswith(m + ",") for ln in lines)
                       for m in ("motion", "link", "event")}

    sink = InfluxSink(_cfg(influxdb_private, "killed", spool_dir))
    async with sink:  # a fresh start: opens the spool, replays it, drains at exit
        pass
    assert sink.points_replayed == pending and len(sink.spool) == 0
    assert not list(spool_dir.glob("*.lp")) and not list(spool_dir.glob("*.tmp"))
    for m, n in per_measurement.items():
        field = {"motion": "activity_g", "link": "samples", "event": "peak_g"}[m]
        got = influxdb_private.rows(f'SELECT count("{field}") FROM "{m}"', "killed")
        assert (got[0]["count"] if got else 0) == n, m


@pytest.mark.servers
async def test_refused_lines_are_quarantined_not_retried(influxdb, tmp_path):
    db = "q_" + uuid.uuid4().hex[:8]
    influxdb.query(f'CREATE DATABASE "{db}"')
    # Someone wrote rssi_dbm as a float: our integer rssi_dbm is now a field type conflict.
    t0_ms = (T0_WALL_NS + 5_000_000_000) // 1_000_000  # same shard as the packets below
    _post(influxdb, db, f"link,band=b1 rssi_dbm=-60.5 {t0_ms}")

    acc = jerky_signal(130, jerks_at=(30.0, 80.0), seed=2)
    packets = [link("connected", 0, mtu=247, rssi=-61), *data_packets(acc)]

    async def source():
        for p in packets:
            yield p

    sink = InfluxSink(_cfg(influxdb, db, tmp_path / "spool"))
    collect = Collect()
    async with Session([sink, collect], live=True) as s:
        await s.run(source())
    n_link = sum(isinstance(r, LinkRecord) for r in collect.records)
    n_epoch = sum(isinstance(r, EpochRecord) for r in collect.records)
    assert n_link >= 10
    assert sink.points_quarantined == n_link  # every link line carries rssi_dbm
    text = (tmp_path / "spool" / QUARANTINE).read_text()
    assert "field type conflict" in text and text.count("\nlink,band=b1 ") == n_link
    assert len(_times(influxdb, 'SELECT "activity_g" FROM "motion"', db)) == n_epoch
    assert len(sink.spool) == 0 and sink.failures == 0  # refused, not retried

    # A spooled file with an unparseable line (e.g. written by a damaged older version):
    # the good lines land, the bad one is set aside, the file is gone.
    spool = Spool(tmp_path / "spool2")
    good = [epoch_line(EpochRecord("b9", _epoch(i), T0_NS + i * 1_000_000_000))
            for i in range(50)]
    spool.put([*good[:20], "motion,band=b9 activity_g=", *good[20:]])
    sink2 = InfluxSink(_cfg(influxdb, db, tmp_path / "spool2"))
    async with sink2:
        pass
    assert sink2.points_quarantined == 1 and sink2.points_written == 50
    assert "activity_g=\n" in (tmp_path / "spool2" / QUARANTINE).read_text()
    rows = influxdb.rows("SELECT count(\"activity_g\") FROM \"motion\" WHERE band='b9'", db)
    assert rows[0]["count"] == 50


def _post(server: InfluxServer, db: str, body: str) -> None:
    req = urllib.request.Request(f"{server.url}/write?db={db}&precision=ms", body.encode())
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 204


class V2Proxy:
    """Maps /api/v2/write?bucket=db/rp to 1.x's /write?db=db&rp=rp and forwards /ping, so
    influxdb-client's own requests land in the real 1.6 (which has no /api/v2)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests = 0

    async def __aenter__(self) -> V2Proxy:
        self._http = ClientSession()
        app = web.Application()
        app.router.add_post("/api/v2/write", self._write)
        app.router.add_get("/ping", self._ping)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()
        await self._http.close()

    async def _forward(self, method: str, path: str, **kw: object) -> web.Response:
        try:
            async with self._http.request(method, self.upstream + path, **kw) as r:
                return web.Response(status=r.status, body=await r.read(),
                                    content_type=r.content_type)
        except (ClientError, OSError) as e:
            return web.Response(status=503, text=f"upstream: {e}")

    async def _write(self, request: web.Request) -> web.Response:
        self.requests += 1
        db, _, rp = request.query["bucket"].partition("/")
        params = {"db": db, "precision": request.query.get("precision", "ns")}
        if rp:
            params["rp"] = rp
        headers = {k: request.headers[k] for k in ("Content-Encoding", "Content-Type")
                   if k in request.headers}
        return await self._forward("POST", "/write", params=params, data=await request.read(),
                                   headers=headers)

    async def _ping(self, request: web.Request) -> web.Response:
        return await self._forward("GET", "/ping")


@pytest.mark.servers
async def test_influxdb_client_transport_outage_and_refusal(influxdb_private, tmp_path):
    server = influxdb_private
    server.query('CREATE DATABASE "v2"')
    recs = [EpochRecord("b2", _epoch(i), T0_NS + i * 1_000_000_000) for i in range(400)]
    async with V2Proxy(server.url) as proxy:
        cfg = InfluxConfig(url=proxy.url, token="user:pass", org="-", bucket="v2/autogen",
                           spool_dir=str(tmp_path / "spool"), retry_first_s=0.2,
                           retry_max_s=1.0, timeout_s=5.0)
        sink = InfluxSink(cfg)
        assert type(sink.transport).__name__ == "ClientTransport"
        async with sink:
            await sink.write(recs[:100])
            assert sink.points_written == 100 and proxy.requests >= 1
            await asyncio.to_thread(server.stop)
            await sink.write(recs[100:200])  # the proxy answers 503: spooled
            assert sink.spool.spooled_points == 100 and sink.failures >= 1
            await asyncio.to_thread(server.start)
            await sink.write(recs[200:])
            await sink._deliver(["motion,band=b2 activity_g=\"text\" "
                                 f"{(T0_NS + 5_000_000_000) // 1_000_000}"], "")
        # The string for a float field is refused (400 through the client): quarantined.
    assert sink.points_written == 400 and sink.points_quarantined == 1
    assert len(_times(server, 'SELECT "activity_g" FROM "motion"', "v2")) == 400


def test_spool_bound_drops_oldest_and_counts(tmp_path):
    spool = Spool(tmp_path / "s", max_bytes=4000)
    for i in range(20):
        spool.put([f"motion,band=b activity_g={i}.0 {1000 + k}" for k in range(10)])
    assert spool.bytes <= 4000 and spool.dropped_points > 0
    assert spool.dropped_points + spool.pending_points() == 200
    first = spool.oldest(10)[0].lines[0]
    kept_from = 20 - len(spool)
    assert first == f"motion,band=b activity_g={kept_from}.0 1000"  # the oldest went first


def test_spool_reopen_order_tmp_and_damage(tmp_path):
    d = tmp_path / "s"
    a = Spool(d)
    a.put(["m,band=x f=1 1"], rp="")
    a.put(["m,band=x f=2 2"], rp="raw")
    a.put(["m,band=x f=3 3"], rp="raw")
    (d / "99999999999999999999-1-00000001.lp.tmp").write_text("half a batch")
    damaged = d / "00000000000000000001-1-00000001.lp"
    damaged.write_text("#tw-spool v1 rp= lines=5\nonly one line\n")

    b = Spool(d)  # a restart
    b.open()
    assert not list(d.glob("*.tmp"))
    chunks = b.oldest(100)
    assert [c.lines for c in chunks] == [["m,band=x f=1 1"]]  # one RP per request
    assert (d / (damaged.name + ".damaged")).exists()
    b.remove(chunks)
    chunks = b.oldest(100)
    assert [ln for c in chunks for ln in c.lines] == ["m,band=x f=2 2", "m,band=x f=3 3"]
    assert {c.rp for c in chunks} == {"raw"}
