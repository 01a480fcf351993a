# Model of `machine` for the band: Pin (with edge IRQs) and I2C (register reads and writes
# to attached device models, OSError(ENODEV) when nothing acknowledges, as on the ESP32).
# The rest of the unix port's machine module stays available.
from umachine import *  # noqa: F403

_buses = {}  # I2C id -> {address: device model}
pins = {}  # pin number -> the last Pin made for it


def attach(bus_id, addr, device):
    _buses.setdefault(bus_id, {})[addr] = device


def reset_models():
    _buses.clear()
    pins.clear()


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_FALLING = 2
    IRQ_RISING = 1

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self.mode = mode
        if value is None:  # an input with a pull-up idles high (an unpressed button)
            value = 1 if pull == Pin.PULL_UP else 0
        self._level = value
        self._handler = None
        self._trigger = 0
        self.irq_count = 0
        pins[id] = self

    def value(self, v=None):
        if v is None:
            return self._level
        self._level = 1 if v else 0

    def irq(self, handler=None, trigger=3, hard=False):
        self._handler = handler
        self._trigger = trigger

    def drive(self, level):
        """The device side moves the line; a configured edge runs the handler (the ISR)."""
        old = self._level
        self._level = level
        if self._handler is None:
            return
        if (level and not old and self._trigger & Pin.IRQ_RISING) or \
                (old and not level and self._trigger & Pin.IRQ_FALLING):
            self.irq_count += 1
            self._handler(self)


def _nack():
    raise OSError(19)  # ENODEV: the ESP32 port's error for an address nobody acknowledges


class I2C:
    def __init__(self, id=0, *, scl=None, sda=None, freq=400_000, timeout=50_000):
        self.id = id
        self.freq = freq
        self._devs = _buses.setdefault(id, {})

    def _dev(self, addr):
        d = self._devs.get(addr)
        if d is None or not d.present:
            _nack()
        return d

    def scan(self):
        return sorted(a for a, d in self._devs.items() if d.present)

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        self._dev(addr).read_into(memaddr, buf)

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        b = bytearray(nbytes)
        self._dev(addr).read_into(memaddr, b)
        return bytes(b)

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        self._dev(addr).write(memaddr, buf)
