# ICM-42688-P (WHO_AM_I 0x47): FIFO with a watermark interrupt on INT1 and a lost-packet
# counter. Stop-on-full mode keeps the FIFO aligned and counts what it refuses, so a gap
# is exact: the lost packets come right after the ones still in the FIFO.
import time

from micropython import const

from imu import PART_ICM42688

_DEVICE_CONFIG = const(0x11)
_INT_CONFIG = const(0x14)
_FIFO_CONFIG = const(0x16)
_INT_STATUS = const(0x2D)
_FIFO_COUNTH = const(0x2E)
_FIFO_DATA = const(0x30)
_SIGNAL_PATH_RESET = const(0x4B)
_INTF_CONFIG0 = const(0x4C)
_PWR_MGMT0 = const(0x4E)
_GYRO_CONFIG0 = const(0x4F)
_ACCEL_CONFIG0 = const(0x50)
_FIFO_CONFIG1 = const(0x5F)
_FIFO_CONFIG2 = const(0x60)
_FIFO_CONFIG3 = const(0x61)
_INT_SOURCE0 = const(0x65)
_FIFO_LOST_PKT0 = const(0x6C)
_REG_BANK_SEL = const(0x76)
_PKT = const(16)  # header, accel 6, gyro 6, temperature 1, timestamp 2
_MAX_PKTS = const(128)  # 2 KiB FIFO
_ODR = {200: 0x07, 100: 0x08, 50: 0x09}


class ICM42688:
    part = PART_ICM42688
    has_gyro = True
    irq_driven = True

    def __init__(self, i2c, addr, int_pin, flag):
        self.i2c = i2c
        self.addr = addr
        self.pin = int_pin
        self.flag = flag
        self.raw = bytearray(_MAX_PKTS * _PKT)
        raw = memoryview(self.raw)
        # One view per batch size, made here: fetch() never allocates, even the first time.
        self._views = [raw[:n * _PKT] for n in range(_MAX_PKTS + 1)]
        self._b1 = bytearray(1)
        self._b2 = bytearray(2)
        self.period_us = 10_000
        self.lost = 0
        self.overflow = False
        self.max_n = _MAX_PKTS

    def _w(self, reg, val):
        self._b1[0] = val
        self.i2c.writeto_mem(self.addr, reg, self._b1)

    def _isr(self, pin):
        self.flag.set()

    def configure(self, rate_hz, acc_code, gyro_code, watermark_ms=100):
        self.pin.irq(handler=None)
        self._w(_REG_BANK_SEL, 0)
        self._w(_DEVICE_CONFIG, 0x01)  # soft reset
        time.sleep_ms(2)
        # FIFO count in records, big-endian count, little-endian sensor data: the samples
        # leave the FIFO in wire order and are copied without swapping.
        self._w(_INTF_CONFIG0, 0x60)
        odr = _ODR[rate_hz]
        self._w(_GYRO_CONFIG0, ((3 - (gyro_code & 3)) << 5) | odr)  # FS_SEL 0 = largest
        self._w(_ACCEL_CONFIG0, ((3 - (acc_code & 3)) << 5) | odr)
        # Accel + gyro + temperature packets; FIFO_WM_GT_TH re-raises the interrupt at
        # every sample while above the watermark, so a missed edge cannot stall sampling.
        self._w(_FIFO_CONFIG1, 0x27)
        wm = rate_hz * watermark_ms // 1000
        if wm < 1:
            wm = 1
        self._w(_FIFO_CONFIG2, wm & 0xFF)
        self._w(_FIFO_CONFIG3, wm >> 8)
        self._w(_INT_CONFIG, 0x03)  # INT1 push-pull, active high, pulsed
        self._w(_INT_SOURCE0, 0x04)  # FIFO threshold -> INT1
        self._w(_FIFO_CONFIG, 0x80)  # stop-on-full
        self._w(_PWR_MGMT0, 0x0F)  # accel and gyro in low-noise mode
        time.sleep_ms(1)
        self.period_us = 1_000_000 // rate_hz
        self.reset_fifo()
        self.pin.irq(handler=self._isr, trigger=self.pin.IRQ_RISING)

    def reset_fifo(self):
        self._w(_SIGNAL_PATH_RESET, 0x02)  # FIFO flush
        self.i2c.readfrom_mem_into(self.addr, _FIFO_LOST_PKT0, self._b2)  # read clears
        self.i2c.readfrom_mem_into(self.addr, _INT_STATUS, self._b1)

    def fetch(self):
        self.overflow = False
        b = self._b2
        i2c = self.i2c
        i2c.readfrom_mem_into(self.addr, _INT_STATUS, self._b1)  # clears the interrupt
        i2c.readfrom_mem_into(self.addr, _FIFO_COUNTH, b)
        n = (b[0] << 8) | b[1]
        if n > _MAX_PKTS:
            n = _MAX_PKTS
        if n:
            i2c.readfrom_mem_into(self.addr, _FIFO_DATA, self._views[n])
            raw = self.raw
            for k in range(n):
                if raw[k * _PKT] & 0xE0 != 0x60:  # not an accel + gyro packet: stop there
                    n = k
                    break
        # Read after the data: anything refused while the FIFO was full came after it.
        i2c.readfrom_mem_into(self.addr, _FIFO_LOST_PKT0, b)
        self.lost = b[0] | (b[1] << 8)
        if self.lost:
            self.overflow = True
        return n

    def copy_out(self, j, m, dst, off, channels):
        # Unrolled byte copies: slicing would allocate, and an inner loop costs twice as much.
        src = self.raw
        p = j * _PKT + 1
        for _ in range(m):
            dst[off] = src[p]
            dst[off + 1] = src[p + 1]
            dst[off + 2] = src[p + 2]
            dst[off + 3] = src[p + 3]
            dst[off + 4] = src[p + 4]
            dst[off + 5] = src[p + 5]
            off += 6
            if channels == 6:
                dst[off] = src[p + 6]
                dst[off + 1] = src[p + 7]
                dst[off + 2] = src[p + 8]
                dst[off + 3] = src[p + 9]
                dst[off + 4] = src[p + 10]
                dst[off + 5] = src[p + 11]
                off += 6
            p += _PKT
