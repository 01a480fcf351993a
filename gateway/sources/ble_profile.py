"""The band's GATT profile (docs/protocol.md) as the gateway addresses it over bleak."""

from __future__ import annotations

from bleak.uuids import normalize_uuid_16

SERVICE_UUID = "7a1e0001-5c2b-4d0e-9a6f-747761746368"
DATA_UUID = "7a1e0002-5c2b-4d0e-9a6f-747761746368"
META_UUID = "7a1e0003-5c2b-4d0e-9a6f-747761746368"
CONTROL_UUID = "7a1e0004-5c2b-4d0e-9a6f-747761746368"
STATUS_UUID = "7a1e0005-5c2b-4d0e-9a6f-747761746368"
BATTERY_LEVEL_UUID = normalize_uuid_16(0x2A19)

STATUS_SIZE = 40
# A notification carries ATT_MTU - 3 bytes, so a whole status record needs MTU 43.
STATUS_NOTIFY_MIN_MTU = STATUS_SIZE + 3
