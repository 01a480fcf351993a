# IMU detection by WHO_AM_I. Every driver has the same shape:
#   part, has_gyro, irq_driven, period_us, lost, overflow
#   configure(rate_hz, acc_code, gyro_code)  protocol range codes (docs/protocol.md)
#   fetch() -> n                             FIFO batch into the driver's own buffer
#   copy_out(j, m, dst, off, channels)       samples j..j+m-1 as little-endian int16
# fetch() sets lost (samples the FIFO dropped before this batch; -1 when the part cannot
# tell) and overflow. Neither fetch() nor copy_out() allocates once warm.
from micropython import const

PART_UNKNOWN = const(0)
PART_MPU6050 = const(1)
PART_MPU6886 = const(2)
PART_ICM42688 = const(3)
PART_LSM6DSO = const(4)

_WHO_AM_I = const(0x75)  # same register on the MPU family and the ICM-42688-P
_ADDRS = (0x68, 0x69)  # AD0 low / high


class UnsupportedIMU(Exception):
    pass


def detect(i2c, int_pin, flag):
    """The driver for the first supported IMU found; OSError(ENODEV) if none answers."""
    wrong = None
    for addr in _ADDRS:
        try:
            who = i2c.readfrom_mem(addr, _WHO_AM_I, 1)[0]
        except OSError:
            continue  # NACK: nothing at this address
        if who == 0x68 or who == 0x19:
            from imu_mpu import MPU
            return MPU(i2c, addr, who)
        if who == 0x47:
            from imu_icm import ICM42688
            return ICM42688(i2c, addr, int_pin, flag)
        wrong = who
    if wrong is not None:
        raise UnsupportedIMU("WHO_AM_I 0x%02x" % wrong)
    raise OSError(19)  # ENODEV, as the ESP32 I2C driver reports a NACK
