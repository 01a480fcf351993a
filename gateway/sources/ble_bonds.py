"""The bands this gateway bonded with (``twitchwatch pair``), kept in its state directory.

    <state dir>/bonds.json     0600, in a 0700 directory

The keys themselves stay in the Bluetooth stack's own store (BlueZ keeps them under
/var/lib/bluetooth, root only). This file holds what the gateway checks before it trusts
a band: its identity address (the address BlueZ reports for a bonded device, resolvable
private addresses already resolved), the name it had when paired, and, when the stack
shows them, a fingerprint of the bond's LTK and the band's IRK (the first 16 hex digits
of their SHA-256; no key can be recovered from them) and whether the key was made with
MITM protection. See docs/security.md.

The state directory is ``[ble] state_dir``, else ``$TWITCHWATCH_STATE_DIR``, else
``$XDG_STATE_HOME/twitchwatch``, else ``~/.local/state/twitchwatch``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import pathlib
import stat
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields

from ..errors import TwitchwatchError
from .ble_config import BandSelector, is_address

log = logging.getLogger(__name__)

STATE_ENV = "TWITCHWATCH_STATE_DIR"
FILE_NAME = "bonds.json"
FORMAT = 1
MAX_FILE_BYTES = 1 << 20  # a few hundred bytes per band: anything this big is not ours


class BondFileError(TwitchwatchError):
    """The bonds file cannot be read or written."""


def default_state_dir() -> pathlib.Path:
    env = os.environ.get(STATE_ENV)
    if env:
        return pathlib.Path(env)
    xdg = os.environ.get("XDG_STATE_HOME")
    base = pathlib.Path(xdg) if xdg else pathlib.Path.home() / ".local" / "state"
    return base / "twitchwatch"


def fingerprint(key: bytes | None) -> str | None:
    """First 16 hex digits of the key's SHA-256: tells keys apart, reveals nothing."""
    return hashlib.sha256(key).hexdigest()[:16] if key else None


@dataclass(frozen=True, slots=True)
class BondRecord:
    address: str  # identity address, upper case
    name: str | None  # advertised name when paired
    paired_at: str  # ISO 8601, UTC
    how: str  # "pair": twitchwatch paired; "trust-existing": paired outside, checked here
    address_type: str | None = None  # "public" / "random", when the stack says
    authenticated: bool | None = None  # MITM-protected key (passkey), when the stack says
    secure_connections: bool | None = None  # LE Secure Connections, when the stack says
    ltk_sha256: str | None = None
    irk_sha256: str | None = None

    def __post_init__(self) -> None:
        if not is_address(self.address):
            raise ValueError(f"address {self.address!r} is not an address")
        object.__setattr__(self, "address", self.address.upper())
        for f in ("name", "address_type", "ltk_sha256", "irk_sha256"):
            v = getattr(self, f)
            if v is not None and (not isinstance(v, str) or len(v) > 64):
                raise ValueError(f"{f} = {v!r}: need a short string or null")
        for f in ("authenticated", "secure_connections"):
            v = getattr(self, f)
            if v is not None and not isinstance(v, bool):
                raise ValueError(f"{f} = {v!r}: need true, false or null")
        if self.how not in ("pair", "trust-existing"):
            raise ValueError(f"how = {self.how!r}: need pair or trust-existing")
        if not isinstance(self.paired_at, str):
            raise ValueError(f"paired_at = {self.paired_at!r}: need a timestamp")

    @staticmethod
    def now() -> str:
        return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()

    def matches(self, selector: BandSelector) -> bool:
        if selector.address is not None and selector.address != self.address:
            return False
        return selector.name is None or selector.name == self.name


class BondRegistry:
    """The bonds file: loaded at start, written atomically (0600) on every change."""

    def __init__(self, state_dir: str | os.PathLike[str] | None = None) -> None:
        self.dir = pathlib.Path(state_dir) if state_dir else default_state_dir()
        self.path = self.dir / FILE_NAME
        self._records: dict[str, BondRecord] = {}
        self.load()

    def __iter__(self) -> Iterator[BondRecord]:
        return iter(sorted(self._records.values(), key=lambda r: (r.name or "", r.address)))

    def __len__(self) -> int:
        return len(self._records)

    def get(self, address: str) -> BondRecord | None:
        return self._records.get(address.upper())

    def find(self, selector: BandSelector) -> BondRecord | None:
        """The bond of the band a [[band]] entry names, or None."""
        found = [r for r in self if r.matches(selector)]
        return found[0] if len(found) == 1 else None

    def matching(self, selector: BandSelector) -> list[BondRecord]:
        return [r for r in self if r.matches(selector)]

    # -- file -------------------------------------------------------------------------

    def load(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._records = {}
            return
        except OSError as e:
            raise BondFileError(f"{self.path}: cannot read ({e.strerror or e})") from e
        if st.st_size > MAX_FILE_BYTES:
            raise BondFileError(f"{self.path}: {st.st_size} bytes, not a bonds file")
        if st.st_mode & 0o077:
            log.warning("%s is readable by other users (mode %o): tightening it to 0600",
                        self.path, stat.S_IMODE(st.st_mode))
            with contextlib.suppress(OSError):
                os.chmod(self.path, 0o600)
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise BondFileError(f"{self.path}: not a bonds file ({e}); move it away and run "
                                "`twitchwatch pair` again") from e
        if not isinstance(doc, dict) or doc.get("format") != FORMAT \
                or not isinstance(doc.get("bands"), list):
            raise BondFileError(f"{self.path}: not a format-{FORMAT} bonds file")
        records = {}
        known = {f.name for f in fields(BondRecord)}
        for i, raw in enumerate(doc["bands"]):
            if not isinstance(raw, dict) or set(raw) - known:
                raise BondFileError(f"{self.path}: band #{i + 1} has unknown fields")
            try:
                rec = BondRecord(**raw)
            except (TypeError, ValueError) as e:
                raise BondFileError(f"{self.path}: band #{i + 1}: {e}") from e
            records[rec.address] = rec
        self._records = records

    def put(self, record: BondRecord) -> None:
        self._records[record.address] = record
        self._save()

    def remove(self, address: str) -> bool:
        gone = self._records.pop(address.upper(), None) is not None
        if gone:
            self._save()
        return gone

    def _save(self) -> None:
        doc = {"format": FORMAT, "bands": [asdict(r) for r in self]}
        data = (json.dumps(doc, indent=2) + "\n").encode()
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self._ensure_dir()
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()  # left by a crash: O_EXCL below must create a fresh 0600 file
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except OSError as e:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise BondFileError(f"{self.path}: cannot write ({e.strerror or e})") from e

    def _ensure_dir(self) -> None:
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        mode = stat.S_IMODE(self.dir.stat().st_mode)
        if mode & 0o077:
            os.chmod(self.dir, 0o700)
