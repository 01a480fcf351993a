# Thin peripheral layer over MicroPython's `bluetooth` (aioble is not installable in the
# tests). The IRQ handler only records state and sets the app's wake flag; the app does
# everything else in its own task. The bond store answers the stack's secret requests
# from RAM (they need an answer at once); pairing.py decides which link is trusted.
import bluetooth
from micropython import const

import config
from bonds import BondStore
from pairing import IO_DISPLAY_ONLY, IO_NO_INPUT_OUTPUT, Security

_IRQ_CENTRAL_CONNECT = const(1)
_IRQ_CENTRAL_DISCONNECT = const(2)
_IRQ_GATTS_WRITE = const(3)
_IRQ_MTU_EXCHANGED = const(21)
_IRQ_CONNECTION_UPDATE = const(27)
_IRQ_ENCRYPTION_UPDATE = const(28)
_IRQ_GET_SECRET = const(29)
_IRQ_SET_SECRET = const(30)
_IRQ_PASSKEY_ACTION = const(31)

_FLAG_READ = const(0x0002)
_FLAG_WRITE = const(0x0008)
_FLAG_NOTIFY = const(0x0010)
_FLAG_READ_ENCRYPTED = const(0x0200)
_FLAG_READ_AUTHENTICATED = const(0x0400)
_FLAG_WRITE_ENCRYPTED = const(0x1000)
_FLAG_WRITE_AUTHENTICATED = const(0x2000)

SERVICE_UUID = "7a1e0001-5c2b-4d0e-9a6f-747761746368"
_DATA_UUID = "7a1e0002-5c2b-4d0e-9a6f-747761746368"
_META_UUID = "7a1e0003-5c2b-4d0e-9a6f-747761746368"
_CTRL_UUID = "7a1e0004-5c2b-4d0e-9a6f-747761746368"
_STATUS_UUID = "7a1e0005-5c2b-4d0e-9a6f-747761746368"
_CTL_QUEUE = const(4)


def uuid128_le(text):
    """The 16 advertising bytes of a 128-bit UUID (little-endian), without bytes(UUID)."""
    h = text.replace("-", "")
    out = bytearray(16)
    for i in range(16):
        out[15 - i] = int(h[2 * i:2 * i + 2], 16)
    return bytes(out)


def adv_payload(name, uuid_text):
    name_b = name.encode()
    return (b"\x02\x01\x06"  # LE general discoverable, no BR/EDR
            + b"\x11\x07" + uuid128_le(uuid_text)  # complete list of 128-bit services
            + bytes((len(name_b) + 1, 0x09)) + name_b)  # complete local name


def _security_flags():
    """(read, write) permission flags: NimBLE answers ATT errors 0x0F / 0x05 itself."""
    if config.REQUIRE_MITM:
        return (_FLAG_READ | _FLAG_READ_ENCRYPTED | _FLAG_READ_AUTHENTICATED,
                _FLAG_WRITE | _FLAG_WRITE_ENCRYPTED | _FLAG_WRITE_AUTHENTICATED)
    return _FLAG_READ | _FLAG_READ_ENCRYPTED, _FLAG_WRITE | _FLAG_WRITE_ENCRYPTED


class Link:
    def __init__(self, wake):
        self.wake = wake
        self.sec = Security(BondStore(config.BOND_FILE, config.MAX_BONDS), config)
        ble = bluetooth.BLE()
        self.ble = ble
        # Before active(True): starting the stack already asks for the band's own IRK
        # (_IRQ_GET_SECRET type 10) and saves a new one if there is none.
        ble.irq(self._irq)
        ble.config(bond=True, le_secure=True, mitm=config.REQUIRE_MITM,
                   io=IO_DISPLAY_ONLY if config.REQUIRE_MITM else IO_NO_INPUT_OUTPUT)
        ble.active(True)
        self.sec.ble = ble
        mac = ble.config("mac")[1]
        self.name = "%s%02x%02x" % (config.NAME_PREFIX, mac[4], mac[5])
        # The MTU is only the band's offer: the exchange gives min(this, the central's).
        ble.config(gap_name=self.name, mtu=config.PREFERRED_MTU)
        uuid = bluetooth.UUID
        rd, wr = _security_flags()
        # Notifications are not covered by these flags (gatts_notify sends regardless and
        # the CCCD is not encryption-gated on ESP32): band.py sends only to trusted links.
        tw = (uuid(SERVICE_UUID), (
            (uuid(_DATA_UUID), _FLAG_NOTIFY),
            (uuid(_META_UUID), rd),
            (uuid(_CTRL_UUID), wr),
            (uuid(_STATUS_UUID), rd | _FLAG_NOTIFY),
        ))
        battery = (uuid(0x180F), ((uuid(0x2A19), rd | _FLAG_NOTIFY),))
        info = (uuid(0x180A), (
            (uuid(0x2A29), rd),
            (uuid(0x2A24), rd),
            (uuid(0x2A26), rd),
        ))
        ((self.h_data, self.h_meta, self.h_ctrl, self.h_status), (self.h_battery,),
         (self.h_manufacturer, self.h_model, self.h_firmware)) = \
            ble.gatts_register_services((tw, battery, info))
        ble.gatts_set_buffer(self.h_ctrl, 32)  # the default 20 bytes would truncate writes
        self._adv = adv_payload(self.name, SERVICE_UUID)
        self.conn = -1
        self.mtu = 23
        # Event counters written only here and read by the app: no read-modify-write
        # shared with the IRQ, so a callback between two app bytecodes loses nothing.
        self.connects = 0
        self.disconnects = 0
        self.interval_ms = 0
        self.timeout_ms = 0
        self._ctl = [None] * _CTL_QUEUE
        self._ctl_w = 0  # written by the IRQ only
        self._ctl_r = 0  # written by the app only
        self.ctl_overrun = 0
        self.ctl_refused = 0  # control writes from a link that is not trusted

    @property
    def trusted(self):
        """The current central bonded with us over an encrypted, authenticated link."""
        return self.conn >= 0 and self.sec.trusted

    def advertise(self):
        self.ble.gap_advertise(config.ADV_INTERVAL_US, adv_data=self._adv)

    def _irq(self, event, data):
        if event == _IRQ_GET_SECRET:  # the stack waits for the answer: from RAM
            return self.sec.store.get(data[0], data[1], data[2])
        if event == _IRQ_SET_SECRET:
            ok = self.sec.store.set(data[0], data[1], data[2])
            self.wake.set()  # the task persists it
            return ok
        if event == _IRQ_CENTRAL_CONNECT:
            self.mtu = 23
            self.conn = data[0]
            self.connects += 1
            self.sec.on_connect(data[0])
        elif event == _IRQ_CENTRAL_DISCONNECT:
            if data[0] == self.conn:
                self.conn = -1
                self.mtu = 23
                self.disconnects += 1
                self.sec.on_disconnect(data[0])
        elif event == _IRQ_ENCRYPTION_UPDATE:
            self.sec.on_encryption(data[0], data[1], data[2], data[3], data[4])
        elif event == _IRQ_PASSKEY_ACTION:
            self.sec.on_passkey(data[0], data[1], data[2])
        elif event == _IRQ_MTU_EXCHANGED:
            if data[0] == self.conn:
                self.mtu = data[1]
        elif event == _IRQ_GATTS_WRITE:
            if data[1] == self.h_ctrl and not (data[0] == self.conn and self.sec.trusted):
                # The flags already make NimBLE refuse an unauthenticated write; a link
                # that is authenticated but not bonded with us still gets here.
                self.ctl_refused += 1
            elif data[1] == self.h_ctrl:
                # The value buffer is overwritten by the next write: keep a copy. BLE IRQs
                # run in the scheduler, not a hard ISR, so this one allocation is allowed.
                if self._ctl_w - self._ctl_r < _CTL_QUEUE:
                    self._ctl[self._ctl_w % _CTL_QUEUE] = bytes(self.ble.gatts_read(self.h_ctrl))
                    self._ctl_w += 1
                else:
                    self.ctl_overrun += 1
        elif event == _IRQ_CONNECTION_UPDATE:
            self.interval_ms = data[1] * 5 // 4  # units of 1.25 ms
            self.timeout_ms = data[3] * 10  # units of 10 ms
        self.wake.set()

    def next_control(self):
        if self._ctl_r == self._ctl_w:
            return None
        i = self._ctl_r % _CTL_QUEUE
        v = self._ctl[i]
        self._ctl[i] = None
        self._ctl_r += 1
        return v

    def write(self, handle, value):
        self.ble.gatts_write(handle, value)

    def notify(self, handle, data=None):
        """gatts_notify on the current connection; raises OSError (ENOMEM, ENOTCONN)."""
        if data is None:
            self.ble.gatts_notify(self.conn, handle)
        else:
            self.ble.gatts_notify(self.conn, handle, data)
