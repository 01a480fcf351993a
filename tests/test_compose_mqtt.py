"""The compose stack's Mosquitto for real: Debian's mosquitto started by the stack's own
docker/mosquitto-init.sh (password file built from secret files) with the stack's
mosquitto.conf adapted to loopback and the same ACL file. The gateway may publish only
its topics, readers may only read, anonymous clients and wrong passwords are refused,
and the health check passes."""

from __future__ import annotations

import asyncio
import os
import pathlib
import subprocess

import aiomqtt
import pytest
import yaml

from bench.servers import MosquittoServer
from tests.conftest import _binary

ROOT = pathlib.Path(__file__).resolve().parent.parent
PASSWORDS = {"mqtt_gateway_password": "gw-7d0c-secret", "mqtt_reader_password": "rd-1f9a-secret",
             "mqtt_homeassistant_password": "ha-55e2-secret"}

pytestmark = pytest.mark.servers


class ComposeMosquitto(MosquittoServer):
    def __init__(self, workdir: pathlib.Path, binary: str, secrets: pathlib.Path) -> None:
        super().__init__(workdir, binary)
        conf = (ROOT / "docker/mosquitto.conf").read_text()
        for old, new in (("listener 1883", f"listener {self.port} 127.0.0.1"),
                         ("/mosquitto/data/passwd", str(workdir / "passwd")),
                         ("/mosquitto/config/acl", str(ROOT / "docker/mosquitto.acl")),
                         ("/mosquitto/config/conf.d", str(workdir / "conf.d")),
                         ("persistence_location /mosquitto/data/",
                          f"persistence_location {workdir}/"),
                         ("log_dest stdout", "log_dest stderr")):
            assert old in conf, old
            conf = conf.replace(old, new)
        if os.geteuid() == 0:
            conf += "user root\n"  # test files live in root's 0700 tmp dir
        (workdir / "conf.d").mkdir()
        self.config_path.write_text(conf)
        self.env = {**os.environ, "SECRETS_DIR": str(secrets),
                    "PASSWD_FILE": str(workdir / "passwd"),
                    "MOSQUITTO_CONF": str(self.config_path),
                    "PATH": f"{pathlib.Path(binary).parent}:{os.environ.get('PATH', '')}"}

    def command(self) -> list[str]:
        return ["sh", str(ROOT / "docker/mosquitto-init.sh")]


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    _binary("mosquitto_passwd")
    d = tmp_path_factory.mktemp("compose-mosquitto")
    secrets = d / "secrets"
    secrets.mkdir()
    for name, pw in PASSWORDS.items():
        (secrets / name).write_text(pw + "\n")
    server = ComposeMosquitto(d / "broker", _binary("mosquitto"), secrets)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _client(broker, user: str | None, password: str | None = None) -> aiomqtt.Client:
    return aiomqtt.Client(broker.host, broker.port, username=user, password=password,
                          timeout=10)


GW = ("twitchwatch-gateway", PASSWORDS["mqtt_gateway_password"])
READER = ("twitchwatch-reader", PASSWORDS["mqtt_reader_password"])
HA = ("homeassistant", PASSWORDS["mqtt_homeassistant_password"])


def test_the_password_file_holds_hashes_only(broker):
    text = (broker.workdir / "passwd").read_text()
    users = [line.split(":", 1)[0] for line in text.splitlines()]
    assert users == ["twitchwatch-gateway", "twitchwatch-reader", "homeassistant"]
    assert all(line.split(":", 1)[1].startswith("$") for line in text.splitlines())
    for pw in PASSWORDS.values():
        assert pw not in text
    assert oct((broker.workdir / "passwd").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("who", ["anonymous", "wrong password", "unknown user"])
async def test_refused(broker, who):
    user, pw = {"anonymous": (None, None), "wrong password": (GW[0], "nope-nope"),
                "unknown user": ("mallory", GW[1])}[who]
    with pytest.raises(aiomqtt.MqttCodeError, match=r"(?i)not authori"):
        async with _client(broker, user, pw):
            pass


async def test_the_gateway_writes_only_its_topics_and_readers_only_read(broker):
    got: dict[str, list[tuple[str, bytes]]] = {"reader": [], "ha": []}
    async with _client(broker, *READER) as reader, _client(broker, *HA) as ha:
        await reader.subscribe("#", qos=1)
        await ha.subscribe("#", qos=1)
        async with _client(broker, *GW) as gw:
            await gw.publish("twitchwatch/b1/event/myoclonic_jerk", b"real", qos=1)
            await gw.publish("homeassistant/sensor/twitchwatch_b1/battery/config", b"cfg",
                             qos=1)
            await gw.publish("homeassistant/status", b"gw-forged", qos=1)  # not its topic
            await gw.publish("elsewhere/x", b"gw-forged", qos=1)
        # Each publish above was acknowledged (PUBACK) before the next: the broker has
        # routed or dropped every one of them before the readers' and the marker below.
        await reader.publish("twitchwatch/b1/event/myoclonic_jerk", b"rd-forged", qos=1)
        await reader.publish("twitchwatch/b1/status", b"rd-forged", qos=1)
        await ha.publish("twitchwatch/b1/status", b"ha-forged", qos=1)
        await ha.publish("homeassistant/status", b"online", qos=1)  # HA's own topic
        async with _client(broker, *GW) as gw:
            await gw.publish("twitchwatch/b1/status", b"marker", qos=1)

        async def collect(c: aiomqtt.Client, into: list) -> None:
            async for m in c.messages:
                into.append((str(m.topic), bytes(m.payload)))
                if m.payload == b"marker":
                    return

        async with asyncio.timeout(30):
            await asyncio.gather(collect(reader, got["reader"]), collect(ha, got["ha"]))
    assert got["reader"] == [
        ("twitchwatch/b1/event/myoclonic_jerk", b"real"),
        ("homeassistant/sensor/twitchwatch_b1/battery/config", b"cfg"),
        ("twitchwatch/b1/status", b"marker")], "reader: read-only, nothing forged"
    assert got["ha"] == [
        ("twitchwatch/b1/event/myoclonic_jerk", b"real"),
        ("homeassistant/sensor/twitchwatch_b1/battery/config", b"cfg"),
        ("homeassistant/status", b"online"),
        ("twitchwatch/b1/status", b"marker")]


def test_the_compose_health_check_passes(broker):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    kind, cmd = compose["services"]["mosquitto"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    cmd = cmd.replace("$$", "$").replace("-h localhost", f"-h 127.0.0.1 -p {broker.port}")
    env = {**os.environ,
           "PATH": f"{pathlib.Path(_binary('mosquitto_sub')).parent}:{os.environ['PATH']}"}
    assert subprocess.run(["sh", "-c", cmd], env=env, timeout=30).returncode == 0
    # ... and it fails when the broker is not there.
    dead = cmd.replace(f"-p {broker.port}", "-p 1")
    assert subprocess.run(["sh", "-c", dead], env=env, timeout=30).returncode != 0
