"""Raw samples in InfluxDB (opt-in): line format, the pipeline's records, the retention
policy, and a recorded session replayed into the real server and read back."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import time
import uuid

import numpy as np
import pytest

from tests.helpers import T0_WALL_NS, Collect, data_packets, jerky_signal, link
from twitchwatch.gateway import settings as config
from twitchwatch.gateway.errors import ConfigError
from twitchwatch.gateway.ingest import iter_recording_samples
from twitchwatch.gateway.ingest.clock_model import ClockModel
from twitchwatch.gateway.pipeline import Session
from twitchwatch.gateway.records import EventRecord, RawSamplesRecord
from twitchwatch.gateway.settings import InfluxConfig
from twitchwatch.gateway.sinks.influx_raw import RAW_RP, InfluxRawSink
from twitchwatch.gateway.store.lineproto_raw import raw_lines, raw_record_lines
from twitchwatch.gateway.store.recording import RecordingWriter

RAW = f'"{RAW_RP}"."raw"'
# The helpers' packets are from 2025; raw samples older than the retention policy (7 d)
# are not sent, so the server tests move them to an hour ago.
RECENT_NS = time.time_ns() // 10**9 * 10**9 - 3600 * 10**9


# -- line format ------------------------------------------------------------------------

def test_raw_lines_byte_exact_with_and_without_gyro():
    t_ns = np.array([1_764_000_005_010_000_000, 1_764_000_005_020_000_499,
                     1_764_000_005_030_000_500])
    acc = np.array([[0.01221, -0.00049, 1.00024],
                    [-0.0, -1.5, 15.99999],
                    [1e-7, -4e-6, -2.0]])
    gyro = np.array([[0.122, -0.061, -0.0], [-2000.0, 1999.9996, 12.5], [0.0, -0.0004, 7.0]])
    assert raw_lines("b 1", t_ns, acc, gyro) == [
        "raw,band=b\\ 1 ax=0.01221,ay=-0.00049,az=1.00024,gx=0.122,gy=-0.061,gz=0.000 "
        "1764000005010000",
        "raw,band=b\\ 1 ax=0.00000,ay=-1.50000,az=15.99999,gx=-2000.000,gy=2000.000,"
        "gz=12.500 1764000005020000",
        "raw,band=b\\ 1 ax=0.00000,ay=0.00000,az=-2.00000,gx=0.000,gy=0.000,gz=7.000 "
        "1764000005030001",
    ]
    assert raw_lines("b1", t_ns[:2], acc[:2], None) == [
        "raw,band=b1 ax=0.01221,ay=-0.00049,az=1.00024 1764000005010000",
        "raw,band=b1 ax=0.00000,ay=-1.50000,az=15.99999 1764000005020000",
    ]
    assert raw_lines("b1", t_ns[:0], acc[:0], None) == []


def test_raw_lines_keep_every_int16_reading():
    # The finest steps: 1/16384 g (±2 g) and 1/131.072 deg/s (±250 deg/s).
    codes = np.arange(-32768, 32768, 7)
    acc = np.repeat(codes[:, None] / 16384, 3, axis=1)
    gyro = np.repeat(codes[:, None] / 131.072, 3, axis=1)
    t_ns = T0_WALL_NS + np.arange(len(codes)) * 10_000_000
    lines = raw_lines("b1", t_ns, acc, gyro)
    fields = [dict(kv.split("=") for kv in ln.split(" ")[1].split(",")) for ln in lines]
    assert [round(float(f["ax"]) * 16384) for f in fields] == codes.tolist()
    assert [round(float(f["gz"]) * 131.072) for f in fields] == codes.tolist()
    assert [int(ln.rsplit(" ", 1)[1]) for ln in lines] == (t_ns // 1000).tolist()


def test_raw_record_lines_join_blocks_of_one_band_and_channel_set():
    def block(band, t0, gyro):
        t = T0_WALL_NS + (t0 + np.arange(2)) * 10_000_000
        acc = np.full((2, 3), 0.5)
        return RawSamplesRecord(band, t, acc, np.ones((2, 3)) if gyro else None)

    recs = [block("a", 0, True), block("a", 2, True), block("a", 4, False), block("b", 0, False)]
    lines = raw_record_lines(recs)
    assert len(lines) == 8
    assert [ln.count("gx=") for ln in lines] == [1, 1, 1, 1, 0, 0, 0, 0]
    assert [ln.split(" ")[0] for ln in lines] == ["raw,band=a"] * 6 + ["raw,band=b"] * 2


# -- clock and pipeline -----------------------------------------------------------------

def test_clock_array_maps_like_the_scalar():
    clock = ClockModel()
    rng = np.random.default_rng(5)
    for k in range(3000):  # 10 min of frames, 5 ms of radio jitter, 30 ppm of drift
        device_s = 100.0 + k * 0.2
        clock.observe(device_s, T0_WALL_NS + int(device_s * (1 + 30e-6) * 1e9)
                      + int(rng.uniform(0, 5e6)))
    t = np.concatenate([np.arange(95.0, 105.0, 0.01), np.arange(100.0, 700.0, 0.37)])
    assert clock.to_wall_ns_array(t).tolist() == [clock.to_wall_ns(float(x)) for x in t]


class RawCollect(Collect):
    name = "raw-collect"
    accepts: tuple[type, ...] = (RawSamplesRecord,)


def _packets(seconds=60.0, gyro=True):
    acc = jerky_signal(seconds, jerks_at=(20.0, 41.0), seed=3)
    rot = np.random.default_rng(4).normal(0, 20, acc.shape) if gyro else None
    return [link("connected", 0, mtu=247), *data_packets(acc, gyro=rot)]


async def _run(sinks, packets, live=True):
    async def source():
        for p in packets:
            yield p

    async with Session(sinks, live=live) as s:
        await s.run(source())
    return s


async def test_raw_records_only_when_a_sink_takes_them():
    packets = _packets()
    plain = Collect()
    s = await _run([plain], packets)
    assert not s._raw and not s.bands["b1"]._raw
    assert not any(isinstance(r, RawSamplesRecord) for r in plain.records)

    events, raw = Collect(), RawCollect()
    s = await _run([events, raw], packets)
    blocks = [r for r in raw.records if isinstance(r, RawSamplesRecord)]
    bp = s.bands["b1"]
    assert sum(len(b.t_ns) for b in blocks) == bp.ingest.counters.samples == 6000
    assert bp.raw_unstamped == 0 and not any(isinstance(r, RawSamplesRecord)
                                             for r in events.records)
    t = np.concatenate([b.t_ns for b in blocks])
    assert np.all(np.diff(t) > 0)
    # Wall times from the band's clock model, as for every other record.
    assert t[0] == bp.ingest.clock.to_wall_ns(5.0) and t[-1] == bp.ingest.clock.to_wall_ns(64.99)
    # Raw samples on change nothing else.
    def finals(rs):
        return [r for r in rs if isinstance(r, EventRecord) and r.event.final]

    assert finals(events.records) == finals(plain.records) and finals(plain.records)


async def test_a_raw_backlog_never_pushes_events_out(monkeypatch):
    class StuckRaw(RawCollect):
        name = "stuck-raw"
        queue_size = 10

        async def write(self, batch):
            await asyncio.sleep(3600)

    monkeypatch.setattr("twitchwatch.gateway.pipeline.SINK_DRAIN_TIMEOUT_S", 0.5)
    events, stuck = Collect(), StuckRaw()
    s = await asyncio.wait_for(_run([events, stuck], _packets()), 60)
    by_name = {ch.name: ch for ch in s.channels}
    assert by_name["stuck-raw"].dropped > 0 and by_name["collect"].dropped == 0
    assert len([r for r in events.records if isinstance(r, EventRecord) and r.event.final]) == 2


# -- settings ---------------------------------------------------------------------------

def test_raw_settings_from_flags_and_environment(monkeypatch, tmp_path):
    from twitchwatch.gateway.commands.session import build_sinks

    args = argparse.Namespace(influx_url="http://127.0.0.1:1", influx_raw=True,
                              influx_raw_retention="36h", out=str(tmp_path))
    s = config.load(args)
    assert s.influx is not None and s.influx.raw_samples and s.influx.raw_retention == "36h"
    sinks = build_sinks(s, None, None)
    assert [type(k).__name__ for k in sinks] == ["InfluxSink", "InfluxRawSink"]
    assert sinks[1].spool.dir == tmp_path / "influx-spool" / "raw"  # type: ignore[attr-defined]

    monkeypatch.setenv("TWITCHWATCH_INFLUX_RAW", "no")
    off = config.load(argparse.Namespace(influx_url="http://127.0.0.1:1"))
    assert off.influx is not None and not off.influx.raw_samples
    assert [type(k).__name__ for k in build_sinks(off, None, None)] == ["InfluxSink"]
    with pytest.raises(ConfigError, match="raw_retention"):
        config.load(argparse.Namespace(influx_raw_retention='7d" REPLICATION 3'))
    monkeypatch.setenv("TWITCHWATCH_INFLUX_RAW", "maybe")
    with pytest.raises(ConfigError, match="TWITCHWATCH_INFLUX_RAW"):
        config.load(argparse.Namespace())


# -- the real server --------------------------------------------------------------------

async def _replay_cli(path, influxdb, db, tmp_path, *extra):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "twitchwatch", "replay", str(path), "--quiet",
        "--events", str(tmp_path / f"{db}.jsonl"), "--influx-url", influxdb.url,
        "--influx-db", db, "--influx-spool", str(tmp_path / f"spool-{db}"), *extra,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, out.decode()


def _rps(influxdb, db):
    return {r["name"]: r for r in influxdb.rows(f'SHOW RETENTION POLICIES ON "{db}"', db)}


@pytest.mark.servers
async def test_replayed_session_raw_samples_read_back(influxdb, tmp_path):
    path = tmp_path / "night.twrec"
    shift_ns = RECENT_NS - T0_WALL_NS
    with RecordingWriter(path) as rec:
        for p in _packets(180.0):
            rec.write(dataclasses.replace(p, recv_wall_ns=p.recv_wall_ns + shift_ns))
    chunks = list(iter_recording_samples(path))
    acc = np.concatenate([c[2] for c in chunks])
    gyro = np.concatenate([c[3] for c in chunks])
    n = len(acc)
    assert n == 18_000

    db = "raw_" + uuid.uuid4().hex[:8]
    await _replay_cli(path, influxdb, db, tmp_path, "--influx-raw")
    count = influxdb.rows(f"SELECT count(ax), count(gz) FROM {RAW} WHERE band='b1'", db)
    assert (count[0]["count"], count[0]["count_1"]) == (n, n)  # every sample, once
    rps = _rps(influxdb, db)
    assert rps[RAW_RP]["duration"] == "168h0m0s" and not rps[RAW_RP]["default"]
    assert rps["autogen"]["default"]  # the per-second data stay where they were
    assert influxdb.rows('SELECT count(activity_g) FROM "motion"', db)[0]["count"] >= 179

    # Values: the recording's samples, every int16 reading recovered; times in µs from
    # the clock model (constant 20 ms radio latency here: device time + offset).
    for k in (0, 1, 4321, n - 1):
        row = influxdb.rows(f"SELECT * FROM {RAW} WHERE band='b1' ORDER BY time "
                            f"LIMIT 1 OFFSET {k}", db, epoch="u")[0]
        got = np.array([row[f] for f in ("ax", "ay", "az")])
        assert np.array_equal(np.rint(got * 4096), np.rint(acc[k] * 4096))
        got = np.array([row[f] for f in ("gx", "gy", "gz")])
        assert np.array_equal(np.rint(got * 16.384), np.rint(gyro[k] * 16.384))
        expect_us = (RECENT_NS + round((5.0 + k / 100 + 0.02) * 1e9)) // 1000
        assert abs(row["time"] - expect_us) <= 1

    # Again: keyed by band + sensor-derived time, a second replay overwrites.
    await _replay_cli(path, influxdb, db, tmp_path, "--influx-raw")
    assert influxdb.rows(f"SELECT count(ax) FROM {RAW}", db)[0]["count"] == n

    # With the option off nothing goes to raw; the retention policy is made all the same
    # (the dashboards' raw panels query it: empty, not "retention policy not found").
    off = "noraw_" + uuid.uuid4().hex[:8]
    await _replay_cli(path, influxdb, off, tmp_path)
    measurements = {r["name"] for r in influxdb.rows("SHOW MEASUREMENTS", off)}
    assert "motion" in measurements and "raw" not in measurements
    assert _rps(influxdb, off)[RAW_RP]["duration"] == "168h0m0s"
    assert influxdb.rows(f'SELECT count(ax) FROM "{RAW_RP}"."raw"', off) == []


@pytest.mark.servers
async def test_retention_policy_follows_the_setting(influxdb, tmp_path):
    db = "rawrp_" + uuid.uuid4().hex[:8]
    for duration, shown in (("7d", "168h0m0s"), ("2d", "48h0m0s"), ("2d", "48h0m0s")):
        cfg = InfluxConfig(url=influxdb.url, database=db, spool_dir=str(tmp_path / "spool"),
                           raw_samples=True, raw_retention=duration)
        async with InfluxRawSink(cfg):
            pass  # prepare at start: CREATE, then ALTER when the duration changed
        assert _rps(influxdb, db)[RAW_RP]["duration"] == shown


@pytest.mark.servers
async def test_raw_spool_its_own_and_replayed_into_the_policy(influxdb_private, tmp_path):
    server = influxdb_private
    server.stop()
    cfg = InfluxConfig(url=server.url, database="rawout", spool_dir=str(tmp_path / "spool"),
                       retry_first_s=0.2, retry_max_s=1.0, timeout_s=5.0, raw_samples=True)
    t_ns = RECENT_NS + np.arange(12_000) * 10_000_000 + 1_234  # ns part: rounds to 1 µs
    recs = [RawSamplesRecord("b1", t_ns[i:i + 20], np.full((20, 3), 0.25), None)
            for i in range(0, 12_000, 20)]
    week_ago = time.time_ns() - 7 * 86400 * 10**9 + np.arange(-10, 10) * 120 * 10**9
    sink = InfluxRawSink(cfg)
    async with sink:
        # A block from beyond the retention (a replayed old recording): not sent at all
        # (the server would refuse each line), except what is > 10 min inside it.
        await sink.write([RawSamplesRecord("b1", week_ago, np.zeros((20, 3)), None)])
        assert sink.points_expired == 16 and sink.spool.spooled_points == 4
        await sink.write(recs[:300])  # 6,000 lines: two requests' worth, spooled
        assert sink.spool.spooled_points == 6004
        assert sink.spool.dir == tmp_path / "spool" / "raw"
        await asyncio.to_thread(server.start)
        await sink.write(recs[300:])  # behind the spool: oldest first
    assert sink.points_replayed == 12_004 and len(sink.spool) == 0
    assert sink.points_quarantined == 0
    assert not list((tmp_path / "spool").glob("*.lp"))  # nothing in the main spool
    rows = server.rows(f"SELECT count(ax) FROM {RAW} WHERE time > now() - 2h", "rawout")
    assert rows[0]["count"] == 12_000
    first = server.rows(f"SELECT ax FROM {RAW} WHERE time > now() - 2h ORDER BY time "
                        "LIMIT 1", "rawout", epoch="u")
    assert first[0] == {"time": (RECENT_NS + 1_234 + 500) // 1000, "ax": 0.25}
