"""Builds the Grafana dashboards (dashboards/json/*.json) from the queries below.

    python dashboards/build.py          # rewrite the JSON files
    python dashboards/build.py --check  # exit 1 if they differ from what this builds

Plain dictionaries on purpose: grafana-foundation-sdk has no InfluxQL query builder and
its unpinned builds emit an old schema, so a small builder keeps the output reviewable and
the version explicit. Every query here is InfluxQL (the language InfluxDB 1.x, 2.x with a
DBRP mapping and 3 Core share) and is run against a real InfluxDB holding a replayed night
by tests/test_dashboards.py. Schema: docs/storage.md.
"""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Any

SCHEMA_VERSION = 42  # what Grafana 13 writes
DS_UID = "twitchwatch-influxdb"  # fixed in provisioning/datasources/twitchwatch.yaml
DS = {"type": "influxdb", "uid": DS_UID}
OUT = pathlib.Path(__file__).resolve().parent / "json"

BAND = '"band" =~ /^$band$/'
WHERE = f"WHERE {BAND} AND $timeFilter"
EVENT_COLORS = {"myoclonic_jerk": "red", "hypnic_jerk": "orange", "tremor": "purple"}
STATE_MAPPINGS = [{"type": "value", "options": {
    "1": {"text": "sleep", "color": "blue", "index": 0},
    "0": {"text": "wake", "color": "yellow", "index": 1},
    "-1": {"text": "unknown", "color": "gray", "index": 2}}}]

Panel = dict[str, Any]


def target(ref: str, query: str, alias: str = "", table: bool = False) -> dict[str, Any]:
    t: dict[str, Any] = {"refId": ref, "datasource": DS, "query": query, "rawQuery": True,
                         "resultFormat": "table" if table else "time_series"}
    if alias:
        t["alias"] = alias
    return t


def _overrides_by_type(prefix: str = "") -> list[dict[str, Any]]:
    return [{"matcher": {"id": "byName", "options": f"{prefix}{t}"},
             "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": c}}]}
            for t, c in EVENT_COLORS.items()]


class Layout:
    """Hands out panel ids and grid positions, row by row (24 columns wide)."""

    def __init__(self) -> None:
        self.next_id = 1
        self.x = 0
        self.y = 0
        self.row_h = 0
        self.panels: list[Panel] = []

    def add(self, p: Panel, w: int, h: int) -> None:
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        p = {"id": self.next_id, "gridPos": {"h": h, "w": w, "x": self.x, "y": self.y}, **p}
        self.next_id += 1
        self.x += w
        self.row_h = max(self.row_h, h)
        self.panels.append(p)

    def row(self, title: str) -> None:
        if self.x:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        self.panels.append({"id": self.next_id, "type": "row", "title": title,
                            "collapsed": False, "panels": [],
                            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}})
        self.next_id += 1
        self.y += 1


def timeseries(title: str, targets: list[dict[str, Any]], *, unit: str = "", desc: str = "",
               draw: str = "line", stack: bool = False, decimals: int | None = None,
               overrides: list[dict[str, Any]] | None = None, min0: bool = False) -> Panel:
    custom: dict[str, Any] = {"drawStyle": draw, "lineWidth": 1, "fillOpacity": 10,
                              "showPoints": "always" if draw == "points" else "never",
                              "pointSize": 6, "spanNulls": False,
                              "stacking": {"mode": "normal" if stack else "none",
                                           "group": "A"}}
    if draw == "bars":
        custom["fillOpacity"] = 80
    defaults: dict[str, Any] = {"custom": custom, "color": {"mode": "palette-classic"}}
    if unit:
        defaults["unit"] = unit
    if decimals is not None:
        defaults["decimals"] = decimals
    if min0:
        defaults["min"] = 0
    return {"type": "timeseries", "title": title, "description": desc, "datasource": DS,
            "targets": targets,
            "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom",
                                   "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "none"}}}


def raw_trace(title: str, query: str, unit: str, desc: str) -> Panel:
    """A full-rate trace of the last RAW_WINDOW_S: jerks last 50-250 ms and tremor is
    3-12 Hz, which any coarser bin would flatten (the per-second means are on Activity)."""
    p = timeseries(title, [target("A", query, "$tag_band $col")], unit=unit,
                   desc=f"{desc} {RAW_NOTE}")
    # Connect a missing bin or two (the 10 ms grid and the band's clock drift apart), but
    # break the line where frames were lost (~180 ms each).
    p["fieldConfig"]["defaults"]["custom"]["spanNulls"] = 30
    # Shown instead of Grafana's bare "No data" when nothing comes back: the gateway
    # creates the (empty) retention policy either way, so the query itself succeeds.
    p["fieldConfig"]["defaults"]["noValue"] = RAW_NO_VALUE
    # 2 min at full rate is 12,000 points per axis and band, refetched every 5 s; the
    # whole 15 min would be 90,000.
    p.update(timeFrom=f"{RAW_WINDOW_S // 60}m", interval=RAW_PERIOD, maxDataPoints=RAW_POINTS)
    return p


def state_timeline(title: str, targets: list[dict[str, Any]], desc: str) -> Panel:
    return {"type": "state-timeline", "title": title, "description": desc, "datasource": DS,
            "targets": targets,
            "fieldConfig": {"defaults": {"mappings": STATE_MAPPINGS,
                                         "color": {"mode": "thresholds"},
                                         "thresholds": {"mode": "absolute", "steps": [
                                             {"color": "gray", "value": None}]}},
                            "overrides": []},
            "options": {"showValue": "never", "mergeValues": True, "rowHeight": 0.8,
                        "legend": {"displayMode": "list", "placement": "bottom",
                                   "showLegend": False}}}


def stat(title: str, targets: list[dict[str, Any]], *, unit: str = "", desc: str = "",
         mappings: list[dict[str, Any]] | None = None, reduce: str = "lastNotNull",
         overrides: list[dict[str, Any]] | None = None) -> Panel:
    defaults: dict[str, Any] = {"color": {"mode": "thresholds"},
                                "thresholds": {"mode": "absolute", "steps": [
                                    {"color": "green", "value": None}]}}
    if unit:
        defaults["unit"] = unit
    if mappings:
        defaults["mappings"] = mappings
    return {"type": "stat", "title": title, "description": desc, "datasource": DS,
            "targets": targets,
            "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
            "options": {"reduceOptions": {"calcs": [reduce], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "none", "textMode": "auto",
                        "orientation": "auto", "justifyMode": "auto"}}


def table(title: str, targets: list[dict[str, Any]], desc: str) -> Panel:
    return {"type": "table", "title": title, "description": desc, "datasource": DS,
            "targets": targets,
            "fieldConfig": {"defaults": {}, "overrides": [
                {"matcher": {"id": "byName", "options": "peak_g"},
                 "properties": [{"id": "unit", "value": "suffix: g"},
                                {"id": "decimals", "value": 2}]}]},
            "options": {"showHeader": True, "cellHeight": "sm",
                        "sortBy": [{"displayName": "Time", "desc": True}]}}


# -- queries shared by both dashboards ---------------------------------------------------

Q_ACTIVITY = (f'SELECT mean("activity_g") FROM "motion" {WHERE} '
              'GROUP BY time($__interval), "band" fill(null)')
Q_TREMOR_RMS = (f'SELECT sqrt(mean("tremor_power")) FROM "motion" {WHERE} '
                'GROUP BY time($__interval), "band" fill(null)')
Q_STATE = (f'SELECT max("sleep_state") FROM "motion" {WHERE} '
           'GROUP BY time($__interval), "band" fill(null)')
Q_SAMPLE_LOSS = (f'SELECT 100 * (1 - mean("coverage")) FROM "motion" {WHERE} '
                 'GROUP BY time($__interval), "band" fill(null)')
Q_FRAMES_LOST = (f'SELECT non_negative_difference(max("frames_lost")) FROM "link" {WHERE} '
                 'GROUP BY time($__interval), "band" fill(null)')
Q_RSSI = (f'SELECT mean("rssi_dbm") FROM "link" {WHERE} '
          'GROUP BY time($__interval), "band" fill(null)')
Q_BATTERY = (f'SELECT last("battery_pct") FROM "link" {WHERE} '
             'GROUP BY time($__interval), "band" fill(null)')
Q_EVENTS = (f'SELECT "peak_g" FROM "event" {WHERE} GROUP BY "type"')
Q_EVENTS_PER_HOUR = (f'SELECT count("peak_g") FROM "event" {WHERE} '
                     'GROUP BY time(1h), "type" fill(0)')
Q_EVENT_TABLE = ('SELECT "band", "type", "peak_g", "duration_s", "confidence", "freq_hz", '
                 f'"tremor_type", "cluster", "event_id" FROM "event" {WHERE}')
Q_EVENT_TOTALS = f'SELECT count("peak_g") FROM "event" {WHERE} GROUP BY "type"'
Q_TREMOR_FREQ = (f'SELECT "freq_hz" FROM "event" WHERE "type" = \'tremor\' AND {BAND} '
                 'AND $timeFilter GROUP BY "band"')
Q_TREMOR_PEAK = (f'SELECT "peak_g" FROM "event" WHERE "type" = \'tremor\' AND {BAND} '
                 'AND $timeFilter GROUP BY "band"')
Q_ANNOTATIONS = f'SELECT "type", "band", "peak_g", "event_id" FROM "event" {WHERE}'
Q_ONSETS = f'SELECT "onset_id", "band" FROM "sleep_onset" {WHERE}'
Q_BANDS = 'SHOW TAG VALUES FROM "motion" WITH KEY = "band"'

# -- raw samples (optional: the gateway's --influx-raw) ----------------------------------

RAW = '"twitchwatch_raw"."raw"'  # the retention policy InfluxRawSink writes to
RAW_PERIOD = "10ms"  # one sample at the band's 100 Hz
RAW_WINDOW_S = 120
RAW_POINTS = RAW_WINDOW_S * 100  # one bin per sample over the window


def q_raw(fields: tuple[str, ...]) -> str:
    # mean() per $__interval rather than raw points: with the panel's minimum interval at
    # the sample period and maxDataPoints at the window's sample count, every bin holds
    # one sample (the trace at full rate), yet a panel opened over hours (Explore, a
    # removed timeFrom) gets bounded means instead of 100 points a second.
    cols = ", ".join(f'mean("{f}") AS "{f}"' for f in fields)
    return (f"SELECT {cols} FROM {RAW} {WHERE} "
            'GROUP BY time($__interval), "band" fill(null)')


Q_RAW_ACC = q_raw(("ax", "ay", "az"))
Q_RAW_GYRO = q_raw(("gx", "gy", "gz"))
RAW_NOTE = ("Empty unless the gateway stores raw samples (--influx-raw, retention policy "
            "twitchwatch_raw, which the gateway creates either way).")
RAW_NO_VALUE = "No raw samples: the gateway stores them with --influx-raw"


def band_variable() -> dict[str, Any]:
    return {"name": "band", "label": "Band", "type": "query", "datasource": DS,
            "query": Q_BANDS, "definition": Q_BANDS, "refresh": 2, "sort": 1,
            "multi": True, "includeAll": True, "current": {}, "options": [],
            "regex": "", "hide": 0, "skipUrlSync": False}


def annotation_list() -> dict[str, Any]:
    return {"list": [
        {"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
         "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
         "name": "Annotations & Alerts", "type": "dashboard"},
        {"name": "Events", "datasource": DS, "enable": True, "hide": False,
         "iconColor": "red",
         "target": {"refId": "Anno", "query": Q_ANNOTATIONS, "rawQuery": True,
                    "fromAnnotations": True, "textEditor": True,
                    "textColumn": "type", "tagsColumn": "band"}},
        {"name": "Sleep onsets", "datasource": DS, "enable": True, "hide": False,
         "iconColor": "blue",
         "target": {"refId": "Onsets", "query": Q_ONSETS, "rawQuery": True,
                    "fromAnnotations": True, "textEditor": True,
                    "textColumn": "onset_id", "tagsColumn": "band"}},
    ]}


def dashboard(uid: str, title: str, desc: str, panels: list[Panel], *, time_from: str,
              refresh: str) -> dict[str, Any]:
    return {
        "uid": uid, "title": title, "description": desc,
        "tags": ["twitchwatch"], "timezone": "browser", "editable": True,
        "graphTooltip": 1, "fiscalYearStartMonth": 0, "liveNow": False, "weekStart": "",
        "schemaVersion": SCHEMA_VERSION, "version": 1,
        "time": {"from": time_from, "to": "now"}, "refresh": refresh,
        "timepicker": {}, "links": [
            {"title": "twitchwatch", "type": "dashboards", "tags": ["twitchwatch"],
             "asDropdown": False, "includeVars": True, "keepTime": True}],
        "templating": {"list": [band_variable()]},
        "annotations": annotation_list(),
        "panels": panels,
    }


def night() -> dict[str, Any]:
    lay = Layout()
    lay.row("Night")
    lay.add(timeseries("Activity", [target("A", Q_ACTIVITY, "$tag_band")], unit="suffix: g",
                       desc="Mean dynamic acceleration (gravity removed) per interval.",
                       min0=True), 24, 8)
    lay.add(state_timeline("Sleep / wake", [target("A", Q_STATE, "$tag_band")],
                           "The gateway's sleep/wake state; per interval, sleep wins if any "
                           "second of it was sleep."), 24, 4)
    lay.row("Events")
    lay.add(timeseries("Events by type", [target("A", Q_EVENTS, "$tag_type")],
                       unit="suffix: g", draw="points", overrides=_overrides_by_type(),
                       desc="Each final event at its start; height: its peak acceleration."),
            16, 8)
    lay.add(stat("Events in range", [target("A", Q_EVENT_TOTALS, "$tag_type")],
                 desc="Final events of each type in the selected time range.",
                 reduce="sum", overrides=_overrides_by_type()), 8, 8)
    lay.add(timeseries("Events per hour", [target("A", Q_EVENTS_PER_HOUR, "$tag_type")],
                       draw="bars", stack=True, decimals=0, overrides=_overrides_by_type(),
                       min0=True, desc="Final events per clock hour, stacked by type."),
            24, 8)
    lay.add(table("Event list", [target("A", Q_EVENT_TABLE, table=True)],
                  "Every final event with its measurements; event_id matches MQTT and the "
                  "events file."), 24, 8)
    lay.row("Tremor")
    lay.add(timeseries("Tremor frequency", [target("A", Q_TREMOR_FREQ, "$tag_band")],
                       unit="hertz", draw="points",
                       desc="Mean frequency of each tremor episode."), 12, 8)
    lay.add(timeseries("Tremor amplitude", [
        target("A", Q_TREMOR_RMS, "$tag_band 3-12 Hz RMS"),
        target("B", Q_TREMOR_PEAK, "$tag_band episode peak")], unit="suffix: g",
        desc="RMS acceleration in the 3-12 Hz tremor band per interval (line) and the peak "
             "of each tremor episode (points).",
        overrides=[{"matcher": {"id": "byFrameRefID", "options": "B"},
                    "properties": [{"id": "custom.drawStyle", "value": "points"},
                                   {"id": "custom.showPoints", "value": "always"}]}]),
        12, 8)
    lay.row("Link")
    lay.add(timeseries("Loss", [target("A", Q_SAMPLE_LOSS, "$tag_band samples missing %"),
                                target("B", Q_FRAMES_LOST, "$tag_band frames lost")],
                       desc="Share of samples that never arrived (%), and notifications "
                            "lost in transit per interval.", min0=True,
                       overrides=[{"matcher": {"id": "byFrameRefID", "options": "B"},
                                   "properties": [{"id": "custom.axisPlacement",
                                                   "value": "right"},
                                                  {"id": "custom.drawStyle",
                                                   "value": "bars"}]}]), 8, 8)
    lay.add(timeseries("RSSI", [target("A", Q_RSSI, "$tag_band")], unit="dBm",
                       desc="Received signal strength as the gateway last saw it."), 8, 8)
    lay.add(timeseries("Battery", [target("A", Q_BATTERY, "$tag_band")], unit="percent",
                       desc="The band's battery as it reports it.", min0=True), 8, 8)
    return dashboard("twitchwatch-night", "twitchwatch / Night",
                     "One night per band: activity, sleep/wake, events, tremor, link quality.",
                     lay.panels, time_from="now-12h", refresh="")


def live() -> dict[str, Any]:
    lay = Layout()
    lay.add(stat("State", [target("A", Q_STATE, "$tag_band")], mappings=STATE_MAPPINGS,
                 desc="Sleep/wake now."), 6, 4)
    lay.add(stat("Events (15 min)", [target("A", Q_EVENT_TOTALS, "$tag_type")], reduce="sum",
                 overrides=_overrides_by_type(), desc="Final events in the range."), 6, 4)
    lay.add(stat("RSSI", [target("A", Q_RSSI, "$tag_band")], unit="dBm"), 6, 4)
    lay.add(stat("Battery", [target("A", Q_BATTERY, "$tag_band")], unit="percent"), 6, 4)
    lay.add(timeseries("Activity", [target("A", Q_ACTIVITY, "$tag_band")], unit="suffix: g",
                       min0=True, desc="Mean dynamic acceleration per second."), 24, 8)
    lay.add(timeseries("Tremor band RMS", [target("A", Q_TREMOR_RMS, "$tag_band")],
                       unit="suffix: g", min0=True,
                       desc="RMS acceleration in the 3-12 Hz band."), 12, 7)
    lay.add(timeseries("Samples missing", [target("A", Q_SAMPLE_LOSS, "$tag_band")],
                       unit="percent", min0=True,
                       desc="Share of each interval's samples that have not arrived."), 12, 7)
    lay.add(table("Latest events", [target("A", Q_EVENT_TABLE, table=True)],
                  "Final events in the range, newest first."), 24, 8)
    # Last, so that the other panels keep their ids and places (links with viewPanel=).
    lay.add(raw_trace("Raw acceleration", Q_RAW_ACC, "suffix: g",
                      f"Every sample of the last {RAW_WINDOW_S // 60} minutes, band "
                      "axes, gravity included."), 24, 8)
    lay.add(raw_trace("Raw rotation", Q_RAW_GYRO, "rotdegs",
                      f"Every gyroscope sample of the last {RAW_WINDOW_S // 60} minutes "
                      "(bands with a gyroscope)."), 24, 8)
    return dashboard("twitchwatch-live", "twitchwatch / Live",
                     "The last minutes, refreshed every 5 seconds.", lay.panels,
                     time_from="now-15m", refresh="5s")


DASHBOARDS = {"night.json": night, "live.json": live}


def render(build: Any) -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, build in DASHBOARDS.items():
        path = OUT / name
        text = render(build)
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            OUT.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date: {', '.join(stale)} (run python dashboards/build.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
