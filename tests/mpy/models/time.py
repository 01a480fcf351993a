# Model of the `time` module on the simulated clock (shadows the built-in: tests put the
# models first on sys.path). ticks_us wraps at 2**30 as on the ESP32, starting 5 s before
# a wrap so every run crosses several.
#
# ticks_ms, ticks_add and ticks_diff stay in the unix port's own ticks space: asyncio's C
# task queue stamps newly runnable tasks with the real ticks_ms, so the simulated ms clock
# runs a day ahead of it and those tasks always count as due now. The firmware never
# ticks_diff()s ticks_us (its clock masks differences itself), which a 2**30-period
# ticks_us next to a 2**62-period ticks_diff would get wrong.
import utime

import sim

_BASE_MS = utime.ticks_ms() + 86_400_000
_US0 = 0x3FFFFFFF - 5_000_000
_EPOCH_S = 1_767_225_600  # 2026-01-01, what the band's RTC would say at sim start

ticks_add = utime.ticks_add
ticks_diff = utime.ticks_diff
gmtime = utime.gmtime
localtime = utime.localtime
mktime = utime.mktime


def ticks_ms():
    return _BASE_MS + sim.now_us // 1000


def ticks_us():
    return (_US0 + sim.now_us) & 0x3FFFFFFF


def ticks_cpu():
    return ticks_us()


def sleep_ms(ms):
    sim.advance(ms * 1000)


def sleep_us(us):
    sim.advance(us)


def sleep(s):
    sim.advance(int(s * 1_000_000))


def time():
    return _EPOCH_S + sim.now_us // 1_000_000


def time_ns():
    return (_EPOCH_S * 1_000_000 + sim.now_us) * 1000
