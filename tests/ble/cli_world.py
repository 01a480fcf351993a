"""Emulated bands for the CLI in the tests (``ble_backend(cli_world.<world>)``).

Each CLI run has its own event loop, so every world function builds a fresh world; the
world powers its devices on when the first scanner starts. ``backend`` and ``empty`` are
for ``twitchwatch scan``. The ``secure*`` worlds are for ``pair`` and ``run``: their key
stores (the gateway's BlueZ store, the band's flash) live in JSON files under
``$TWITCHWATCH_TEST_BLE_DIR``, so that a ``pair`` run and a later ``run`` share them as
two runs on a real machine would. Nothing pairs by itself there: the CLI does.
"""

from __future__ import annotations

import os
import pathlib

from twitchwatch.gateway.sources.ble_scan import BleBackend

from .backend import BumbleWorld
from .band import BandConfig

BANDS = (BandConfig("F0:00:00:00:1A:2B"), BandConfig("F0:00:00:00:3C:4D"))
STRANGERS = (("F0:00:00:00:99:99", "headphones"),)
GENUINE = "F0:00:00:00:1A:2B"
IMPOSTOR = "F0:00:00:00:66:66"  # advertises as tw-1a2b, never bonded
DIR_ENV = "TWITCHWATCH_TEST_BLE_DIR"


def backend() -> BleBackend:
    return BumbleWorld(BANDS, strangers=STRANGERS, paired=False).backend


def empty() -> BleBackend:
    return BumbleWorld(strangers=STRANGERS, paired=False).backend


def _dir() -> pathlib.Path:
    d = os.environ.get(DIR_ENV)
    if not d:
        raise RuntimeError(f"{DIR_ENV} must name a directory for the world's key stores")
    return pathlib.Path(d)


def _genuine(**kw: object) -> BandConfig:
    return BandConfig(GENUINE, rate_hz=100, keystore_path=str(_dir() / "band-1a2b.json"),
                      **kw)  # type: ignore[arg-type]


def _world(bands: list[BandConfig], agent: str | None = "console") -> BleBackend:
    return BumbleWorld(bands, paired=False, agent=agent,
                       keystore_path=str(_dir() / "gateway-bluez.json")).backend


def secure() -> BleBackend:
    """The owner's band; the user reads its console and types into the agent."""
    return _world([_genuine()])


def secure_no_agent() -> BleBackend:
    """As secure(), but no Bluetooth agent runs (BlueZ then pairs Just Works)."""
    return _world([_genuine()], agent=None)


def secure_spoofed() -> BleBackend:
    """The owner's band and, first in the air, another device with the same name."""
    impostor = BandConfig(IMPOSTOR, name="tw-1a2b", rate_hz=100, meta_part=4,
                          keystore_path=str(_dir() / "band-impostor.json"))
    return _world([impostor, _genuine()])
