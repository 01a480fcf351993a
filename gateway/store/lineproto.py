"""Records as InfluxDB line protocol (schema: docs/storage.md). Timestamps in ms.

One function per measurement; tags are only the band and the event type (small, fixed
sets), everything else is a field, and no field shares a name with a tag (InfluxDB 3).

Own code, not influxdb-client's ``Point`` although that is a dependency (for 2.x/3.x),
measured by bench/bench_libraries.py: importing ``Point`` pulls in the whole client
(0.65 s of a run's start with InfluxDB configured, 1.4 s under load) and builds a line in
~27 us against ~6 us here; the escaping rules are these few lines, checked against the
real InfluxDB by the tests. Raw samples (``lineproto_raw``) are vectorised: over 1 M lines/s,
where ``Point`` would take ~80 s of CPU for one band-night.
"""

from __future__ import annotations

import math

from ..records import EpochRecord, EventRecord, LinkRecord, Record, SleepOnsetRecord

STATE_CODE = {"wake": 0, "sleep": 1, "unknown": -1}
# InfluxDB's time range is int64 ns: 1677-09-21 to 2262-04-11. A record outside 1970-2200
# (the ingest's bounds) is damage, refused here so that one bad point never costs a batch.
TIME_MIN_NS, TIME_MAX_NS = 0, 7_258_118_400 * 1_000_000_000
INT_MAX = (1 << 63) - 1


def _time_ms(ns: int) -> int:
    if not TIME_MIN_NS <= ns < TIME_MAX_NS:
        raise ValueError(f"time {ns} ns since 1970 is outside 1970-2200")
    return ns // 1_000_000


def tag_value(v: str) -> str:
    return v.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _str(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fields(pairs: list[tuple[str, object]]) -> str:
    out = []
    for k, v in pairs:
        if v is None:
            continue
        if isinstance(v, bool):
            out.append(f"{k}={'true' if v else 'false'}")
        elif isinstance(v, int):
            if not -INT_MAX <= v <= INT_MAX:
                raise ValueError(f"field {k}={v} does not fit InfluxDB's int64")
            out.append(f"{k}={v}i")
        elif isinstance(v, float):
            if not math.isfinite(v):
                raise ValueError(f"field {k}={v} is not a finite number")
            out.append(f"{k}={v!r}")
        else:
            out.append(f"{k}={_str(str(v))}")
    return ",".join(out)


def event_line(r: EventRecord) -> str:
    e = r.event
    fields = _fields([
        ("duration_s", round(e.end - e.start, 3)), ("peak_g", float(e.peak_g)),
        ("confidence", float(e.confidence)),
        ("freq_hz", None if e.freq_hz is None else float(e.freq_hz)),
        ("cluster", e.cluster), ("tremor_type", e.tremor_type), ("event_id", e.id),
        ("device_start_s", float(e.start)),
    ])
    tags = f"band={tag_value(r.band)},type={tag_value(e.type)}"
    return f"event,{tags} {fields} {_time_ms(r.start_ns)}"


def epoch_line(r: EpochRecord) -> str:
    ep = r.epoch
    fields = _fields([
        ("activity_g", float(ep.activity_g)), ("tremor_power", float(ep.tremor_power)),
        ("sleep_state", STATE_CODE.get(ep.state, -1)), ("coverage", float(ep.coverage)),
    ])
    return f"motion,band={tag_value(r.band)} {fields} {_time_ms(r.start_ns)}"


def sleep_onset_line(r: SleepOnsetRecord) -> str:
    o = r.onset
    fields = _fields([("onset_id", o.id), ("device_start_s", float(o.start)),
                      ("confirmed_after_s", round(float(o.confirmed - o.start), 3))])
    return f"sleep_onset,band={tag_value(r.band)} {fields} {_time_ms(r.start_ns)}"


def link_line(r: LinkRecord) -> str:
    fields = _fields([
        ("connected", r.connected), ("frames", r.frames), ("frames_lost", r.frames_lost),
        ("samples", r.samples), ("samples_backlog", r.samples_backlog),
        ("samples_missing", r.samples_missing), ("samples_late", r.samples_late),
        ("rejected", r.rejected), ("reconnects", r.reconnects), ("rssi_dbm", r.rssi_dbm),
        ("battery_pct", r.battery_pct), ("mtu", r.mtu), ("reason", r.reason),
    ])
    return f"link,band={tag_value(r.band)} {fields} {_time_ms(r.t_ns)}"


def to_line(r: Record) -> str | None:
    """The line for a record, or None for records the store does not keep. Raises
    ValueError for a value line protocol cannot carry (the caller drops that record)."""
    if isinstance(r, EventRecord):
        return event_line(r) if r.event.final else None
    if isinstance(r, EpochRecord):
        return epoch_line(r)
    if isinstance(r, LinkRecord):
        return link_line(r)
    if isinstance(r, SleepOnsetRecord):
        return sleep_onset_line(r)
    return None
