"""Finding bands: one scanning code path for ``twitchwatch scan`` and for every (re)connect.

Bleak picks the platform's backend; tests pass ``BleBackend`` (a scanner class and a
client class over Google's bumble) so that the same calls run against emulated bands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from bleak import BleakScanner
from bleak.args.bluez import BlueZClientArgs, BlueZScannerArgs
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakBluetoothNotAvailableError, BleakDBusError, BleakError

from ..errors import ConfigError, TwitchwatchError
from .ble_config import BandSelector
from .ble_profile import SERVICE_UUID

log = logging.getLogger(__name__)

# D-Bus errors that mean "no usable BlueZ" rather than "this band misbehaved".
_DBUS_UNAVAILABLE = (
    "org.freedesktop.DBus.Error.ServiceUnknown",  # bluetoothd not running
    "org.freedesktop.DBus.Error.AccessDenied",
    "org.bluez.Error.NotReady",  # adapter powered off
    "org.bluez.Error.NotAvailable",
)


class BluetoothUnavailableError(TwitchwatchError):
    """No Bluetooth adapter the gateway can use (no BlueZ, no D-Bus, powered off)."""


class BleBackend(NamedTuple):
    """A bleak backend pair; None everywhere means the platform's own."""

    scanner: type[BaseBleakScanner]
    client: type[BaseBleakClient]


# The tests' emulated radio (bumble), set from Python by the tests' fixtures only. Neither
# an environment variable nor a flag can name a module to import here: whoever can set
# those (a unit file, compose's .env) could otherwise run code in the gateway.
_injected: Any = None


def inject_backend(backend: BleBackend | Callable[[], BleBackend] | None) -> None:
    """Tests: the BleBackend (or a zero-argument callable returning one, called per
    resolve) that scans and connections of this process use; None: the platform's."""
    global _injected
    if backend is not None and not callable(backend) and not (
            hasattr(backend, "scanner") and hasattr(backend, "client")):
        raise TypeError(f"BLE backend {backend!r} has no .scanner and .client classes")
    _injected = backend


def resolve_backend() -> BleBackend | None:
    """The injected backend (tests), else None: bleak picks the platform's."""
    obj = _injected
    if obj is None:
        return None
    if not hasattr(obj, "scanner") and callable(obj):
        obj = obj()
    if not (hasattr(obj, "scanner") and hasattr(obj, "client")):
        raise ConfigError(f"BLE backend {obj!r} has no .scanner and .client classes")
    return BleBackend(obj.scanner, obj.client)


def unavailable_reason(exc: BaseException) -> str | None:
    """Why Bluetooth as a whole is unusable, if ``exc`` says so; None for other errors."""
    if isinstance(exc, BleakBluetoothNotAvailableError):
        return str(exc.args[0])
    if isinstance(exc, BleakDBusError) and exc.dbus_error in _DBUS_UNAVAILABLE:
        return f"BlueZ answered {exc.dbus_error}"
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError | PermissionError):
        # dbus_fast raises these straight from connecting to the system bus socket.
        return f"cannot reach the D-Bus system bus ({exc.strerror or exc})"
    return None


def unavailable_error(reason: str) -> BluetoothUnavailableError:
    return BluetoothUnavailableError(
        f"no Bluetooth adapter available: {reason}. The gateway needs BlueZ (bluetoothd) "
        "running on D-Bus and a powered adapter: check `systemctl status bluetooth` and "
        "`bluetoothctl show`.")


def scanner_kwargs(backend: BleBackend | None, adapter: str | None) -> dict[str, Any]:
    kw: dict[str, Any] = {}
    if backend is not None:
        kw["backend"] = backend.scanner
    if adapter:
        kw["bluez"] = BlueZScannerArgs(adapter=adapter)
    return kw


def client_kwargs(backend: BleBackend | None, adapter: str | None) -> dict[str, Any]:
    kw: dict[str, Any] = {}
    if backend is not None:
        kw["backend"] = backend.client
    if adapter:
        kw["bluez"] = BlueZClientArgs(adapter=adapter)
    return kw


@dataclass(frozen=True, slots=True)
class Sighting:
    """One device seen in a scan, with the advertisement it was seen in."""

    device: BLEDevice
    adv: AdvertisementData

    @property
    def address(self) -> str:
        return self.device.address

    @property
    def name(self) -> str | None:
        return self.adv.local_name or self.device.name

    @property
    def rssi(self) -> int:
        return self.adv.rssi

    @property
    def is_band(self) -> bool:
        return SERVICE_UUID in (u.lower() for u in self.adv.service_uuids)


async def scan(timeout_s: float, *, backend: BleBackend | None = None,
               adapter: str | None = None, all_devices: bool = False) -> list[Sighting]:
    """Everything advertising the twitchwatch service (or anything, with all_devices)
    within timeout_s, strongest signal first."""
    kw = scanner_kwargs(backend, adapter)
    if not all_devices:
        kw["service_uuids"] = [SERVICE_UUID]
    try:
        found = await BleakScanner.discover(timeout_s, return_adv=True, **kw)
    except (BleakError, OSError) as e:
        reason = unavailable_reason(e)
        if reason is not None:
            raise unavailable_error(reason) from e
        raise
    sightings = [Sighting(d, a) for d, a in found.values()]
    return sorted(sightings, key=lambda s: (-s.rssi, s.address))


async def find_band(selector: BandSelector, timeout_s: float, *,
                    backend: BleBackend | None = None, adapter: str | None = None,
                    accept: Callable[[Sighting], bool] | None = None) -> Sighting | None:
    """A fresh sighting of one band, or None if it did not advertise within timeout_s.

    Called before every connection attempt: BlueZ forgets unpaired devices, and a stale
    BLEDevice is the classic cause of "device not found" on reconnect. ``accept`` vets
    each sighting that matches the selector (the bond check of ``BandLink``): a refused
    one is skipped and the scan goes on, so an impostor advertising the band's name
    cannot hide the real band.
    """
    try:
        async with BleakScanner(service_uuids=[SERVICE_UUID],
                                **scanner_kwargs(backend, adapter)) as scanner:
            async with asyncio.timeout(timeout_s):
                async for device, adv in scanner.advertisement_data():
                    if selector.matches(device.address, (adv.local_name, device.name)):
                        sighting = Sighting(device, adv)
                        if accept is None or accept(sighting):
                            return sighting
    except TimeoutError:
        return None
    except (BleakError, OSError) as e:
        reason = unavailable_reason(e)
        if reason is not None:
            raise unavailable_error(reason) from e
        raise
    return None  # advertisement_data() never ends; this satisfies the type checker
