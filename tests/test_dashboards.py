"""The Grafana dashboards without a Grafana.

1. Structure: schema version of a current Grafana, unique panel ids, a non-overlapping
   grid, every datasource reference to the provisioned uid, every query InfluxQL with the
   time and band filters, provisioning files that match.
2. The queries: every panel, variable and annotation query is run against the real
   InfluxDB holding two replayed bands' nights, with ``$timeFilter``, ``$__interval`` and
   ``$band`` substituted the way Grafana's InfluxQL datasource does, and must return the
   series the panel is meant to show.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import pathlib
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from tests.helpers import Collect
from twitchwatch import dsp
from twitchwatch.gateway.pipeline import Session
from twitchwatch.gateway.records import EventRecord, RawSamplesRecord, Record, SleepOnsetRecord
from twitchwatch.gateway.settings import InfluxConfig
from twitchwatch.gateway.sinks.influx import InfluxSink
from twitchwatch.gateway.sinks.influx_raw import InfluxRawSink
from twitchwatch.gateway.sources.sim import SimBand, SimOptions

ROOT = pathlib.Path(__file__).resolve().parent.parent
DASH = ROOT / "dashboards"
T0_NS = 1_767_225_600_000_000_000  # 2026-01-01 00:00 UTC: the night starts on an hour
NIGHT_S = 3600.0
# Raw samples only for the night's last minutes: the raw panels show the last 2 minutes,
# and the whole hour of both bands (720,000 points) would slow the fixture down.
RAW_TAIL_S = 150.0
RAW_PANELS = {"Raw acceleration": ("ax", "ay", "az"), "Raw rotation": ("gx", "gy", "gz")}
BANDS = {"band-a": dict(seed=3, profile="mixed", frame_loss=0.01),
         "band-b": dict(seed=5, profile="parkinson", frame_loss=0.0)}


def _load_builder() -> Any:
    spec = importlib.util.spec_from_file_location("dash_build", DASH / "build.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


build = _load_builder()
DASHBOARDS = {name: json.loads((DASH / "json" / name).read_text()) for name in build.DASHBOARDS}


def all_panels(d: dict) -> list[dict]:
    out = []
    for p in d["panels"]:
        out.append(p)
        out += p.get("panels", [])
    return out


def panel_time(d: dict, title: str) -> dict[str, Any]:
    """A panel's own query options: timeFrom, maxDataPoints, interval (when it has them)."""
    p = next((p for p in all_panels(d) if p["title"] == title), {})
    return {k: p[k] for k in ("timeFrom", "maxDataPoints", "interval") if k in p}


def queries(d: dict) -> list[tuple[str, str, str]]:
    """(where, refId, query) for every panel target, annotation and variable."""
    out = [(p["title"], t["refId"], t["query"]) for p in all_panels(d)
           for t in p.get("targets", [])]
    out += [(f"annotation {a['name']}", a["target"]["refId"], a["target"]["query"])
            for a in d["annotations"]["list"] if not a.get("builtIn")]
    out += [(f"variable {v['name']}", "var", v["query"]) for v in d["templating"]["list"]]
    return out


# -- structure ---------------------------------------------------------------------------

def test_committed_json_is_what_the_builder_makes():
    assert build.main(["--check"]) == 0, "run: python dashboards/build.py"
    assert sorted(p.name for p in (DASH / "json").glob("*.json")) == sorted(build.DASHBOARDS)


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_structure(name):
    d = DASHBOARDS[name]
    assert d["schemaVersion"] == 42 and d["uid"].startswith("twitchwatch-")
    panels = all_panels(d)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) and i > 0 for i in ids)
    cells: set[tuple[int, int]] = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"])
                for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, f"{p['title']} overlaps another panel"
        cells |= mine
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "influxdb", "uid": build.DS_UID}, p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert refs and len(refs) == len(set(refs)), p["title"]
        for t in p["targets"]:
            assert t["datasource"] == p["datasource"] and t["rawQuery"] is True
    for a in d["annotations"]["list"]:
        if not a.get("builtIn"):
            assert a["datasource"]["uid"] == build.DS_UID and a["enable"]
    var = d["templating"]["list"][0]
    assert var["name"] == "band" and var["datasource"]["uid"] == build.DS_UID
    assert var["query"].startswith("SHOW TAG VALUES") and var["multi"] and var["includeAll"]
    for p in panels:  # units: Grafana's own ids, or the suffix form the panels use for g
        unit = p.get("fieldConfig", {}).get("defaults", {}).get("unit")
        assert unit is None or unit.startswith("suffix: ") or unit in GRAFANA_UNITS, unit
    for where, _ref, q in queries(d):
        assert "from(bucket" not in q and "|>" not in q, f"{where}: Flux is not InfluxQL"
        if q.startswith("SELECT"):
            assert "$timeFilter" in q and '"band" =~ /^$band$/' in q, where
            assert ";" not in q, where


def test_live_refreshes_and_night_spans_a_night():
    live, night = DASHBOARDS["live.json"], DASHBOARDS["night.json"]
    assert live["refresh"] == "5s" and live["time"]["from"] == "now-15m"
    assert night["time"]["from"] == "now-12h"
    titles = {p["title"] for p in all_panels(night)}
    assert {"Activity", "Sleep / wake", "Events by type", "Events per hour",
            "Tremor frequency", "Tremor amplitude", "Loss", "RSSI", "Battery"} <= titles


def test_raw_panels_draw_every_sample_of_their_window():
    """The raw traces: in their own short window, one 10 ms bin per sample (a minimum
    interval of the sample period overrides the datasource's 1 s), and saying why they may
    be empty."""
    raw = {p["title"]: p for p in all_panels(DASHBOARDS["live.json"]) if p["title"] in RAW_PANELS}
    assert set(raw) == set(RAW_PANELS)
    for title, p in raw.items():
        window_s = int(p["timeFrom"].removesuffix("m")) * 60
        assert p["interval"] == "10ms" and p["maxDataPoints"] == window_s * 100, title
        assert window_s < 900  # shorter than the dashboard's 15 min
        assert "--influx-raw" in p["description"], title
        assert "--influx-raw" in p["fieldConfig"]["defaults"]["noValue"], title
        (t,) = p["targets"]
        assert '"twitchwatch_raw"."raw"' in t["query"]
        assert "GROUP BY time($__interval)" in t["query"]
        assert grafana_interval(0, window_s * 1000, p["maxDataPoints"], 10) == "10ms"
    assert raw["Raw acceleration"]["fieldConfig"]["defaults"]["unit"] == "suffix: g"
    assert raw["Raw rotation"]["fieldConfig"]["defaults"]["unit"] == "rotdegs"
    assert all(p["title"] not in RAW_PANELS for p in all_panels(DASHBOARDS["night.json"]))


def test_provisioning_matches_the_dashboards():
    ds = yaml.safe_load((DASH / "provisioning/datasources/twitchwatch.yaml").read_text())
    (src,) = ds["datasources"]
    assert src["uid"] == build.DS_UID and src["type"] == "influxdb"
    assert src["jsonData"]["version"] == "InfluxQL" and src["jsonData"]["httpMode"] == "POST"
    assert src["jsonData"]["dbName"] and src["url"]
    assert "password" not in src and "password" in src["secureJsonData"]
    assert all(str(v).startswith("${") for v in src["secureJsonData"].values())
    prov = yaml.safe_load((DASH / "provisioning/dashboards/twitchwatch.yaml").read_text())
    (p,) = prov["providers"]
    assert p["type"] == "file" and p["options"]["path"] == "/var/lib/grafana/dashboards/twitchwatch"


# -- the queries against a replayed night ------------------------------------------------



@dataclass
class Night:
    db: str  # raw samples on
    db_off: str  # the same night, raw samples off
    events: dict[str, list[EventRecord]] = field(default_factory=dict)  # final, per band
    onsets: dict[str, list[SleepOnsetRecord]] = field(default_factory=dict)
    frames_lost: dict[str, int] = field(default_factory=dict)


class RawTail(InfluxRawSink):
    """The gateway's raw sink, for the night's last RAW_TAIL_S only."""

    async def write(self, batch: list[Record]) -> None:
        cutoff_ns = T0_NS + int((NIGHT_S - RAW_TAIL_S) * 1e9)
        await super().write([r for r in batch
                             if isinstance(r, RawSamplesRecord) and r.t_ns[-1] >= cutoff_ns])


async def _replay(db: str, url: str, spool: pathlib.Path) -> Night:
    night = Night(db, db + "_off")
    for band, kw in BANDS.items():
        collect = Collect()
        sink = InfluxSink(InfluxConfig(url=url, database=db, spool_dir=str(spool)))
        off = InfluxSink(InfluxConfig(url=url, database=night.db_off,
                                      spool_dir=str(spool / "off")))
        off.name = "influxdb-off"
        # The night is from 2026-01-01: kept forever, or the sink would skip it as expired.
        raw = RawTail(InfluxConfig(url=url, database=db, spool_dir=str(spool),
                                   raw_samples=True, raw_retention="INF"))
        opts = SimOptions(name=band, duration_s=NIGHT_S, speed=None, start_wall_ns=T0_NS,
                          **kw)  # type: ignore[arg-type]
        async with SimBand(opts) as src, Session([sink, raw, off, collect], live=False) as s:
            await s.run(aiter(src))
        assert sink.points_written > 3600 and sink.spool.spooled_points == 0
        assert off.points_written == sink.points_written
        assert raw.points_written >= 0.95 * RAW_TAIL_S * 100 and raw.points_expired == 0
        assert raw.spool.spooled_points == 0
        night.events[band] = [r for r in collect.records
                              if isinstance(r, EventRecord) and r.event.final]
        night.onsets[band] = [r for r in collect.records if isinstance(r, SleepOnsetRecord)]
        night.frames_lost[band] = s.bands[band].ingest.counters.frames_lost
    # The tremor panels must be exercised whatever the classifier of the day finds: three
    # tremor episodes in the stored schema, written through the same sink.
    tremor = [EventRecord("band-b", dsp.Event(
        id=f"tremor-fixture-{i}", type="tremor", start=600.0 + 900 * i, end=660.0 + 900 * i,
        peak_g=0.05 + 0.01 * i, confidence=0.9, freq_hz=4.5 + i, tremor_type="rest"),
        T0_NS + int((600.123 + 900 * i) * 1e9), T0_NS + int((660.123 + 900 * i) * 1e9))
        for i in range(3)]
    for name in (db, night.db_off):
        async with InfluxSink(InfluxConfig(url=url, database=name,
                                           spool_dir=str(spool))) as sink:
            await sink.write(list(tremor))
    night.events["band-b"] += tremor
    return night


@pytest.fixture(scope="module")
def night(influxdb, tmp_path_factory) -> Night:
    db = "dash_" + uuid.uuid4().hex[:8]
    return asyncio.run(_replay(db, influxdb.url, tmp_path_factory.mktemp("spool")))


ROUND_INTERVALS_MS = (10, 20, 50, 100, 200, 500, *(1000 * s for s in (
    1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600)))
# The Grafana unit ids these dashboards use, as Grafana defines them
# (packages/grafana-data/src/valueFormats/categories.ts); anything else would show raw.
GRAFANA_UNITS = {"hertz", "dBm", "percent", "rotdegs", "accG"}


def grafana_interval(from_ms: int, to_ms: int, max_points: int = 1000,
                     min_ms: int = 1000) -> str:
    """$__interval as Grafana derives it: range / max data points, rounded to a nice step,
    never below the minimum (the datasource's timeInterval 1s, or the panel's own)."""
    raw = (to_ms - from_ms) / max_points
    step = next((s for s in ROUND_INTERVALS_MS if s >= raw), ROUND_INTERVALS_MS[-1])
    step = max(step, min_ms)
    if step % 60_000 == 0:
        return f"{step // 60_000}m"
    return f"{step // 1000}s" if step % 1000 == 0 else f"{step}ms"


def escape_regex(v: str) -> str:
    """Grafana's escapeRegex for multi-value variables in InfluxQL regexes."""
    return re.sub(r"([\\^$*+?.()|{}\[\]/])", r"\\\1", v)


def band_value(bands: list[str]) -> str:
    """A multi/include-all variable in an InfluxQL regex: escaped, (a|b) when several."""
    esc = [escape_regex(b) for b in bands]
    return esc[0] if len(esc) == 1 else "(" + "|".join(esc) + ")"


def substitute(q: str, from_ms: int, to_ms: int, bands: list[str],
               panel: dict[str, Any] | None = None) -> str:
    """The query as Grafana sends it; ``panel``: the panel's timeFrom (minutes before the
    end), maxDataPoints and minimum interval ("10ms"), which replace the dashboard's."""
    panel = panel or {}
    if "timeFrom" in panel:
        from_ms = to_ms - int(panel["timeFrom"].removesuffix("m")) * 60_000
    min_ms = int(panel.get("interval", "1000ms").removesuffix("ms"))
    q = q.replace("$timeFilter", f"time >= {from_ms}ms and time <= {to_ms}ms")
    q = q.replace("$__interval",
                  grafana_interval(from_ms, to_ms, panel.get("maxDataPoints", 1000), min_ms))
    q = q.replace("$band", band_value(bands))
    assert "$" not in q.replace("$/", ""), f"unsubstituted variable in {q}"
    return q


def run(influxdb, q: str, db: str) -> tuple[list[dict], float]:
    t = time.perf_counter()
    res = influxdb.query(q, db)["results"][0]
    elapsed = time.perf_counter() - t
    assert "error" not in res, f"{q}: {res.get('error')}"
    return res.get("series", []), elapsed


def values(series: list[dict], col: int = 1) -> list[Any]:
    return [v[col] for s in series for v in s["values"] if v[col] is not None]


RANGES = {"night.json": (0.0, NIGHT_S), "live.json": (NIGHT_S - 900.0, NIGHT_S)}


@pytest.mark.servers
@pytest.mark.parametrize("raw_samples", ["raw-on", "raw-off"])
@pytest.mark.parametrize("selection", [["band-a", "band-b"], ["band-a"]], ids=["all", "one"])
@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_query_returns_its_series(influxdb, night, name, selection, raw_samples,
                                        record_property):
    """Every query runs without an error, raw samples on or off; each returns what its
    panel shows, and the raw panels, with raw samples off, nothing (they say why)."""
    db = night.db if raw_samples == "raw-on" else night.db_off
    lo_s, hi_s = RANGES[name]
    from_ms, to_ms = (T0_NS + int(lo_s * 1e9)) // 10**6, (T0_NS + int(hi_s * 1e9)) // 10**6
    in_range = [e for b in selection for e in night.events[b]
                if from_ms <= e.start_ns // 10**6 <= to_ms]
    n_events = len(in_range)
    by_type: dict[str, int] = {}
    for e in in_range:
        by_type[e.event.type] = by_type.get(e.event.type, 0) + 1
    assert name == "live.json" or n_events >= 10  # the night has something to show
    assert name == "live.json" or any(night.onsets[b] for b in selection)
    timings = []
    for where, ref, raw in queries(DASHBOARDS[name]):
        q = substitute(raw, from_ms, to_ms, selection, panel_time(DASHBOARDS[name], where))
        series, elapsed = run(influxdb, q, db)  # never an error
        timings.append(elapsed)
        if where in RAW_PANELS and raw_samples == "raw-off":
            assert series == [], where
            continue
        tagged = [s.get("tags", {}) for s in series]
        got_bands = {t["band"] for t in tagged if "band" in t}
        is_event_query = 'FROM "event"' in raw
        assert got_bands <= set(selection), (where, got_bands)  # the band filter works
        if got_bands and not is_event_query:  # every band has per-second series
            assert got_bands == set(selection), (where, got_bands)
        if is_event_query and "\"type\" = 'tremor'" in raw:
            n_tremor = by_type.get("tremor", 0)
            assert len(values(series)) == n_tremor, where
            if "freq_hz" in raw:
                assert all(3.0 <= v <= 12.0 for v in values(series)), where
            continue
        if where == "annotation Sleep onsets":
            onsets = [o for b in selection for o in night.onsets[b]
                      if from_ms <= o.start_ns // 10**6 <= to_ms]
            ids = [dict(zip(s["columns"], v, strict=True))["onset_id"]
                   for s in series for v in s["values"]]
            assert sorted(ids) == sorted(o.onset.id for o in onsets), where
            continue
        if is_event_query and n_events == 0:
            assert not values(series), where  # nothing in range: nothing shown
            continue
        assert series and values(series), f"{where} ({ref}) returned nothing: {q}"
        if where in ("Events in range (15 min)", "Events in range", "Events (15 min)"):
            got = {s["tags"]["type"]: s["values"][0][1] for s in series}
            assert got == by_type, where
        elif where == "Events per hour":
            assert sum(values(series)) == n_events
            hours = to_ms // 3_600_000 - from_ms // 3_600_000 + 1  # fill(0): every hour
            assert all(len(s["values"]) == hours for s in series)
        elif where == "Events by type":
            assert {s["tags"]["type"] for s in series} == set(by_type)
            assert len(values(series)) == n_events
        elif where in ("Event list", "Latest events") or where.startswith("annotation"):
            cols = series[0]["columns"]
            ids = [dict(zip(cols, v, strict=True))["event_id"] for v in series[0]["values"]]
            assert sorted(ids) == sorted(e.event.id for e in in_range), where
            assert {"type", "band", "peak_g"} <= set(cols)
        elif where == "variable band":
            assert values(series) == ["band-a", "band-b"]
        elif where in ("Sleep / wake", "State"):
            assert set(values(series)) <= {-1, 0, 1} and len(set(values(series))) >= 1
        elif where in RAW_PANELS:
            _check_raw(series, RAW_PANELS[where], panel_time(DASHBOARDS[name], where),
                       night.frames_lost)
        elif where == "RSSI":
            assert set(values(series)) == {-58}  # what the simulated band reports
        elif where == "Battery":
            assert all(0 <= v <= 100 for v in values(series))
        elif where == "Loss" and ref == "B":
            lost = {s["tags"]["band"]: sum(values([s])) for s in series}
            for b in selection:  # per interval, summed: all but the first interval's share
                assert (lost[b] > 0) == (night.frames_lost[b] > 0), (b, lost)
                assert lost[b] <= night.frames_lost[b]
        elif where in ("Activity", "Samples missing", "Tremor band RMS") or \
                (where == "Tremor amplitude" and ref == "A"):
            # one value per interval and band, none missing inside the night
            step_s = int(re.sub(r"\D", "", grafana_interval(from_ms, to_ms))) * \
                (60 if grafana_interval(from_ms, to_ms).endswith("m") else 1)
            expect = (hi_s - lo_s) / step_s * len(selection)
            assert len(values(series)) >= 0.95 * expect, (where, len(values(series)), expect)
            assert all(v >= 0 for v in values(series))
    record_property("query_ms_max", round(1000 * max(timings), 1))
    print(f"{name} {selection}: {by_type}, {len(timings)} queries, "
          f"max {1000 * max(timings):.1f} ms, total {1000 * sum(timings):.1f} ms")


def _check_raw(series: list[dict], fields: tuple[str, ...], panel: dict[str, Any],
               frames_lost: dict[str, int]) -> None:
    """A raw trace: the three axes per band, one value per sample of the panel's window
    (less what the band lost), in the stored units."""
    window_s = int(panel["timeFrom"].removesuffix("m")) * 60
    for s in series:
        band = s["tags"]["band"]
        assert s["columns"] == ["time", *fields], s["columns"]
        rows = [v for v in s["values"] if v[1] is not None]
        # 100 Hz; band-a loses 1 % of its frames, and a bin now and then holds two samples
        # (the 10 ms grid and the band's clock drift apart).
        low = 0.95 if frames_lost[band] else 0.98
        assert low * window_s * 100 <= len(rows) <= window_s * 100 + 1, (band, len(rows))
        assert all(x is not None for v in rows for x in v[1:])
        if fields[0] == "ax":  # g, gravity included: a resting band reads ~1 g
            mags = sorted((v[1] ** 2 + v[2] ** 2 + v[3] ** 2) ** 0.5 for v in rows)
            assert 0.8 <= mags[len(mags) // 2] <= 1.2, (band, mags[len(mags) // 2])
        else:  # deg/s within the gyroscope's range, and moving now and then
            assert all(abs(x) <= 2000 for v in rows for x in v[1:])
            assert any(abs(x) > 0.1 for v in rows for x in v[1:]), band


@pytest.mark.servers
def test_band_regex_escaping_selects_exactly_that_band(influxdb, night):
    """A band id with regex characters still selects only itself (Grafana escapes it)."""
    q = substitute(build.Q_ACTIVITY, T0_NS // 10**6, (T0_NS + int(NIGHT_S * 1e9)) // 10**6,
                   ["band.a"])  # '.' would match "band-a" if it were not escaped
    series, _ = run(influxdb, q, night.db)
    assert series == []
