"""docker-compose.yml, validated without a Docker engine: Debian's docker-compose parses
and interpolates it (`config`), then the result is checked for what the stack needs."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import stat
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


def _env_file(tmp_path: pathlib.Path) -> pathlib.Path:
    """.env.example as a user would copy it, with the secrets made by
    scripts/compose-secrets in a directory of the test's own."""
    secrets = tmp_path / "secrets"
    r = subprocess.run([sys.executable, str(ROOT / "scripts/compose-secrets"), str(secrets)],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    text = ENV_EXAMPLE.read_text().replace("TWITCHWATCH_SECRETS=./secrets",
                                           f"TWITCHWATCH_SECRETS={secrets}")
    path = tmp_path / "env"
    path.write_text(text)
    return path


def _config(tmp_path: pathlib.Path, quiet: bool = False, *files: pathlib.Path
            ) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    extra = [a for f in files for a in ("-f", str(f))]
    args = [_docker_compose(), "--project-directory", str(ROOT), "-f", str(COMPOSE), *extra,
            "--env-file", str(_env_file(tmp_path)), "config"]
    if quiet:
        args.append("-q")
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=60,
                          check=False)


def test_compose_config_is_valid(tmp_path):
    r = _config(tmp_path, quiet=True)
    assert r.returncode == 0, r.stderr


def test_the_tls_override_is_valid(tmp_path):
    r = _config(tmp_path, False, ROOT / "docker-compose.tls.yml")
    assert r.returncode == 0, r.stderr
    mosq = yaml.safe_load(r.stdout)["services"]["mosquitto"]
    assert any(v.endswith(":/mosquitto/config/conf.d:ro") and "mosquitto-tls.d" in v
               for v in mosq["volumes"])
    assert (ROOT / "docker/mosquitto-tls.d/tls.conf").read_text().count(
        "require_certificate true") == 1


def test_no_secret_in_the_compose_file_or_env():
    text = COMPOSE.read_text()
    for m in re.finditer(r"^\s+[A-Z_]*(PASSWORD|TOKEN|SECRET)[A-Z_]*:\s*(\S+)", text, re.M):
        # A password variable is only ever the path of a secret file.
        assert m.group(0).split(":")[0].strip().endswith("_FILE"), m.group(0)
        assert m.group(2).startswith("/run/secrets/"), m.group(0)
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    documented = set(re.findall(r"^([A-Z_]+)=", ENV_EXAMPLE.read_text(), re.M))
    assert used <= documented, f"not in .env.example: {sorted(used - documented)}"
    assert not [v for v in documented if re.search("PASSWORD|TOKEN", v)], \
        ".env holds no password: secrets are files"


def test_compose_secrets_script_makes_private_files(tmp_path):
    d = tmp_path / "s"
    r = subprocess.run([sys.executable, str(ROOT / "scripts/compose-secrets"), str(d)],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    first = {p.name: p.read_text() for p in d.iterdir()}
    for p in d.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert len(first["mqtt_gateway_password"].strip()) >= 32
    assert first["mqtt_homeassistant_password"] == ""
    if os.geteuid() == 0:
        assert (d / "mqtt_gateway_password").stat().st_uid == 10001
        assert (d / "grafana_admin_password").stat().st_uid == 472
    subprocess.run([sys.executable, str(ROOT / "scripts/compose-secrets"), str(d)],
                   check=True, capture_output=True, timeout=60)
    assert {p.name: p.read_text() for p in d.iterdir()} == first, "existing ones are kept"


def test_the_containers_are_locked_down(tmp_path):
    r = _config(tmp_path)
    assert r.returncode == 0, r.stderr
    cfg = yaml.safe_load(r.stdout)
    services = cfg["services"]
    for name, s in services.items():
        assert not s.get("privileged"), name
        assert "network_mode" not in s and "pid" not in s and not s.get("cap_add"), name
        for k, v in (s.get("environment") or {}).items():
            if re.search("PASSWORD|TOKEN|SECRET", k):
                assert k.endswith("_FILE") and str(v).startswith("/run/secrets/"), (name, k)
        for sec in s.get("secrets", []):
            src = sec["source"] if isinstance(sec, dict) else sec
            assert src in cfg["secrets"], (name, src)
    gw = services["gateway"]
    assert gw["user"] == "10001:10001" and gw["read_only"] is True
    assert gw["cap_drop"] == ["ALL"] and "no-new-privileges:true" in gw["security_opt"]
    assert {s if isinstance(s, str) else s["source"] for s in gw["secrets"]} == \
        {"influxdb_write_password", "mqtt_gateway_password"}
    assert gw["environment"]["TWITCHWATCH_INFLUX_PASSWORD_FILE"] == \
        "/run/secrets/influxdb_write_password"
    assert gw["environment"]["TWITCHWATCH_MQTT_USERNAME"] == "twitchwatch-gateway"
    # Only the D-Bus socket directory, read-only; no device, no host network.
    host = [v for v in gw["volumes"] if v.startswith("/") and not v.startswith(str(ROOT))]
    assert host == ["/run/dbus:/run/dbus:ro"] and "devices" not in gw
    dockerfile = (ROOT / gw["build"]["dockerfile"]).read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert "chmod 700 /data" in dockerfile

    influx = services["influxdb"]["environment"]
    assert influx["INFLUXDB_HTTP_AUTH_ENABLED"] == "true"
    assert influx["INFLUXDB_WRITE_USER"] != influx["INFLUXDB_READ_USER"]
    assert services["grafana"]["environment"]["INFLUXDB_READ_USER"] == \
        influx["INFLUXDB_READ_USER"]

    conf = (ROOT / "docker/mosquitto.conf").read_text()
    assert re.search(r"^allow_anonymous false$", conf, re.M)
    assert not re.search(r"^allow_anonymous true", conf, re.M)
    assert re.search(r"^password_file ", conf, re.M) and re.search(r"^acl_file ", conf, re.M)


def _acl() -> dict[str, list[tuple[str, str]]]:
    """docker/mosquitto.acl: user -> [(access, topic)]; '' holds anonymous lines."""
    rules: dict[str, list[tuple[str, str]]] = {"": []}
    user = ""
    for line in (ROOT / "docker/mosquitto.acl").read_text().splitlines():
        words = line.split("#")[0].split()
        if not words:
            continue
        if words[0] == "user":
            user = words[1]
            rules[user] = []
        elif words[0] == "topic":
            rules[user].append((words[1], words[2]) if len(words) == 3 else
                               ("readwrite", words[1]))
        else:
            raise AssertionError(f"unexpected ACL line {line!r}")
    return rules


def test_the_acl_file_gives_each_user_only_its_part():
    acl = _acl()
    assert acl[""] == [], "nothing for anonymous clients"
    assert {a for a, _ in acl["twitchwatch-gateway"]} == {"write"}
    assert all(t.startswith(("twitchwatch/", "homeassistant/+/+/+/config"))
               for _, t in acl["twitchwatch-gateway"])
    assert {a for a, _ in acl["twitchwatch-reader"]} == {"read"}
    assert ("readwrite", "homeassistant/status") in acl["homeassistant"]
    assert not [t for a, t in acl["homeassistant"] if a != "read" and "twitchwatch" in t]


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
        # a password arrives as NAME_FILE (docker/secrets-env.sh sets NAME from it)
        assert graf["environment"].get(var) or graf["environment"].get(f"{var}_FILE"), var

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

    r = _config(tmp_path)
    assert r.returncode == 0, r.stderr
    gw = yaml.safe_load(r.stdout)["services"]["gateway"]
    for var in list(os.environ):
        if var.startswith("TWITCHWATCH_"):
            monkeypatch.delenv(var)
    for k, v in gw["environment"].items():  # the container's environment, secrets as files
        if k.endswith("_FILE"):
            secret = tmp_path / "secrets" / v.rsplit("/", 1)[1]
            v = str(secret)
        monkeypatch.setenv(k, str(v))
    args = argparse.Namespace(config=str(ROOT / "docker/twitchwatch.toml"), out="/data")
    s = config.load(args)
    assert s.influx is not None and s.influx.create_database is False
    assert s.influx.spool_dir == "/data/influx-spool"
    assert s.influx.password == (tmp_path / "secrets/influxdb_write_password").read_text().strip()
    assert s.mqtt is not None and s.mqtt.homeassistant is False and s.mqtt.host == "mosquitto"
    assert s.mqtt.username == "twitchwatch-gateway" and s.mqtt.password


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
