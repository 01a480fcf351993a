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
import errno

import sim

FLAG_READ = 0x0002
FLAG_WRITE_NO_RESPONSE = 0x0004
FLAG_WRITE = 0x0008
FLAG_NOTIFY = 0x0010
FLAG_INDICATE = 0x0020

_IRQ_CENTRAL_CONNECT = 1
_IRQ_CENTRAL_DISCONNECT = 2
_IRQ_GATTS_WRITE = 3
_IRQ_MTU_EXCHANGED = 21
_IRQ_CONNECTION_UPDATE = 27


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

    def active(self, v=None):
        if v is None:
            return self._active
        self._active = bool(v)
        if not v:
            self.adv = None
        return self._active

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
            elif k in ("rxbuf", "addr_mode", "io", "bond", "mitm", "le_secure"):
                pass
            else:
                raise ValueError("unknown config param")

    def irq(self, handler):
        self._irq = handler

    def _fire(self, event, data):
        if self._irq is not None:
            self._irq(event, data)

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


_ble = _BLE()


def BLE():
    return _ble


class Central:
    """The radio link and a central (a gateway's adapter) that wants to stay connected.

    Scenario knobs: mtu (what the central offers; None: it never starts an exchange),
    interval_us, per_event, tx_queue, supervision_us, scan_delay_us. Every packet that
    reaches the central goes to sink.on_packet(handle, buf, n, conn)."""

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
        _ble.values[h] = data[:_ble.bufsize[h]]
        _ble._fire(_IRQ_GATTS_WRITE, (self.conn, h))

    def read(self, uuid):
        return _ble.values[_ble.handle_of(uuid)]

    # --- controller side ---------------------------------------------------------------

    def _disconnect(self, local):
        self.lost_in_controller += self._n
        self._head = self._n = 0
        self.due_us = -1
        conn = self.conn
        self.conn = -1
        self.mtu = 23
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
