# Register-level models of the band's IMUs, attached to the `machine.I2C` model.
#
# Each sample carries its serial number (samples the part produced since power-on):
# ax = serial & 0x7FFF, ay = serial >> 15, so the central can check that the band's sample
# index matches what the sensor measured, gaps and overflows included. The part's
# oscillator is off nominal by drift_ppm, as real MEMS clocks are (+/-1-2 %).
# Reads and FIFO updates allocate nothing, so heap_lock() can wrap the band's sampling
# path with these models underneath.
import struct

import machine
import sim

_START_US = 10_000  # first sample after power-up


class _Part:
    present = True

    def __init__(self, drift_ppm):
        self.regs = bytearray(256)
        self.drift_ppm = drift_ppm
        self.serial = 0  # samples produced since power-on, kept or not
        self.running = False
        self.period_ns = 10_000_000
        self.t0 = 0
        self.k = 0
        self.next_t = -1
        self.overflows = 0
        self.lost_total = 0  # samples that never entered the FIFO or were overwritten
        self._pkt = bytearray(16)
        self._pkt12 = memoryview(self._pkt)[:12]  # whole-view copies allocate nothing
        self.due_us = -1

    def _set_rate_hz(self, hz):
        self.period_ns = 1_000_000_000 * (1_000_000 + self.drift_ppm) // (1_000_000 * hz)
        self._restart(sim.now_us)

    def _restart(self, t):
        self.t0 = t
        self.k = 0
        self.next_t = t + _START_US if self.running else -1

    def _power(self, on):
        if on and not self.running:
            self.running = True
            self._restart(sim.now_us)
        elif not on:
            self.running = False
            self.next_t = -1

    def update(self):
        """Produce every sample due by now."""
        now = sim.now_us
        while self.running and 0 <= self.next_t <= now:
            self._produce(self.serial)
            self.serial += 1
            self.k += 1
            self.next_t = self.t0 + _START_US + self.k * self.period_ns // 1000

    def _values_into(self, s, big_endian, with_temp):
        """The sample's bytes in self._pkt: accel xyz, [temp16], gyro xyz."""
        p = self._pkt
        a = s & 0x7FFF
        if with_temp:
            struct.pack_into(">hhhhhhh", p, 0, a, (s >> 15) & 0x7FFF, 4096, 2500,
                             (s * 3) & 0x7FFF, -(s & 0x3FFF), 7)
        else:
            struct.pack_into(">hhhhhh" if big_endian else "<hhhhhh", p, 0, a,
                             (s >> 15) & 0x7FFF, 4096, (s * 3) & 0x7FFF, -(s & 0x3FFF), 7)


class MPUFamily(_Part):
    """MPU6050 (WHO_AM_I 0x68), MPU6886 (0x19) or, to test rejection, MPU6500 (0x70).

    1 KiB byte FIFO. When full it keeps writing and the oldest bytes are lost, so its
    content is misaligned after an overflow (the datasheet's FIFO_OFLOW_INT case)."""

    def __init__(self, who=0x68, drift_ppm=1500):
        super().__init__(drift_ppm)
        self.who = who
        self.pkt = 12 if who != 0x19 else 14
        self.fifo = bytearray(1024)
        self.head = 0
        self.count = 0
        self._reset_regs()

    def _reset_regs(self):
        r = self.regs
        for i in range(256):
            r[i] = 0
        r[0x6B] = 0x40  # asleep after reset
        r[0x75] = self.who
        self.running = False
        self.next_t = -1
        self.head = self.count = 0

    def _rate_hz(self):
        dlpf = self.regs[0x1A] & 7
        base = 1000 if 1 <= dlpf <= 6 else 8000
        return base // (1 + self.regs[0x19])

    def _produce(self, s):
        r = self.regs
        if not r[0x6A] & 0x40:
            return
        mask = 0x78 if self.who != 0x19 else 0x18
        if r[0x23] & mask != mask:
            return
        self._values_into(s, True, self.who == 0x19)
        n = self.pkt
        f = self.fifo
        size = len(f)
        if self.count + n > size:
            over = self.count + n - size
            self.head = (self.head + over) % size
            self.count -= over
            r[0x3A] |= 0x10
            self.overflows += 1
            self.lost_total += 1
        w = (self.head + self.count) % size
        p = self._pkt
        for i in range(n):
            f[(w + i) % size] = p[i]
        self.count += n

    def read_into(self, reg, buf):
        self.update()
        r = self.regs
        for i in range(len(buf)):
            if reg == 0x74:  # FIFO_R_W: the address does not advance
                if self.count:
                    buf[i] = self.fifo[self.head]
                    self.head = (self.head + 1) % len(self.fifo)
                    self.count -= 1
                else:
                    buf[i] = 0xFF
                continue
            a = reg + i
            if a == 0x72:
                buf[i] = self.count >> 8
            elif a == 0x73:
                buf[i] = self.count & 0xFF
            else:
                buf[i] = r[a]
                if a == 0x3A:
                    r[0x3A] = 0  # INT_STATUS clears on read

    def write(self, reg, buf):
        self.update()
        for i in range(len(buf)):
            a = reg + i
            v = buf[i]
            if a == 0x6B:
                if v & 0x80:
                    self._reset_regs()
                    continue
                self.regs[a] = v
                self._power(not v & 0x40)
            elif a == 0x6A:
                if v & 0x04:
                    self.head = self.count = 0
                self.regs[a] = v & ~0x04
            elif a == 0x75:
                pass  # read-only
            else:
                self.regs[a] = v
                if a == 0x19 or a == 0x1A:
                    self._set_rate_hz(self._rate_hz())


class ICM42688(_Part):
    """ICM-42688-P: 2 KiB FIFO of 16-byte packets, watermark on INT1, lost-packet counter.

    Stop-on-full mode refuses new packets when full and counts them; stream mode drops the
    oldest. int_pin: the MCU pin number INT1 is wired to (None: a broken trace)."""

    _ODR = {6: 1000, 7: 200, 8: 100, 9: 50, 10: 25}

    def __init__(self, int_pin=19, drift_ppm=-800):
        super().__init__(drift_ppm)
        self.int_pin = int_pin
        self.fifo = bytearray(128 * 16)
        self.head = 0
        self.count = 0  # packets
        self.lost = 0  # FIFO_LOST_PKT
        self.int_pulses = 0
        self._reset_regs()
        sim.sources.append(self)

    def _reset_regs(self):
        r = self.regs
        for i in range(256):
            r[i] = 0
        r[0x75] = 0x47
        r[0x4C] = 0x30  # INTF_CONFIG0: big-endian count and data
        r[0x4F] = r[0x50] = 0x06  # 1 kHz, largest full scale
        r[0x60] = 0x00
        self.running = False
        self.next_t = -1
        self.head = self.count = self.lost = 0
        self.due_us = -1

    def _wm(self):
        return self.regs[0x60] | ((self.regs[0x61] & 0x0F) << 8)

    def _produce(self, s):
        r = self.regs
        mode = r[0x16] >> 6
        if mode == 0 or not r[0x5F] & 0x03:
            return
        cap = len(self.fifo) // 16
        if self.count == cap:
            self.lost += 1
            self.lost_total += 1
            r[0x2D] |= 0x02
            if mode >= 2:
                return  # stop-on-full: the new packet is refused
            self.head = (self.head + 1) % cap
            self.count -= 1
        self._values_into(s, bool(r[0x4C] & 0x10), False)
        w = ((self.head + self.count) % cap) * 16
        f = self.fifo
        f[w] = 0x68  # accel + gyro + 16-bit timestamp
        f[w + 1:w + 13] = self._pkt12
        f[w + 13] = 25
        ts = (s * 10) & 0xFFFF
        f[w + 14] = ts >> 8
        f[w + 15] = ts & 0xFF
        self.count += 1
        if self.count >= self._wm() > 0:
            r[0x2D] |= 0x04

    def _reschedule(self):
        """Next time INT1 pulses: the sample that reaches the watermark, or every sample
        while above it when FIFO_WM_GT_TH is set."""
        r = self.regs
        wm = self._wm()
        if (not self.running or self.int_pin is None or not r[0x65] & 0x04 or wm == 0
                or self.next_t < 0):
            self.due_us = -1
            return
        if self.count >= wm:
            self.due_us = self.next_t if r[0x5F] & 0x20 else -1
            return
        k = self.k + (wm - self.count - 1)
        self.due_us = self.t0 + _START_US + k * self.period_ns // 1000

    def fire(self):
        self.update()
        if self.count >= self._wm():
            pin = machine.pins.get(self.int_pin)
            if pin is not None:
                self.int_pulses += 1
                pin.drive(1)  # a short pulse: both edges at this time resolution
                pin.drive(0)
        self._reschedule()  # always in the future: update() produced everything due

    def read_into(self, reg, buf):
        self.update()
        r = self.regs
        for i in range(len(buf)):
            if reg == 0x30:  # FIFO_DATA: the address does not advance
                if self.count:
                    cap = len(self.fifo) // 16
                    pos = self.head * 16 + self._byte
                    buf[i] = self.fifo[pos]
                    self._byte += 1
                    if self._byte == 16:
                        self._byte = 0
                        self.head = (self.head + 1) % cap
                        self.count -= 1
                else:
                    buf[i] = 0xFF  # empty FIFO: an invalid header
                continue
            a = reg + i
            if a == 0x2E or a == 0x2F:
                c = self.count if r[0x4C] & 0x40 else self.count * 16
                hi, lo = c >> 8, c & 0xFF
                if not r[0x4C] & 0x20:
                    hi, lo = lo, hi
                buf[i] = hi if a == 0x2E else lo
            elif a == 0x6C:
                buf[i] = self.lost & 0xFF
            elif a == 0x6D:
                buf[i] = (self.lost >> 8) & 0xFF
                self.lost = 0  # the pair reads as one and clears
            else:
                buf[i] = r[a]
                if a == 0x2D:
                    r[0x2D] = 0
        self._reschedule()

    _byte = 0

    def write(self, reg, buf):
        self.update()
        r = self.regs
        for i in range(len(buf)):
            a = reg + i
            v = buf[i]
            if a == 0x11:
                if v & 0x01:
                    self._reset_regs()
                continue
            if a == 0x4B:
                if v & 0x02:
                    self.head = self.count = 0
                    self._byte = 0
                continue
            if a == 0x75:
                continue
            r[a] = v
            if a == 0x4E:
                was = self.running
                self._power(bool(v & 0x03))
                if self.running and not was:
                    self._set_rate_hz(self._ODR.get(r[0x50] & 0x0F, 1000))
            elif a == 0x50 and self.running:
                self._set_rate_hz(self._ODR.get(v & 0x0F, 1000))
        self._reschedule()
