"""A bleak backend over bumble: ``BaseBleakScanner`` and ``BaseBleakClient`` subclasses.

A ``BumbleWorld`` is one bumble ``LocalLink`` with a central ``Device`` standing in for
the gateway's adapter, plus emulated bands. ``world.backend`` is a ``BleBackend`` whose
classes are bound to that world; pass it as ``backend=`` and unmodified bleak code
scans, connects, subscribes and reconnects through bumble's real host stack.

What it emulates of BlueZ: the central starts an MTU exchange on connect (asking for
517, like BlueZ; ``mtu_request=None`` models a central that never asks); several
scanners may run at once (one controller scan, reference counted); connection attempts
are serialised, as the kernel does.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble import att, core
from bumble.controller import Controller
from bumble.core import UUID as BumbleUUID
from bumble.core import AdvertisingData
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from twitchwatch.gateway.sources.ble_scan import BleBackend

from .band import BandConfig, EmulatedBand

T = TypeVar("T")
CENTRAL_ADDRESS = "F1:00:00:00:00:01"

_PROPS = [  # bumble property bit -> bleak's name for it
    (0x01, "broadcast"), (0x02, "read"), (0x04, "write-without-response"), (0x08, "write"),
    (0x10, "notify"), (0x20, "indicate"), (0x40, "authenticated-signed-writes"),
    (0x80, "extended-properties"),
]


def uuid_str(u: BumbleUUID) -> str:
    """bumble's UUID as bleak spells it: 128-bit, lower case."""
    return str(uuid.UUID(bytes=bytes(reversed(u.to_bytes(force_128=True)))))


@dataclass(frozen=True)
class ConnectRecord:
    """One connection attempt, as the adapter saw it (for re-scan assertions)."""

    address: str
    device_id: int  # id() of the BLEDevice bleak was given
    scans_before: int  # scanner sessions started before this attempt
    t_mono: float


class BumbleWorld:
    def __init__(self, bands: Iterable[BandConfig] = (), *,
                 strangers: Iterable[tuple[str, str]] = (),
                 mtu_request: int | None = 517) -> None:
        self.mtu_request = mtu_request
        self.initial_bands = list(bands)
        self.strangers = list(strangers)  # (address, name): other BLE devices nearby
        self.bands: list[EmulatedBand] = []
        self.scans_started = 0
        self.connects: list[ConnectRecord] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scan_refs = 0
        self._scan_lock: asyncio.Lock | None = None
        self._connect_lock: asyncio.Lock | None = None
        world = self
        scanner = type("BumbleScanner", (BumbleScanner,), {"world": world})
        client = type("BumbleClient", (BumbleClient,), {"world": world})
        self.backend = BleBackend(scanner, client)

    async def __aenter__(self) -> BumbleWorld:
        await self.ensure_started()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def ensure_started(self) -> None:
        """Build the link, the central and the initial bands in the running loop, once."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        self._loop = loop
        self._scan_refs = 0
        self._scan_lock = asyncio.Lock()
        self._connect_lock = asyncio.Lock()
        self.bands = []
        self.link = LocalLink()
        controller = Controller("gateway", link=self.link, public_address=CENTRAL_ADDRESS)
        self.central = Device(name="gateway",
                              address=Address(CENTRAL_ADDRESS, Address.RANDOM_DEVICE_ADDRESS),
                              host=Host(controller, AsyncPipeSink(controller)))
        await self.central.power_on()
        self.others: list[Device] = []
        for address, name in self.strangers:
            await self._add_stranger(address, name)
        for cfg in self.initial_bands:
            await self.add_band(cfg)

    async def _add_stranger(self, address: str, name: str) -> None:
        """A device that advertises a name but not the twitchwatch service."""
        controller = Controller(name, link=self.link, public_address=address)
        dev = Device(name=name, address=Address(address, Address.RANDOM_DEVICE_ADDRESS),
                     host=Host(controller, AsyncPipeSink(controller)))
        await dev.power_on()
        ad = AdvertisingData([(AdvertisingData.COMPLETE_LOCAL_NAME, name.encode())])
        await dev.start_advertising(advertising_data=bytes(ad), advertising_interval_min=20,
                                    advertising_interval_max=20)
        self.others.append(dev)

    async def add_band(self, cfg: BandConfig) -> EmulatedBand:
        await self.ensure_started()
        band = EmulatedBand(cfg, self.link)
        await band.start()
        self.bands.append(band)
        return band

    async def close(self) -> None:
        for band in self.bands:
            await band.close()
        for dev in [*self.others, self.central]:
            with contextlib.suppress(Exception):
                await dev.power_off()
        self._loop = None

    async def acquire_scan(self) -> None:
        assert self._scan_lock is not None
        async with self._scan_lock:
            self.scans_started += 1
            if self._scan_refs == 0:
                await self.central.start_scanning(filter_duplicates=False)
            self._scan_refs += 1

    async def release_scan(self) -> None:
        assert self._scan_lock is not None
        async with self._scan_lock:
            self._scan_refs -= 1
            if self._scan_refs == 0:
                await self.central.stop_scanning()


class BumbleScanner(BaseBleakScanner):
    world: ClassVar[BumbleWorld]

    def __init__(self, detection_callback: Any, service_uuids: list[str] | None,
                 scanning_mode: str = "active", **kwargs: Any) -> None:
        super().__init__(detection_callback, service_uuids)
        self._scanning = False

    async def start(self) -> None:
        await self.world.ensure_started()
        self.seen_devices = {}
        self.world.central.on("advertisement", self._on_advertisement)
        await self.world.acquire_scan()
        self._scanning = True

    async def stop(self) -> None:
        if not self._scanning:
            return
        self._scanning = False
        self.world.central.remove_listener("advertisement", self._on_advertisement)
        await self.world.release_scan()

    def _on_advertisement(self, adv: Advertisement) -> None:
        data = adv.data
        uuids = [uuid_str(u) for t in (
            AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
            AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
            AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
            AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
        ) for u in (data.get(t) or [])]
        if not self.is_allowed_uuid(uuids):
            return
        name = data.get(AdvertisingData.COMPLETE_LOCAL_NAME) or \
            data.get(AdvertisingData.SHORTENED_LOCAL_NAME)
        local_name = name if isinstance(name, str) else None
        address = adv.address.to_string(with_type_qualifier=False)
        tx = adv.tx_power if adv.tx_power != Advertisement.TX_POWER_NOT_AVAILABLE else None
        ad = AdvertisementData(local_name=local_name, manufacturer_data={}, service_data={},
                               service_uuids=uuids, tx_power=tx, rssi=adv.rssi,
                               platform_data=(adv,))
        # details: the bumble address, so the client connects with the right address type
        device = self.create_or_update_device(address, address, local_name, adv.address, ad)
        self.call_detection_callbacks(device, ad)


class BumbleClient(BaseBleakClient):
    world: ClassVar[BumbleWorld]

    def __init__(self, address_or_ble_device: BLEDevice | str, **kwargs: Any) -> None:
        super().__init__(address_or_ble_device,
                         disconnected_callback=kwargs.get("disconnected_callback"),
                         timeout=kwargs.get("timeout", 10.0))
        self._ble_device = address_or_ble_device if isinstance(
            address_or_ble_device, BLEDevice) else None
        self._conn: Connection | None = None
        self._peer: Peer | None = None
        self._subscribers: dict[int, Callable[[bytes], None]] = {}

    # -- connection -------------------------------------------------------------------

    @property
    def name(self) -> str:
        if self._ble_device is not None and self._ble_device.name:
            return self._ble_device.name
        return self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        return self._peer.gatt_client.mtu if self._peer is not None else att.ATT_DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        return self._conn is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        world = self.world
        await world.ensure_started()
        assert world._connect_lock is not None
        details = self._ble_device.details if self._ble_device is not None else None
        address = details if isinstance(details, Address) else \
            Address(self.address, Address.RANDOM_DEVICE_ADDRESS)
        world.connects.append(ConnectRecord(
            self.address, id(self._ble_device), world.scans_started, time.monotonic()))
        timeout = kwargs.get("timeout", self._timeout)
        async with world._connect_lock:  # one LE connection attempt at a time, as BlueZ
            try:
                conn = await world.central.connect(address, timeout=timeout)
            except core.TimeoutError as e:
                raise BleakDeviceNotFoundError(self.address, f"{self.address} not found") from e
            except core.BaseBumbleError as e:
                raise BleakError(f"connecting to {self.address}: {e}") from e
        self._conn = conn
        self._peer = Peer(conn)
        conn.on("disconnection", self._on_disconnection)
        try:
            if world.mtu_request is not None:  # BlueZ exchanges the MTU on its own
                await self._gatt(self._peer.request_mtu(world.mtu_request))
            self.services = await self._discover()
        except BaseException:
            await self.disconnect()
            raise

    async def disconnect(self) -> None:
        conn = self._conn
        if conn is None:
            return
        with contextlib.suppress(core.BaseBumbleError):
            await conn.disconnect()

    def _on_disconnection(self, _reason: int) -> None:
        self._conn = None
        self._peer = None
        self._subscribers.clear()
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("the emulated band does not pair")

    async def unpair(self) -> None:
        raise NotImplementedError("the emulated band does not pair")

    # -- GATT -------------------------------------------------------------------------

    async def _gatt(self, aw: Awaitable[T]) -> T:
        """Await a bumble GATT call and raise what bleak's own backends raise."""
        if self._conn is None:
            raise BleakError("Not connected")
        try:
            return await aw
        except att.ATT_Error as e:
            raise BleakGATTProtocolError(e.error_code) from e
        except asyncio.CancelledError:
            # bumble cancels a pending request's future when the link drops; to the
            # caller that is a failed operation, not a cancellation of its own task.
            task = asyncio.current_task()
            if task is not None and task.cancelling() == 0:
                raise BleakError("disconnected during a GATT operation") from None
            raise
        except core.BaseBumbleError as e:
            raise BleakError(str(e)) from e

    def _peer_or_raise(self) -> Peer:
        if self._peer is None:
            raise BleakError("Not connected")
        return self._peer

    async def _discover(self) -> BleakGATTServiceCollection:
        peer = self._peer_or_raise()
        coll = BleakGATTServiceCollection()
        await self._gatt(peer.discover_services())
        for s in peer.services:
            service = BleakGATTService(s, s.handle, uuid_str(s.uuid))
            coll.add_service(service)
            await self._gatt(s.discover_characteristics())
            for c in s.characteristics:
                props = [name for bit, name in _PROPS if c.properties & bit]
                char = BleakGATTCharacteristic(c, c.handle, uuid_str(c.uuid), props,  # type: ignore[arg-type]
                                               lambda: self.mtu_size - 3, service)
                coll.add_characteristic(char)
                await self._gatt(c.discover_descriptors())
                for d in c.descriptors:
                    coll.add_descriptor(BleakGATTDescriptor(d, d.handle, uuid_str(d.type), char))
        return coll

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, *,
                             use_cached: bool = False, **kwargs: Any) -> bytearray:
        peer = self._peer_or_raise()
        return bytearray(await self._gatt(peer.read_value(characteristic.obj)))

    async def read_gatt_descriptor(self, descriptor: BleakGATTDescriptor, *,
                                   use_cached: bool = False, **kwargs: Any) -> bytearray:
        peer = self._peer_or_raise()
        return bytearray(await self._gatt(peer.read_value(descriptor.obj)))

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: Any,
                              response: bool) -> None:
        peer = self._peer_or_raise()
        await self._gatt(peer.write_value(characteristic.obj, bytes(data),
                                          with_response=response))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        peer = self._peer_or_raise()
        await self._gatt(peer.write_value(descriptor.obj, bytes(data), with_response=True))

    async def start_notify(self, characteristic: BleakGATTCharacteristic,
                           callback: NotifyCallback, **kwargs: Any) -> None:
        peer = self._peer_or_raise()

        def on_value(value: bytes) -> None:
            callback(bytearray(value))

        self._subscribers[characteristic.handle] = on_value
        await self._gatt(peer.subscribe(characteristic.obj, on_value))

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        peer = self._peer_or_raise()
        on_value = self._subscribers.pop(characteristic.handle, None)
        await self._gatt(peer.unsubscribe(characteristic.obj, on_value))
