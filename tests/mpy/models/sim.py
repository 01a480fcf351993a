# Simulated time for the hardware models. Time advances only when the firmware is idle:
# asyncio's wait for I/O (the `select` model) and blocking sleeps (the `time` model) jump
# to the next hardware event, so hours of band time run in seconds.
#
# Two kinds of events: one-off callbacks in a heap (connects, link drops, control writes,
# probes) and "sources", model objects polled for their next due time (the IMU's INT pin,
# the BLE controller's connection events), which keeps the per-sample and per-notify
# paths of the models free of heap allocation.
import heapq

now_us = 0
end_us = -1
_heap = []
_seq = 0
sources = []
events_run = 0
console = []  # what the band printed on its USB console (the owner reads passkeys here)
power_cut = False


class SimEnd(Exception):
    """The scenario's end time is reached: unwinds out of asyncio.run()."""


class PowerCut(BaseException):
    """The band lost power: every flash access from now on fails and the firmware stops.
    A BaseException so that no `except Exception` in the firmware can swallow it."""


def reset():
    global now_us, end_us, _seq, events_run, power_cut
    now_us = 0
    end_us = -1
    _seq = 0
    events_run = 0
    power_cut = False
    del _heap[:]
    del sources[:]
    del console[:]


def say(msg):
    """Stands in for the firmware's console line: kept for the owner (and the tests)."""
    console.append((now_us, msg))
    print("twitchwatch:", msg)


def console_passkey():
    """The last passkey the band's console showed, as the owner would read it, or None."""
    for _, line in reversed(console):
        i = line.find("passkey ")
        if i >= 0:
            return int(line[i + 8:i + 14])
    return None


def at(t_us, fn, arg=None):
    global _seq
    _seq += 1
    heapq.heappush(_heap, (t_us, _seq, fn, arg))


def after(d_us, fn, arg=None):
    at(now_us + d_us, fn, arg)


def _next_due():
    t = _heap[0][0] if _heap else -1
    src = None
    for s in sources:
        d = s.due_us
        if d >= 0 and (t < 0 or d < t):
            t = d
            src = s
    return t, src


def _fire_one(limit_us):
    """Run the earliest event due at or before limit_us; False if there is none."""
    global now_us, events_run
    t, src = _next_due()
    if t < 0 or t > limit_us:
        return False
    if t > now_us:
        now_us = t
    events_run += 1
    if src is not None:
        src.fire()
    else:
        _, _, fn, arg = heapq.heappop(_heap)
        fn(arg)
    return True


def idle(timeout_ms):
    """The CPU waits up to timeout_ms (-1: forever) for an event; returns after one fires."""
    global now_us
    if power_cut:
        raise PowerCut()  # the CPU stopped with the flash
    if timeout_ms < 0:
        limit = end_us if end_us >= 0 else 1 << 62
    else:
        limit = now_us + timeout_ms * 1000
        if 0 <= end_us < limit:
            limit = end_us
    if _fire_one(limit):
        return
    if timeout_ms < 0 and end_us < 0:
        raise RuntimeError("simulation idle with nothing scheduled: the firmware hangs")
    if limit > now_us:
        now_us = limit
    if 0 <= end_us <= now_us:
        raise SimEnd()


def advance(d_us):
    """A blocking wait (time.sleep_ms): events still fire, as scheduled IRQs do on the chip."""
    global now_us
    target = now_us + d_us
    while _fire_one(target):
        pass
    now_us = target
