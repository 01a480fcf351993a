# NOR flash as littlefs sees it on the ESP32 (the extended block protocol of
# vfs.VfsLfs2): erase sets a 4 KiB sector to 0xFF, program may only write erased bytes,
# and both take the time the chip takes, during which the CPU is blocked (sim.advance).
import sim

_ERASE_US = 45_000  # 4 KiB sector erase, typical for the ESP32's SPI NOR flash
_PROG_US_PER_256 = 700


class Flash:
    def __init__(self, size_bytes, block_size=4096, timed=True):
        self.bs = block_size
        self.n = size_bytes // block_size
        self.d = bytearray(b"\xff" * size_bytes)
        self._erased = b"\xff" * block_size
        self.timed = timed
        self.erases = 0
        self.bytes_programmed = 0
        self.ops = 0  # program and erase operations so far
        self.cut_after = -1  # program/erase operations until a power cut (-1: never)
        self.dead = False  # after a power cut: nothing reaches the chip

    def clone(self):
        """The same bytes on a fresh chip object: what a reboot mounts after a power cut.
        The old object stays dead: stale littlefs handles that the GC finalises reach
        nothing (and must not allocate: finalisers run with the heap locked)."""
        f = Flash(len(self.d), self.bs, self.timed)
        f.d[:] = self.d
        return f

    def _op(self):
        """False when the operation does not reach the chip (no power)."""
        if self.dead:
            # The firmware was stopped by the cut; what still runs while it unwinds (or
            # in GC finalisers, where raising would fail) reaches no chip.
            return False
        self.ops += 1
        if self.cut_after >= 0:
            if self.cut_after == 0:
                self.dead = True
                self.cut_after = -1
                sim.power_cut = True
                # littlefs turns this into an error code: the firmware sees an OSError,
                # and the simulation stops at its next idle (sim.power_cut).
                raise sim.PowerCut()
            self.cut_after -= 1
        return True

    def readblocks(self, block, buf, off=0):
        a = block * self.bs + off
        d = self.d
        for i in range(len(buf)):  # a byte loop: slicing would allocate under heap_lock()
            buf[i] = d[a + i]

    def writeblocks(self, block, buf, off=None):
        if off is None:  # the simple protocol: erase then program whole blocks
            for i in range(len(buf) // self.bs):
                self.ioctl(6, block + i)
            off = 0
        if not self._op():
            return
        a = block * self.bs + off
        n = len(buf)
        if self.d[a:a + n] != self._erased[:n]:
            raise OSError(5)  # EIO: NOR flash cannot program a byte that is not erased
        self.d[a:a + n] = buf
        self.bytes_programmed += n
        if self.timed:
            sim.advance((n + 255) // 256 * _PROG_US_PER_256)

    def ioctl(self, op, arg):
        if op == 4:
            return self.n
        if op == 5:
            return self.bs
        if op == 6:
            if not self._op():
                return 0
            a = arg * self.bs
            self.d[a:a + self.bs] = self._erased
            self.erases += 1
            if self.timed:
                sim.advance(_ERASE_US)
            return 0
        return 0  # init, deinit, sync
