"""Emulated bands for ``twitchwatch scan`` in the tests (``ble_backend(cli_world.backend)``).

Each CLI run has its own event loop, so ``backend`` builds a fresh world per call; the
world powers its devices on when the first scanner starts.
"""

from __future__ import annotations

from twitchwatch.gateway.sources.ble_scan import BleBackend

from .backend import BumbleWorld
from .band import BandConfig

BANDS = (BandConfig("F0:00:00:00:1A:2B"), BandConfig("F0:00:00:00:3C:4D"))
STRANGERS = (("F0:00:00:00:99:99", "headphones"),)


def backend() -> BleBackend:
    return BumbleWorld(BANDS, strangers=STRANGERS).backend


def empty() -> BleBackend:
    return BumbleWorld(strangers=STRANGERS).backend
