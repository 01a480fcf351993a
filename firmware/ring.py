# Offline ring on littlefs: fixed-size records (a packed data frame padded to rec_size)
# in append-only segment files of seg_records records, oldest dropped first.
#
# Records are numbered from 0 since boot; record g lives in file str(g // seg_records) at
# offset (g % seg_records) * rec_size. Three cursors, c <= r <= w:
#   c  oldest record kept (everything before it is sent for sure or dropped)
#   r  next record to send; [c, r) was sent but may still sit in the BLE controller
#   w  next record to write
# littlefs rewrites a whole file tail when a middle block changes, so files are only
# appended and deleted, never overwritten. A reader handle does not see data appended
# through another handle, so the reader reopens its file when it reaches the writer.
import os

from micropython import const

_COUNT = const(18)  # the frame header's sample count byte


class Ring:
    def __init__(self, path, rec_size, seg_records, share_pct, min_segments):
        self.path = path
        self.rec = rec_size
        self.seg = seg_records
        self._wipe()
        # Sized after the wipe, to the flash actually free at boot.
        st = os.statvfs(path)
        bsize, bfree = st[0], st[3]
        per_seg = (rec_size * seg_records + bsize - 1) // bsize + 1  # +1: littlefs CTZ/COW
        n_segments = bfree * share_pct // 100 // per_seg
        if n_segments < min_segments:
            n_segments = min_segments
        self.n_segments = n_segments
        # One segment of slack: the oldest segment may be partly consumed while the
        # newest is being filled, and the capacity must hold in whole records.
        self.capacity = (n_segments - 1) * seg_records
        self.counts = bytearray(self.capacity + seg_records)  # samples per live record
        self.c = self.r = self.w = 0
        self.waiting = 0  # samples in [c, w)
        self.dropped = 0  # samples dropped, oldest first, since boot
        self.dropped_records = 0
        self.loss_at = -1  # record to flag LOSS: the new oldest after a drop
        self._wf = None
        self._rf = None
        self._rf_seg = -1
        self._rf_pos = -1  # record the reader's file position is at
        self._rf_seen = 0  # records of its segment the reader's handle can see

    def _wipe(self):
        # Indices restart at boot, so a previous boot's records cannot be sent unambiguously.
        try:
            names = os.listdir(self.path)
        except OSError:
            os.mkdir(self.path)
            return
        for name in names:
            os.remove(self.path + "/" + name)

    def _name(self, seg):
        return "%s/%d" % (self.path, seg)

    def push(self, block):
        """Append one record (the first rec_size bytes of block)."""
        if self.w - self.c >= self.capacity:
            self._drop_oldest()
        w = self.w
        if self._wf is None:
            self._wf = open(self._name(w // self.seg), "wb")
        self._wf.write(block)
        n = block[_COUNT]
        self.counts[w % len(self.counts)] = n
        self.waiting += n
        self.w = w + 1
        if self.w % self.seg == 0:  # segment full: close it so readers see all of it
            self._wf.close()
            self._wf = None

    def _drop_oldest(self):
        c = self.c
        n = self.counts[c % len(self.counts)]
        self.dropped += n
        self.dropped_records += 1
        self.waiting -= n
        self._advance_c(c + 1)
        if self.r < self.c:
            self.r = self.c
        self.loss_at = self.c

    def _advance_c(self, c):
        seg = self.seg
        while self.c < c:
            self.c += 1
            if self.c % seg == 0:  # left a segment: its file is no longer needed
                s = self.c // seg - 1
                if s == self._rf_seg:
                    self._rf.close()
                    self._rf = None
                    self._rf_seg = -1
                os.remove(self._name(s))

    def pending(self):
        return self.w - self.r

    def read_into(self, buf):
        """Load record r into buf; return its sample count (0 if none is waiting)."""
        r = self.r
        if r >= self.w:
            return 0
        seg = r // self.seg
        pos = r % self.seg
        if seg != self._rf_seg or pos >= self._rf_seen:
            if self._rf is not None:
                self._rf.close()
            if seg == self.w // self.seg:
                self._wf.flush()  # the reader is at the record being appended to
                self._rf_seen = self.w % self.seg
            else:
                self._rf_seen = self.seg
            self._rf = open(self._name(seg), "rb")
            self._rf_seg = seg
            self._rf_pos = 0
        if self._rf_pos != pos:
            self._rf.seek(pos * self.rec)
        self._rf.readinto(buf)
        self._rf_pos = pos + 1
        return buf[_COUNT]

    def sent(self):
        """Record r has been handed to the radio."""
        self.r += 1

    def commit(self, upto):
        """Records before upto reached the central for sure: forget them."""
        if upto > self.r:
            upto = self.r
        if upto <= self.c:
            return
        for g in range(self.c, upto):
            self.waiting -= self.counts[g % len(self.counts)]
        self._advance_c(upto)

    def rewind(self):
        """The link dropped: records sent but not committed go out again."""
        self.r = self.c

    def close(self):
        for f in (self._wf, self._rf):
            if f is not None:
                f.close()
        self._wf = self._rf = None
        self._rf_seg = -1
