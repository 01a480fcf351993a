# Pin maps and the hardware a board adds to the band. The only module that imports
# `machine`; docs/hardware.md has the wiring.
import sys

from machine import I2C, Pin

# name: (I2C id, SCL, SDA, IMU INT1, I2C Hz)
_BOARDS = {
    "devkitc": (0, 22, 21, 19, 400_000),  # ESP32-DevKitC (WROOM-32), GPIO22/21 = SCL/SDA
    "xiao_s3": (0, 6, 5, 4, 400_000),  # Seeed XIAO ESP32-S3: D5/D4 = SCL/SDA, D3 = INT
}
_BOOT_PIN = 0
_PARTS = ("unknown IMU", "MPU6050", "MPU6886", "ICM-42688-P", "LSM6DSO")


def name():
    return "xiao_s3" if "ESP32S3" in sys.implementation._machine else "devkitc"


def _pins():
    return _BOARDS[name()]


def i2c():
    bus, scl, sda, _, hz = _pins()
    return I2C(bus, scl=Pin(scl), sda=Pin(sda), freq=hz)


def int_pin():
    return Pin(_pins()[3], Pin.IN)


def button():
    """The BOOT button (GPIO0 on both boards, low when pressed): free to read once booted."""
    return Pin(_BOOT_PIN, Pin.IN, Pin.PULL_UP)


def model_name(part):
    return "twitchwatch band (%s, %s)" % (name(), _PARTS[part] if part < len(_PARTS) else "?")


def battery():
    """(percent, mV); (255, 0) when the board cannot measure its cell, as on both boards."""
    return 255, 0
