# Thin peripheral layer over MicroPython's `bluetooth` (aioble is not installable in the
# tests). The IRQ handler only records state and sets the app's wake flag; the app does
# everything else in its own task.
import bluetooth
from micropython import const

import config

_IRQ_CENTRAL_CONNECT = const(1)
_IRQ_CENTRAL_DISCONNECT = const(2)
_IRQ_GATTS_WRITE = const(3)
_IRQ_MTU_EXCHANGED = const(21)
_IRQ_CONNECTION_UPDATE = const(27)

_FLAG_READ = const(0x0002)
_FLAG_WRITE = const(0x0008)
_FLAG_NOTIFY = const(0x0010)

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


class Link:
    def __init__(self, wake):
        self.wake = wake
        ble = bluetooth.BLE()
        self.ble = ble
        ble.active(True)
        mac = ble.config("mac")[1]
        self.name = "%s%02x%02x" % (config.NAME_PREFIX, mac[4], mac[5])
        # The MTU is only the band's offer: the exchange gives min(this, the central's).
        ble.config(gap_name=self.name, mtu=config.PREFERRED_MTU)
        ble.irq(self._irq)
        uuid = bluetooth.UUID
        tw = (uuid(SERVICE_UUID), (
            (uuid(_DATA_UUID), _FLAG_NOTIFY),
            (uuid(_META_UUID), _FLAG_READ),
            (uuid(_CTRL_UUID), _FLAG_WRITE),
            (uuid(_STATUS_UUID), _FLAG_READ | _FLAG_NOTIFY),
        ))
        battery = (uuid(0x180F), ((uuid(0x2A19), _FLAG_READ | _FLAG_NOTIFY),))
        info = (uuid(0x180A), (
            (uuid(0x2A29), _FLAG_READ),
            (uuid(0x2A24), _FLAG_READ),
            (uuid(0x2A26), _FLAG_READ),
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

    def advertise(self):
        self.ble.gap_advertise(config.ADV_INTERVAL_US, adv_data=self._adv)

    def _irq(self, event, data):
        if event == _IRQ_CENTRAL_CONNECT:
            self.mtu = 23
            self.conn = data[0]
            self.connects += 1
        elif event == _IRQ_CENTRAL_DISCONNECT:
            if data[0] == self.conn:
                self.conn = -1
                self.mtu = 23
                self.disconnects += 1
        elif event == _IRQ_MTU_EXCHANGED:
            if data[0] == self.conn:
                self.mtu = data[1]
        elif event == _IRQ_GATTS_WRITE:
            if data[1] == self.h_ctrl:
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
