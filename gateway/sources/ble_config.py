"""Which bands ``twitchwatch run`` connects to, and how: the ``[ble]`` / ``[[band]]`` TOML.

    [ble]                      # every key optional; defaults below
    scan_timeout_s = 10.0
    watchdog_s = 5.0

    [[band]]
    name = "tw-1a2b"           # or: address = "C4:DE:E2:11:1A:2B"
    label = "left-wrist"       # optional: the band's key in packets, records and sinks

Other top-level tables are left alone, so the same file can carry the rest of the
gateway's settings. Inside ``[ble]`` and ``[[band]]`` an unknown key is an error: a typo
in ``watchdog_s`` should not silently leave the default in place. See docs/ble.md.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError

_MAC = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
# macOS hides addresses; CoreBluetooth names a peripheral by a per-host UUID instead.
_CB_UUID = re.compile(r"^[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$")


def is_address(text: str) -> bool:
    return bool(_MAC.match(text) or _CB_UUID.match(text))


@dataclass(frozen=True, slots=True)
class BandSelector:
    """One band to connect to, by advertised name or by address (either may match)."""

    name: str | None = None
    address: str | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        if not self.name and not self.address:
            raise ConfigError("a band needs a name or an address")
        if self.address is not None:
            if not is_address(self.address):
                raise ConfigError(f"band address {self.address!r} is not XX:XX:XX:XX:XX:XX "
                                  "(or a CoreBluetooth UUID)")
            object.__setattr__(self, "address", self.address.upper())

    @classmethod
    def parse(cls, text: str) -> BandSelector:
        """``tw-1a2b`` selects by name, ``C4:DE:E2:11:1A:2B`` by address."""
        text = text.strip()
        return cls(address=text) if is_address(text) else cls(name=text)

    @property
    def key(self) -> str:
        """The band's name in packets: label, else name, else address."""
        return self.label or self.name or self.address or "?"

    def matches(self, address: str, names: tuple[str | None, ...]) -> bool:
        if self.address is not None and address.upper() != self.address:
            return False
        return self.name is None or self.name in names

    def __str__(self) -> str:
        parts = [p for p in (self.name, self.address) if p]
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class BleOptions:
    """Gateway-wide BLE settings. Times are in seconds."""

    scan_timeout_s: float = 10.0  # one scan for one band, before counting a failed attempt
    watchdog_s: float = 5.0  # no data for this long while streaming: drop and reconnect
    backoff_initial_s: float = 1.0  # first reconnect delay; doubles per failed attempt
    backoff_max_s: float = 60.0  # the cap of that doubling
    connect_timeout_s: float = 30.0  # connecting, with bleak-retry-connector's own retries
    op_timeout_s: float = 10.0  # one GATT read or write
    status_poll_s: float = 10.0  # read status when no status notification came this long
    stats_every_s: float = 30.0  # a "stats" link packet per band this often while connected
    queue_size: int = 8192  # packets held for a slow consumer (drop-oldest beyond)
    adapter: str | None = None  # BlueZ adapter, e.g. "hci1"; None: the default one
    # Where `twitchwatch pair` records the bonded bands (bonds.json, 0600 in a 0700 dir);
    # None: $TWITCHWATCH_STATE_DIR, else $XDG_STATE_HOME/twitchwatch, else
    # ~/.local/state/twitchwatch (sources/ble_bonds.py).
    state_dir: str | None = None

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name.endswith("_s") and not (isinstance(v, int | float)
                                               and math.isfinite(v) and v > 0):
                raise ConfigError(f"ble option {f.name} = {v!r}: need a number > 0")
        if self.backoff_initial_s > self.backoff_max_s:
            raise ConfigError(f"ble option backoff_initial_s ({self.backoff_initial_s}) is "
                              f"above backoff_max_s ({self.backoff_max_s})")
        if not isinstance(self.queue_size, int) or self.queue_size < 16:
            raise ConfigError(f"ble option queue_size = {self.queue_size!r}: need an "
                              "integer >= 16")


@dataclass(frozen=True, slots=True)
class BleConfig:
    bands: tuple[BandSelector, ...]
    options: BleOptions = field(default_factory=BleOptions)
    source: str = "<config>"

    def __post_init__(self) -> None:
        if not self.bands:
            raise ConfigError(f"{self.source}: no [[band]] entries")
        keys = [b.key for b in self.bands]
        dup = {k for k in keys if keys.count(k) > 1}
        if dup:
            raise ConfigError(f"{self.source}: band {sorted(dup)[0]!r} is listed twice "
                              "(give each a distinct label)")


_OPTION_TYPES: dict[str, tuple[type, ...]] = {
    f.name: ((str,) if f.name in ("adapter", "state_dir") else (int,) if f.name == "queue_size"
             else (int, float))
    for f in dataclasses.fields(BleOptions)
}
_BAND_KEYS = ("name", "address", "label")


def load_band_config(path: str | pathlib.Path) -> BleConfig:
    """Read the ``[ble]`` table and ``[[band]]`` entries of a TOML file."""
    p = pathlib.Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"{p}: cannot read ({e.strerror or e})") from e
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: not valid TOML ({e})") from e
    return parse_band_config(doc, source=str(p))


def parse_band_config(doc: Mapping[str, Any], source: str = "<config>") -> BleConfig:
    """The same from an already parsed document (the run command's whole config)."""
    options = parse_ble_options(doc, source)
    return BleConfig(parse_band_selectors(doc, source), options, source)


def parse_ble_options(doc: Mapping[str, Any], source: str = "<config>") -> BleOptions:
    """The ``[ble]`` table alone (``twitchwatch pair`` needs no ``[[band]]``)."""
    ble = doc.get("ble", {})
    if not isinstance(ble, Mapping):
        raise ConfigError(f"{source}: [ble] must be a table")
    opts: dict[str, Any] = {}
    for k, v in ble.items():
        types = _OPTION_TYPES.get(k)
        if types is None:
            raise ConfigError(f"{source}: unknown key [ble].{k} "
                              f"(known: {', '.join(_OPTION_TYPES)})")
        if isinstance(v, bool) or not isinstance(v, types):
            raise ConfigError(f"{source}: [ble].{k} = {v!r} has the wrong type")
        opts[k] = v
    try:
        return BleOptions(**opts)
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from e


def parse_band_selectors(doc: Mapping[str, Any],
                         source: str = "<config>") -> tuple[BandSelector, ...]:
    """The ``[[band]]`` entries (possibly none)."""
    raw_bands = doc.get("band", [])
    if not isinstance(raw_bands, list):
        raise ConfigError(f"{source}: bands are [[band]] entries (an array of tables)")
    bands = []
    for i, b in enumerate(raw_bands, 1):
        if not isinstance(b, Mapping):
            raise ConfigError(f"{source}: [[band]] #{i} is not a table")
        for k, v in b.items():
            if k not in _BAND_KEYS:
                raise ConfigError(f"{source}: [[band]] #{i}: unknown key {k!r} "
                                  f"(known: {', '.join(_BAND_KEYS)})")
            if not isinstance(v, str) or not v.strip():
                raise ConfigError(f"{source}: [[band]] #{i}: {k} must be a non-empty string")
        try:
            bands.append(BandSelector(name=b.get("name"), address=b.get("address"),
                                      label=b.get("label")))
        except ConfigError as e:
            raise ConfigError(f"{source}: [[band]] #{i}: {e}") from e
    return tuple(bands)
