# The band's bond store: what MicroPython's NimBLE binding asks for through
# _IRQ_GET_SECRET / _IRQ_SET_SECRET, kept in one file on the band's flash.
#
# Values are opaque blobs (NimBLE's struct ble_store_value_sec, whose layout depends on
# the NimBLE version): stored whole, never decoded. Keys are the peer's raw ble_addr_t.
#
# A connection works on an overlay: keys written and deleted while a central pairs stay
# pending (visible to the stack on that link) until the pairing policy commits them
# (pairing.py) or the link ends. So a refused pairing, or a stranger re-pairing with a
# bonded central's address, never touches the bonds on flash.
#
# File: b"TWB1", n, then n x (sec_type, len(key), len(value), key, value), then the
# first 8 bytes of SHA-256 over all of that. Written to a temporary file and renamed:
# littlefs renames atomically, so a power cut leaves the old file or the new one.
import hashlib
import os
import struct

from micropython import const

SEC_OUR = const(1)  # NimBLE BLE_STORE_OBJ_TYPE_OUR_SEC
SEC_PEER = const(2)  # BLE_STORE_OBJ_TYPE_PEER_SEC
SEC_OWN_IRK = const(10)  # MicroPython's own-IRK entry (key b"irk")
_MAGIC = b"TWB1"
_MAX_BLOB = const(255)


def _peer(sec_type):
    return sec_type == SEC_OUR or sec_type == SEC_PEER


class BondStore:
    def __init__(self, path, max_peers):
        self.path = path
        self.tmp = path + ".tmp"
        self.max_peers = max_peers
        self.entries = []  # [sec_type, key, value] on flash (and in RAM)
        self.pending = []  # written on the current link, not committed
        self.hidden = []  # (sec_type, key) deleted on the current link, not committed
        self.full = False  # a new peer was refused: max_peers bonds already
        self.dirty = False
        self.damaged = False  # the file existed but did not check out
        self.saves = 0
        try:
            os.mkdir(path.rsplit("/", 1)[0])
        except OSError:
            pass  # there already (or a mount point)
        self.load()

    # --- what the stack sees ---------------------------------------------------------

    def _find(self, lst, sec_type, key):
        for e in lst:
            if e[0] == sec_type and e[1] == key:
                return e
        return None

    def _is_hidden(self, sec_type, key):
        for h in self.hidden:
            if h[0] == sec_type and h[1] == key:
                return True
        return False

    def _visible(self, sec_type):
        out = [e for e in self.pending if e[0] == sec_type]
        for e in self.entries:
            if (e[0] == sec_type and not self._is_hidden(sec_type, e[1])
                    and self._find(self.pending, sec_type, e[1]) is None):
                out.append(e)
        return out

    def get(self, sec_type, index, key):
        """_IRQ_GET_SECRET: the value for key, or (key None) the index'th of that type."""
        if key is None:
            vis = self._visible(sec_type)
            return vis[index][2] if index < len(vis) else None
        key = bytes(key)
        e = self._find(self.pending, sec_type, key)
        if e is not None:
            return e[2]
        if self._is_hidden(sec_type, key):
            return None
        e = self._find(self.entries, sec_type, key)
        return e[2] if e is not None else None

    def set(self, sec_type, key, value):
        """_IRQ_SET_SECRET: False refuses (the stack then keeps the keys for this link only)."""
        key = bytes(key)
        if sec_type == SEC_OWN_IRK:
            # The band's own IRK, made once at first start: straight to flash.
            if value is None:
                return False
            self._put(self.entries, sec_type, key, bytes(value))
            self.dirty = True
            return True
        if not _peer(sec_type) or len(key) > _MAX_BLOB:
            return False
        if value is None:
            e = self._find(self.pending, sec_type, key)
            if e is not None:
                self.pending.remove(e)
            if self._find(self.entries, sec_type, key) is not None \
                    and not self._is_hidden(sec_type, key):
                self.hidden.append((sec_type, key))
            return True
        if len(value) > _MAX_BLOB:
            return False
        if not self._has_peer(key) and self._peer_count() >= self.max_peers:
            self.full = True
            return False
        self._put(self.pending, sec_type, key, bytes(value))
        return True

    def _put(self, lst, sec_type, key, value):
        e = self._find(lst, sec_type, key)
        if e is None:
            lst.append([sec_type, key, value])
        else:
            e[2] = value

    def _has_peer(self, key):
        for lst in (self.entries, self.pending):
            for e in lst:
                if _peer(e[0]) and e[1] == key:
                    return True
        return False

    def _peer_count(self):
        keys = []
        for lst in (self.entries, self.pending):
            for e in lst:
                if _peer(e[0]) and e[1] not in keys:
                    keys.append(e[1])
        return len(keys)

    def peers(self):
        """Centrals bonded on flash."""
        keys = []
        for e in self.entries:
            if _peer(e[0]) and e[1] not in keys:
                keys.append(e[1])
        return len(keys)

    def in_flux(self):
        """Something happened to the bonds on this link: a pairing (stored or refused)."""
        return bool(self.pending or self.hidden or self.full)

    # --- the policy's verdicts -------------------------------------------------------

    def commit(self):
        for sec_type, key in self.hidden:
            e = self._find(self.entries, sec_type, key)
            if e is not None:
                self.entries.remove(e)
        for sec_type, key, value in self.pending:
            self._put(self.entries, sec_type, key, value)
        self.dirty = self.dirty or self.in_flux()
        self.pending = []
        self.hidden = []
        self.full = False

    def rollback(self):
        self.pending = []
        self.hidden = []
        self.full = False

    def clear_peers(self):
        self.entries = [e for e in self.entries if not _peer(e[0])]
        self.rollback()
        self.dirty = True

    # --- flash -----------------------------------------------------------------------

    def load(self):
        try:
            os.remove(self.tmp)  # a write that a power cut interrupted
        except OSError:
            pass
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except OSError:
            return  # no bonds yet
        entries = self._parse(data)
        if entries is None:
            self.damaged = True
            return
        self.entries = entries

    def _parse(self, data):
        if len(data) < 13 or data[:4] != _MAGIC:
            return None
        body = data[:-8]
        if hashlib.sha256(body).digest()[:8] != data[-8:]:
            return None
        n = body[4]
        p = 5
        out = []
        for _ in range(n):
            if p + 3 > len(body):
                return None
            t, kl, vl = body[p], body[p + 1], body[p + 2]
            p += 3
            if p + kl + vl > len(body):
                return None
            out.append([t, bytes(body[p:p + kl]), bytes(body[p + kl:p + kl + vl])])
            p += kl + vl
        return out if p == len(body) else None

    def save(self):
        """Write the store if it changed. Raises OSError (flash full, I/O) to the caller."""
        if not self.dirty:
            return False
        body = bytearray(_MAGIC)
        body.append(len(self.entries))
        for t, k, v in self.entries:
            body.extend(struct.pack("BBB", t, len(k), len(v)))
            body.extend(k)
            body.extend(v)
        with open(self.tmp, "wb") as f:
            f.write(body)
            f.write(hashlib.sha256(body).digest()[:8])
        os.rename(self.tmp, self.path)
        self.dirty = False
        self.saves += 1
        return True
