"""One band's connection, start to finish, as a loop of sessions.

    scan (fresh BLEDevice) -> connect (bleak-retry-connector) -> set up -> stream
       ^                                                                   |
       +---- backoff (capped, jittered) <--- disconnected / watchdog <-----+

Everything the pipeline needs to know about the link goes out as LINK packets; every
LINK body carries ``connected`` and ``reconnects`` so a consumer never has to replay the
event history to know the current state.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakError, BleakGATTProtocolError
from bleak_retry_connector import BleakClientWithServiceCache, establish_connection

from ..backoff import Backoff
from ..codec import OP_START, OP_TIME_SYNC, decode_status, encode_control
from ..errors import ProtocolError
from ..packets import Kind, Packet
from .ble_bonds import BondRecord
from .ble_config import BandSelector, BleOptions
from .ble_profile import BATTERY_LEVEL_UUID, CONTROL_UUID, DATA_UUID, META_UUID, STATUS_SIZE
from .ble_profile import STATUS_UUID as STATUS_CHAR_UUID
from .ble_scan import BleBackend, BluetoothUnavailableError, Sighting, client_kwargs, find_band
from .ble_security import LinkSecurity, device_bonded, link_security

log = logging.getLogger(__name__)

CONNECT_ATTEMPTS = 3  # inside one establish_connection call, for transient BlueZ errors
DISCONNECT_TIMEOUT_S = 5.0
# What a failing GATT operation or connection raises, across bleak backends.
LINK_ERRORS = (BleakError, TimeoutError, OSError, EOFError, ProtocolError)
# How "the band refused our key" shows: the LTK request answered "key missing" (HCI 0x06;
# bumble says PIN_OR_KEY_MISSING), BlueZ's AuthenticationFailed, its "Not paired" for
# ATT insufficient authentication / encryption.
_KEY_REFUSED_TEXT = ("key_missing", "key missing", "authenticationfailed",
                     "authentication failed", "not paired")
_KEY_REFUSED_ATT = (0x05, 0x0C, 0x0F)  # insufficient authentication / key size / encryption
MAX_REFUSED_LOGGED = 64  # distinct impostor addresses logged (each once) per band


@dataclass
class LinkStats:
    """Counters of one band's link since the source started."""

    state: str = "idle"
    scans: int = 0
    scans_not_found: int = 0
    connect_failures: int = 0
    connects: int = 0
    disconnects: int = 0
    watchdog_trips: int = 0
    notifications: int = 0
    data_bytes: int = 0
    status_packets: int = 0
    status_truncated: int = 0  # notifications shorter than a status record (small MTU)
    refused: int = 0  # sightings with this band's name or address that are not its bond
    insecure_links: int = 0  # connections dropped: not encrypted with the bonded key
    key_refused: int = 0  # connections where the band did not accept this gateway's key
    rssi: int | None = None  # from the latest scan: BlueZ reports none while connected
    mtu: int | None = None  # what bleak reports (BlueZ: 23 unless acquired)
    band_mtu: int | None = None  # what the band reports in its status
    battery_pct: int | None = None

    @property
    def reconnects(self) -> int:
        return max(0, self.connects - 1)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reconnects": self.reconnects}


class BandLink:
    """Keeps one band connected and streaming for as long as ``run`` runs."""

    def __init__(self, selector: BandSelector, options: BleOptions,
                 emit: Callable[[Packet], None], *, bond: BondRecord,
                 backend: BleBackend | None = None,
                 rng: random.Random | None = None) -> None:
        self.selector = selector
        self.bond = bond
        self.key = selector.key
        self.opts = options
        self.backend = backend
        self.stats = LinkStats()
        self.backoff = Backoff(options.backoff_initial_s, options.backoff_max_s,
                               rng=rng or random.Random())
        self._emit = emit
        self._connected = False
        self._adapter_seen = False  # after one good scan, a missing adapter is transient
        self._last_reason = ""
        self._session_frames = 0
        self._last_data_mono = 0.0
        self._last_status_mono = 0.0
        self._mtu_warned = False
        self._refused_logged: set[str] = set()
        self._insecure_logged: set[str] = set()
        self._key_refused_streak = 0  # sessions in a row the band refused our key

    # -- the loop ---------------------------------------------------------------------

    async def run(self) -> None:
        first = True
        while True:
            if not first:
                delay_s = self.backoff.next_delay_s()
                self._set_state("backoff")
                self._link("reconnecting", attempt=self.backoff.attempt,
                           delay_s=round(delay_s, 3), reason=self._last_reason)
                await asyncio.sleep(delay_s)
            first = False
            sighting = await self._scan()
            if sighting is None:
                continue
            await self._session(sighting)
            if self._session_frames:
                self.backoff.reset()  # a session that streamed was healthy

    async def _scan(self) -> Sighting | None:
        self._set_state("scanning")
        self.stats.scans += 1
        refused_before = self.stats.refused
        try:
            sighting = await find_band(self.selector, self.opts.scan_timeout_s,
                                       backend=self.backend, adapter=self.opts.adapter,
                                       accept=self._accept)
        except BluetoothUnavailableError as e:
            if not self._adapter_seen:
                raise  # nothing will work: say so instead of retrying all night
            log.warning("band %s: %s", self.key, e)
            self._last_reason = "adapter unavailable"
            return None
        self._adapter_seen = True
        if sighting is None:
            self.stats.scans_not_found += 1
            self._last_reason = f"not found in {self.opts.scan_timeout_s:g} s"
            if self.stats.refused > refused_before:
                self._last_reason += " (only devices that are not the bonded band)"
            log.info("band %s (%s): %s", self.key, self.selector, self._last_reason)
            return None
        self.stats.rssi = sighting.rssi
        return sighting

    async def _session(self, sighting: Sighting) -> None:
        self._set_state("connecting")
        self._session_frames = 0
        self._mtu_warned = False
        disconnected = asyncio.Event()  # per session: a late callback cannot end the next

        def on_disconnect(_client: BleakClient) -> None:
            disconnected.set()

        try:
            async with asyncio.timeout(self.opts.connect_timeout_s):
                client = await establish_connection(
                    BleakClientWithServiceCache, sighting.device, self.key,
                    disconnected_callback=on_disconnect, max_attempts=CONNECT_ATTEMPTS,
                    **client_kwargs(self.backend, self.opts.adapter))
        except LINK_ERRORS as e:
            self.stats.connect_failures += 1
            self._last_reason = f"connect failed: {_describe(e)}"
            log.info("band %s: %s", self.key, self._last_reason)
            if _is_key_refusal(e):
                self._key_refused(e)
            return
        reason = "shutdown"
        started = time.monotonic()
        try:
            reason = await self._stream(client, sighting, disconnected)
        except LINK_ERRORS as e:
            reason = "link lost" if disconnected.is_set() else f"error: {_describe(e)}"
            if not disconnected.is_set() and _is_key_refusal(e):
                self._key_refused(e)
        finally:
            await self._disconnect(client)
            if self._connected:
                self._connected = False
                self.stats.disconnects += 1
                self._link("disconnected", reason=reason,
                           connected_s=round(time.monotonic() - started, 3),
                           frames=self._session_frames)
            self._set_state("disconnected")
            self._last_reason = reason
            log.info("band %s: disconnected (%s)", self.key, reason)

    async def _stream(self, client: BleakClient, sighting: Sighting,
                      disconnected: asyncio.Event) -> str:
        self._set_state("setup")
        # Nothing is read, written or subscribed before the link is secure: an impostor
        # at the band's address has no LTK and cannot get this far.
        problem = self._security_problem(await link_security(client))
        if problem is not None:
            return self._insecure(problem)
        meta = await self._read(client, META_UUID)
        self._key_refused_streak = 0
        self.stats.battery_pct = await self._read_battery(client)
        self.stats.mtu = client.mtu_size
        self.stats.connects += 1
        self._connected = True
        # "connected" goes out before any data: the pipeline restarts seq counting on it.
        self._link("connected", rssi=sighting.rssi, mtu=client.mtu_size,
                   address=client.address, name=sighting.name,
                   battery_pct=self.stats.battery_pct)
        self._emit(Packet.now(self.key, Kind.META, meta))
        await self._write(client, encode_control(OP_TIME_SYNC, time.time_ns() // 1000))
        async with asyncio.timeout(2 * self.opts.op_timeout_s):  # two CCCD writes
            await client.start_notify(STATUS_CHAR_UUID, self._on_status)
            await client.start_notify(DATA_UUID, self._on_data)
        # One read now: it tells the pipeline at once whether backlog is on its way, and
        # says "MTU too small" before the watchdog would.
        self._status(await self._read(client, STATUS_CHAR_UUID))
        await self._write(client, encode_control(OP_START))
        self._set_state("streaming")
        now = time.monotonic()
        self._last_data_mono = self._last_status_mono = now
        log.info("band %s: streaming (rssi %s dBm, %s)", self.key, sighting.rssi,
                 client.address)
        return await self._supervise(client, disconnected)

    async def _supervise(self, client: BleakClient, disconnected: asyncio.Event) -> str:
        """Wait for the link to end; meanwhile run the watchdog, status polls and stats."""
        o = self.opts
        next_stats = time.monotonic() + o.stats_every_s
        while True:
            deadline = min(self._last_data_mono + o.watchdog_s,
                           self._last_status_mono + o.status_poll_s, next_stats)
            try:  # not wait_for: on 3.11 it can swallow a cancellation (gh-86296)
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    await disconnected.wait()
                return "link lost"
            except TimeoutError:
                pass
            now = time.monotonic()
            idle_s = now - self._last_data_mono
            if idle_s >= o.watchdog_s:
                self.stats.watchdog_trips += 1
                why = "band reports MTU too small" if self._mtu_warned else "no data"
                log.warning("band %s: no data for %.1f s (%s): reconnecting", self.key,
                            idle_s, why)
                self._link("watchdog", idle_s=round(idle_s, 3), detail=why)
                return "watchdog"
            if now >= self._last_status_mono + o.status_poll_s:
                # No whole status notification lately (an MTU under 43 truncates them):
                # read it, which works at any MTU.
                self._status(await self._read(client, STATUS_CHAR_UUID))
            if now >= next_stats:
                next_stats = now + o.stats_every_s
                self._link("stats", **self.stats.as_dict())

    # -- who may stream -------------------------------------------------------------------

    def _accept(self, s: Sighting) -> bool:
        """Only the bonded band: its identity address, with a bond in the stack."""
        bond = self.bond
        if s.address.upper() != bond.address:
            why = f"it is not the band paired with this gateway ({bond.address})"
        elif device_bonded(s.device) is False:
            why = (f"the Bluetooth stack holds no bond for it (removed?): run "
                   f"`twitchwatch pair {self.key} --replace`")
        else:
            return True
        self.stats.refused += 1
        addr = s.address.upper()
        if addr not in self._refused_logged and len(self._refused_logged) < MAX_REFUSED_LOGGED:
            self._refused_logged.add(addr)
            log.warning("band %s: ignoring %s advertising as %r: %s", self.key, addr,
                        s.name, why)
        return False

    def _security_problem(self, sec: LinkSecurity) -> str | None:
        problem = sec.problem()
        if problem is not None:
            return problem
        bond = self.bond
        if sec.identity is not None and sec.identity.upper() != bond.address:
            return f"identity {sec.identity} is not the bonded band's {bond.address}"
        if bond.ltk_sha256 and sec.ltk_sha256 and sec.ltk_sha256 != bond.ltk_sha256:
            return ("the stack's key is not the one `twitchwatch pair` recorded (paired "
                    f"again outside twitchwatch?): run `twitchwatch pair {self.key} "
                    "--trust-existing` if that was you")
        return None

    def _insecure(self, problem: str) -> str:
        self.stats.insecure_links += 1
        if problem not in self._insecure_logged:
            self._insecure_logged.add(problem)
            log.error("band %s: not streaming over this link: %s", self.key, problem)
        return f"insecure link: {problem}"

    def _key_refused(self, e: BaseException) -> None:
        self.stats.key_refused += 1
        self._key_refused_streak += 1
        if self._key_refused_streak == 1:
            log.error("band %s (%s) did not accept this gateway's key (%s). The band has "
                      "lost its bond (bonds cleared, or reset) - or it is not your band. If "
                      "you reset it: put it in its pairing window and run `twitchwatch pair "
                      "%s --replace`.", self.key, self.bond.address, _describe(e), self.key)
            self._link("bond_refused", address=self.bond.address)

    # -- notifications (called by bleak, synchronously) -------------------------------

    def _on_data(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        self._last_data_mono = time.monotonic()
        self._session_frames += 1
        self.stats.notifications += 1
        self.stats.data_bytes += len(data)
        # Bytes exactly as received; the pipeline parses by payload length.
        self._emit(Packet.now(self.key, Kind.DATA, bytes(data)))

    def _on_status(self, _char: BleakGATTCharacteristic, data: bytearray) -> None:
        if len(data) < STATUS_SIZE:
            self.stats.status_truncated += 1
            return
        self._status(data)

    def _status(self, data: bytes | bytearray) -> None:
        self._last_status_mono = time.monotonic()
        self.stats.status_packets += 1
        self._emit(Packet.now(self.key, Kind.STATUS, bytes(data)))
        try:
            st = decode_status(data)
        except ProtocolError:
            return  # the pipeline counts and logs unusable status records
        self.stats.band_mtu = st.mtu
        if st.battery_pct is not None:
            self.stats.battery_pct = st.battery_pct
        if st.mtu_too_small and not self._mtu_warned:
            self._mtu_warned = True
            log.warning("band %s reports MTU %d: no data can flow", self.key, st.mtu)
            self._link("mtu_too_small", band_mtu=st.mtu)

    # -- GATT helpers -----------------------------------------------------------------

    async def _read(self, client: BleakClient, uuid: str) -> bytes:
        async with asyncio.timeout(self.opts.op_timeout_s):
            return bytes(await client.read_gatt_char(uuid))

    async def _write(self, client: BleakClient, data: bytes) -> None:
        async with asyncio.timeout(self.opts.op_timeout_s):
            await client.write_gatt_char(CONTROL_UUID, data, response=True)

    async def _read_battery(self, client: BleakClient) -> int | None:
        try:
            raw = await self._read(client, BATTERY_LEVEL_UUID)
        except BleakError:  # no Battery service: not worth failing a connection over
            return None
        return raw[0] if raw and raw[0] <= 100 else None

    async def _disconnect(self, client: BleakClient) -> None:
        try:
            async with asyncio.timeout(DISCONNECT_TIMEOUT_S):
                await client.disconnect()
        except LINK_ERRORS as e:
            log.debug("band %s: disconnect: %s", self.key, _describe(e))

    # -- output -----------------------------------------------------------------------

    def _set_state(self, state: str) -> None:
        self.stats.state = state

    def _link(self, event: str, **info: Any) -> None:
        info.setdefault("connected", self._connected)
        info.setdefault("reconnects", self.stats.reconnects)
        self._emit(Packet.link(self.key, event, **info))


def _is_key_refusal(e: BaseException | None) -> bool:
    while e is not None:
        if isinstance(e, BleakGATTProtocolError) and e.args and e.args[0] in _KEY_REFUSED_ATT:
            return True
        text = str(e).lower()
        if any(t in text for t in _KEY_REFUSED_TEXT):
            return True
        e = e.__cause__
    return False


def _describe(e: BaseException) -> str:
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
