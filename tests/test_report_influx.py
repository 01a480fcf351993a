"""The report from InfluxDB (Debian's 1.6, started by the fixtures) equals the report from
the recording the points came from: same schema the dashboards read, same numbers."""

from __future__ import annotations

import argparse
import datetime as dt
import urllib.parse
import urllib.request
import uuid

import pytest

from tests.helpers import data_packets, jerky_signal, link
from tests.report_helpers import TZ
from twitchwatch import dsp
from twitchwatch.gateway.pipeline import HOLD_MAX_SAMPLES, BandPipeline
from twitchwatch.gateway.report import LoadOptions, load, summarise
from twitchwatch.gateway.report.from_influx import load_influx, night_window
from twitchwatch.gateway.settings import InfluxConfig
from twitchwatch.gateway.store.lineproto import to_line
from twitchwatch.gateway.store.recording import RecordingWriter, read_recording

pytestmark = pytest.mark.servers


def _post(url: str, path: str, body: str, **params: str) -> None:
    req = urllib.request.Request(f"{url}{path}?{urllib.parse.urlencode(params)}",
                                 data=body.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status in (200, 204)


def _recording(tmp_path):
    """Ten quiet minutes with jerks, a lost stretch, and the band's link events."""
    acc = jerky_signal(900, jerks_at=(120.0, 123.0, 400.0, 700.0), seed=9)
    packets = [link("connected", 0, mtu=247, rssi=-61)]
    packets += data_packets(acc[:50_000])
    packets += data_packets(acc[52_000:], first_index=52_000, t0_us=5_000_000 + 520_000_000,
                            seq0=5000)
    packets.append(link("disconnected", 906, reason="end"))
    path = tmp_path / "n.twrec"
    with RecordingWriter(path) as w:
        for p in packets:
            w.write(p)
    return path


def test_report_from_influxdb_equals_the_report_from_the_recording(tmp_path, influxdb):
    path = _recording(tmp_path)
    bp = BandPipeline("b1", dsp.Analyzer(), coalesce_samples=HOLD_MAX_SAMPLES)
    lines = []
    for p in read_recording(path):
        lines += [x for r in bp.push(p) if (x := to_line(r))]
    lines += [x for r in bp.finish() if (x := to_line(r))]
    db = "rep_" + uuid.uuid4().hex[:8]
    _post(influxdb.url, "/query", "", q=f'CREATE DATABASE "{db}"')
    for i in range(0, len(lines), 5000):
        _post(influxdb.url, "/write", "\n".join(lines[i:i + 5000]), db=db, precision="ms")

    opts = LoadOptions.make(TZ)
    [ref] = load(path, opts)
    start = dt.datetime.fromtimestamp(ref.wall_ns(ref.start_s) / 1e9 - 60, dt.UTC)
    n = load_influx(InfluxConfig(url=influxdb.url, database=db), "b1", start,
                    start + dt.timedelta(hours=1), opts)
    a, b = summarise(ref), summarise(n)
    assert len(n.events) == len(ref.events) == 4
    assert [e.kind for e in n.events] == [e.kind for e in ref.events]
    for x, y in zip(n.events, ref.events, strict=True):
        assert x.peak_g == pytest.approx(y.peak_g)
        assert x.wall_ns == y.wall_ns
    for key in ("sleep_s", "wake_s", "unscored_s", "awakenings"):
        assert getattr(b, key) == getattr(a, key), key
    assert b.in_bed_s == pytest.approx(a.in_bed_s, abs=0.01)
    assert [(round(g0), round(g1 - g0)) for g0, g1 in b.gaps] == \
        [(round(g0 - ref.start_s), round(g1 - g0)) for g0, g1 in a.gaps] == [(500, 20)]
    assert b.counts == a.counts
    assert n.quality.frames == ref.quality.frames and n.quality.samples_missing > 0
    assert n.quality.rssi_dbm == ref.quality.rssi_dbm == [-61, -61, -61]
    assert n.clock(n.start_s) == ref.clock(ref.start_s)


def test_influx_errors_name_the_problem(influxdb):
    opts = LoadOptions.make(TZ)
    a, b = night_window("2026-11-24", opts.tz)
    assert (a.isoformat(), b.isoformat()) == ("2026-11-24T11:00:00+00:00",
                                              "2026-11-25T11:00:00+00:00")
    from twitchwatch.gateway.errors import RecordingError

    with pytest.raises(RecordingError, match="database not found: nodb"):
        load_influx(InfluxConfig(url=influxdb.url, database="nodb"), "x", a, b, opts)
    db = "empty_" + uuid.uuid4().hex[:8]
    _post(influxdb.url, "/query", "", q=f'CREATE DATABASE "{db}"')
    with pytest.raises(RecordingError, match="nothing for band 'nobody'"):
        load_influx(InfluxConfig(url=influxdb.url, database=db), "nobody", a, b, opts)
    with pytest.raises(RecordingError, match="cannot connect"):
        load_influx(InfluxConfig(url="http://127.0.0.1:9", timeout_s=2), "x", a, b, opts)


def test_the_command_takes_credentials_from_the_environment_only(influxdb, monkeypatch,
                                                                  tmp_path):
    from twitchwatch.gateway.cli import build_parser

    args = build_parser().parse_args(["report", "--out", str(tmp_path), "--influx-url",
                                      influxdb.url, "--band", "b", "--night", "2026-11-24"])
    assert isinstance(args, argparse.Namespace)
    assert not any("password" in k or "token" in k for k in vars(args))
    with pytest.raises(SystemExit):
        build_parser().parse_args(["report", "--out", "x", "--influx-token", "secret"])
