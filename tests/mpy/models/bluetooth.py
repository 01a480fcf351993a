# Model of MicroPython's `bluetooth` module on an ESP32 (NimBLE), with the radio link
# and an emulated central (`central`).
#
# What it reproduces, failures included:
# - BLE() is a singleton; IRQs run outside the app's tasks (as scheduled callbacks);
#   the addr in connect/disconnect IRQs is a memoryview into a buffer the stack reuses.
# - ATT MTU is 23 until the central starts an exchange; it is then min(central, the
#   band's config(mtu=...)), whose default here is 23, so a band that never sets it
#   never gets more. Notifications longer than MTU - 3 are truncated, as NimBLE does.
# - gatts_notify copies into a fixed pool of controller buffers (tx_queue of them) and
#   raises OSError(ENOMEM) when none is free; OSError(ENOTCONN) on a stale handle. It
#   sends whether or not the central subscribed, and has no completion event.
# - Connection events every interval_us move up to per_event queued packets to the
#   central. A link drop silences the radio: nothing moves, the queue fills, and after
#   the supervision timeout both sides see a disconnect and whatever was queued is lost.
# - Advertising stops when a central connects; the band must advertise again after a
#   disconnect or the central never comes back.
# - Writes from the central are truncated to the characteristic's buffer (20 bytes unless
#   gatts_set_buffer), then _IRQ_GATTS_WRITE.
#
# Security, as MicroPython's NimBLE binding on the ESP32 does it (field notes,
# security-ble-mqtt.md section 1, and the sources quoted there):
# - config(bond, mitm, io, le_secure) only configure; activating the stack asks the app
#   for its own IRK (GET_SECRET type 10, key b"irk") and saves a new random one with
#   SET_SECRET if there is none (a refusal leaves NimBLE's fixed default IRK).
# - Secrets: key = the peer's raw ble_addr_t (type + 6 bytes, little-endian), value = an
#   opaque struct ble_store_value_sec blob whose length must be exact or it counts as
#   missing; SET_SECRET with value None deletes; key None in GET_SECRET means "the
#   index'th entry of that type". NimBLE ignores what SET_SECRET returns when it stores
#   the keys of a pairing.
# - Pairing (LE Secure Connections, the association of the two io capabilities): Passkey
#   Entry fires _IRQ_PASSKEY_ACTION (display) and waits up to 30 s for gap_passkey; a
#   wrong or missing passkey fails the pairing (_IRQ_ENCRYPTION_UPDATE with encrypted 0).
#   A mitm flag does not refuse a Just Works pairing: the key is just not authenticated.
# - A peer with a stored bond that pairs again: MicroPython deletes the bond and retries,
#   and NimBLE reads the store again; a store that keeps the bond would loop forever (the
#   model raises instead).
# - Re-encryption: the band's stack looks up our LTK (GET_SECRET type 1); none: the
#   central's encryption fails (BlueZ then drops the link); another LTK: MIC failure.
# - ATT permissions, NimBLE's order: READ/WRITE not permitted (0x02/0x03); encryption or
#   authentication required on an unencrypted link: 0x0F if the store holds a key for the
#   peer, else 0x05; authentication required on an unauthenticated link: 0x05.
# - gatts_notify ignores all of that, and the CCCD too (no subscription model at all).
import errno
import os

import sim

FLAG_READ = 0x0002
FLAG_WRITE_NO_RESPONSE = 0x0004
FLAG_WRITE = 0x0008
FLAG_NOTIFY = 0x0010
FLAG_INDICATE = 0x0020
FLAG_READ_ENCRYPTED = 0x0200
FLAG_READ_AUTHENTICATED = 0x0400
FLAG_WRITE_ENCRYPTED = 0x1000
FLAG_WRITE_AUTHENTICATED = 0x2000

_IRQ_CENTRAL_CONNECT = 1
_IRQ_CENTRAL_DISCONNECT = 2
_IRQ_GATTS_WRITE = 3
_IRQ_MTU_EXCHANGED = 21
_IRQ_CONNECTION_UPDATE = 27
_IRQ_ENCRYPTION_UPDATE = 28
_IRQ_GET_SECRET = 29
_IRQ_SET_SECRET = 30
_IRQ_PASSKEY_ACTION = 31

IO_DISPLAY_ONLY = 0
IO_DISPLAY_YESNO = 1
IO_KEYBOARD_ONLY = 2
IO_NO_INPUT_OUTPUT = 3
IO_KEYBOARD_DISPLAY = 4
PASSKEY_DISPLAY = 3

SEC_OUR = 1
SEC_PEER = 2
SEC_OWN_IRK = 10
# The model's struct ble_store_value_sec: peer addr (7), key size, ediv (2), rand (8),
# LTK (16), ltk_present, IRK (16), irk_present, flags (bit 0 authenticated, bit 1 sc),
# padded to the size the model calls sizeof(). The firmware must treat it as opaque.
SEC_SIZE = 80
_LTK_AT = 18
_FLAGS_AT = 52
SMP_TIMEOUT_US = 30_000_000
ATT_READ_NOT_PERMITTED = 0x02
ATT_WRITE_NOT_PERMITTED = 0x03
ATT_INSUFFICIENT_AUTHENTICATION = 0x05
ATT_INSUFFICIENT_ENCRYPTION = 0x0F
_DEFAULT_IRK = bytes(16)  # stands for NimBLE's fixed default IRK


def make_sec_blob(key7, ltk, authenticated):
    b = bytearray(SEC_SIZE)
    b[0:7] = key7
    b[7] = 16
    b[_LTK_AT:_LTK_AT + 16] = ltk
    b[34] = 1
    b[_FLAGS_AT] = (1 if authenticated else 0) | 2
    return bytes(b)


def sec_blob_ltk(blob):
    """(LTK, authenticated) from a value blob; None if it has not the struct's size."""
    if blob is None or len(blob) != SEC_SIZE:
        return None
    return bytes(blob[_LTK_AT:_LTK_AT + 16]), bool(blob[_FLAGS_AT] & 1)


class UUID:
    def __init__(self, value):
        if isinstance(value, int):
            self.v = value
        else:
            self.v = value.lower()

    def __eq__(self, other):
        return isinstance(other, UUID) and other.v == self.v

    def __hash__(self):
        return hash(self.v)

    def __repr__(self):
        return "UUID(%r)" % (self.v,)


class _BLE:
    def __init__(self):
        self._active = False
        self._irq = None
        self.mtu_pref = 23
        self.gap_name = b"MPY ESP32"
        self.mac = b"\x24\x6f\x28\x1a\xc3\x5e"
        self.values = {}
        self.bufsize = {}
        self.uuids = {}  # value handle -> UUID
        self.services = []
        self.adv = None  # advertising payload while advertising
        self.adv_interval_us = 0
        self.registered = False
        self.flags = {}  # value handle -> characteristic flags
        # Security settings: MicroPython's defaults until config() changes them.
        self.io = IO_NO_INPUT_OUTPUT
        self.mitm = False
        self.bond = False
        self.le_secure = False
        self.own_irk = None
        self.irk_saved = False
        self.injected = {}  # conn -> passkey given to gap_passkey
        self.secret_gets = 0
        self.secret_sets = 0

    def active(self, v=None):
        if v is None:
            return self._active
        was = self._active
        self._active = bool(v)
        if not v:
            self.adv = None
        elif not was:
            self._load_irk()
        return self._active

    def _load_irk(self):
        irk = self._get(SEC_OWN_IRK, 0, b"irk")
        if irk is not None and len(irk) == 16:
            self.own_irk = bytes(irk)
            self.irk_saved = True
            return
        irk = os.urandom(16)
        self.irk_saved = self._set(SEC_OWN_IRK, b"irk", irk)
        self.own_irk = irk if self.irk_saved else _DEFAULT_IRK

    def _get(self, sec_type, index, key):
        self.secret_gets += 1
        v = self._fire(_IRQ_GET_SECRET, (sec_type, index, None if key is None
                                         else memoryview(key)))
        if v is not None and sec_type in (SEC_OUR, SEC_PEER) and len(v) != SEC_SIZE:
            return None  # MicroPython: a blob of the wrong size is "not found"
        return None if v is None else bytes(v)

    def _set(self, sec_type, key, value):
        self.secret_sets += 1
        return bool(self._fire(_IRQ_SET_SECRET, (sec_type, memoryview(key),
                                                 None if value is None else memoryview(value))))

    def config(self, *args, **kw):
        if args:
            k = args[0]
            if k == "mac":
                return (0, self.mac)
            if k == "mtu":
                return self.mtu_pref
            if k == "gap_name":
                return self.gap_name
            raise ValueError("unknown config param")
        for k, v in kw.items():
            if k == "mtu":
                if not 23 <= v <= 517:
                    raise ValueError("mtu")
                self.mtu_pref = v
            elif k == "gap_name":
                self.gap_name = v.encode() if isinstance(v, str) else bytes(v)
            elif k == "io":
                if v not in (0, 1, 2, 3, 4):
                    raise ValueError("io")
                self.io = v
            elif k in ("bond", "mitm", "le_secure"):
                setattr(self, k, bool(v))
            elif k in ("rxbuf", "addr_mode"):
                pass
            else:
                raise ValueError("unknown config param")

    def irq(self, handler):
        self._irq = handler

    def _fire(self, event, data):
        if self._irq is not None:
            return self._irq(event, data)
        return None

    def gap_advertise(self, interval_us, adv_data=None, resp_data=None, connectable=True):
        if not self._active:
            raise OSError(errno.EPERM)
        if interval_us is None:
            self.adv = None
            return
        if adv_data is not None and len(adv_data) > 31:
            raise ValueError("advertising data too long")
        self.adv = bytes(adv_data or b"")
        self.adv_interval_us = interval_us
        central._advertising()

    def gatts_register_services(self, services):
        if not self._active:
            raise OSError(errno.EPERM)
        h = 0
        out = []
        for svc_uuid, chars in services:
            h += 1  # service declaration
            self.services.append(svc_uuid)
            handles = []
            for ch in chars:
                uuid, flags = ch[0], ch[1]
                h += 2  # characteristic declaration, value
                self.values[h] = b""
                self.bufsize[h] = 20
                self.uuids[h] = uuid
                self.flags[h] = flags
                handles.append(h)
                if flags & (FLAG_NOTIFY | FLAG_INDICATE):
                    h += 1  # CCCD
            out.append(tuple(handles))
        self.registered = True
        return tuple(out)

    def handle_of(self, uuid):
        for h, u in self.uuids.items():
            if u == uuid:
                return h
        raise KeyError(uuid)

    def gatts_read(self, handle):
        return self.values[handle]

    def gatts_write(self, handle, data, send_update=False):
        # Any buffer, str included (MicroPython's str has the buffer protocol).
        self.values[handle] = data.encode() if isinstance(data, str) else bytes(data)

    def gatts_set_buffer(self, handle, n, append=False):
        self.bufsize[handle] = n

    def gatts_notify(self, conn_handle, value_handle, data=None):
        central._notify(conn_handle, value_handle, data)

    def gatts_indicate(self, conn_handle, value_handle, data=None):
        raise OSError(errno.EINVAL)  # the band's profile has nothing to indicate

    def gap_disconnect(self, conn_handle):
        if conn_handle != central.conn:
            return False
        central._disconnect(True)
        return True

    def gap_passkey(self, conn_handle, action, passkey):
        if conn_handle != central.conn:
            raise OSError(errno.ENOTCONN)
        self.injected[conn_handle] = (action, passkey)

    def gap_pair(self, conn_handle):
        raise OSError(errno.EINVAL)  # the band never initiates: the central pairs


_ble = _BLE()


def BLE():
    return _ble


class Central:
    """The radio link and a central (a gateway's adapter) that wants to stay connected.

    Scenario knobs: mtu (what the central offers; None: it never starts an exchange),
    interval_us, per_event, tx_queue, supervision_us, scan_delay_us. Every packet that
    reaches the central goes to sink.on_packet(handle, buf, n, conn).

    Security: by default the central is the owner's gateway behind BlueZ with an agent:
    on each connection it encrypts with its LTK if it holds one (BlueZ connects bonded
    devices at security level medium), else it pairs once, typing the passkey the band's
    console shows (`typed` overrides what the user types). `secure = False` makes a
    central that never starts security; identity() / assume() swap centrals."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.mtu_offer = 247
        self.interval_us = 30_000
        self.per_event = 4
        self.tx_queue = 8
        self.supervision_us = 4_000_000
        self.scan_delay_us = 400_000
        self.sink = None
        self.want = False  # the central tries to connect
        self.radio_ok = True
        self.conn = -1
        self._next_conn = 64
        self.mtu = 23
        self.t_conn = 0
        self.due_us = -1
        self._pool = [bytearray(517) for _ in range(64)]
        self._len = [0] * 64
        self._hdl = [0] * 64
        self._head = 0
        self._n = 0
        self._addr = bytearray(b"\x00\x1a\x7d\xda\x71\x13")
        self._connect_pending = False
        self.connects = 0
        self.disconnects = 0
        self.packets = 0
        self.lost_in_controller = 0  # packets queued when a link dropped
        self.enomem = 0
        self.max_queued = 0
        self._die_in_notify = -1
        self.died_in_notify = 0
        # security: who this central is, and what it does
        self.addr = bytes(self._addr)  # identity address (public), display byte order
        self.ltk = None  # the LTK of its bond with the band, or None
        self.ltk_auth = False
        self.io = IO_KEYBOARD_DISPLAY  # bluetoothctl's default agent
        self.mitm = True
        self.bond = True
        self.secure = True
        self.pair_allowed = True  # a user tries one pairing, not one per reconnect
        self.typed = None
        self.type_delay_us = 3_000_000  # reading the console, typing six digits
        self.enc = False
        self.auth = False
        self._pk_t0 = 0
        self.att_errors = []  # (op, ATT error) the band's stack answered
        self.pairings = 0
        self.pair_failures = 0
        self.repeat_pairings = 0
        self.key_missing = 0
        self.mic_failures = 0
        self.encryptions = 0
        if self not in sim.sources:
            sim.sources.append(self)

    # --- scenario side ---------------------------------------------------------------

    def start(self, at_us=0):
        sim.at(at_us, self._want, True)

    def _want(self, on):
        self.want = on
        if on:
            self._advertising()

    def _advertising(self):
        if self.want and self.radio_ok and self.conn < 0 and _ble.adv is not None \
                and not self._connect_pending:
            self._connect_pending = True
            sim.after(self.scan_delay_us, self._connect)

    def _connect(self, _):
        self._connect_pending = False
        if not (self.want and self.radio_ok and self.conn < 0 and _ble.adv is not None):
            return
        _ble.adv = None
        self.conn = self._next_conn
        self._next_conn += 1
        self.mtu = 23
        self.t_conn = sim.now_us
        self.connects += 1
        _ble._fire(_IRQ_CENTRAL_CONNECT, (self.conn, 0, memoryview(self._addr)))
        conn = self.conn
        if self.mtu_offer is not None:
            sim.after(25_000, self._exchange, conn)
        if self.secure:
            sim.after(40_000, self._secure, conn)
        sim.after(60_000, self._update, conn)

    def _exchange(self, conn):
        if conn == self.conn:
            self.mtu = min(self.mtu_offer, _ble.mtu_pref)
            _ble._fire(_IRQ_MTU_EXCHANGED, (conn, self.mtu))

    def _update(self, conn):
        if conn == self.conn:
            _ble._fire(_IRQ_CONNECTION_UPDATE,
                       (conn, self.interval_us * 4 // 5000, 0, self.supervision_us // 10_000, 0))

    def drop(self, at_us, outage_us):
        """The band walks out of range at at_us and comes back outage_us later."""
        sim.at(at_us, self._radio, False)
        sim.at(at_us + outage_us, self._radio, True)

    def _radio(self, ok):
        self.radio_ok = ok
        if not ok:
            if self.conn >= 0:
                sim.after(self.supervision_us, self._timeout, self.conn)
        else:
            if self.conn >= 0 and self._n and self.due_us < 0:
                k = (sim.now_us - self.t_conn) // self.interval_us + 1
                self.due_us = self.t_conn + k * self.interval_us
            self._advertising()

    def _timeout(self, conn):
        if conn == self.conn and not self.radio_ok:
            self._disconnect(False)

    def hang_up(self, at_us, away_us):
        """The central disconnects (LL_TERMINATE) and reconnects away_us later."""
        sim.at(at_us, self._hang_up, away_us)

    def _hang_up(self, away_us):
        if self.conn >= 0:
            self.want = False
            self._disconnect(False)
            sim.after(away_us, self._want, True)

    def write(self, at_us, data):
        sim.at(at_us, self._write, bytes(data))

    def _write(self, data):
        if self.conn < 0 or not self.radio_ok:
            return
        h = _ble.handle_of(UUID("7a1e0004-5c2b-4d0e-9a6f-747761746368"))
        err = self._att_check(h, True)
        if err:
            self.att_errors.append(("write", err))
            return
        _ble.values[h] = data[:_ble.bufsize[h]]
        _ble._fire(_IRQ_GATTS_WRITE, (self.conn, h))

    def read(self, uuid):
        """The stored value, for the harness (no ATT rules: see att_read)."""
        return _ble.values[_ble.handle_of(uuid)]

    def att_read(self, uuid):
        """An ATT read over the link: (0, value), (ATT error, None), or (-1, None) when
        there is no link."""
        if self.conn < 0 or not self.radio_ok:
            return -1, None
        h = _ble.handle_of(uuid)
        err = self._att_check(h, False)
        if err:
            self.att_errors.append(("read", err))
            return err, None
        return 0, _ble.values[h]

    def _att_check(self, h, write):
        flags = _ble.flags.get(h, 0)
        if write:
            if not flags & (FLAG_WRITE | FLAG_WRITE_NO_RESPONSE):
                return ATT_WRITE_NOT_PERMITTED
            enc, authen = flags & FLAG_WRITE_ENCRYPTED, flags & FLAG_WRITE_AUTHENTICATED
        else:
            if not flags & FLAG_READ:
                return ATT_READ_NOT_PERMITTED
            enc, authen = flags & FLAG_READ_ENCRYPTED, flags & FLAG_READ_AUTHENTICATED
        if not (enc or authen):
            return 0
        if not self.enc:
            known = sec_blob_ltk(_ble._get(SEC_PEER, 0, self.key7())) is not None
            return ATT_INSUFFICIENT_ENCRYPTION if known else ATT_INSUFFICIENT_AUTHENTICATION
        if authen and not self.auth:
            return ATT_INSUFFICIENT_AUTHENTICATION
        return 0

    # --- security --------------------------------------------------------------------

    def key7(self):
        """The raw ble_addr_t NimBLE keys its store by: type, then the address LSB first."""
        return bytes([0]) + bytes(reversed(self.addr))

    def identity(self):
        return {k: getattr(self, k) for k in (
            "addr", "ltk", "ltk_auth", "io", "mitm", "bond", "secure", "pair_allowed",
            "typed")}

    def assume(self, ident):
        """Become another central (another host with its own address and keys)."""
        for k, v in ident.items():
            setattr(self, k, v)
        self._addr[:] = self.addr

    def pair(self, at_us):
        """The user asks this central to pair (again) at at_us."""
        def go(_):
            self.pair_allowed = True
            if self.conn >= 0:
                self._pair(self.conn)
        sim.at(at_us, go)

    def _secure(self, conn):
        if conn != self.conn:
            return
        if self.ltk is not None:
            self._encrypt(conn)
        elif self.pair_allowed:
            self._pair(conn)

    def _encrypt(self, conn):
        found = sec_blob_ltk(_ble._get(SEC_OUR, 0, self.key7()))
        if found is None:
            # The band's stack has no LTK for us: LTK negative reply; BlueZ drops the link.
            self.key_missing += 1
            self._disconnect(False)
            return
        if found[0] != self.ltk:
            self.mic_failures += 1  # the two sides cannot decrypt each other
            self._disconnect(False)
            return
        self.enc = True
        self.auth = found[1]
        self.encryptions += 1
        _ble._fire(_IRQ_ENCRYPTION_UPDATE, (conn, 1, 1 if found[1] else 0, 1, 16))

    def _method(self):
        """LE Secure Connections association for the io capabilities the band may offer."""
        if not (_ble.mitm or self.mitm):
            return "justworks"
        if _ble.io == IO_NO_INPUT_OUTPUT:
            return "justworks"
        if _ble.io == IO_DISPLAY_ONLY:
            if self.io in (IO_KEYBOARD_ONLY, IO_KEYBOARD_DISPLAY):
                return "passkey"  # the band displays, the central's user types
            return "justworks"
        raise NotImplementedError("the model pairs a band that offers DisplayOnly or "
                                  "NoInputNoOutput")

    def _pair(self, conn):
        self.pair_allowed = False
        self.pairings += 1
        key = self.key7()
        for _ in range(3):  # BLE_GAP_EVENT_REPEAT_PAIRING: delete, RETRY, read again
            if _ble._get(SEC_PEER, 0, key) is None:
                break
            self.repeat_pairings += 1
            _ble._set(SEC_OUR, key, None)
            _ble._set(SEC_PEER, key, None)
        else:
            raise RuntimeError("NimBLE would loop forever: the store kept a bond it was "
                               "told to delete (repeat pairing)")
        if self._method() == "passkey":
            self._pk_t0 = sim.now_us
            _ble.injected.pop(conn, None)
            _ble._fire(_IRQ_PASSKEY_ACTION, (conn, PASSKEY_DISPLAY, 0))
            sim.after(self.type_delay_us, self._passkey_typed, conn)
        else:
            sim.after(100_000, self._pair_done, (conn, False))

    def _passkey_typed(self, conn):
        if conn != self.conn:
            return  # the band ended the link: pairing over
        shown = _ble.injected.get(conn)
        typed = self.typed if self.typed is not None else sim.console_passkey()
        if shown is None or typed is None:
            if sim.now_us - self._pk_t0 >= SMP_TIMEOUT_US:
                self._pair_failed(conn)  # SMP time-out
            else:
                sim.after(500_000, self._passkey_typed, conn)
            return
        if typed != shown[1]:
            self._pair_failed(conn)  # confirm values differ: "Confirm Value Failed"
            return
        self._pair_done((conn, True))

    def _pair_failed(self, conn):
        self.pair_failures += 1
        _ble.injected.pop(conn, None)
        _ble._fire(_IRQ_ENCRYPTION_UPDATE, (conn, 0, 0, 0, 0))

    def _pair_done(self, arg):
        conn, authenticated = arg
        if conn != self.conn:
            return
        _ble.injected.pop(conn, None)
        ltk = os.urandom(16)
        bonded = _ble.bond and self.bond
        if bonded:
            blob = make_sec_blob(self.key7(), ltk, authenticated)
            _ble._set(SEC_OUR, self.key7(), blob)  # NimBLE does not look at the answers
            _ble._set(SEC_PEER, self.key7(), blob)
            self.ltk = ltk
            self.ltk_auth = authenticated
        self.enc = True
        self.auth = authenticated
        _ble._fire(_IRQ_ENCRYPTION_UPDATE, (conn, 1, 1 if authenticated else 0,
                                            1 if bonded else 0, 16))

    def band_reset(self):
        """The band lost power: the link is gone without a word from it."""
        if self.conn >= 0:
            self._head = self._n = 0
            self.due_us = -1
            self.conn = -1
            self.mtu = 23
            self.enc = self.auth = False
            self.disconnects += 1

    # --- controller side ---------------------------------------------------------------

    def _disconnect(self, local):
        self.lost_in_controller += self._n
        self._head = self._n = 0
        self.due_us = -1
        conn = self.conn
        self.conn = -1
        self.mtu = 23
        self.enc = self.auth = False
        self.disconnects += 1
        _ble._fire(_IRQ_CENTRAL_DISCONNECT, (conn, 0, memoryview(self._addr)))

    def die_in_notify(self, at_us, away_us):
        """The link dies inside the first gatts_notify after at_us: the disconnect IRQ runs
        right there (a scheduled callback between two bytecodes) and the call raises
        ENOTCONN; the central reconnects away_us later."""
        sim.at(at_us, self._arm_death, away_us)

    def _arm_death(self, away_us):
        self._die_in_notify = away_us

    def _notify(self, conn, handle, data):
        if not _ble._active:
            raise OSError(errno.EPERM)
        if self._die_in_notify >= 0 and conn == self.conn:
            away = self._die_in_notify
            self._die_in_notify = -1
            self.want = False
            self._disconnect(False)
            sim.after(away, self._want, True)
            self.died_in_notify += 1
            raise OSError(errno.ENOTCONN)
        if conn != self.conn or conn < 0:
            raise OSError(errno.ENOTCONN)
        if self._n >= self.tx_queue:
            self.enomem += 1
            raise OSError(errno.ENOMEM)
        if data is None:
            data = _ble.values[handle]
        n = len(data)
        limit = self.mtu - 3
        i = (self._head + self._n) % len(self._pool)
        buf = self._pool[i]
        if n > limit:
            data = data[:limit]  # NimBLE truncates to the MTU
            n = limit
        buf[0:n] = data
        self._len[i] = n
        self._hdl[i] = handle
        self._n += 1
        if self._n > self.max_queued:
            self.max_queued = self._n
        if self.due_us < 0:
            k = (sim.now_us - self.t_conn) // self.interval_us + 1
            self.due_us = self.t_conn + k * self.interval_us

    def fire(self):
        """A connection event: up to per_event queued packets reach the central."""
        if self.radio_ok:
            for _ in range(self.per_event):
                if self._n == 0:
                    break
                i = self._head
                self._head = (i + 1) % len(self._pool)
                self._n -= 1
                self.packets += 1
                if self.sink is not None:
                    self.sink.on_packet(self._hdl[i], self._pool[i], self._len[i], self.conn)
        if self._n and self.radio_ok:
            self.due_us += self.interval_us
        else:
            self.due_us = -1


central = Central()
