"""Shared fixtures: the protocol vectors and the real servers (tests/servers.py)."""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Iterator
from typing import TypeVar

import pytest

from tests.servers import InfluxServer, MosquittoServer, find_binary

S = TypeVar("S", InfluxServer, MosquittoServer)

ROOT = pathlib.Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors" / "protocol_v1.json"
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def vectors() -> dict:
    return json.loads(VECTORS.read_text())


def _binary(name: str) -> str:
    path = find_binary(name)
    if path is None:
        msg = (f"'{name}' is not installed; the test command (scripts/test) installs it, "
               f"or: apt-get install {'influxdb' if name == 'influxd' else name}")
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


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The gateway's state (bonds.json) in the test's own directory, never the user's."""
    monkeypatch.setenv("TWITCHWATCH_STATE_DIR", str(tmp_path / "state"))
