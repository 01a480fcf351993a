"""An emulated twitchwatch band: a bumble peripheral serving docs/protocol.md.

It samples a deterministic signal (``imu_signal``) at the configured rate on its own
device clock, encodes frames with the firmware's ``twproto``, sizes them to the MTU it
actually exchanged, and keeps what it cannot send in an offline ring that it replays,
flagged BACKLOG, behind live data. Knobs model what a real link does that bumble's
LocalLink does not: latency, lost notifications, band-side disconnects, a stalled stack,
a time scale for simulating a night in minutes, and clock drift.

Bookkeeping is by index ranges only: samples are a function of their index, so the ring
stores ``(first, end)`` runs, not values, and a simulated night costs no memory.

Security is the firmware's (firmware/pairing.py, docs/security.md) on bumble's SMP: LE
Secure Connections, Passkey Entry with the band displaying (its ``console``), a pairing
window (open at start while it has no bond, ``open_pairing_window()`` stands for holding
BOOT), at most ``max_bonds`` bonds, ``clear_bonds()`` for the 10-second press. Every
characteristic needs encryption (bumble answers ATT 0x0F on a clear link) and, on an
encrypted link, a bond whose key is authenticated (the band answers 0x05 itself, as
NimBLE does from its own security state: bumble marks every paired or encrypted link
``authenticated``, Just Works included, so its flag cannot stand for MITM protection).
Notifications go only to such a trusted link: bumble, like gatts_notify on an ESP32,
would send them to any subscriber.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import math
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from bumble import att
from bumble.controller import Controller
from bumble.core import UUID as BumbleUUID
from bumble.core import AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service
from bumble.hci import Address
from bumble.host import Host
from bumble.keys import JsonKeyStore, KeyStore, MemoryKeyStore, PairingKeys
from bumble.link import LocalLink
from bumble.pairing import PairingConfig, PairingDelegate
from bumble.transport.common import AsyncPipeSink

from twitchwatch.gateway.sources import ble_profile as P

from .firmware import twproto as tw
from .imu_signal import samples

BOOT_US = 5_000_000  # the band booted 5 s before the test started


@dataclass
class BandConfig:
    address: str
    name: str | None = None  # default: "tw-" + the last four hex digits of the address
    rate_hz: int = 200
    gyro: bool = True
    ranges: int = tw.ranges_code(2, 3)  # +-8 g, +-2000 deg/s
    max_mtu: int = 247  # what the band's stack will accept in an MTU exchange
    ring_capacity: int = 120_000  # offline ring, samples (10 min at 200 Hz)
    time_scale: float = 1.0  # device seconds per tick_s of the band's loop (nominally wall)
    drift_ppm: float = 0.0  # the band's clock against the host's
    notify_delay_s: float = 0.0  # latency added to every data notification (wall)
    drop_prob: float = 0.0  # probability a data notification is lost on air
    seed: int = 0
    battery_pct: int = 80
    # Wall seconds between rounds of the band's main loop. Each round is tick_s * time_scale
    # of device time however late it comes: the band's clock is simulated, so a loaded
    # machine slows the band down with everything else instead of letting its clock run
    # ahead of what the emulated stack can carry (samples would age into the ring).
    tick_s: float = 0.02
    max_latency_s: float = 0.1  # device s a partial frame may wait for more samples
    live_window_s: float = 1.0  # device s unsent live samples wait before joining the ring
    adv_interval_ms: float = 20.0
    # security (firmware/config.py has the band's values)
    require_mitm: bool = True
    pair_window_s: float = 120.0  # wall seconds
    max_bonds: int = 4
    max_pair_failures: int = 3
    secure_timeout_s: float = 10.0  # an untrusted link is dropped after this (wall)
    keystore_path: str | None = None  # the band's flash: a JSON key store, else memory
    meta_part: int = 1  # the IMU part code in the metadata

    def __post_init__(self) -> None:
        if self.name is None:
            self.name = "tw-" + self.address.replace(":", "")[-4:].lower()


@dataclass
class BandCounters:
    produced: int = 0  # samples sampled since boot (= the next sample index)
    sent_live: int = 0  # samples handed to the stack in live frames
    sent_backlog: int = 0  # samples handed to the stack in BACKLOG frames
    air_dropped: int = 0  # samples in notifications lost on air (drop_prob)
    air_dropped_ranges: list[tuple[int, int]] = field(default_factory=list)  # [first, end)
    ring_dropped: int = 0  # samples the full ring dropped, oldest first
    ring_dropped_ranges: list[tuple[int, int]] = field(default_factory=list)  # [first, end)
    ring_peak: int = 0  # most samples the ring ever held
    notifications: int = 0
    connections: int = 0
    band_disconnects: int = 0
    status_notifications: int = 0
    control_writes: list[tuple[int, int | None]] = field(default_factory=list)
    refused_reads: int = 0  # ATT 0x05 answered to an encrypted but untrusted link
    refused_writes: int = 0
    pairings_refused: int = 0
    pairings_failed: int = 0
    bonds_made: int = 0
    untrusted_dropped: int = 0
    mtus: list[int] = field(default_factory=list)  # exchanged MTU of each connection
    frame_sizes: set[int] = field(default_factory=set)


@dataclass
class _Segment:  # samples from base_index on have period_us, starting at base_t_us
    base_index: int
    base_t_us: int
    period_us: int


class EmulatedBand:
    def __init__(self, cfg: BandConfig, link: LocalLink) -> None:
        self.cfg = cfg
        self.name: str = cfg.name or ""
        self.address = cfg.address.upper()
        self.counters = BandCounters()
        self.channels = 6 if cfg.gyro else 3
        self._flags = tw.F_ACC | (tw.F_GYRO if cfg.gyro else 0)
        self._rng = random.Random(cfg.seed)
        self._segments = [_Segment(0, BOOT_US, 1_000_000 // cfg.rate_hz)]
        self._ranges = cfg.ranges
        self._next_index = 0
        self._pending_first = 0  # live samples [pending_first, next_index) wait to be sent
        self._ring: collections.deque[list[int]] = collections.deque()  # [first, end, loss]
        self._ring_len = 0
        self._tokens = 0.0
        self._elapsed_s = 0.0  # device seconds since start, before drift (the loop adds)
        self._seq = 0
        self._conn: Connection | None = None
        self._mtu = 23
        self._streaming = False
        self._subscribed = False
        self._stalled = False
        self._away = False
        self._trusted_now = False
        self._last_error = tw.E_NONE
        self._sync: tuple[int, int] | None = None  # (device us, host us) of the last TIME_SYNC
        self._next_status_us = 0
        self._delay_line: collections.deque[tuple[float, bytes]] = collections.deque()
        self._lock = asyncio.Lock()
        self._tick = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._buf = bytearray(tw.HEADER_SIZE + tw.MAX_COUNT * 12)
        self._status_buf = bytearray(tw.STATUS_SIZE)

        controller = Controller(f"band-{self.name}", link=link, public_address=self.address)
        self.device = Device(name=self.name,
                             address=Address(self.address, Address.RANDOM_DEVICE_ADDRESS),
                             host=Host(controller, AsyncPipeSink(controller)))
        self.device.gatt_server.max_mtu = cfg.max_mtu
        # Its own IRK, stable per band (the firmware stores one it made at first start).
        self.device.irk = hashlib.sha256(b"twitchwatch test band irk " +
                                         self.address.encode()).digest()[:16]
        self.keystore: KeyStore = (JsonKeyStore(self.address, cfg.keystore_path)
                                   if cfg.keystore_path else MemoryKeyStore())
        self.device.keystore = self.keystore
        self.device.pairing_config_factory = self._pairing_config
        self.console: list[str] = []  # the USB console: passkeys, pairing news
        self._said = asyncio.Event()
        self._pk_mark = 0  # console lines before the current pairing began
        self._window_end = -1.0  # loop time the pairing window closes; < now: closed
        self._failures = 0
        self._trust: dict[int, bool] = {}  # connection handle -> trusted
        self._conn_t0 = 0.0
        self._build_gatt()
        self.device.on("connection", self._on_connection)

    # -- GATT -------------------------------------------------------------------------

    def _build_gatt(self) -> None:
        cfg = self.cfg
        A = Characteristic
        rd = A.READABLE | A.READ_REQUIRES_ENCRYPTION
        wr = A.WRITEABLE | A.WRITE_REQUIRES_ENCRYPTION
        if cfg.require_mitm:
            rd |= A.READ_REQUIRES_AUTHENTICATION
            wr |= A.WRITE_REQUIRES_AUTHENTICATION
        self.data_char = Characteristic(P.DATA_UUID, A.Properties.NOTIFY, rd, b"")
        self.data_char.on("subscription", self._on_data_subscription)
        self.meta = tw.encode_meta((0, 1, 0), cfg.rate_hz, cfg.ranges, self._flags,
                                   (1, 2, 3), (1, 2, 3), cfg.meta_part, 1, cfg.ring_capacity)
        self._status_value = bytes(tw.STATUS_SIZE)
        self.meta_char = Characteristic(P.META_UUID, A.Properties.READ, rd,
                                        self._guarded(lambda: self.meta))
        self.control_char: Characteristic[bytes] = Characteristic(
            P.CONTROL_UUID, A.Properties.WRITE, wr,
            CharacteristicValue[bytes](write=self._write_control))
        self.status_char = Characteristic(
            P.STATUS_UUID, A.Properties.READ | A.Properties.NOTIFY, rd,
            self._guarded(lambda: self._status_value))
        self.battery_char = Characteristic(
            "2A19", A.Properties.READ | A.Properties.NOTIFY, rd,
            self._guarded(lambda: bytes([cfg.battery_pct])))
        info = [("2A29", b"twitchwatch"), ("2A24", b"emulated band"), ("2A26", b"0.1.0")]
        self.device.add_services([
            Service(P.SERVICE_UUID, [self.data_char, self.meta_char, self.control_char,
                                     self.status_char]),
            Service("180F", [self.battery_char]),
            Service("180A", [Characteristic(u, A.Properties.READ, rd,
                                            self._guarded(lambda v=v: v)) for u, v in info]),
        ])

    def _guarded(self, value: Callable[[], bytes]) -> CharacteristicValue[bytes]:
        async def read(conn: Connection) -> bytes:
            if not await self.trusted(conn):
                self.counters.refused_reads += 1
                raise att.ATT_Error(att.ATT_INSUFFICIENT_AUTHENTICATION_ERROR)
            return value()
        return CharacteristicValue[bytes](read=read)

    async def _write_control(self, conn: Connection, value: bytes) -> None:
        if not await self.trusted(conn):
            self.counters.refused_writes += 1
            raise att.ATT_Error(att.ATT_INSUFFICIENT_AUTHENTICATION_ERROR)
        self._on_control(conn, value)

    # -- security ---------------------------------------------------------------------

    def say(self, msg: str) -> None:
        self.console.append(msg)
        self._said.set()

    async def next_passkey(self, timeout_s: float) -> int:
        """The passkey the console shows for the pairing under way (what the owner reads)."""
        async with asyncio.timeout(timeout_s):
            while True:
                for line in self.console[self._pk_mark:]:
                    if line.startswith("pairing: passkey "):
                        return int(line.split()[2])
                self._said.clear()
                await self._said.wait()

    def pairing_window_open(self) -> bool:
        return asyncio.get_running_loop().time() < self._window_end

    def open_pairing_window(self, why: str = "BOOT held") -> None:
        self._window_end = asyncio.get_running_loop().time() + self.cfg.pair_window_s
        self._failures = 0
        self.say(f"pairing window open for {self.cfg.pair_window_s:g} s ({why})")

    def close_pairing_window(self, why: str) -> None:
        if self._window_end >= 0:
            self._window_end = -1.0
            self.say(f"pairing window closed ({why})")

    async def bonded_peers(self) -> list[str]:
        return [name for name, _ in await self.keystore.get_all()]

    async def clear_bonds(self) -> None:
        """BOOT held 10 s: every bond forgotten, the current link dropped."""
        for name, _ in await self.keystore.get_all():
            await self.keystore.delete(name)
        self._trust.clear()
        self.say("all bonds cleared (BOOT held 10 s)")
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.disconnect()
        self.open_pairing_window("bonds cleared")

    async def trusted(self, conn: Connection) -> bool:
        """Encrypted with a bond this band keeps, whose key is authenticated (MITM)."""
        if not conn.is_encrypted:
            return False
        known = self._trust.get(conn.handle)
        if known is None:
            keys = await self.keystore.get(str(conn.peer_address))
            known = keys is not None and keys.ltk is not None and (
                keys.ltk.authenticated or not self.cfg.require_mitm)
            if conn.is_encrypted:
                self._trust[conn.handle] = known
        return known

    def _pairing_config(self, conn: Connection) -> PairingConfig:
        return PairingConfig(sc=True, mitm=self.cfg.require_mitm, bonding=True,
                             delegate=_BandDelegate(self, conn),
                             identity_address_type=PairingConfig.AddressType.RANDOM)

    async def _may_pair(self, conn: Connection) -> bool:
        if not self.pairing_window_open():
            why = "the pairing window is closed"
        else:
            peers = await self.bonded_peers()
            if str(conn.peer_address) in peers or len(peers) < self.cfg.max_bonds:
                self._pk_mark = len(self.console)
                return True
            why = f"bond store full ({self.cfg.max_bonds}): clear the bonds to add one"
        self.counters.pairings_refused += 1
        self.say("pairing refused: " + why)
        asyncio.get_running_loop().call_soon(self._drop, conn)
        return False

    def _drop(self, conn: Connection) -> None:
        task = asyncio.get_running_loop().create_task(_quiet_disconnect(conn))
        self._tasks = [t for t in self._tasks if not t.done()] + [task]

    def _on_pairing(self, conn: Connection, keys: PairingKeys) -> None:
        ltk = keys.ltk
        if self.cfg.require_mitm and not (ltk is not None and ltk.authenticated):
            self._trust[conn.handle] = False
            self.counters.pairings_failed += 1
            self.say("link not trusted: key not authenticated (Just Works): pair with the "
                     "passkey")
            # bumble stored the keys before telling: take them back, as the firmware
            # never commits such a bond.
            name = str(conn.peer_address)
            task = asyncio.get_running_loop().create_task(self._forget(name, conn))
            self._tasks = [t for t in self._tasks if not t.done()] + [task]
            return
        self._trust[conn.handle] = True
        self.counters.bonds_made += 1
        self.say(f"bonded with a new central ({conn.peer_address})")
        self.close_pairing_window("bonded")

    async def _forget(self, name: str, conn: Connection) -> None:
        with contextlib.suppress(KeyError):
            await self.keystore.delete(name)
        await _quiet_disconnect(conn)

    def _on_pairing_failure(self, _conn: Connection, _reason: int) -> None:
        self.counters.pairings_failed += 1
        self.say("link not trusted: pairing failed")
        if self.pairing_window_open():
            self._failures += 1
            if self._failures >= self.cfg.max_pair_failures:
                self.close_pairing_window(f"{self._failures} failed pairings")

    def advertising_data(self) -> bytes:
        return bytes(AdvertisingData([
            (AdvertisingData.FLAGS, bytes([0x06])),
            (AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
             BumbleUUID(P.SERVICE_UUID).to_bytes()),
            (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
        ]))

    # -- lifetime ---------------------------------------------------------------------

    async def start(self) -> None:
        if not await self.bonded_peers():
            self.open_pairing_window("no bond yet")
        self._elapsed_s = 0.0  # device seconds since start, before drift
        await self.device.power_on()
        await self._advertise()
        self._tasks = [asyncio.create_task(self._main(), name=f"band-{self.name}"),
                       asyncio.create_task(self._delay_sender(), name=f"band-{self.name}-tx")]

    async def _advertise(self) -> None:
        # Restarted by hand after each disconnection (not bumble's auto_restart), so that
        # go_away() can keep the band silent.
        await self.device.start_advertising(
            advertising_data=self.advertising_data(),
            advertising_interval_min=self.cfg.adv_interval_ms,
            advertising_interval_max=self.cfg.adv_interval_ms)

    async def close(self) -> None:
        self._away = True
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.device.stop_advertising()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.disconnect()
        with contextlib.suppress(Exception):
            await self.device.power_off()

    # -- harness knobs ----------------------------------------------------------------

    async def disconnect(self) -> None:
        """Band-side disconnect, after what the band already sent has left it.

        Notifications are unacknowledged: a real band cannot know what was in flight
        when a link dropped. This graceful variant keeps the harness's accounting exact.
        """
        async with self._lock:
            while self._delay_line:
                await self._flush_delay_line(force=True)
            conn = self._conn
            if conn is None:
                return
            await conn.drain()
            self.counters.band_disconnects += 1
            await conn.disconnect()

    async def go_away(self) -> None:
        """Out of range: disconnect and stop advertising until come_back()."""
        self._away = True
        await self.disconnect()
        await self.device.stop_advertising()

    async def come_back(self) -> None:
        self._away = False
        if self._conn is None:
            await self._advertise()

    def restart(self) -> None:
        """Switched off and on (not connected): sampling starts again from index 0 with an
        empty ring and fresh counters; the bonds (flash) stay. The world uses it after
        pairing: the band was paired at set-up, the night starts with a fresh boot."""
        assert self._conn is None, "restart() while connected"
        self._elapsed_s = 0.0  # the device clock starts again with the boot
        self.counters = BandCounters()
        self._segments = [_Segment(0, BOOT_US, 1_000_000 // self.cfg.rate_hz)]
        self._ranges = self.cfg.ranges
        self._next_index = self._pending_first = 0
        self._ring.clear()
        self._ring_len = 0
        self._tokens = 0.0
        self._seq = 0
        self._sync = None
        self._last_error = tw.E_NONE
        self._next_status_us = 0
        self._update_status(self.device_us())

    def stall(self) -> None:
        """The stack stops sending (a stale link) until the next connection."""
        self._stalled = True

    @property
    def connected(self) -> bool:
        return self._conn is not None

    @property
    def streaming(self) -> bool:
        return self._streamable()

    @property
    def ring_waiting(self) -> int:
        return self._ring_len

    @property
    def mtu(self) -> int:
        return self._mtu

    def samples_per_frame(self) -> int:
        return int(tw.samples_per_frame(self._mtu, self.channels))

    async def wait_until(self, predicate: Callable[[], bool], timeout_s: float) -> None:
        """Wait (at most timeout_s) until predicate() holds, checking once per tick."""
        async with asyncio.timeout(timeout_s):
            while not predicate():
                self._tick.clear()
                await self._tick.wait()

    # -- clock and sampling -----------------------------------------------------------

    def device_us(self) -> int:
        return BOOT_US + int(self._elapsed_s * (1 + self.cfg.drift_ppm * 1e-6) * 1e6)

    def _segment(self, index: int) -> _Segment:
        for seg in reversed(self._segments):
            if index >= seg.base_index:
                return seg
        raise ValueError(index)

    def _t_us(self, index: int) -> int:
        seg = self._segment(index)
        return seg.base_t_us + (index - seg.base_index) * seg.period_us

    def _produce(self, now_us: int) -> None:
        seg = self._segments[-1]
        if now_us < seg.base_t_us:
            return
        due_end = seg.base_index + (now_us - seg.base_t_us) // seg.period_us + 1
        if due_end <= self._next_index:
            return
        self._next_index = due_end
        self.counters.produced = due_end
        if not self._streamable():
            self._park_pending()
        # else: they join the live run [pending_first, next_index)

    def _streamable(self) -> bool:
        return (self._conn is not None and self._trusted_now and self._streaming
                and self._subscribed and not self._stalled and self.samples_per_frame() > 0)

    def _park_pending(self) -> None:
        """Live samples that can no longer go out live join the ring (as backlog)."""
        if self._pending_first < self._next_index:
            self._ring_append(self._pending_first, self._next_index)
        self._pending_first = self._next_index

    def _ring_append(self, first: int, end: int) -> None:
        if self._ring and self._ring[-1][1] == first:
            self._ring[-1][1] = end
        else:
            self._ring.append([first, end, 0])
        self._ring_len += end - first
        self.counters.ring_peak = max(self.counters.ring_peak,
                                      min(self._ring_len, self.cfg.ring_capacity))
        over = self._ring_len - self.cfg.ring_capacity
        while over > 0:  # full: drop the oldest, and flag the frame that follows the hole
            head = self._ring[0]
            n = min(over, head[1] - head[0])
            dr = self.counters.ring_dropped_ranges
            if dr and dr[-1][1] == head[0]:
                dr[-1] = (dr[-1][0], head[0] + n)
            else:
                dr.append((head[0], head[0] + n))
            head[0] += n
            over -= n
            self._ring_len -= n
            self.counters.ring_dropped += n
            if head[0] == head[1]:
                self._ring.popleft()
                if self._ring:
                    self._ring[0][2] = 1
            else:
                head[2] = 1

    # -- the main loop ----------------------------------------------------------------

    async def _main(self) -> None:
        tick_dev_s = self.cfg.tick_s * self.cfg.time_scale
        burst = max(4.0, 2 * tw.MAX_NOTIFY_PER_S * tick_dev_s)
        last_us = self.device_us()
        while True:
            await asyncio.sleep(self.cfg.tick_s)
            async with self._lock:
                await self._check_link()
                self._elapsed_s += tick_dev_s
                now_us = self.device_us()
                earned = tw.MAX_NOTIFY_PER_S * max(0, now_us - last_us) / 1e6
                last_us = now_us
                self._produce(now_us)
                if self._streamable():
                    self._tokens = min(max(burst, 2 * earned), self._tokens + earned)
                    await self._send(now_us)
                    self._age_pending(now_us)
                else:
                    self._park_pending()
                self._update_status(now_us)
                if now_us >= self._next_status_us:
                    self._next_status_us = now_us + 1_000_000
                    await self._notify_status()
            self._tick.set()

    async def _check_link(self) -> None:
        if self._window_end >= 0 and not self.pairing_window_open():
            self.close_pairing_window("time is up")
        conn = self._conn
        if conn is None:
            return
        self._trusted_now = await self.trusted(conn)
        loop = asyncio.get_running_loop()
        limit = 60.0 if self.pairing_window_open() else self.cfg.secure_timeout_s
        if not self._trusted_now and loop.time() - self._conn_t0 > limit:
            self.counters.untrusted_dropped += 1
            self.say(f"dropping a central that did not secure the link in {limit:g} s")
            self._conn_t0 = loop.time()  # once per link
            await _quiet_disconnect(conn)

    async def _send(self, now_us: int) -> None:
        spf = self.samples_per_frame()
        max_latency_us = self.cfg.max_latency_s * 1e6
        while self._tokens >= 1:  # live first ...
            n = self._next_index - self._pending_first
            if n <= 0 or (n < spf and now_us - self._t_us(self._pending_first) < max_latency_us):
                break
            count = self._frame_count(self._pending_first, min(n, spf))
            await self._send_frame(self._pending_first, count, backlog=False, loss=False)
            self._pending_first += count
        while self._tokens >= 1 and self._ring:  # ... then backlog, oldest first
            head = self._ring[0]
            count = self._frame_count(head[0], min(head[1] - head[0], spf))
            loss = bool(head[2])
            head[0] += count
            head[2] = 0
            self._ring_len -= count
            if head[0] == head[1]:
                self._ring.popleft()
            await self._send_frame(head[0] - count, count, backlog=True, loss=loss)

    def _frame_count(self, first: int, count: int) -> int:
        """A frame never spans a change of sample rate."""
        for seg in self._segments:
            if first < seg.base_index < first + count:
                return seg.base_index - first
        return count

    def _age_pending(self, now_us: int) -> None:
        # A link that cannot keep up (tiny MTU, few notifications) must not grow the
        # live queue forever: older samples become backlog, as the firmware's FIFO would.
        cutoff = now_us - self.cfg.live_window_s * 1e6
        seg = self._segment(self._pending_first)
        k = seg.base_index + max(0, math.ceil((cutoff - seg.base_t_us) / seg.period_us))
        end = min(max(k, self._pending_first), self._next_index)
        if end > self._pending_first:
            self._ring_append(self._pending_first, end)
            self._pending_first = end

    async def _send_frame(self, first: int, count: int, *, backlog: bool, loss: bool) -> None:
        flags = self._flags | (tw.F_BACKLOG if backlog else 0) | (tw.F_LOSS if loss else 0)
        seg = self._segment(first)
        values = samples(first, count, self.cfg.gyro).tobytes()
        n = tw.pack_frame_into(self._buf, flags, self._seq, first, self._t_us(first),
                               seg.period_us, count, self._ranges, values)
        frame = bytes(self._buf[:n])
        self._seq = (self._seq + 1) & 0xFFFF
        self._tokens -= 1
        c = self.counters
        c.notifications += 1
        c.frame_sizes.add(n)
        if backlog:
            c.sent_backlog += count
        else:
            c.sent_live += count
        if self.cfg.drop_prob and self._rng.random() < self.cfg.drop_prob:
            c.air_dropped += count
            c.air_dropped_ranges.append((first, first + count))
            return
        if self.cfg.notify_delay_s > 0:
            due = asyncio.get_running_loop().time() + self.cfg.notify_delay_s
            self._delay_line.append((due, frame))
        else:
            await self._notify_data(frame)

    async def _notify_data(self, frame: bytes) -> None:
        if self._conn is not None and self._trusted_now:
            await self.device.notify_subscriber(self._conn, self.data_char, frame)

    async def _delay_sender(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.tick_s / 4)
            async with self._lock:
                await self._flush_delay_line(force=False)

    async def _flush_delay_line(self, *, force: bool) -> None:
        now = asyncio.get_running_loop().time()
        while self._delay_line and (force or self._delay_line[0][0] <= now):
            await self._notify_data(self._delay_line.popleft()[1])

    # -- status -----------------------------------------------------------------------

    def _state_bits(self) -> int:
        bits = tw.S_STREAMING if self._streaming else 0
        if self._conn is not None and self.samples_per_frame() == 0:
            bits |= tw.S_MTU_TOO_SMALL
        if self._streamable() and self._ring:
            bits |= tw.S_SENDING_BACKLOG
        return bits

    def _update_status(self, now_us: int) -> None:
        c = self.counters
        since = 0xFFFFFFFF if self._sync is None else (now_us - self._sync[0]) // 1_000_000
        tw.pack_status_into(self._status_buf, self.cfg.battery_pct, 3900, self._state_bits(),
                            self._last_error, self._mtu, c.notifications & 0xFFFFFFFF, 0, 0,
                            c.ring_dropped, self._ring_len, now_us, since)
        # Reads come from the stored value, as on NimBLE: a long read at a small MTU
        # (several ATT requests) then sees one consistent record.
        self._status_value = bytes(self._status_buf)

    async def _notify_status(self) -> None:
        # Below MTU 43 a 40-byte notification would be cut; the gateway reads instead.
        if (self._conn is not None and not self._stalled and self._trusted_now
                and self._mtu >= P.STATUS_NOTIFY_MIN_MTU):
            self.counters.status_notifications += 1
            await self.device.notify_subscriber(self._conn, self.status_char,
                                                self._status_value)

    # -- connection events ------------------------------------------------------------

    def _on_connection(self, conn: Connection) -> None:
        self._conn = conn
        self._trusted_now = False
        self._conn_t0 = asyncio.get_running_loop().time()
        self._mtu = conn.att_mtu
        self._seq = 0
        self._streaming = False
        self._subscribed = False
        self._stalled = False
        self.counters.connections += 1
        self._update_status(self.device_us())
        conn.on("disconnection", self._on_disconnection)
        conn.on("connection_att_mtu_update", lambda: self._on_mtu(conn))
        conn.on("pairing", lambda keys: self._on_pairing(conn, keys))
        conn.on("pairing_failure", lambda reason: self._on_pairing_failure(conn, reason))
        conn.on("connection_encryption_change", lambda: self._trust.pop(conn.handle, None))

    def _on_mtu(self, conn: Connection) -> None:
        if conn is self._conn:
            self._mtu = conn.att_mtu
            self.counters.mtus.append(self._mtu)
            self._update_status(self.device_us())  # as the firmware does on the MTU event

    def _on_disconnection(self, _reason: int) -> None:
        if self._conn is not None:
            self._trust.pop(self._conn.handle, None)
        self._conn = None
        self._trusted_now = False
        self._streaming = False
        self._subscribed = False
        self._mtu = 23
        self._park_pending()
        self._update_status(self.device_us())
        if not self._away:
            task = asyncio.get_running_loop().create_task(self._advertise())
            self._tasks = [t for t in self._tasks if not t.done()] + [task]

    def _on_data_subscription(self, _bearer: object, notify: bool, _indicate: bool) -> None:
        self._subscribed = notify

    def _on_control(self, _conn: Connection, value: bytes) -> None:
        try:
            op, arg = tw.decode_control(bytes(value))
        except ValueError as e:
            self._last_error = e.args[0]
            raise att.ATT_Error(0x80) from e
        self.counters.control_writes.append((op, arg))
        now_us = self.device_us()
        if op == tw.OP_START:
            if not self._streaming:
                self._pending_first = self._next_index
            self._streaming = True
        elif op == tw.OP_STOP:
            self._streaming = False
            self._park_pending()
        elif op == tw.OP_SET_RATE and arg is not None:
            self._produce(now_us)
            t_next = self._t_us(self._next_index)
            self._segments.append(_Segment(self._next_index, t_next, 1_000_000 // arg))
        elif op == tw.OP_SET_RANGE and arg is not None:
            self._ranges = arg
        elif op == tw.OP_TIME_SYNC and arg is not None:
            self._sync = (now_us, arg)


class _BandDelegate(PairingDelegate):
    """The band's side of SMP: it displays (its console), it cannot type or confirm."""

    def __init__(self, band: EmulatedBand, conn: Connection) -> None:
        super().__init__(io_capability=(PairingDelegate.DISPLAY_OUTPUT_ONLY
                                        if band.cfg.require_mitm
                                        else PairingDelegate.NO_OUTPUT_NO_INPUT))
        self.band = band
        self.conn = conn

    async def accept(self) -> bool:
        return await self.band._may_pair(self.conn)

    async def generate_passkey(self) -> int:
        return secrets.randbelow(1_000_000)

    async def display_number(self, number: int, digits: int) -> None:
        self.band.say(f"pairing: passkey {number:06d} - type it on the gateway")


async def _quiet_disconnect(conn: Connection) -> None:
    with contextlib.suppress(Exception):
        await conn.disconnect()


def expected_total(band: EmulatedBand) -> dict[str, int]:
    """Where every produced sample went, from the band's side."""
    c = band.counters
    return {"produced": c.produced, "sent": c.sent_live + c.sent_backlog,
            "air_dropped": c.air_dropped, "ring_dropped": c.ring_dropped,
            "unsent": band.ring_waiting + (c.produced - band._pending_first)}

