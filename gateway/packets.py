"""What sources hand to the pipeline: bytes from a band, with the time they arrived.

A source is an async context manager that is also an async iterator of ``Packet``.
Data, metadata and status packets carry the characteristic's bytes exactly as received;
link packets carry a small JSON object (``{"event": "connected", "rssi": -60, ...}``).
Recording stores packets verbatim, so replay feeds the pipeline the same bytes.
"""

from __future__ import annotations

import enum
import json
import time
from dataclasses import dataclass
from typing import Any


class Kind(enum.IntEnum):
    DATA = 1
    META = 2
    STATUS = 3
    LINK = 4


@dataclass(frozen=True, slots=True)
class Packet:
    band: str
    kind: Kind
    payload: bytes
    recv_wall_ns: int  # time.time_ns() on arrival: only the storage boundary uses it
    recv_mono_ns: int  # time.monotonic_ns() on arrival: ordering and rates inside

    @classmethod
    def now(cls, band: str, kind: Kind, payload: bytes) -> Packet:
        return cls(band, kind, bytes(payload), time.time_ns(), time.monotonic_ns())

    @classmethod
    def link(cls, band: str, event: str, **info: Any) -> Packet:
        body = json.dumps({"event": event, **info}, sort_keys=True).encode()
        return cls.now(band, Kind.LINK, body)

    def link_info(self) -> dict[str, Any]:
        """The JSON body of a LINK packet."""
        info = json.loads(self.payload)
        if not isinstance(info, dict):
            raise ValueError(f"link packet from {self.band} is not a JSON object")
        return info
