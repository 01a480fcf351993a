# MPU6050 and MPU6886 (WHO_AM_I 0x68 / 0x19). No watermark interrupt on the 6050, so the
# band polls the FIFO count. After an overflow the FIFO has overwritten bytes, not whole
# samples, so its content is misaligned: the driver resets it and reports lost = -1 for
# the band to count the gap from its clock.
import time

from micropython import const

from imu import PART_MPU6050, PART_MPU6886

_SMPLRT_DIV = const(0x19)
_CONFIG = const(0x1A)
_GYRO_CONFIG = const(0x1B)
_ACCEL_CONFIG = const(0x1C)
_FIFO_EN = const(0x23)
_INT_STATUS = const(0x3A)
_USER_CTRL = const(0x6A)
_PWR_MGMT_1 = const(0x6B)
_FIFO_COUNTH = const(0x72)
_FIFO_R_W = const(0x74)
_FIFO_BYTES = const(1024)
_OFLOW = const(0x10)


class MPU:
    has_gyro = True
    irq_driven = False

    def __init__(self, i2c, addr, who):
        self.i2c = i2c
        self.addr = addr
        self.part = PART_MPU6050 if who == 0x68 else PART_MPU6886
        # MPU6886 always puts temperature between accel and gyro: 14-byte samples.
        self.pkt = 12 if self.part == PART_MPU6050 else 14
        self._gyro_at = 6 if self.part == PART_MPU6050 else 8
        self.max_n = _FIFO_BYTES // self.pkt
        self.raw = bytearray(self.max_n * self.pkt)
        raw = memoryview(self.raw)
        # One view per batch size, made here: fetch() never allocates, even the first time.
        self._views = [raw[:n * self.pkt] for n in range(self.max_n + 1)]
        self._b1 = bytearray(1)
        self._b2 = bytearray(2)
        self.period_us = 10_000
        self.lost = 0
        self.overflow = False

    def _w(self, reg, val):
        self._b1[0] = val
        self.i2c.writeto_mem(self.addr, reg, self._b1)

    def _r8(self, reg):
        self.i2c.readfrom_mem_into(self.addr, reg, self._b1)
        return self._b1[0]

    def configure(self, rate_hz, acc_code, gyro_code):
        self._w(_PWR_MGMT_1, 0x80)  # device reset
        time.sleep_ms(100)
        self._w(_PWR_MGMT_1, 0x01)  # awake, PLL on gyro x: steadier ODR than the RC clock
        # Low-pass below Nyquist: 94 Hz at 200 Hz, 44 Hz at 100 Hz, 21 Hz at 50 Hz.
        self._w(_CONFIG, 2 if rate_hz >= 200 else (3 if rate_hz >= 100 else 4))
        self._w(_SMPLRT_DIV, 1000 // rate_hz - 1)  # 1 kHz internal rate with the DLPF on
        self._w(_ACCEL_CONFIG, (acc_code & 3) << 3)  # AFS_SEL uses the protocol's coding
        self._w(_GYRO_CONFIG, (gyro_code & 3) << 3)
        self.period_us = 1_000_000 // rate_hz
        self.reset_fifo()

    def reset_fifo(self):
        self._w(_USER_CTRL, 0x04)  # FIFO_RESET (self-clearing)
        self._w(_FIFO_EN, 0x78 if self.part == PART_MPU6050 else 0x18)  # accel + gyro
        self._w(_USER_CTRL, 0x40)  # FIFO_EN
        self._r8(_INT_STATUS)  # clears a stale overflow bit

    def fetch(self):
        self.lost = 0
        self.overflow = False
        if self._r8(_INT_STATUS) & _OFLOW:
            self.overflow = True
            self.lost = -1
            self.reset_fifo()
            return 0
        b = self._b2
        self.i2c.readfrom_mem_into(self.addr, _FIFO_COUNTH, b)
        n = ((b[0] << 8) | b[1]) // self.pkt
        if n > self.max_n:
            n = self.max_n
        if n == 0:
            return 0
        self.i2c.readfrom_mem_into(self.addr, _FIFO_R_W, self._views[n])
        return n

    def copy_out(self, j, m, dst, off, channels):
        src = self.raw
        p = j * self.pkt
        pkt = self.pkt
        g = self._gyro_at
        for _ in range(m):
            # Big-endian words in the FIFO, little-endian on the wire.
            dst[off] = src[p + 1]
            dst[off + 1] = src[p]
            dst[off + 2] = src[p + 3]
            dst[off + 3] = src[p + 2]
            dst[off + 4] = src[p + 5]
            dst[off + 5] = src[p + 4]
            off += 6
            if channels == 6:
                q = p + g
                dst[off] = src[q + 1]
                dst[off + 1] = src[q]
                dst[off + 2] = src[q + 3]
                dst[off + 3] = src[q + 2]
                dst[off + 4] = src[q + 5]
                dst[off + 5] = src[q + 4]
                off += 6
            p += pkt
