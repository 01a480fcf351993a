"""Settings: embedded defaults < config file (TOML) < environment < command line.

The defaults need nothing installed: a run with no settings writes its recording and
events to files only. InfluxDB and MQTT are used when configured in any of the layers.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import socket
import tomllib
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import ConfigError


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
    timeout_s: float = 10.0


@dataclass
class MqttConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    prefix: str = "twitchwatch"
    gateway_id: str = socket.gethostname()


ENV = {
    ("influxdb", "url"): "TWITCHWATCH_INFLUX_URL",
    ("influxdb", "database"): "TWITCHWATCH_INFLUX_DB",
    ("influxdb", "username"): "TWITCHWATCH_INFLUX_USERNAME",
    ("influxdb", "password"): "TWITCHWATCH_INFLUX_PASSWORD",
    ("influxdb", "token"): "TWITCHWATCH_INFLUX_TOKEN",
    ("influxdb", "org"): "TWITCHWATCH_INFLUX_ORG",
    ("influxdb", "bucket"): "TWITCHWATCH_INFLUX_BUCKET",
    ("mqtt", "host"): "TWITCHWATCH_MQTT_HOST",
    ("mqtt", "port"): "TWITCHWATCH_MQTT_PORT",
    ("mqtt", "username"): "TWITCHWATCH_MQTT_USERNAME",
    ("mqtt", "password"): "TWITCHWATCH_MQTT_PASSWORD",
    ("mqtt", "prefix"): "TWITCHWATCH_MQTT_PREFIX",
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
        ("mqtt", "host"): getattr(args, "mqtt_host", None),
        ("mqtt", "port"): getattr(args, "mqtt_port", None),
        ("mqtt", "prefix"): getattr(args, "mqtt_prefix", None),
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
    if sections["mqtt"]:
        settings.mqtt = _section(MqttConfig, sections["mqtt"], "[mqtt]")
    return settings


def add_sink_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("storage and messaging (optional; also from --config or "
                             "TWITCHWATCH_* environment variables)")
    g.add_argument("--config", metavar="FILE", help="TOML settings file")
    g.add_argument("--influx-url", metavar="URL", help="InfluxDB, e.g. http://127.0.0.1:8086")
    g.add_argument("--influx-db", metavar="NAME", help="database (1.x, or 2.x/3 via DBRP)")
    g.add_argument("--influx-token", metavar="TOKEN", help="2.x/3.x token")
    g.add_argument("--influx-org", metavar="ORG", help="2.x org (with token and bucket)")
    g.add_argument("--influx-bucket", metavar="BUCKET", help="2.x bucket")
    g.add_argument("--mqtt-host", metavar="HOST", help="MQTT broker host")
    g.add_argument("--mqtt-port", metavar="PORT", type=int, help="MQTT broker port")
    g.add_argument("--mqtt-prefix", metavar="PREFIX", help="topic prefix (twitchwatch)")
