# The band's 64-bit microsecond clock, kept as two small ints: t = hi * 2**30 + lo.
#
# time.ticks_us() wraps at 2**30 on 32-bit ports (about 17.9 minutes), and ints above
# 2**30 are heap objects there, so a plain int clock would allocate on every read.
# update() must run at least once per wrap period; the sampler calls it every batch.
from micropython import const
from time import ticks_us

_MASK = const(0x3FFFFFFF)


class Clock:
    def __init__(self):
        self._last = ticks_us()
        self.hi = 0
        self.lo = 0
        self.sec = 0  # whole seconds, for the status' "since TIME_SYNC"
        self._sub_s = 0  # us past self.sec

    def update(self):
        now = ticks_us()
        # Masking the difference with 2**30 - 1 is right on every port: the ticks period
        # is 2**30 on 32-bit ports and a multiple of it on 64-bit ones.
        d = (now - self._last) & _MASK
        self._last = now
        room = _MASK - self.lo
        if d > room:
            self.lo = d - room - 1
            self.hi += 1
        else:
            self.lo += d
        s = self._sub_s + d
        if s >= 1_000_000:
            self.sec += s // 1_000_000
            s %= 1_000_000
        self._sub_s = s

    def us(self):
        """The time as one int (allocates on 32-bit ports once past 2**30: not for hot paths)."""
        return (self.hi << 30) | self.lo


def sub_us(hi, lo, d_us, out):
    """out[0], out[1] = (hi, lo) minus d_us (0 <= d_us < 2**30), without big ints."""
    lo -= d_us
    if lo < 0:
        lo = lo + _MASK + 1
        hi -= 1
    out[0] = hi
    out[1] = lo


def add_us(hi, lo, d_us, out):
    """out[0], out[1] = (hi, lo) plus d_us (0 <= d_us < 2**30), without big ints."""
    room = _MASK - lo
    if d_us > room:
        out[0] = hi + 1
        out[1] = d_us - room - 1
    else:
        out[0] = hi
        out[1] = lo + d_us


def diff_us(hi1, lo1, hi0, lo0):
    """(hi1, lo1) - (hi0, lo0) in us. Allocates on 32-bit ports when hi differs: rare paths only."""
    return (hi1 - hi0) * (_MASK + 1) + (lo1 - lo0)
