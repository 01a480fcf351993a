"""Bonding the gateway with a band once (``twitchwatch pair``), and forgetting it.

Pairing itself is the Bluetooth stack's job: bleak's ``pair()``. The band offers Passkey
Entry with LE Secure Connections: during its pairing window it shows a fresh 6-digit
passkey on its USB console, and the stack's agent asks the user for it. BlueZ needs an
agent for that, and bleak registers none: on a Linux gateway run ``bluetoothctl`` (its
default agent handles the prompt) while ``twitchwatch pair`` runs, or pair with
``bluetoothctl`` alone and then ``twitchwatch pair --trust-existing``. docs/hardware.md
has the procedure.

Afterwards the link must prove itself: encrypted and bonded as far as the stack can tell
(``ble_security``), and the band answers a read of its protected metadata, which it only
does for a central it trusts. Only then is the band's identity written to the bonds file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from bleak import BleakClient
from bleak.exc import BleakError

from ..codec import decode_meta
from ..errors import ProtocolError, TwitchwatchError
from .ble_bonds import BondRecord, BondRegistry
from .ble_config import BandSelector
from .ble_profile import META_UUID
from .ble_scan import BleBackend, Sighting, client_kwargs, find_band
from .ble_security import LinkSecurity, device_bonded, link_security

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 20.0
PAIR_TIMEOUT_S = 120.0  # a person reads the band's console and types six digits
READ_TIMEOUT_S = 10.0

PAIRING_HELP = (
    "check that (1) the band's pairing window is open: it opens at its first start and "
    "for 2 minutes after BOOT is held 3 s; (2) the passkey typed is the one its USB "
    "console shows now; (3) on Linux a Bluetooth agent is running, e.g. `bluetoothctl` "
    "in another terminal (docs/hardware.md, \"Pairing\")")


class PairingError(TwitchwatchError):
    """The band could not be bonded, or the bond does not hold up."""


class BandNotFoundError(TwitchwatchError):
    """No band matching the selector advertised in time."""


def describe(e: BaseException) -> str:
    text = str(e)
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


async def _find(selector: BandSelector, scan_timeout_s: float, backend: BleBackend | None,
                adapter: str | None) -> Sighting:
    sighting = await find_band(selector, scan_timeout_s, backend=backend, adapter=adapter)
    if sighting is None:
        raise BandNotFoundError(f"no band {selector} advertised within {scan_timeout_s:g} s "
                                "(`twitchwatch scan` lists the bands in range)")
    return sighting


async def pair_band(selector: BandSelector, registry: BondRegistry, *,
                    backend: BleBackend | None = None, adapter: str | None = None,
                    scan_timeout_s: float = 10.0, trust_existing: bool = False,
                    replace: bool = False,
                    out: Callable[[str], None] = lambda _s: None) -> BondRecord:
    """Bond with the band (or check an existing bond) and record it in ``registry``."""
    sighting = await _find(selector, scan_timeout_s, backend, adapter)
    out(f"found {sighting.name or '?'} at {sighting.address} ({sighting.rssi} dBm)")
    stack_bonded = device_bonded(sighting.device)
    if trust_existing and stack_bonded is False:
        raise PairingError(
            f"{sighting.address}: the Bluetooth stack holds no bond for this band; pair it "
            "first (bluetoothctl: `pair " + sighting.address + "`) or run without "
            "--trust-existing")
    if stack_bonded and not trust_existing:
        if not replace:
            raise PairingError(
                f"{sighting.address}: the Bluetooth stack already holds a bond for this "
                "band. Keep it: --trust-existing; pair again (after the band lost its "
                "bond): --replace")
        await _unpair(sighting, backend, adapter, out)
        sighting = await _find(selector, scan_timeout_s, backend, adapter)
    client = BleakClient(sighting.device, timeout=CONNECT_TIMEOUT_S,
                         **client_kwargs(backend, adapter))
    try:
        await client.connect()
    except (BleakError, TimeoutError, OSError) as e:
        raise PairingError(f"{sighting.address}: cannot connect ({describe(e)})") from e
    try:
        if not trust_existing:
            out("pairing: type the passkey the band's console shows when your Bluetooth "
                "agent asks for it")
            try:
                async with asyncio.timeout(PAIR_TIMEOUT_S):
                    await client.pair()
            except (BleakError, TimeoutError, OSError) as e:
                raise PairingError(f"{sighting.address}: pairing failed ({describe(e)}); "
                                   + PAIRING_HELP) from e
        sec = await link_security(client)
        problem = sec.problem()
        if problem is not None:
            raise PairingError(f"{sighting.address}: {problem}")
        await _band_accepts(client, sighting)
        record = _record(sighting, sec, client.address, trust_existing)
        registry.put(record)
    finally:
        with contextlib.suppress(BleakError, TimeoutError, OSError):
            await client.disconnect()
    out(f"bonded with {record.name or '?'} ({record.address}): " + summary(record))
    out(f"stored in {registry.path}")
    return record


def summary(r: BondRecord) -> str:
    parts = [
        {True: "LE Secure Connections", False: "LE legacy pairing",
         None: "pairing method not reported"}[r.secure_connections],
        {True: "passkey (MITM-protected) key", False: "Just Works key (no MITM protection)",
         None: "key strength not reported by the stack"}[r.authenticated],
    ]
    if r.ltk_sha256:
        parts.append(f"LTK fingerprint {r.ltk_sha256}")
    return ", ".join(parts)


async def _band_accepts(client: BleakClient, sighting: Sighting) -> None:
    """The band serves its metadata only on a link it trusts: the bond works both ways."""
    try:
        async with asyncio.timeout(READ_TIMEOUT_S):
            meta = bytes(await client.read_gatt_char(META_UUID))
        decode_meta(meta)
    except (BleakError, TimeoutError, OSError) as e:
        raise PairingError(f"{sighting.address}: the band does not accept this link "
                           f"({describe(e)}): is it a twitchwatch band with current "
                           "firmware?") from e
    except ProtocolError as e:
        raise PairingError(f"{sighting.address}: not a twitchwatch band ({e})") from e


def _record(sighting: Sighting, sec: LinkSecurity, address: str,
            trust_existing: bool) -> BondRecord:
    return BondRecord(
        address=(sec.identity or address).upper(), name=sighting.name,
        paired_at=BondRecord.now(), how="trust-existing" if trust_existing else "pair",
        address_type=sec.address_type, authenticated=sec.authenticated,
        secure_connections=sec.secure_connections, ltk_sha256=sec.ltk_sha256,
        irk_sha256=sec.irk_sha256)


async def _unpair(sighting: Sighting, backend: BleBackend | None, adapter: str | None,
                  out: Callable[[str], None]) -> None:
    """Remove the stack's bond (BlueZ: RemoveDevice) so that a new pairing can start."""
    client = BleakClient(sighting.device, timeout=CONNECT_TIMEOUT_S,
                         **client_kwargs(backend, adapter))
    try:
        await client.unpair()
    except (BleakError, TimeoutError, OSError, NotImplementedError) as e:
        raise PairingError(f"{sighting.address}: cannot remove the old bond ({describe(e)}); "
                           f"remove it by hand: bluetoothctl remove {sighting.address}") from e
    out(f"removed the Bluetooth stack's old bond with {sighting.address}")


async def forget_band(selector: BandSelector, registry: BondRegistry, *,
                      backend: BleBackend | None = None, adapter: str | None = None,
                      scan_timeout_s: float = 10.0,
                      out: Callable[[str], None] = lambda _s: None) -> list[BondRecord]:
    """Drop the gateway's record(s) of the band and, if it is in range, the stack's bond."""
    records = registry.matching(selector)
    if not records:
        raise PairingError(f"no bonded band matches {selector} (`twitchwatch pair --list`)")
    for rec in records:
        registry.remove(rec.address)
        out(f"forgot {rec.name or '?'} ({rec.address}) in {registry.path}")
        sighting = await find_band(BandSelector(address=rec.address), scan_timeout_s,
                                   backend=backend, adapter=adapter)
        if sighting is None:
            out(f"{rec.address} is not in range: remove the stack's bond by hand if you "
                f"want it gone (bluetoothctl remove {rec.address})")
            continue
        if device_bonded(sighting.device) is False:
            continue
        await _unpair(sighting, backend, adapter, out)
    out("the band keeps its own copy of the bond until you clear it (hold BOOT 10 s)")
    return records
