# The emulated central's application side: checks every data frame against
# docs/protocol.md and counts, per sample index, how often it arrived.
import struct

import bluetooth
import sim

DATA_UUID = bluetooth.UUID("7a1e0002-5c2b-4d0e-9a6f-747761746368")
STATUS_UUID = bluetooth.UUID("7a1e0005-5c2b-4d0e-9a6f-747761746368")
_ZEROS = bytes(255)
_ONES = b"\x01" * 255


class Sink:
    def __init__(self, max_samples, check_content=True):
        self.data_handle = -1  # found at the first packet: the band registers its table late
        self.status_handle = -1
        self.counts = bytearray(max_samples)
        self.check_content = check_content
        self.frames = 0
        self.backlog_frames = 0
        self.loss_frames = 0
        self.malformed = 0
        self.dup_samples = 0
        self.dup_backlog = 0  # duplicates that came as BACKLOG (re-sent after a drop)
        self.samples = 0
        self.content_errors = 0
        self.first_content_error = None
        self.seq_errors = 0
        self.end = 0  # one past the highest index received
        self.conn = -1
        self.next_seq = 0
        self.status_notifications = 0
        self.max_count = 0
        self.periods = {}
        self.ranges = {}
        self.loss_at = []  # (first_index, backlog) of LOSS frames
        self.overflow_index = 0
        self.offsets = {}  # sensor serial - band index of frames' first samples: count
        self.first_live = []  # (conn, first index) of each connection's first live frame
        self._live_conn = -1
        # Delivery lag of live frames: receive time - device time of their last sample.
        # The band's clock started at its boot, so only the spread max - min is meaningful.
        self.lag_min_us = 1 << 62
        self.lag_max_us = -(1 << 62)
        self._sec = -1
        self._in_sec = 0
        self.max_per_s = 0  # notifications (data + status) in any one second of sim time
        self._last_live_first = -1
        self._last_live_t = 0
        self._last_live_period = 0
        self.max_time_err_us = 0

    def on_packet(self, handle, buf, n, conn):
        sec = sim.now_us // 1_000_000
        if sec != self._sec:
            self._sec = sec
            self._in_sec = 0
        self._in_sec += 1
        if self._in_sec > self.max_per_s:
            self.max_per_s = self._in_sec
        if self.data_handle < 0:
            ble = bluetooth.BLE()
            self.data_handle = ble.handle_of(DATA_UUID)
            self.status_handle = ble.handle_of(STATUS_UUID)
        if handle == self.data_handle:
            self.on_data(buf, n, conn)
        elif handle == self.status_handle:
            self.status_notifications += 1

    def on_data(self, buf, n, conn):
        if n < 22:
            self.malformed += 1
            return
        ver, flags, seq, first, t_us, period, count, ranges = struct.unpack_from(
            "<BBHIQHBB", buf, 0)
        ch = 6 if flags & 2 else 3
        if (ver != 1 or not flags & 1 or flags & 0xF0 or count == 0
                or n != 20 + count * ch * 2 or not 1000 <= period <= 50000
                or ranges & 0x0F > 3 or ranges >> 4 > 3):
            self.malformed += 1
            return
        if conn != self.conn:
            self.conn = conn
            self.next_seq = 0
        if seq != self.next_seq:
            self.seq_errors += 1
        self.next_seq = (seq + 1) & 0xFFFF
        self.frames += 1
        backlog = flags & 4
        if backlog:
            self.backlog_frames += 1
        if flags & 8:
            self.loss_frames += 1
            if len(self.loss_at) < 1000:
                self.loss_at.append((first, 1 if backlog else 0))
        if not backlog:
            # Device time against the index: consecutive live frames must be as far apart
            # in time as in samples, within the sensor's drift (docs: +/-0.2 % here). The
            # samples in between were taken at the earlier frame's period: a rate change
            # closes the band's block, so it starts a frame.
            if self._last_live_first >= 0 and first > self._last_live_first:
                dt = t_us - self._last_live_t
                want = (first - self._last_live_first) * self._last_live_period
                err = abs(dt - want) - want // 300  # 0.33 % of the span is drift
                if err > self.max_time_err_us:
                    self.max_time_err_us = err
            self._last_live_first = first
            self._last_live_t = t_us
            self._last_live_period = period
            if conn != self._live_conn:
                self._live_conn = conn
                self.first_live.append((conn, first))
            lag = sim.now_us - (t_us + (count - 1) * period)
            if lag < self.lag_min_us:
                self.lag_min_us = lag
            if lag > self.lag_max_us:
                self.lag_max_us = lag
        if count > self.max_count:
            self.max_count = count
        self.periods[period] = self.periods.get(period, 0) + 1
        self.ranges[ranges] = self.ranges.get(ranges, 0) + 1
        self.samples += count
        counts = self.counts
        if first + count > len(counts):
            self.overflow_index += 1
            return
        if counts[first:first + count] == _ZEROS[:count]:  # the usual case, at C speed
            counts[first:first + count] = _ONES[:count]
        else:
            for i in range(first, first + count):
                c = counts[i]
                if c:
                    self.dup_samples += 1
                    if backlog:
                        self.dup_backlog += 1
                    if c == 255:
                        continue
                counts[i] = c + 1
        if first + count > self.end:
            self.end = first + count
        if self.check_content:
            bs = ch * 2
            v0, v1 = struct.unpack_from("<hh", buf, 20)
            off = (v0 | (v1 << 15)) - first
            self.offsets[off] = self.offsets.get(off, 0) + 1
            for i in range(count):
                v0, v1 = struct.unpack_from("<hh", buf, 20 + i * bs)
                if v0 | (v1 << 15) != first + i:
                    self.content_errors += 1
                    if self.first_content_error is None:
                        self.first_content_error = (first + i, v0 | (v1 << 15))

    def missing(self, upto):
        """Indices below upto never received."""
        c = self.counts
        return sum(1 for i in range(upto) if not c[i])

    def missing_runs(self, upto):
        runs = []
        c = self.counts
        start = -1
        for i in range(upto):
            if not c[i]:
                if start < 0:
                    start = i
            elif start >= 0:
                runs.append((start, i - start))
                start = -1
        if start >= 0:
            runs.append((start, upto - start))
        return runs

    def status(self):
        v = bluetooth.BLE().gatts_read(bluetooth.BLE().handle_of(STATUS_UUID))
        if len(v) != 40:
            return None
        f = struct.unpack("<BBHBBHIIIIIQI", v)
        keys = ("version", "battery_pct", "battery_mv", "state", "last_error", "mtu", "sent",
                "retries", "overflows", "ring_dropped", "ring_waiting", "now_us",
                "since_sync_s")
        return dict(zip(keys, f))
