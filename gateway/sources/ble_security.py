"""What the Bluetooth stack says about a band's bond and link, across bleak backends.

bleak has no portable call for "is this link encrypted, and with which key". So:

- A backend that can tell (the tests' bumble backend has ``link_security()``) is asked.
- On BlueZ, D-Bus shows ``Paired`` and ``Bonded`` for the device (also in
  ``BLEDevice.details["props"]`` from a scan) but no link state and no key. BlueZ
  connects a paired LE device at security level medium, so the kernel encrypts with the
  bonded LTK before any ATT traffic, or the connection fails (src/device.c,
  ``device_connect_le``). "Paired and connected" is therefore taken as "encrypted with
  the bonded key": inferred from BlueZ's code, not observed on the link.
- Any other backend: unknown, and the caller refuses the link.

See docs/security.md for what each of these proves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bleak import BleakClient
from bleak.backends.device import BLEDevice

log = logging.getLogger(__name__)

BLUEZ_BASIS = "BlueZ: a paired device is connected at security level medium"


@dataclass(frozen=True, slots=True)
class LinkSecurity:
    encrypted: bool | None  # None: the stack cannot say
    bonded: bool | None  # the stack holds a bond (keys) for this device
    authenticated: bool | None  # that bond's key is MITM-protected
    secure_connections: bool | None
    identity: str | None  # identity address as the stack knows it now
    address_type: str | None
    ltk_sha256: str | None
    irk_sha256: str | None
    basis: str  # where the answers come from

    def problem(self) -> str | None:
        """Why this link must not carry data, or None."""
        if not self.encrypted:
            return ("the link is not encrypted" if self.encrypted is False
                    else f"the link's encryption cannot be checked ({self.basis})")
        if not self.bonded:
            return "no bond with this band"
        if self.authenticated is False:
            return "the bond's key is not MITM-protected (Just Works): pair with the passkey"
        if self.secure_connections is False:
            return "the bond is LE legacy pairing, not LE Secure Connections"
        return None


def _bool(v: Any) -> bool | None:
    return v if isinstance(v, bool) else None


def device_bonded(device: BLEDevice) -> bool | None:
    """Whether the stack holds a bond for a scanned device (BlueZ ``Bonded``, else
    ``Paired``); None where the backend does not say."""
    details = device.details
    props = details.get("props") if isinstance(details, dict) else None
    if not isinstance(props, dict):
        return None
    bonded = _bool(props.get("Bonded"))
    return bonded if bonded is not None else _bool(props.get("Paired"))


async def link_security(client: BleakClient) -> LinkSecurity:
    backend = getattr(client, "_backend", None)
    probe = getattr(backend, "link_security", None)
    if callable(probe):
        d = await probe()
        return LinkSecurity(
            encrypted=_bool(d.get("encrypted")), bonded=_bool(d.get("bonded")),
            authenticated=_bool(d.get("authenticated")),
            secure_connections=_bool(d.get("secure_connections")),
            identity=d.get("identity"), address_type=d.get("address_type"),
            ltk_sha256=d.get("ltk_sha256"), irk_sha256=d.get("irk_sha256"),
            basis="the stack reports the link")
    if type(backend).__module__.startswith("bleak.backends.bluezdbus"):
        props = await _bluez_props(backend)
        paired = _bool(props.get("Paired"))
        bonded = _bool(props.get("Bonded"))
        if bonded is None:
            bonded = paired  # BlueZ before 5.65 has no Bonded
        addr_type = props.get("AddressType")
        return LinkSecurity(
            encrypted=bool(paired and client.is_connected), bonded=bonded,
            authenticated=None, secure_connections=None,
            identity=props.get("Address") or client.address,
            address_type=addr_type if isinstance(addr_type, str) else None,
            ltk_sha256=None, irk_sha256=None, basis=BLUEZ_BASIS)
    return LinkSecurity(None, None, None, None, client.address, None, None, None,
                        f"bleak backend {type(backend).__name__} does not say")


async def _bluez_props(backend: Any) -> dict[str, Any]:
    """The Device1 properties bleak's BlueZ manager holds for this client's device."""
    try:
        from bleak.backends.bluezdbus import defs
        from bleak.backends.bluezdbus.manager import get_global_bluez_manager

        manager = await get_global_bluez_manager()
        path = backend._device_path
        props = manager._properties[path][defs.DEVICE_INTERFACE]
        return dict(props)
    except Exception as e:  # private bleak internals: degrade to "cannot say"
        log.debug("BlueZ device properties unavailable: %s", e)
        return {}
