"""Settings: embedded defaults < config file (TOML) < environment < command line.

The defaults need nothing installed: a run with no settings writes its recording and
events to files only. InfluxDB and MQTT are used when configured in any of the layers.

Own code for now: the standard library's tomllib and dataclasses, ~200 lines. A validated
configuration schema (and with it perhaps a settings library) is another issue's; until
then adding pydantic-settings would be a second way of declaring the same fields.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import socket
import tomllib
from dataclasses import dataclass, field, fields
from typing import Any

from .cli import complete_path
from .errors import ConfigError

_UNIT = r"(ns|u|µ|ms|s|m|h|d|w)"  # InfluxQL duration units ("ms" before "m")
RETENTION_RE = re.compile(rf"INF|([1-9][0-9]*{_UNIT})+")
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_UNIT_NS = {"ns": 1, "u": 1_000, "µ": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9,
            "h": 3600 * 10**9, "d": 86400 * 10**9, "w": 7 * 86400 * 10**9}


def duration_ns(text: str) -> int | None:
    """An InfluxQL duration (``RETENTION_RE``) in ns; None for INF (kept forever)."""
    if text == "INF":
        return None
    return sum(int(n) * _UNIT_NS[u] for n, u in re.findall(rf"([0-9]+){_UNIT}", text))


@dataclass
class InfluxConfig:
    url: str = "http://127.0.0.1:8086"
    database: str = "twitchwatch"
    retention_policy: str | None = None
    username: str | None = None
    password: str | None = None
    token: str | None = None  # 2.x/3.x: with org and bucket, the influxdb-client transport
    org: str | None = None
    bucket: str | None = None
    create_database: bool = True  # 1.x only: CREATE DATABASE is idempotent
    timeout_s: float = 10.0  # one request; a server that hangs costs at most this
    # Durability (docs/storage.md, "Delivery"): batches InfluxDB cannot take now wait in
    # this directory (default: <output dir>/influx-spool), oldest first, across restarts.
    spool_dir: str | None = None
    spool_max_mb: float = 512.0  # bound on disk; when full the oldest files are dropped
    retry_first_s: float = 0.5  # backoff between /ping probes while the server is away
    retry_max_s: float = 30.0  # a restart takes seconds; probing faster only adds load
    drain_timeout_s: float = 15.0  # at exit, how long to keep replaying the spool
    # Raw samples (docs/storage.md, `raw`): every sample, ~2.9 M points per band-night at
    # 100 Hz, into the retention policy "twitchwatch_raw" with this duration (an InfluxQL
    # duration). A week: long enough to look at the raw trace of the last nights, short
    # enough that a band costs ~1 GB on disk (~150 MB a night); the recording keeps all.
    raw_samples: bool = False
    raw_retention: str = "7d"

    def __post_init__(self) -> None:
        # Checked here because it goes into a query (CREATE RETENTION POLICY ... DURATION).
        if not RETENTION_RE.fullmatch(self.raw_retention):
            raise ConfigError(f"raw_retention {self.raw_retention!r}: an InfluxQL duration "
                              f"such as 7d, 36h or 2w, or INF")


@dataclass
class MqttConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    prefix: str = "twitchwatch"
    gateway_id: str = socket.gethostname()
    # Live motion: one QoS 0 message per band every this many seconds of device time with
    # the latest per-second summary (0: off). Retained status and events are unaffected.
    motion_every_s: float = 0.0
    # Home Assistant MQTT discovery (retained config under discovery_prefix): off unless set.
    homeassistant: bool = False
    discovery_prefix: str = "homeassistant"
    queue_max: int = 1000  # messages held per band while the broker is away (drop-oldest)


ENV = {
    ("influxdb", "url"): "TWITCHWATCH_INFLUX_URL",
    ("influxdb", "database"): "TWITCHWATCH_INFLUX_DB",
    ("influxdb", "username"): "TWITCHWATCH_INFLUX_USERNAME",
    ("influxdb", "password"): "TWITCHWATCH_INFLUX_PASSWORD",
    ("influxdb", "token"): "TWITCHWATCH_INFLUX_TOKEN",
    ("influxdb", "org"): "TWITCHWATCH_INFLUX_ORG",
    ("influxdb", "bucket"): "TWITCHWATCH_INFLUX_BUCKET",
    ("influxdb", "spool_dir"): "TWITCHWATCH_INFLUX_SPOOL",
    ("influxdb", "raw_samples"): "TWITCHWATCH_INFLUX_RAW",
    ("mqtt", "host"): "TWITCHWATCH_MQTT_HOST",
    ("mqtt", "port"): "TWITCHWATCH_MQTT_PORT",
    ("mqtt", "username"): "TWITCHWATCH_MQTT_USERNAME",
    ("mqtt", "password"): "TWITCHWATCH_MQTT_PASSWORD",
    ("mqtt", "prefix"): "TWITCHWATCH_MQTT_PREFIX",
    ("mqtt", "homeassistant"): "TWITCHWATCH_MQTT_HOMEASSISTANT",
    ("output", "dir"): "TWITCHWATCH_OUT",
}


@dataclass
class Settings:
    out_dir: pathlib.Path = pathlib.Path("twitchwatch-data")
    record: bool = True
    influx: InfluxConfig | None = None
    mqtt: MqttConfig | None = None
    raw: dict[str, Any] = field(default_factory=dict)  # the whole file, for other sections


def _section(cls: type, values: dict[str, Any], where: str) -> Any:
    known = {f.name: f.type for f in fields(cls)}
    unknown = set(values) - set(known)
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
    try:
        return cls(**values)
    except TypeError as e:
        raise ConfigError(f"{where}: {e}") from e


def load(args: argparse.Namespace) -> Settings:
    raw: dict[str, Any] = {}
    path = getattr(args, "config", None)
    if path:
        try:
            raw = tomllib.loads(pathlib.Path(path).read_text())
        except OSError as e:
            raise ConfigError(f"config file {path}: {e.strerror}") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {path}: {e}") from e
    sections: dict[str, dict[str, Any]] = {
        k: dict(raw.get(k, {})) for k in ("influxdb", "mqtt", "output")}
    for (sec, key), var in ENV.items():
        if var in os.environ:
            sections[sec][key] = os.environ[var]
    cli = {
        ("influxdb", "url"): getattr(args, "influx_url", None),
        ("influxdb", "database"): getattr(args, "influx_db", None),
        ("influxdb", "token"): getattr(args, "influx_token", None),
        ("influxdb", "org"): getattr(args, "influx_org", None),
        ("influxdb", "bucket"): getattr(args, "influx_bucket", None),
        ("influxdb", "spool_dir"): getattr(args, "influx_spool", None),
        ("influxdb", "raw_samples"): getattr(args, "influx_raw", None),
        ("influxdb", "raw_retention"): getattr(args, "influx_raw_retention", None),
        ("mqtt", "host"): getattr(args, "mqtt_host", None),
        ("mqtt", "port"): getattr(args, "mqtt_port", None),
        ("mqtt", "prefix"): getattr(args, "mqtt_prefix", None),
        ("mqtt", "motion_every_s"): getattr(args, "mqtt_motion_every", None),
        ("mqtt", "homeassistant"): getattr(args, "mqtt_homeassistant", None),
        ("output", "dir"): getattr(args, "out", None),
    }
    for (sec, key), value in cli.items():
        if value is not None:
            sections[sec][key] = value
    if "port" in sections["mqtt"]:
        try:
            sections["mqtt"]["port"] = int(sections["mqtt"]["port"])
        except ValueError as e:
            raise ConfigError(f"MQTT port {sections['mqtt']['port']!r} is not a number") from e
    for sec, key in (("mqtt", "homeassistant"), ("influxdb", "raw_samples")):
        flag = sections[sec].get(key)
        if isinstance(flag, str):  # from the environment
            if flag.lower() not in TRUE + FALSE:
                raise ConfigError(f"{ENV[sec, key]}={flag!r}: use true or false")
            sections[sec][key] = flag.lower() in TRUE
    out = sections["output"]
    settings = Settings(raw=raw)
    if "dir" in out:
        settings.out_dir = pathlib.Path(str(out.pop("dir")))
    if "record" in out:
        settings.record = bool(out.pop("record"))
    if out:
        raise ConfigError(f"[output]: unknown setting(s) {', '.join(sorted(out))}")
    if getattr(args, "no_record", False):
        settings.record = False
    if sections["influxdb"]:
        settings.influx = _section(InfluxConfig, sections["influxdb"], "[influxdb]")
        if settings.influx.spool_dir is None:
            settings.influx.spool_dir = str(settings.out_dir / "influx-spool")
    if sections["mqtt"]:
        settings.mqtt = _section(MqttConfig, sections["mqtt"], "[mqtt]")
    return settings


def add_sink_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("storage and messaging (optional; also from --config or "
                             "TWITCHWATCH_* environment variables)")
    complete_path(g.add_argument("--config", metavar="FILE", help="TOML settings file"))
    g.add_argument("--influx-url", metavar="URL", help="InfluxDB, e.g. http://127.0.0.1:8086")
    g.add_argument("--influx-db", metavar="NAME", help="database (1.x, or 2.x/3 via DBRP)")
    g.add_argument("--influx-token", metavar="TOKEN", help="2.x/3.x token")
    g.add_argument("--influx-org", metavar="ORG", help="2.x org (with token and bucket)")
    g.add_argument("--influx-bucket", metavar="BUCKET", help="2.x bucket")
    complete_path(g.add_argument(
        "--influx-spool", metavar="DIR",
        help="where batches wait while InfluxDB is unreachable (OUT/influx-spool); "
             "replayed oldest first, also after a restart"), directory=True)
    g.add_argument("--influx-raw", action="store_true", default=None,
                   help="also store every raw sample (measurement raw, retention policy "
                        "twitchwatch_raw; ~2.9 M points per band-night)")
    g.add_argument("--influx-raw-retention", metavar="DURATION",
                   help="how long InfluxDB keeps raw samples (7d)")
    g.add_argument("--mqtt-host", metavar="HOST", help="MQTT broker host")
    g.add_argument("--mqtt-port", metavar="PORT", type=int, help="MQTT broker port")
    g.add_argument("--mqtt-prefix", metavar="PREFIX", help="topic prefix (twitchwatch)")
    g.add_argument("--mqtt-motion-every", metavar="S", type=float,
                   help="publish live motion (QoS 0) every S seconds per band (off)")
    g.add_argument("--mqtt-homeassistant", action="store_true", default=None,
                   help="announce bands and events to Home Assistant (MQTT discovery)")
