"""A night from InfluxDB, through the schema the dashboards read (docs/storage.md).

InfluxQL over the v1 ``/query`` API, which InfluxDB 1.x, 2.x (v1 compatibility, token) and
3 Core all answer. Credentials come from the settings (a config file or the environment),
travel in the Authorization header, and never appear in a URL or a log line. The night's
time base is wall time: seconds since the first per-second ``motion`` point.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from ..errors import ConfigError, RecordingError
from ..settings import InfluxConfig
from .collect import NightBuilder
from .load import LoadOptions
from .night_model import STATE_CODE, Night

log = logging.getLogger(__name__)

CHUNK_ROWS = 10_000  # rows per chunk of a streamed answer: memory stays small per chunk
NIGHT_FROM_H = 12  # a night is noon to noon in the report's zone, as actigraphy counts it
STATE_NAME_BY_CODE = {v: k for k, v in STATE_CODE.items()}


def night_window(date: str, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """``--night YYYY-MM-DD``: from noon that day to noon the next, in ``tz``."""
    try:
        d = dt.date.fromisoformat(date)
    except ValueError:
        raise ConfigError(f"--night {date!r}: use a date such as 2026-11-24 (the evening "
                          f"the night began)") from None
    start = dt.datetime.combine(d, dt.time(NIGHT_FROM_H), tz)
    return start.astimezone(dt.UTC), (start + dt.timedelta(days=1)).astimezone(dt.UTC)


class InfluxReader:
    def __init__(self, cfg: InfluxConfig) -> None:
        self.cfg = cfg
        self.url = cfg.url.rstrip("/") + "/query"
        if not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"InfluxDB URL {cfg.url!r}: must start with http:// or https://")

    def _headers(self) -> dict[str, str]:
        h = {"Accept": "application/json",
             "Content-Type": "application/x-www-form-urlencoded"}
        if self.cfg.token:
            h["Authorization"] = f"Token {self.cfg.token}"
        elif self.cfg.username:
            pair = f"{self.cfg.username}:{self.cfg.password or ''}".encode()
            h["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        return h

    def query(self, q: str) -> list[dict[str, Any]]:
        """Rows of one SELECT as dicts (``time`` in ms since the epoch)."""
        body = urllib.parse.urlencode({"db": self.cfg.database, "q": q, "epoch": "ms",
                                       "chunked": "true", "chunk_size": str(CHUNK_ROWS)})
        req = urllib.request.Request(self.url, data=body.encode(), headers=self._headers(),
                                     method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.cfg.timeout_s) as resp:
                text = resp.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace")[:300].strip()
            why = "credentials refused" if e.code in (401, 403) else f"HTTP {e.code}"
            raise RecordingError(f"InfluxDB {self.cfg.url}: {why} ({detail})") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise RecordingError(f"InfluxDB {self.cfg.url}: cannot connect ({reason})") from None
        rows: list[dict[str, Any]] = []
        for line in text.splitlines():  # a chunked answer: one JSON document per line
            if not line.strip():
                continue
            doc = json.loads(line)
            if "error" in doc:
                raise RecordingError(f"InfluxDB {self.cfg.url}: {doc['error']}")
            for res in doc.get("results", []):
                if "error" in res:
                    raise RecordingError(f"InfluxDB {self.cfg.url}: {res['error']}")
                for series in res.get("series", []):
                    cols = series["columns"]
                    rows += [dict(zip(cols, v, strict=True)) for v in series.get("values", [])]
        return rows


def _literal(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def load_influx(cfg: InfluxConfig, band: str, start: dt.datetime, end: dt.datetime,
                opts: LoadOptions, name: str | None = None) -> Night:
    from twitchwatch import dsp

    reader = InfluxReader(cfg)
    where = (f'WHERE "band" = {_literal(band)} AND time >= {int(start.timestamp() * 1e9)} '
             f'AND time < {int(end.timestamp() * 1e9)}')
    motion = reader.query(f'SELECT "sleep_state", "coverage" FROM "motion" {where}')
    events = reader.query('SELECT "type", "duration_s", "peak_g", "freq_hz", "tremor_type", '
                          f'"cluster" FROM "event" {where}')
    onsets = reader.query(f'SELECT "confirmed_after_s" FROM "sleep_onset" {where}')
    links = reader.query('SELECT "frames", "frames_lost", "samples", "samples_missing", '
                         '"samples_late", "rejected", "reconnects", "rssi_dbm", "battery_pct", '
                         f'"reason" FROM "link" {where}')
    if not (motion or events or onsets):
        raise RecordingError(f"InfluxDB {cfg.url}, database {cfg.database}: nothing for band "
                             f"{band!r} between {start:%Y-%m-%d %H:%M} and "
                             f"{end:%Y-%m-%d %H:%M} UTC")
    times = [r["time"] for r in (motion or events or onsets)]
    ms0 = min(times)
    b = NightBuilder(band)
    b.anchor(0.0, ms0 * 1_000_000)

    def t(ms: int) -> float:
        return (ms - ms0) / 1000.0

    for r in motion:
        code = r.get("sleep_state")
        state = STATE_NAME_BY_CODE.get(-1 if code is None else int(code), "unknown")
        b.add_epoch(dsp.Epoch(t(r["time"]), 1.0, 0.0, 0.0, state,
                              float(r.get("coverage") or 0.0)))
    for r in events:
        s = t(r["time"])
        b.add_event(dsp.Event("", str(r["type"]), s, s + float(r.get("duration_s") or 0.0),
                              float(r.get("peak_g") or 0.0), 0.0, True,
                              r.get("freq_hz"), r.get("cluster"), r.get("tremor_type")),
                    r["time"] * 1_000_000)
    for r in onsets:
        s = t(r["time"])
        b.add_onset(dsp.SleepOnset("", s, s + float(r.get("confirmed_after_s") or 0.0)),
                    r["time"] * 1_000_000)
    from ..records import LinkRecord

    for r in links:
        b.add_link(LinkRecord(
            band=band, t_ns=r["time"] * 1_000_000, reason=str(r.get("reason") or ""),
            connected=True, frames=_int(r, "frames"), frames_lost=_int(r, "frames_lost"),
            samples=_int(r, "samples"), samples_backlog=0,
            samples_missing=_int(r, "samples_missing"),
            samples_late=_int(r, "samples_late"), rejected=_int(r, "rejected"),
            reconnects=_int(r, "reconnects"), rssi_dbm=r.get("rssi_dbm"),
            battery_pct=r.get("battery_pct"), mtu=None))
    if not links:
        b.quality.notes.append("No link records in InfluxDB for this night: radio losses, "
                               "battery and signal are not known.")
    if not motion:
        b.quality.notes.append("No per-second motion records in InfluxDB for this night: sleep "
                               "and wake, time in bed and data quality are not known.")
    stamp = dt.datetime.fromtimestamp(ms0 / 1000, dt.UTC).astimezone(opts.tz)
    return b.build(name or f"{_safe(band)}-{stamp:%Y%m%d-%H%M}",
                   f"InfluxDB {cfg.url}, database {cfg.database}", opts.tz, opts.tz_name,
                   motion=bool(motion))


def _int(r: dict[str, Any], key: str) -> int:
    v = r.get(key)
    return int(v) if v is not None else 0


def _safe(band: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in band) or "band"
