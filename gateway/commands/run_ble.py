"""``twitchwatch run`` with bands configured: its settings file to a BleSource.

The ``[ble]`` table and ``[[band]]`` entries of the run command's TOML file are parsed
by ``gateway.sources.ble_config``; see docs/ble.md. Tests swap in the emulated bands with
``ble_scan.inject_backend`` (a Python call: no variable or flag can do it).
"""

from __future__ import annotations

from ..settings import Settings
from ..sources.ble import BleSource
from ..sources.ble_config import parse_band_config
from ..sources.ble_scan import resolve_backend


def ble_source(settings: Settings) -> BleSource:
    cfg = parse_band_config(settings.raw, source="--config")
    return BleSource.from_config(cfg, backend=resolve_backend())
