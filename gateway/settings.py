"""Settings: embedded defaults < config file (TOML) < environment < command line.

One schema for the three layers: the dataclasses below. Every value is checked where it
enters (``load``), against the field's type and the rule in its metadata, with msgspec
(strict for TOML and flags, which have types; lax for the environment, which has only
strings). A value that fails names its key, where it came from (file, variable, flag),
the value and what is allowed. Unknown sections and keys are errors, with the nearest
known name when there is one. Secrets (passwords, tokens) come from the file, the
environment or ``*_file`` keys, never from a flag (``ps`` shows flags to every user); they
are registered with ``redact`` so that no log line or error message prints them.

The defaults need nothing installed: a run with no settings writes its recording and
events to files only. InfluxDB and MQTT are used when configured in any of the layers.
msgspec is imported by ``load`` only: ``twitchwatch --help`` builds every parser and must
stay instant.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import pathlib
import re
import socket
import stat
import tomllib
import typing
import urllib.parse
from dataclasses import dataclass, field, fields
from typing import Any

from .cli import complete_path
from .errors import ConfigError
from .redact import register_secret

log = logging.getLogger(__name__)

_UNIT = r"(ns|u|µ|ms|s|m|h|d|w)"  # InfluxQL duration units ("ms" before "m")
RETENTION_RE = re.compile(rf"INF|([1-9][0-9]*{_UNIT})+")
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_UNIT_NS = {"ns": 1, "u": 1_000, "µ": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9,
            "h": 3600 * 10**9, "d": 86400 * 10**9, "w": 7 * 86400 * 10**9}
# The spool must hold a few whole requests (5,000 lines, ~0.75 MB) or a short outage
# already drops data; 8 MB holds ten.
SPOOL_MIN_MB = 8.0
SECRET_KEYS = ("password", "token")


def duration_ns(text: str) -> int | None:
    """An InfluxQL duration (``RETENTION_RE``) in ns; None for INF (kept forever)."""
    if text == "INF":
        return None
    return sum(int(n) * _UNIT_NS[u] for n, u in re.findall(rf"([0-9]+){_UNIT}", text))


def _opt(default: Any, allowed: str, **meta: Any) -> Any:
    """A schema field: its default, what is allowed (said in errors), msgspec.Meta rules."""
    return field(default=default, metadata={"allowed": allowed, "meta": meta})


_SECONDS = "a number of seconds > 0 (at most {})"
_NAME = r"^[^\n\r]+$"  # InfluxQL quoted identifiers may hold anything but a newline
_TOPIC = r"^[^#+\s$/][^#+\s]*$"  # one or more topic levels: no wildcards, not $SYS


@dataclass
class InfluxConfig:
    url: str = _opt("http://127.0.0.1:8086", "an http:// or https:// URL with a host")
    database: str = _opt("twitchwatch", "a name without newlines", pattern=_NAME)
    retention_policy: str | None = _opt(None, "a name without newlines", pattern=_NAME)
    username: str | None = _opt(None, "a user name", min_length=1)
    password: str | None = _opt(None, "a password", min_length=1)
    # 2.x/3.x: with org and bucket, the influxdb-client transport
    token: str | None = _opt(None, "a token", min_length=1)
    org: str | None = _opt(None, "an organisation name", min_length=1)
    bucket: str | None = _opt(None, "a bucket name", min_length=1)
    create_database: bool = _opt(True, "true or false")  # 1.x only: CREATE is idempotent
    # one request; a server that hangs costs at most this
    timeout_s: float = _opt(10.0, _SECONDS.format(600), gt=0, le=600)
    # TLS (https URLs): CA bundle to trust instead of the system's, a client certificate
    # and key (for a TLS proxy in front of InfluxDB: 1.x itself does not ask for one).
    ca_file: str | None = _opt(None, "a readable file (PEM)", min_length=1)
    cert_file: str | None = _opt(None, "a readable file (PEM)", min_length=1)
    key_file: str | None = _opt(None, "a readable file (PEM)", min_length=1)
    tls_insecure: bool = _opt(False, "true or false (true: no host name check)")
    # Durability (docs/storage.md, "Delivery"): batches InfluxDB cannot take now wait in
    # this directory (default: <output dir>/influx-spool), oldest first, across restarts.
    spool_dir: str | None = _opt(None, "a directory", min_length=1)
    # bound on disk; when full the oldest files are dropped
    spool_max_mb: float = _opt(512.0, f"megabytes, at least {SPOOL_MIN_MB:g}",
                               ge=SPOOL_MIN_MB, le=10**7)
    # backoff between /ping probes while the server is away
    retry_first_s: float = _opt(0.5, _SECONDS.format(3600), gt=0, le=3600)
    # a restart takes seconds; probing faster only adds load
    retry_max_s: float = _opt(30.0, _SECONDS.format(3600), gt=0, le=3600)
    # at exit, how long to keep replaying the spool
    drain_timeout_s: float = _opt(15.0, "a number of seconds >= 0 (at most 3600)",
                                  ge=0, le=3600)
    # Raw samples (docs/storage.md, `raw`): every sample, ~2.9 M points per band-night at
    # 100 Hz, into the retention policy "twitchwatch_raw" with this duration (an InfluxQL
    # duration). A week: long enough to look at the raw trace of the last nights, short
    # enough that a band costs ~1 GB on disk (~150 MB a night); the recording keeps all.
    raw_samples: bool = _opt(False, "true or false")
    raw_retention: str = _opt("7d", "an InfluxQL duration such as 7d, 36h or 2w, or INF")

    def __post_init__(self) -> None:
        # Checked here too because it goes into a query (CREATE RETENTION POLICY ...).
        if not RETENTION_RE.fullmatch(self.raw_retention):
            raise ConfigError(f"raw_retention {self.raw_retention!r}: an InfluxQL duration "
                              f"such as 7d, 36h or 2w, or INF")


@dataclass
class MqttConfig:
    host: str = _opt("127.0.0.1", "a host name or address (not a URL)",
                     pattern=r"^[A-Za-z0-9_.:\[\]%-]+$")
    port: int = _opt(1883, "a port number 1-65535", ge=1, le=65535)
    username: str | None = _opt(None, "a user name", min_length=1)
    password: str | None = _opt(None, "a password", min_length=1)
    prefix: str = _opt("twitchwatch", "topic levels without wildcards (+ #), spaces or a "
                       "leading / or $", pattern=_TOPIC)
    gateway_id: str = _opt(socket.gethostname(), "a name", min_length=1, max_length=200)
    # TLS: on with ``tls = true`` (system CAs) or any of the files. The broker's CA, a
    # client certificate and key (brokers with require_certificate). ``tls_insecure``
    # skips the host name check only (the certificate is still verified).
    tls: bool = _opt(False, "true or false")
    ca_file: str | None = _opt(None, "a readable file (PEM)", min_length=1)
    cert_file: str | None = _opt(None, "a readable file (PEM)", min_length=1)
    key_file: str | None = _opt(None, "a readable file (PEM)", min_length=1)
    tls_insecure: bool = _opt(False, "true or false (true: no host name check)")
    # Live motion: one QoS 0 message per band every this many seconds of device time with
    # the latest per-second summary (0: off). Retained status and events are unaffected.
    motion_every_s: float = _opt(0.0, "a number of seconds >= 0 (0: off; at most 86400)",
                                 ge=0, le=86400)
    # Home Assistant MQTT discovery (retained config under discovery_prefix): off unless set.
    homeassistant: bool = _opt(False, "true or false")
    discovery_prefix: str = _opt("homeassistant", "topic levels without wildcards",
                                 pattern=_TOPIC)
    # messages held per band while the broker is away (drop-oldest)
    queue_max: int = _opt(1000, "an integer 1-1000000", ge=1, le=1_000_000)

    @property
    def use_tls(self) -> bool:
        return bool(self.tls or self.ca_file or self.cert_file)


@dataclass
class OutputConfig:
    dir: str = _opt("twitchwatch-data", "a directory", min_length=1)
    record: bool = _opt(True, "true or false")


SECTIONS: dict[str, type] = {"influxdb": InfluxConfig, "mqtt": MqttConfig,
                             "output": OutputConfig}
# Tables read by other modules, which check their own keys (docs/ble.md).
OTHER_SECTIONS = ("ble", "band")
# Keys that hold the path of a file whose content is the secret (compose secrets).
SECRET_FILE_KEYS = {("influxdb", "password_file"): "password",
                    ("influxdb", "token_file"): "token",
                    ("mqtt", "password_file"): "password"}
_ENV_SECTION = {"influxdb": "INFLUX", "mqtt": "MQTT", "output": "OUTPUT"}
# Older names kept: every other key is TWITCHWATCH_<INFLUX|MQTT|OUTPUT>_<KEY>.
ENV_ALIASES = {
    ("influxdb", "database"): "TWITCHWATCH_INFLUX_DB",
    ("influxdb", "spool_dir"): "TWITCHWATCH_INFLUX_SPOOL",
    ("influxdb", "raw_samples"): "TWITCHWATCH_INFLUX_RAW",
    ("output", "dir"): "TWITCHWATCH_OUT",
}
# Flags: (section, key) -> the argparse dest. No secret has a flag.
FLAGS = {
    ("influxdb", "url"): "influx_url",
    ("influxdb", "database"): "influx_db",
    ("influxdb", "username"): "influx_username",
    ("influxdb", "password_file"): "influx_password_file",
    ("influxdb", "token_file"): "influx_token_file",
    ("influxdb", "org"): "influx_org",
    ("influxdb", "bucket"): "influx_bucket",
    ("influxdb", "ca_file"): "influx_ca_file",
    ("influxdb", "cert_file"): "influx_cert_file",
    ("influxdb", "key_file"): "influx_key_file",
    ("influxdb", "spool_dir"): "influx_spool",
    ("influxdb", "raw_samples"): "influx_raw",
    ("influxdb", "raw_retention"): "influx_raw_retention",
    ("mqtt", "host"): "mqtt_host",
    ("mqtt", "port"): "mqtt_port",
    ("mqtt", "username"): "mqtt_username",
    ("mqtt", "password_file"): "mqtt_password_file",
    ("mqtt", "prefix"): "mqtt_prefix",
    ("mqtt", "tls"): "mqtt_tls",
    ("mqtt", "ca_file"): "mqtt_ca_file",
    ("mqtt", "cert_file"): "mqtt_cert_file",
    ("mqtt", "key_file"): "mqtt_key_file",
    ("mqtt", "motion_every_s"): "mqtt_motion_every",
    ("mqtt", "homeassistant"): "mqtt_homeassistant",
    ("output", "dir"): "out",
}


def _keys(sec: str) -> list[str]:
    names = [f.name for f in fields(SECTIONS[sec])]
    return names + [k for (s, k) in SECRET_FILE_KEYS if s == sec]


def env_var(sec: str, key: str) -> str:
    return ENV_ALIASES.get((sec, key), f"TWITCHWATCH_{_ENV_SECTION[sec]}_{key.upper()}")


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


@dataclass
class Settings:
    out_dir: pathlib.Path = pathlib.Path("twitchwatch-data")
    record: bool = True
    influx: InfluxConfig | None = None
    mqtt: MqttConfig | None = None
    raw: dict[str, Any] = field(default_factory=dict)  # the whole file, for other sections


@dataclass
class _Value:
    value: Any
    source: str  # "config file X", "environment TWITCHWATCH_...", "flag --..."
    kind: str  # "file", "env" or "flag"


def _did_you_mean(name: str, known: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _shown(key: str, value: Any) -> str:
    if key in SECRET_KEYS:
        return "'***'"
    return repr(value)


def _fail(sec: str, key: str, v: _Value, allowed: str) -> ConfigError:
    return ConfigError(f"[{sec}] {key} = {_shown(key, v.value)} (from {v.source}): "
                       f"allowed: {allowed}")


def _read_file(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    try:
        data = pathlib.Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(f"config file {path}: {e.strerror}") from e
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"config file {path}: not UTF-8 (byte {e.start}: "
                          f"{data[e.start:e.start + 1]!r}); TOML files are UTF-8") from e
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path}: {e}") from e


def _layers(args: argparse.Namespace, raw: dict[str, Any], path: str | None
            ) -> dict[str, dict[str, _Value]]:
    """Every value that was set, by section and key, the last layer winning."""
    out: dict[str, dict[str, _Value]] = {s: {} for s in SECTIONS}
    for name, table in raw.items():
        if name in OTHER_SECTIONS:
            continue
        if name not in SECTIONS:
            known = (*SECTIONS, *OTHER_SECTIONS)
            raise ConfigError(f"config file {path}: unknown section [{name}]"
                              f"{_did_you_mean(name, known)}; known: "
                              f"{', '.join(f'[{k}]' for k in known)}")
        if not isinstance(table, dict):
            raise ConfigError(f"config file {path}: {name} must be a table ([{name}])")
        keys = _keys(name)
        for key, value in table.items():
            if key not in keys:
                raise ConfigError(f"config file {path}: [{name}] unknown key {key!r}"
                                  f"{_did_you_mean(key, keys)}")
            out[name][key] = _Value(value, f"config file {path}", "file")
    env_known: dict[str, tuple[str, str]] = {}
    for sec in SECTIONS:
        for key in _keys(sec):
            env_known[env_var(sec, key)] = (sec, key)
    prefixes = tuple(f"TWITCHWATCH_{p}_" for p in _ENV_SECTION.values())
    for var, value in os.environ.items():
        if var in env_known:
            sec, key = env_known[var]
            out[sec][key] = _Value(value, f"environment {var}", "env")
        elif var.startswith(prefixes):
            raise ConfigError(f"environment {var}: unknown setting"
                              f"{_did_you_mean(var, list(env_known))}")
    for (sec, key), dest in FLAGS.items():
        value = getattr(args, dest, None)
        if value is not None:
            out[sec][key] = _Value(value, f"flag {_flag(dest)}", "flag")
    return out


def _convert(cls: type, sec: str, values: dict[str, _Value]) -> dict[str, Any]:
    import msgspec  # here: ~30 ms, paid by commands that load settings, not by --help

    hints = typing.get_type_hints(cls)
    meta = {f.name: f.metadata for f in fields(cls)}
    out: dict[str, Any] = {}
    for key, v in values.items():
        typ = hints[key]
        base = next((a for a in typing.get_args(typ) if a is not type(None)), typ)
        rules = meta[key].get("meta") or {}
        target = typing.Annotated[base, msgspec.Meta(**rules)] if rules else base
        value = v.value
        if v.kind == "env" and base is bool:
            if value.lower() not in TRUE + FALSE:
                raise _fail(sec, key, v, "true or false (also 1/0, yes/no, on/off)")
            out[key] = value.lower() in TRUE
            continue
        if v.kind == "env" and base is str and not value:
            value = None  # an empty variable (compose's ${X:-}) means unset
            if typ is base:
                raise _fail(sec, key, v, meta[key]["allowed"])
            out[key] = None
            continue
        try:
            out[key] = msgspec.convert(value, target, strict=v.kind != "env")
        except msgspec.ValidationError as e:
            why = str(e).split(" - at ")[0]
            raise _fail(sec, key, v, f"{meta[key]['allowed']} ({why})") from None
    return out


def _check_url(values: dict[str, _Value], conv: dict[str, Any]) -> None:
    v = values.get("url")
    if v is None:
        return
    try:
        u = urllib.parse.urlsplit(conv["url"])
        port = u.port  # raises ValueError when out of range or not a number
    except ValueError as e:
        raise _fail("influxdb", "url", _Value(_redacted_url(v.value), v.source, v.kind),
                    f"an http:// or https:// URL with a host ({e})") from None
    problem = None
    if u.scheme not in ("http", "https"):
        problem = f"scheme {u.scheme or 'missing'!r}, not http or https"
    elif not u.hostname:
        problem = "no host"
    elif port == 0:
        problem = "port 0"
    elif u.query or u.fragment:
        problem = "a query or fragment (put credentials in username/password_file)"
    if problem:
        raise _fail("influxdb", "url", _Value(_redacted_url(v.value), v.source, v.kind),
                    f"an http:// or https:// URL with a host ({problem})")
    if u.username is not None or u.password is not None:
        if v.kind == "flag" and u.password is not None:
            raise ConfigError("flag --influx-url: a password in the URL would be visible "
                              "to every user (ps); use --influx-password-file or "
                              "TWITCHWATCH_INFLUX_PASSWORD")
        # user:password@ moves to the credentials: the URL is printed, they never are.
        if u.username and "username" not in conv:
            conv["username"] = urllib.parse.unquote(u.username)
        if u.password and "password" not in conv:
            conv["password"] = urllib.parse.unquote(u.password)
        netloc = u.hostname if ":" not in u.hostname else f"[{u.hostname}]"
        if u.port is not None:
            netloc += f":{u.port}"
        conv["url"] = urllib.parse.urlunsplit((u.scheme, netloc, u.path, "", ""))


def _redacted_url(value: Any) -> Any:
    from .redact import redact

    return redact(value) if isinstance(value, str) else value


def _secret_files(sec: str, values: dict[str, _Value], conv: dict[str, Any]) -> None:
    for (s, file_key), key in SECRET_FILE_KEYS.items():
        if s != sec or file_key not in values:
            continue
        v = values[file_key]
        if key in values:
            raise ConfigError(f"[{sec}] {key} ({values[key].source}) and {file_key} "
                              f"({v.source}): set one of them")
        path = conv.pop(file_key)
        try:
            data = pathlib.Path(path).read_text(encoding="utf-8")
            mode = os.stat(path).st_mode
        except (OSError, UnicodeDecodeError) as e:
            why = getattr(e, "strerror", None) or "not UTF-8 text"
            raise _fail(sec, file_key, v, f"a readable file holding the {key} ({why})"
                        ) from None
        secret = data.rstrip("\r\n")
        if not secret or "\n" in secret:
            raise _fail(sec, file_key, v, f"a file holding the {key} on one line (it "
                        f"has {'nothing' if not secret else 'several lines'})")
        if stat.S_IMODE(mode) & 0o077:
            log.warning("[%s] %s %s can be read by other users (mode %o): chmod 600 it",
                        sec, file_key, path, stat.S_IMODE(mode))
        conv[key] = secret


def _check_files(sec: str, values: dict[str, _Value], conv: dict[str, Any]) -> None:
    for key in ("ca_file", "cert_file", "key_file"):
        if key in conv and conv[key] is not None:
            p = pathlib.Path(conv[key])
            if not p.is_file() or not os.access(p, os.R_OK):
                raise _fail(sec, key, values[key], "a readable file (PEM): "
                            + ("not readable" if p.is_file() else "no such file"))
    if conv.get("key_file") and not conv.get("cert_file"):
        raise _fail(sec, "key_file", values["key_file"], "only with cert_file")


def _section(sec: str, values: dict[str, _Value]) -> Any:
    cls = SECTIONS[sec]
    conv = _convert(cls, sec, {k: v for k, v in values.items()
                               if (sec, k) not in SECRET_FILE_KEYS})
    conv.update({k: values[k].value for k in values if (sec, k) in SECRET_FILE_KEYS})
    for k in [k for k in conv if (sec, k) in SECRET_FILE_KEYS]:
        v = values[k]
        if not isinstance(v.value, str) or not v.value:
            raise _fail(sec, k, v, "a file name")
    if sec == "influxdb":
        _check_url(values, conv)
    _secret_files(sec, values, conv)
    if sec in ("influxdb", "mqtt"):
        _check_files(sec, values, conv)
    if conv.get("password") and not conv.get("username"):
        raise ConfigError(f"[{sec}] password is set but username is not: set both")
    try:
        return cls(**conv)
    except ConfigError as e:
        raise ConfigError(f"[{sec}] {e}") from None


def _cross_checks(s: Settings) -> None:
    i, m = s.influx, s.mqtt
    if i is not None:
        if i.retry_first_s > i.retry_max_s:
            raise ConfigError(f"[influxdb] retry_first_s {i.retry_first_s:g} > retry_max_s "
                              f"{i.retry_max_s:g}: the first wait cannot be the longer")
        if i.token and i.username:
            raise ConfigError("[influxdb] token and username are both set: use one")
        tls_keys = [k for k in ("ca_file", "cert_file", "tls_insecure") if getattr(i, k)]
        if tls_keys and not i.url.startswith("https://"):
            raise ConfigError(f"[influxdb] {', '.join(tls_keys)} need an https:// url "
                              f"(url is {i.url})")
    if m is not None and m.tls_insecure and not m.use_tls:
        raise ConfigError("[mqtt] tls_insecure needs TLS (tls = true or ca_file)")
    # Certificates and keys that do not load fail here, at start, naming the file.
    from .tls import client_context

    if i is not None and i.url.startswith("https://"):
        client_context("influxdb", i.ca_file, i.cert_file, i.key_file, i.tls_insecure)
    if m is not None and m.use_tls:
        client_context("mqtt", m.ca_file, m.cert_file, m.key_file, m.tls_insecure)


def load(args: argparse.Namespace) -> Settings:
    path = getattr(args, "config", None)
    raw = _read_file(path)
    values = _layers(args, raw, path)
    settings = Settings(raw=raw)
    out: OutputConfig = _section("output", values["output"])
    settings.out_dir = pathlib.Path(out.dir)
    settings.record = out.record and not getattr(args, "no_record", False)
    if values["influxdb"]:
        settings.influx = _section("influxdb", values["influxdb"])
        if settings.influx.spool_dir is None:
            settings.influx.spool_dir = str(settings.out_dir / "influx-spool")
    if values["mqtt"]:
        settings.mqtt = _section("mqtt", values["mqtt"])
    _cross_checks(settings)
    for cfg in (settings.influx, settings.mqtt):
        for key in SECRET_KEYS:
            register_secret(getattr(cfg, key, None))
    return settings


class _Removed(argparse.Action):
    """A flag that used to carry a secret: refused with where the secret goes now."""

    def __init__(self, option_strings: list[str], dest: str, instead: str = "",
                 **kw: Any) -> None:
        kw.pop("nargs", None)
        super().__init__(option_strings, dest, nargs="?", help=argparse.SUPPRESS, **kw)
        self.instead = instead

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        parser.error(f"{option_string} was removed: a secret on the command line is visible "
                     f"to every user of the machine (ps); use {self.instead}")


def add_sink_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("storage and messaging (optional; also from --config or "
                             "TWITCHWATCH_* environment variables; secrets only from "
                             "those or *-file options, never as a flag)")
    complete_path(g.add_argument("--config", metavar="FILE", help="TOML settings file"))
    g.add_argument("--influx-url", metavar="URL",
                   help="InfluxDB, e.g. http://127.0.0.1:8086 or https://...")
    g.add_argument("--influx-db", metavar="NAME", help="database (1.x, or 2.x/3 via DBRP)")
    g.add_argument("--influx-username", metavar="USER", help="1.x user")
    g.add_argument("--influx-password-file", metavar="FILE",
                   help="file holding the 1.x user's password")
    g.add_argument("--influx-token-file", metavar="FILE", help="file holding a 2.x/3.x token")
    g.add_argument("--influx-token", action=_Removed,
                   instead="--influx-token-file FILE, TWITCHWATCH_INFLUX_TOKEN or "
                           "token_file in --config")
    g.add_argument("--influx-password", action=_Removed,
                   instead="--influx-password-file FILE or TWITCHWATCH_INFLUX_PASSWORD")
    g.add_argument("--influx-org", metavar="ORG", help="2.x org (with token and bucket)")
    g.add_argument("--influx-bucket", metavar="BUCKET", help="2.x bucket")
    g.add_argument("--influx-ca-file", metavar="FILE", help="CA certificates to trust (https)")
    g.add_argument("--influx-cert-file", metavar="FILE", help="client certificate (https)")
    g.add_argument("--influx-key-file", metavar="FILE", help="client certificate's key")
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
    g.add_argument("--mqtt-username", metavar="USER", help="MQTT user")
    g.add_argument("--mqtt-password-file", metavar="FILE",
                   help="file holding the MQTT user's password")
    g.add_argument("--mqtt-password", action=_Removed,
                   instead="--mqtt-password-file FILE or TWITCHWATCH_MQTT_PASSWORD")
    g.add_argument("--mqtt-tls", action="store_true", default=None,
                   help="connect with TLS (also on with --mqtt-ca-file)")
    g.add_argument("--mqtt-ca-file", metavar="FILE", help="the broker's CA certificate(s)")
    g.add_argument("--mqtt-cert-file", metavar="FILE", help="client certificate (TLS)")
    g.add_argument("--mqtt-key-file", metavar="FILE", help="client certificate's key")
    g.add_argument("--mqtt-prefix", metavar="PREFIX", help="topic prefix (twitchwatch)")
    g.add_argument("--mqtt-motion-every", metavar="S", type=float,
                   help="publish live motion (QoS 0) every S seconds per band (off)")
    g.add_argument("--mqtt-homeassistant", action="store_true", default=None,
                   help="announce bands and events to Home Assistant (MQTT discovery)")


__all__ = ["ENV_ALIASES", "FLAGS", "InfluxConfig", "MqttConfig", "OutputConfig", "Settings",
           "add_sink_arguments", "duration_ns", "env_var", "load"]
