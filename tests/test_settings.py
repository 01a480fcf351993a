"""Settings: one checked schema for the file, the environment and the flags; every bad
value named with its key, where it came from, the value and what is allowed (issue 11)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from twitchwatch.gateway import settings as config
from twitchwatch.gateway.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in list(os.environ):
        if var.startswith(("TWITCHWATCH_INFLUX", "TWITCHWATCH_MQTT", "TWITCHWATCH_OUT")):
            monkeypatch.delenv(var)


def _load(tmp_path, toml: str | bytes | None = None, **flags):
    if toml is not None:
        p = tmp_path / "c.toml"
        if isinstance(toml, bytes):
            p.write_bytes(toml)
        else:
            p.write_text(toml)
        flags["config"] = str(p)
    return config.load(argparse.Namespace(**flags))


def _error(tmp_path, toml=None, **flags) -> str:
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, toml, **flags)
    msg = str(e.value)
    assert "\n" not in msg, "one line"
    return msg


def _cli(*args, env=None, cwd):
    e = {k: v for k, v in os.environ.items() if not k.startswith("TWITCHWATCH_")}
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "twitchwatch", *args], capture_output=True,
                          text=True, timeout=120, env=e, cwd=cwd)


def test_non_utf8_toml_is_a_one_line_error_not_a_traceback(tmp_path):
    (tmp_path / "c.toml").write_bytes(b'[mqtt]\nprefix = "caf\xe9"\n')
    r = _cli("run", "--config", str(tmp_path / "c.toml"), cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "c.toml" in r.stderr and "UTF-8" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("url, why", [
    ("not a url", "scheme"),
    ("ftp://127.0.0.1:8086", "scheme 'ftp'"),
    ("http://", "no host"),
    ("http://127.0.0.1:99999", "Port out of range"),
    ("http://127.0.0.1:0", "port 0"),
    ("http://127.0.0.1:x", "Port could not be cast"),
    ("http://h:8086/?u=a&p=b", "query"),
])
def test_a_url_that_is_not_one_is_refused(tmp_path, url, why):
    msg = _error(tmp_path, f'[influxdb]\nurl = "{url}"\n')
    assert "[influxdb] url" in msg and "config file" in msg and why in msg, msg
    msg = _error(tmp_path, influx_url=url)
    assert "flag --influx-url" in msg, msg


@pytest.mark.parametrize("port", [99999, 0, -1])
def test_ports_outside_1_65535_are_refused_from_every_layer(tmp_path, monkeypatch, port):
    msg = _error(tmp_path, f"[mqtt]\nport = {port}\n")
    assert f"[mqtt] port = {port} (from config file" in msg and "1-65535" in msg
    msg = _error(tmp_path, mqtt_port=port)
    assert "(from flag --mqtt-port)" in msg and str(port) in msg
    monkeypatch.setenv("TWITCHWATCH_MQTT_PORT", str(port))
    msg = _error(tmp_path)
    assert "(from environment TWITCHWATCH_MQTT_PORT)" in msg and "1-65535" in msg


def test_cli_port_99999_is_a_message(tmp_path):
    r = _cli("run", "--mqtt-port", "99999", "--fast", "--hours", "0.01", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "port = 99999" in r.stderr and "1-65535" in r.stderr


def test_types_are_checked_with_what_is_allowed(tmp_path, monkeypatch):
    msg = _error(tmp_path, '[influxdb]\ntimeout_s = "ten"\n')
    assert "[influxdb] timeout_s = 'ten'" in msg and "seconds > 0" in msg, msg
    monkeypatch.setenv("TWITCHWATCH_INFLUX_TIMEOUT_S", "ten")
    assert "TWITCHWATCH_INFLUX_TIMEOUT_S" in _error(tmp_path)
    monkeypatch.setenv("TWITCHWATCH_INFLUX_TIMEOUT_S", "2.5")
    assert _load(tmp_path).influx.timeout_s == 2.5


@pytest.mark.parametrize("key", ["timeout_s", "retry_first_s", "retry_max_s"])
def test_durations_must_be_positive(tmp_path, key):
    for v in ("0", "-1", "nan"):
        msg = _error(tmp_path, f"[influxdb]\n{key} = {v}\n")
        assert f"[influxdb] {key}" in msg and "> 0" in msg, msg


def test_spool_has_a_minimum(tmp_path):
    msg = _error(tmp_path, "[influxdb]\nspool_max_mb = 0\n")
    assert "spool_max_mb = 0" in msg and "at least 8" in msg
    assert _load(tmp_path, "[influxdb]\nspool_max_mb = 8\n").influx.spool_max_mb == 8


def test_booleans_are_booleans_in_toml_and_parsed_from_the_environment(tmp_path, monkeypatch):
    msg = _error(tmp_path, '[output]\nrecord = "false"\n')
    assert "[output] record = 'false'" in msg and "true or false" in msg
    assert _load(tmp_path, "[output]\nrecord = false\n").record is False
    msg = _error(tmp_path, '[mqtt]\nhomeassistant = "yes"\n')
    assert "homeassistant" in msg
    monkeypatch.setenv("TWITCHWATCH_MQTT_HOMEASSISTANT", "off")
    assert _load(tmp_path).mqtt.homeassistant is False
    monkeypatch.setenv("TWITCHWATCH_MQTT_HOMEASSISTANT", "maybe")
    assert "TWITCHWATCH_MQTT_HOMEASSISTANT" in _error(tmp_path)


def test_record_false_string_does_not_record(tmp_path):
    """`record = "false"` used to record (bool("false") is True): now it is refused."""
    (tmp_path / "c.toml").write_text('[output]\nrecord = "false"\n')
    r = _cli("run", "--config", str(tmp_path / "c.toml"), "--fast", "--hours", "0.01",
             "--out", str(tmp_path / "o"), cwd=tmp_path)
    assert r.returncode == 2 and "record" in r.stderr
    assert not list(tmp_path.glob("o/*.twrec"))


def test_unknown_sections_and_keys_are_errors_with_a_suggestion(tmp_path, monkeypatch):
    msg = _error(tmp_path, '[influx]\nurl = "http://127.0.0.1:8086"\n')
    assert "unknown section [influx]" in msg and "did you mean 'influxdb'" in msg
    msg = _error(tmp_path, '[mqtt]\nhots = "x"\n')
    assert "unknown key 'hots'" in msg and "did you mean 'host'" in msg
    msg = _error(tmp_path, "[output]\nrecrod = true\n")
    assert "did you mean 'record'" in msg
    monkeypatch.setenv("TWITCHWATCH_INFLUX_PASWORD", "x")
    msg = _error(tmp_path)
    assert "TWITCHWATCH_INFLUX_PASWORD" in msg and "TWITCHWATCH_INFLUX_PASSWORD" in msg
    monkeypatch.delenv("TWITCHWATCH_INFLUX_PASWORD")
    assert "must be a table" in _error(tmp_path, "mqtt = 3\n")
    # The band tables belong to ble_config, which checks them itself.
    assert _load(tmp_path, '[ble]\nscan_timeout_s = 5.0\n[[band]]\nname = "x"\n').mqtt is None


def test_layers_override_in_order(tmp_path, monkeypatch):
    toml = '[mqtt]\nhost = "file"\nport = 1884\nprefix = "p"\n'
    s = _load(tmp_path, toml)
    assert (s.mqtt.host, s.mqtt.port, s.mqtt.prefix) == ("file", 1884, "p")
    monkeypatch.setenv("TWITCHWATCH_MQTT_HOST", "env")
    monkeypatch.setenv("TWITCHWATCH_MQTT_PORT", "1885")
    s = _load(tmp_path, toml, mqtt_port=1886)
    assert (s.mqtt.host, s.mqtt.port, s.mqtt.prefix) == ("env", 1886, "p")


def test_other_rules(tmp_path):
    assert "retry_first_s" in _error(tmp_path, "[influxdb]\nretry_first_s = 60\n"
                                     "retry_max_s = 30\n")
    assert "not a URL" in _error(tmp_path, '[mqtt]\nhost = "mqtt://x"\n')
    assert "wildcards" in _error(tmp_path, '[mqtt]\nprefix = "a/#"\n')
    assert "newline" in _error(tmp_path, '[influxdb]\ndatabase = "a\\nb"\n')
    assert "raw_retention" in _error(tmp_path, '[influxdb]\nraw_retention = "7d; DROP"\n')
    assert "https" in _error(tmp_path, '[influxdb]\nca_file = "/etc/hostname"\n')
    assert "tls_insecure needs TLS" in _error(tmp_path, "[mqtt]\ntls_insecure = true\n")
    assert "no such file" in _error(tmp_path, '[mqtt]\nca_file = "/nonexistent.pem"\n')
    assert "username" in _error(tmp_path, '[mqtt]\npassword = "secret"\n')
    assert "queue_max" in _error(tmp_path, "[mqtt]\nqueue_max = 0\n")


def test_url_userinfo_moves_to_credentials_and_never_comes_from_a_flag(tmp_path):
    s = _load(tmp_path, '[influxdb]\nurl = "http://gw:s3cr%40t@127.0.0.1:8086/"\n')
    assert s.influx.url == "http://127.0.0.1:8086/"
    assert (s.influx.username, s.influx.password) == ("gw", "s3cr@t")
    msg = _error(tmp_path, influx_url="http://gw:s3cret@127.0.0.1:8086")
    assert "visible" in msg and "s3cret" not in msg


def test_secrets_from_files(tmp_path, monkeypatch):
    pw = tmp_path / "pw"
    pw.write_text("hunter22\n")
    pw.chmod(0o600)
    s = _load(tmp_path, f'[influxdb]\nusername = "gw"\npassword_file = "{pw}"\n'
                        f'[mqtt]\nusername = "gw"\npassword_file = "{pw}"\n')
    assert s.influx.password == "hunter22" and s.mqtt.password == "hunter22"
    monkeypatch.setenv("TWITCHWATCH_INFLUX_TOKEN_FILE", str(pw))
    monkeypatch.setenv("TWITCHWATCH_INFLUX_URL", "http://127.0.0.1:1")
    assert _load(tmp_path).influx.token == "hunter22"
    monkeypatch.delenv("TWITCHWATCH_INFLUX_TOKEN_FILE")
    assert _load(tmp_path, influx_token_file=str(pw)).influx.token == "hunter22"
    msg = _error(tmp_path, f'[mqtt]\nusername = "u"\npassword = "x"\npassword_file = "{pw}"\n')
    assert "set one of them" in msg
    msg = _error(tmp_path, '[mqtt]\nusername = "u"\npassword_file = "/nonexistent"\n')
    assert "password_file = '/nonexistent'" in msg and "No such file" in msg
    (tmp_path / "empty").write_text("\n")
    assert "nothing" in _error(tmp_path, f'[mqtt]\nusername = "u"\npassword_file = '
                                         f'"{tmp_path / "empty"}"\n')


def test_secret_values_are_never_in_errors(tmp_path):
    msg = _error(tmp_path, "[mqtt]\nusername = \"u\"\npassword = 12345678\n")
    assert "12345678" not in msg and "[mqtt] password = '***'" in msg


@pytest.mark.parametrize("flag", ["--influx-token", "--influx-password", "--mqtt-password"])
def test_secret_flags_are_gone_with_a_clear_error(tmp_path, flag):
    r = _cli("run", flag, "s3cret-token", "--fast", "--hours", "0.01", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"{flag} was removed" in r.stderr and "ps" in r.stderr
    assert "-file" in r.stderr or "TWITCHWATCH_" in r.stderr


def test_help_does_not_import_msgspec():
    r = subprocess.run([sys.executable, "-c", "import sys\n"
                        "from twitchwatch.gateway.cli import build_parser\n"
                        "build_parser()\nprint('msgspec' in sys.modules)"],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "False", r.stderr
