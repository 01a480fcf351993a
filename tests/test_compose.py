"""docker-compose.yml, validated without a Docker engine: Debian's docker-compose parses
and interpolates it (`config`), then the result is checked for what the stack needs."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import uuid

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"


def _docker_compose() -> str:
    exe = shutil.which("docker-compose")
    if exe is None:
        msg = "docker-compose is not installed (scripts/test installs Debian's package)"
        if os.environ.get("TWITCHWATCH_REQUIRE_SERVERS") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return exe


def _env_file(tmp_path: pathlib.Path, fill: bool) -> pathlib.Path:
    """.env.example, with every empty password filled in (as a user would) if ``fill``."""
    lines = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        if fill and re.match(r"^[A-Z_]*PASSWORD=$", line):
            line += "test-" + line.split("=")[0].lower()
        lines.append(line)
    path = tmp_path / "env"
    path.write_text("\n".join(lines) + "\n")
    return path


def _config(tmp_path: pathlib.Path, fill: bool = True,
            quiet: bool = False) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    args = [_docker_compose(), "--project-directory", str(ROOT), "-f", str(COMPOSE),
            "--env-file", str(_env_file(tmp_path, fill)), "config"]
    if quiet:
        args.append("-q")
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=60,
                          check=False)


def test_compose_config_is_valid(tmp_path):
    r = _config(tmp_path, quiet=True)
    assert r.returncode == 0, r.stderr


def test_compose_refuses_to_run_without_passwords(tmp_path):
    r = _config(tmp_path, fill=False, quiet=True)
    assert r.returncode != 0 and "PASSWORD in .env" in r.stderr, r.stderr


def test_no_secret_in_the_compose_file():
    text = COMPOSE.read_text()
    for m in re.finditer(r"(PASSWORD|TOKEN|SECRET)[A-Z_]*:\s*(\S+)", text):
        assert m.group(2).startswith("${"), m.group(0)
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    documented = set(re.findall(r"^([A-Z_]+)=", ENV_EXAMPLE.read_text(), re.M))
    assert used <= documented, f"not in .env.example: {sorted(used - documented)}"


def test_the_stack_has_what_it_needs(tmp_path):
    r = _config(tmp_path)
    assert r.returncode == 0, r.stderr
    cfg = yaml.safe_load(r.stdout)
    services = cfg["services"]
    assert set(services) == {"influxdb", "grafana", "mosquitto", "gateway"}
    for name in ("influxdb", "grafana", "mosquitto"):
        s = services[name]
        tag = s["image"].partition(":")[2]
        assert re.match(r"^\d+\.\d+\.\d+$", tag), f"{name}: pin an exact tag, not {tag!r}"
        assert s["healthcheck"]["test"], name
        assert any(not v.startswith(("/", ".")) for v in _volume_sources(s)), \
            f"{name}: data on a named volume"
    # InfluxDB 1.x: the v1 /write + InfluxQL /query API the tests exercise on Debian's 1.6.
    assert services["influxdb"]["image"].startswith("influxdb:1.")
    assert set(cfg["volumes"]) >= {"influxdb-data", "grafana-data", "mosquitto-data",
                                   "gateway-data"}

    gw = services["gateway"]
    assert "privileged" not in gw and "network_mode" not in gw
    assert "/run/dbus:/run/dbus:ro" in gw["volumes"]
    assert {k: v["condition"] for k, v in gw["depends_on"].items()} == \
        {"influxdb": "service_healthy", "mosquitto": "service_healthy"}
    assert (ROOT / gw["build"]["dockerfile"]).is_file()
    assert gw["environment"]["TWITCHWATCH_INFLUX_URL"] == "http://influxdb:8086"

    graf = services["grafana"]
    targets = {v.split(":")[1]: v.split(":")[0] for v in graf["volumes"]}
    prov = yaml.safe_load((ROOT / "dashboards/provisioning/dashboards/twitchwatch.yaml")
                          .read_text())
    assert prov["providers"][0]["options"]["path"] in targets
    assert pathlib.Path(targets["/etc/grafana/provisioning"]) == ROOT / "dashboards/provisioning"
    home = graf["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (ROOT / "dashboards/json" / pathlib.Path(home).name).is_file()
    # Everything the datasource provisioning reads from the environment is set.
    ds = (ROOT / "dashboards/provisioning/datasources/twitchwatch.yaml").read_text()
    for var in re.findall(r"\$\{([A-Z_]+)\}", ds):
        assert graf["environment"].get(var), var

    for s in services.values():  # every file mounted from the repository exists
        for src in _volume_sources(s):
            if src.startswith(str(ROOT)):
                assert pathlib.Path(src).exists(), src


def _volume_sources(service: dict) -> list[str]:
    return [v.split(":")[0] for v in service.get("volumes", [])]


def test_gateway_reads_the_compose_settings(tmp_path, monkeypatch):
    """docker/twitchwatch.toml + the compose environment make valid gateway settings."""
    import argparse

    from twitchwatch.gateway import settings as config

    monkeypatch.setenv("TWITCHWATCH_INFLUX_URL", "http://influxdb:8086")
    monkeypatch.setenv("TWITCHWATCH_MQTT_HOST", "mosquitto")
    monkeypatch.setenv("TWITCHWATCH_MQTT_HOMEASSISTANT", "false")
    args = argparse.Namespace(config=str(ROOT / "docker/twitchwatch.toml"), out="/data")
    s = config.load(args)
    assert s.influx is not None and s.influx.create_database is False
    assert s.influx.spool_dir == "/data/influx-spool"
    assert s.mqtt is not None and s.mqtt.homeassistant is False and s.mqtt.host == "mosquitto"


@pytest.mark.servers
def test_influxdb_init_script_creates_the_raw_retention_policy(influxdb, tmp_path):
    """docker/influxdb-init/raw-retention.sh, sourced the way the influxdb image's init does
    (bash, $INFLUX_CMD taking one InfluxQL statement), against a real influxd."""
    client = tmp_path / "influx"  # stands in for `influx -execute`: the statement to /query
    client.write_text(
        "#!/bin/sh\n"
        f"exec {sys.executable} -c 'import sys, urllib.parse, urllib.request; "
        f"r = urllib.request.urlopen(\"{influxdb.url}/query\", "
        "urllib.parse.urlencode({\"q\": sys.argv[1]}).encode()).read().decode(); "
        "print(r); sys.exit(\"error\" in r)' \"$1\"\n")
    client.chmod(0o755)
    db = "init_" + uuid.uuid4().hex[:8]
    influxdb.query(f'CREATE DATABASE "{db}"')
    script = ROOT / "docker" / "influxdb-init" / "raw-retention.sh"
    r = subprocess.run(["bash", "-ec", f'. "{script}"'], capture_output=True, text=True,
                       env={**os.environ, "INFLUX_CMD": str(client), "INFLUXDB_DB": db},
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    rps = {row["name"]: row for row in influxdb.rows("SHOW RETENTION POLICIES", db)}
    assert rps["twitchwatch_raw"]["duration"] == "168h0m0s"
    assert not rps["twitchwatch_raw"]["default"]
