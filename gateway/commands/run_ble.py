"""``twitchwatch run`` with bands configured: its settings file to a BleSource.

The ``[ble]`` table and ``[[band]]`` entries of the run command's TOML file are parsed
by ``gateway.sources.ble_config``; see docs/ble.md. ``TWITCHWATCH_BLE_BACKEND`` swaps in
another bleak backend (the tests' emulated bands).
"""

from __future__ import annotations

from ..settings import Settings
from ..sources.ble import BleSource
from ..sources.ble_config import parse_band_config
from ..sources.ble_scan import resolve_backend


def ble_source(settings: Settings, backend_spec: str | None = None) -> BleSource:
    cfg = parse_band_config(settings.raw, source="--config")
    return BleSource.from_config(cfg, backend=resolve_backend(backend_spec))
