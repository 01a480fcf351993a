# Model of `select`: asyncio's wait for I/O is where the CPU would idle, so that is where
# simulated time advances (sim.idle). Only stream objects with an ioctl (asyncio's
# ThreadSafeFlag) are pollable: the band has no file descriptors to wait on.
import uselect

import sim

POLLIN = uselect.POLLIN
POLLOUT = uselect.POLLOUT
POLLERR = uselect.POLLERR
POLLHUP = uselect.POLLHUP
_MP_STREAM_POLL = 3


class poll:
    def __init__(self):
        self._objs = {}

    def register(self, obj, eventmask=POLLIN | POLLOUT):
        self._objs[obj] = eventmask

    def modify(self, obj, eventmask):
        if obj not in self._objs:
            raise OSError(2)  # ENOENT, as the real poll
        self._objs[obj] = eventmask

    def unregister(self, obj):
        self._objs.pop(obj, None)

    def _ready(self):
        r = None
        for obj, mask in self._objs.items():
            ev = obj.ioctl(_MP_STREAM_POLL, mask)
            if ev:
                if r is None:
                    r = []
                r.append((obj, ev))
        return r

    def poll(self, timeout=-1):
        r = self._ready()
        if r is None:
            sim.idle(timeout)
            r = self._ready()
        return r or []

    def ipoll(self, timeout=-1, flags=0):
        return self.poll(timeout)
