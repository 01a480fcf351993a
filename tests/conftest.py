"""Shared fixtures: the protocol vectors and the real servers (bench/servers.py)."""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Iterator
from typing import TypeVar

import pytest

from bench.servers import InfluxServer, MosquittoServer, find_binary

S = TypeVar("S", InfluxServer, MosquittoServer)

ROOT = pathlib.Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors" / "protocol_v1.json"
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def vectors() -> dict:
    return json.loads(VECTORS.read_text())


_PACKAGES = {"influxd": "influxdb", "mosquitto_passwd": "mosquitto",
             "mosquitto_sub": "mosquitto-clients"}


def _binary(name: str) -> str:
    path = find_binary(name)
    if path is None:
        msg = (f"'{name}' is not installed; the test command (scripts/test) installs it, "
               f"or: apt-get install {_PACKAGES.get(name, name)}")
        if os.environ.get("TWITCHWATCH_REQUIRE_SERVERS") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def _running(server: S) -> Iterator[S]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    yield from _running(InfluxServer(tmp_path_factory.mktemp("influxdb"),
                                     _binary("influxd")))


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoServer]:
    yield from _running(MosquittoServer(tmp_path_factory.mktemp("mosquitto"),
                                        _binary("mosquitto")))


# Function-scoped servers for tests that stop and start them (outages): the session-scoped
# ones above are shared by other tests and must stay up.
@pytest.fixture
def influxdb_private(tmp_path: pathlib.Path) -> Iterator[InfluxServer]:
    yield from _running(InfluxServer(tmp_path / "influxd-private",
                                     _binary("influxd")))


@pytest.fixture
def mosquitto_private(tmp_path: pathlib.Path) -> Iterator[MosquittoServer]:
    yield from _running(MosquittoServer(tmp_path / "mosquitto-private",
                                        _binary("mosquitto")))


# -- TLS and authentication (issue 11): the same servers, with their security on ------

@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory):
    from tests.certs import make_pki

    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def influxdb_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    """auth-enabled, with an admin (``InfluxServer.admin``)."""
    yield from _running(InfluxServer(tmp_path_factory.mktemp("influxdb-auth"),
                                     _binary("influxd"), auth=True))


@pytest.fixture(scope="session")
def influxdb_tls(tmp_path_factory: pytest.TempPathFactory, pki) -> Iterator[InfluxServer]:
    """https-enabled with the test CA's server certificate (and auth)."""
    yield from _running(InfluxServer(tmp_path_factory.mktemp("influxdb-tls"),
                                     _binary("influxd"), auth=True,
                                     tls=(pki.server.cert, pki.server.key), ca=pki.ca))


MQTT_USERS = {"gateway": "gw-pass-4d1e", "reader": "rd-pass-7a2b"}


def mosquitto_passwd(path: pathlib.Path, users: dict[str, str]) -> pathlib.Path:
    """A Mosquitto password file made by Debian's mosquitto_passwd from a plaintext one
    (-U hashes it in place: no password on a command line)."""
    path.write_text("".join(f"{u}:{p}\n" for u, p in users.items()))
    import subprocess

    subprocess.run([_binary("mosquitto_passwd"), "-U", str(path)], check=True, timeout=30)
    path.chmod(0o600)
    return path


@pytest.fixture(scope="session")
def mosquitto_tls(tmp_path_factory: pytest.TempPathFactory, pki) -> Iterator[MosquittoServer]:
    """A TLS listener that requires a client certificate from the test CA, and a password
    file (no anonymous clients)."""
    d = tmp_path_factory.mktemp("mosquitto-tls")
    pw = mosquitto_passwd(d / "passwd", MQTT_USERS)
    conf = (f"cafile {pki.ca}\ncertfile {pki.server.cert}\nkeyfile {pki.server.key}\n"
            f"require_certificate true\nallow_anonymous false\npassword_file {pw}\n")
    yield from _running(MosquittoServer(d, _binary("mosquitto"), config=conf))


@pytest.fixture
def ble_backend() -> Iterator[object]:
    """``ble_backend(x)`` makes this process's scans and connections use the emulated radio
    ``x`` (a BleBackend or a callable returning one); the platform's again afterwards."""
    from twitchwatch.gateway.sources import ble_scan

    yield ble_scan.inject_backend
    ble_scan.inject_backend(None)


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway's state (bonds.json) in the test's own directory, never the user's."""
    monkeypatch.setenv("TWITCHWATCH_STATE_DIR", str(tmp_path / "state"))
