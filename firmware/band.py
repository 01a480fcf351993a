# The band: sample the IMU into blocks, stream them live, keep the rest in the offline
# ring and replay it behind live data (docs/firmware.md has the design and its figures).
#
# A block is a packed data frame with room for REC - 20 bytes of samples (18 six-axis or
# 37 three-axis samples): one notification at MTU 247, one record in the ring.
import asyncio
import time

from micropython import const

import board
import config
import twproto
from blelink import Link
from clock import Clock, add_us, diff_us, sub_us
from imu import UnsupportedIMU, detect
from ring import Ring

REC = const(244)  # PREFERRED_MTU - 3
_HDR = const(20)
_SPILL_BELOW = const(4)  # free slots


_CAP3 = const(37)  # (REC - 20) // 6
_CAP6 = const(18)  # (REC - 20) // 12


def _lengths(buf):
    """Views of buf for every frame length 20 + 6k, k = 0..37 (index k)."""
    mv = memoryview(buf)
    return [mv[:_HDR + 6 * k] for k in range(_CAP3 + 1)]


class _Fifo:
    """Slot numbers (with an int mark each) in a fixed ring: no allocation after init."""

    def __init__(self, n):
        self.a = [0] * n
        self.m = [0] * n
        self.h = 0
        self.n = 0

    def push(self, v, mark=0):
        i = (self.h + self.n) % len(self.a)
        self.a[i] = v
        self.m[i] = mark
        self.n += 1

    def head(self):
        return self.a[self.h]

    def head_mark(self):
        return self.m[self.h]

    def pop(self):
        v = self.a[self.h]
        self.h = (self.h + 1) % len(self.a)
        self.n -= 1
        return v


class Band:
    def __init__(self):
        self.wake = asyncio.ThreadSafeFlag()  # link events, closed blocks
        self.imu_flag = asyncio.ThreadSafeFlag()  # the IMU's FIFO watermark pin
        self.clock = Clock()
        self.rate = config.RATE_HZ
        self.acc = config.ACC_RANGE
        self.gyro = config.GYRO_RANGE
        self.imu = None
        self.part = 0
        self.ch = 6 if config.USE_GYRO else 3
        self.index = 0  # next sample's index since boot
        self.last_error = twproto.E_NONE
        self.overflows = 0
        self.ram_dropped = 0
        self.sent = 0  # data notifications since boot
        self.retries = 0  # notify retries after ENOMEM
        self.sync_sec = -1
        self.sync_host_us = 0
        self.streaming = True  # START/STOP; sampling itself never stops
        self._last_fetch_ms = time.ticks_ms()
        self._tmp = [0, 0]
        self._prev_hi = self._prev_lo = 0  # time of the last sample of the previous batch
        self._have_prev = False
        self._resync = False

        n_slots = config.TX_WINDOW + 16
        self.slots = [bytearray(REC) for _ in range(n_slots)]
        # Views are made here, never on the send path: a full block of each slot for
        # 3 and 6 channels, and every frame length 20 + 6k of txb and blb.
        self._full3 = [memoryview(b)[:_HDR + _CAP3 * 6] for b in self.slots]
        self._full6 = [memoryview(b)[:_HDR + _CAP6 * 12] for b in self.slots]
        self.free = _Fifo(n_slots)
        for i in range(n_slots):
            self.free.push(i)
        self.ready = _Fifo(n_slots)  # closed blocks, oldest first
        self.inflight = _Fifo(n_slots)  # sent, maybe still in the controller; mark = accepted
        self.fill = -1  # slot being filled
        self.fill_n = 0
        self.fill_first = 0
        self.fill_hi = self.fill_lo = 0
        self.fill_loss = False
        self.fill_open_ms = 0
        self.loss_next = False

        self.txb = bytearray(REC)  # partial blocks and parts of blocks (MTU below 247)
        self._txviews = _lengths(self.txb)
        self.blb = bytearray(REC)  # the backlog record being sent
        self._blviews = _lengths(self.blb)
        self.bl_n = 0  # samples in blb (0: nothing loaded)
        self.bl_off = 0
        self.bl_marks = _Fifo(config.TX_WINDOW + 2)  # ring records in flight

        self.tx_off = 0  # samples of the head ready block already sent
        self.seq = 0
        self.accepted = 0  # notifications the controller took on this connection
        self.live = False
        self.backoff_ms = config.BACKOFF_MIN_MS
        self.status = bytearray(twproto.STATUS_SIZE)

        self.i2c = board.i2c()
        self.int_pin = board.int_pin()
        self.button = board.button()
        self._start_imu()
        self.ring = Ring(config.RING_DIR, REC, config.RING_SEG_RECORDS, config.RING_SHARE_PCT,
                         config.RING_MIN_SEGMENTS)
        self.link = Link(self.wake)
        self._seen_connects = 0
        self._seen_disconnects = 0
        self._adv_pending = False
        link = self.link
        link.write(link.h_manufacturer, config.MANUFACTURER.encode())
        link.write(link.h_firmware, ("%d.%d.%d" % config.FW_VERSION).encode())
        link.write(link.h_model, board.model_name(self.part).encode())
        self._write_meta()
        link.advertise()

    # --- IMU -----------------------------------------------------------------------

    def _start_imu(self):
        try:
            self.imu = detect(self.i2c, self.int_pin, self.imu_flag)
            self.part = self.imu.part
            if not self.imu.has_gyro:
                self.ch = 3
            self.imu.configure(self.rate, self.acc, self.gyro)
            # After a failure the part kept sampling (or was reset) while unreachable: the
            # first batch measures that gap on the clock, as after an MPU overflow.
            self._resync = self._have_prev
            if self.last_error == twproto.E_IMU:
                self.last_error = twproto.E_NONE
        except (OSError, UnsupportedIMU):  # NACK or a part we do not drive: retry later
            self.imu = None
            self.last_error = twproto.E_IMU

    def _flags(self):
        return twproto.F_ACC | (twproto.F_GYRO if self.ch == 6 else 0)

    def _cap(self):
        return _CAP6 if self.ch == 6 else _CAP3

    def _reconfigure(self, rate, acc, gyro):
        if self.imu is not None:
            self._sample_once()  # keep what the FIFO holds at the old settings
        self._close_block()
        self.rate, self.acc, self.gyro = rate, acc, gyro
        if self.imu is not None:
            try:
                self.imu.configure(rate, acc, gyro)
            except OSError:
                self.imu = None
                self.last_error = twproto.E_IMU
        self._have_prev = False
        self._resync = False
        self._write_meta()

    def _sample_once(self):
        imu = self.imu
        try:
            n = imu.fetch()
        except OSError:
            self.imu = None
            self.last_error = twproto.E_IMU
            self._close_block()
            return
        clk = self.clock
        clk.update()
        self._last_fetch_ms = time.ticks_ms()
        period = imu.period_us
        if self._resync and n:
            self._resync = False
            gap = diff_us(clk.hi, clk.lo, self._prev_hi, self._prev_lo)
            lost = (gap + period // 2) // period - n
            if lost > 0:
                self._close_block()
                self.index += lost
                self.loss_next = True
        if imu.overflow:
            self.overflows += 1
            lost = imu.lost
            if lost < 0:
                # The part cannot count: the gap is the time since the last sample kept,
                # in periods, less the samples still delivered in this batch.
                lost = 0
                if self._have_prev:
                    gap = diff_us(clk.hi, clk.lo, self._prev_hi, self._prev_lo)
                    lost = (gap + period // 2) // period - n
                    if lost < 0:
                        lost = 0
            if n:
                # Stop-on-full: this batch came before the refused samples, so its last
                # sample was taken `lost` periods ago, not now.
                back = lost * period
                self._append(n, period, back if back < 0x3FFFFFFF else 0x3FFFFFFF)
            self._close_block()
            self.index += lost
            self.loss_next = True
            return
        if n:
            self._append(n, period)
        if (self.live and self.fill >= 0
                and time.ticks_diff(self._last_fetch_ms, self.fill_open_ms) >= config.LATENCY_MS):
            self._close_block()

    def _append(self, n, period, end_back_us=0):
        clk = self.clock
        imu = self.imu
        cap = self._cap()
        bs = 2 * self.ch
        tmp = self._tmp
        j = 0
        while j < n:
            if self.fill < 0:
                if not self._open_block():
                    return
                # The batch was read just now: its last sample is about now (end_back_us
                # before it after an overflow), the others one period apart before it.
                sub_us(clk.hi, clk.lo, (n - 1 - j) * period + end_back_us, tmp)
                self.fill_hi = tmp[0]
                self.fill_lo = tmp[1]
            m = n - j
            room = cap - self.fill_n
            if m > room:
                m = room
            imu.copy_out(j, m, self.slots[self.fill], _HDR + self.fill_n * bs, self.ch)
            self.fill_n += m
            j += m
            if self.fill_n == cap:
                self._close_block()
        self._prev_hi = clk.hi
        self._prev_lo = clk.lo
        self._have_prev = True

    def _open_block(self):
        if self.free.n == 0:
            # The sender is behind even the ring: drop the oldest closed block.
            if self.ready.n == 0:
                return False
            s = self.ready.pop()
            self.ram_dropped += self.slots[s][18]
            self.free.push(s)
            self.tx_off = 0
            if self.ready.n:  # the gap is right before the new oldest block
                self.slots[self.ready.head()][1] |= twproto.F_LOSS
            else:
                self.loss_next = True
        self.fill = self.free.pop()
        self.fill_n = 0
        self.fill_first = self.index
        self.fill_loss = self.loss_next
        self.loss_next = False
        self.fill_open_ms = time.ticks_ms()
        return True

    def _close_block(self):
        s = self.fill
        if s < 0:
            return
        self.fill = -1
        n = self.fill_n
        buf = self.slots[s]
        flags = self._flags() | (twproto.F_LOSS if self.fill_loss else 0)
        twproto.pack_header_into(buf, flags, 0, self.fill_first, self.fill_hi, self.fill_lo,
                                 self.imu.period_us if self.imu else 1_000_000 // self.rate,
                                 n, twproto.ranges_code(self.acc, self.gyro))
        self.index = self.fill_first + n
        self.ready.push(s)
        self.wake.set()

    async def _sampler(self):
        while True:
            if self.imu is not None and self.imu.irq_driven:
                await self.imu_flag.wait()
            else:
                await asyncio.sleep_ms(config.POLL_MS)
            if self.imu is not None:
                self._sample_once()

    # --- link and sending ----------------------------------------------------------

    def _spf(self):
        return twproto.samples_per_frame(self.link.mtu, self.ch)

    def _events(self):
        link = self.link
        link.sec.service()
        if link.disconnects != self._seen_disconnects:
            self._seen_disconnects = link.disconnects
            self._set_live(False)
            self._link_lost()
            self._adv_pending = True  # NimBLE stops advertising when a central connects
        if self._adv_pending and link.conn < 0:
            self._advertise()
        if link.connects != self._seen_connects:
            self._seen_connects = link.connects
            self._set_live(False)
            self.seq = 0
            self.accepted = 0
        while True:
            cmd = link.next_control()
            if cmd is None:
                break
            self._control(cmd)
        # Only a trusted link gets data: gatts_notify itself would send to anyone.
        self._set_live(link.trusted and self.streaming and self._spf() > 0)

    def _advertise(self):
        try:
            self.link.advertise()
            self._adv_pending = False
        except OSError:
            pass  # the stack is busy: the status task tries again within a second

    def _control(self, cmd):
        try:
            op, arg = twproto.decode_control(cmd)
        except ValueError as e:
            self.last_error = e.args[0]
            return
        if op == twproto.OP_START:
            self.streaming = True
        elif op == twproto.OP_STOP:
            self.streaming = False
        elif op == twproto.OP_SET_RATE:
            if arg != self.rate:
                self._reconfigure(arg, self.acc, self.gyro)
        elif op == twproto.OP_SET_RANGE:
            self._reconfigure(self.rate, arg & 0x0F, arg >> 4)
        elif op == twproto.OP_TIME_SYNC:
            self.clock.update()
            self.sync_sec = self.clock.sec
            self.sync_host_us = arg

    def _set_live(self, live):
        if live == self.live:
            return
        self.live = live
        if live:
            return
        # A frame cut short (MTU below 247) is sent again whole. What was accepted stays
        # in flight: on the same link the status notifications retire it.
        self.bl_n = 0
        self.tx_off = 0
        self._store_ready()

    def _link_lost(self):
        # Whatever may still sit in the controller goes back to the backlog: gatts_notify
        # has no completion event, so the band cannot know which of those frames left.
        self.ring.rewind()
        while self.bl_marks.n:
            self.bl_marks.pop()
        while self.inflight.n:
            self._store(self.inflight.pop())

    def _store(self, s):
        try:
            self.ring.push(self.slots[s])
        except OSError:
            self.last_error = twproto.E_FLASH_FULL
            self.ram_dropped += self.slots[s][18]
            self.loss_next = True
        self.free.push(s)

    def _store_ready(self):
        while self.ready.n:
            self._store(self.ready.pop())

    def _retire(self):
        a = self.accepted
        w = config.TX_WINDOW
        while self.inflight.n and a - self.inflight.head_mark() >= w:
            self.free.push(self.inflight.pop())
        while self.bl_marks.n and a - self.bl_marks.head_mark() >= w:
            self.bl_marks.pop()
            self.ring.commit(self.ring.c + 1)

    def _part_frame(self, src, off, m, flags):
        """Samples off..off+m-1 of the block in src as a frame in txb; returns its view."""
        ch = 6 if src[1] & twproto.F_GYRO else 3
        bs = 2 * ch
        first = src[4] | (src[5] << 8) | (src[6] << 16) | (src[7] << 24)
        lo = src[8] | (src[9] << 8) | (src[10] << 16) | ((src[11] & 0x3F) << 24)
        hi = (src[11] >> 6) | (src[12] << 2) | (src[13] << 10) | (src[14] << 18)
        period = src[16] | (src[17] << 8)
        add_us(hi, lo, off * period, self._tmp)
        txb = self.txb
        twproto.pack_header_into(txb, flags, self.seq, first + off, self._tmp[0],
                                 self._tmp[1], period, m, src[19])
        p = _HDR + off * bs
        n = m * bs
        for k in range(n):
            txb[_HDR + k] = src[p + k]
        return self._txviews[n // 6]

    def _notify(self, view):
        """1 sent, 0 controller full (ENOMEM: retry this frame later), -1 link gone."""
        try:
            self.link.notify(self.link.h_data, view)
        except OSError as e:
            if e.args[0] == 12:  # ENOMEM
                self.retries += 1
                return 0
            return -1
        self.seq = (self.seq + 1) & 0xFFFF
        self.accepted += 1
        self.sent += 1
        self._retire()
        return 1

    def _send_live(self, spf):
        s = self.ready.head()
        buf = self.slots[s]
        count = buf[18]
        off = self.tx_off
        m = count - off
        if m > spf:
            m = spf
        flags = buf[1] & ~twproto.F_BACKLOG
        full = _CAP6 if flags & twproto.F_GYRO else _CAP3
        if off == 0 and m == count == full:
            twproto.set_flags_seq(buf, flags, self.seq)
            view = self._full6[s] if flags & twproto.F_GYRO else self._full3[s]
        else:
            view = self._part_frame(buf, off, m, flags if off == 0 else flags & ~twproto.F_LOSS)
        r = self._notify(view)
        if r == 1:
            self.tx_off = off + m
            if self.tx_off == count:
                self.tx_off = 0
                self.ready.pop()
                self.inflight.push(s, self.accepted)
        return r

    def _send_backlog(self, spf):
        ring = self.ring
        if self.bl_n == 0:
            self.bl_n = ring.read_into(self.blb)
            self.bl_off = 0
            if self.bl_n == 0:
                return 2
        blb = self.blb
        count = self.bl_n
        off = self.bl_off
        m = count - off
        if m > spf:
            m = spf
        flags = blb[1] | twproto.F_BACKLOG
        if ring.loss_at == ring.r:
            flags |= twproto.F_LOSS
        if off == 0 and m == count:
            twproto.set_flags_seq(blb, flags, self.seq)
            view = self._blviews[count * (2 if flags & twproto.F_GYRO else 1)]
        else:
            view = self._part_frame(blb, off, m, flags if off == 0 else flags & ~twproto.F_LOSS)
        r = self._notify(view)
        if r == 1:
            self.bl_off = off + m
            if self.bl_off == count:
                if ring.loss_at == ring.r:
                    ring.loss_at = -1
                ring.sent()
                self.bl_n = 0
                self.bl_marks.push(0, self.accepted)
        return r

    async def _sender(self):
        while True:
            self._events()
            while self.free.n < _SPILL_BELOW and self.ready.n > 1:
                # The link is slower than the IMU: the oldest waiting blocks become backlog
                # before the sampler runs out of slots and would have to drop them.
                self.tx_off = 0
                self._store(self.ready.pop())
            if not self.live:
                self._store_ready()
                await self.wake.wait()
                continue
            spf = self._spf()
            r = self._send_live(spf) if self.ready.n else self._send_backlog(spf)
            if r == 1:
                self.backoff_ms = config.BACKOFF_MIN_MS
                await asyncio.sleep_ms(config.NOTIFY_GAP_MS)
            elif r == 0:
                await asyncio.sleep_ms(self.backoff_ms)
                if self.backoff_ms < config.BACKOFF_MAX_MS:
                    self.backoff_ms *= 2
            elif r < 0:
                self._set_live(False)
                await self.wake.wait()
            else:
                await self.wake.wait()  # nothing to send until a block closes

    # --- status --------------------------------------------------------------------

    def _write_meta(self):
        meta = twproto.encode_meta(config.FW_VERSION, self.rate,
                                   twproto.ranges_code(self.acc, self.gyro), self._flags(),
                                   config.ACC_MAP, config.GYRO_MAP, self.part,
                                   config.WEAR_FLAGS, self.ring.capacity * self._cap())
        self.link.write(self.link.h_meta, meta)

    def _state(self):
        st = 0
        link = self.link
        if self.live:
            st |= twproto.S_STREAMING
            if self.ring.pending() or self.bl_n:
                st |= twproto.S_SENDING_BACKLOG
        if link.conn >= 0 and self._spf() == 0:
            st |= twproto.S_MTU_TOO_SMALL
        if self.imu is None:
            st |= twproto.S_IMU_ERROR
        return st

    def _write_status(self):
        clk = self.clock
        clk.update()
        since = 0xFFFFFFFF if self.sync_sec < 0 else clk.sec - self.sync_sec
        pct, mv = board.battery()
        buf = self.status
        twproto.pack_status_into(buf, pct, mv, self._state(), self.last_error, self.link.mtu,
                                 self.sent, self.retries, self.overflows,
                                 self.ring.dropped + self.ram_dropped, self.ring.waiting, 0,
                                 since)
        twproto.pack_t64_into(buf, 28, clk.hi, clk.lo)
        self.link.write(self.link.h_status, buf)
        return pct

    async def _status(self):
        battery = -1
        while True:
            await asyncio.sleep_ms(config.STATUS_PERIOD_MS)
            if self.imu is None:
                self._start_imu()
                if self.imu is not None:
                    self._write_meta()
            elif (self.imu.irq_driven and time.ticks_diff(time.ticks_ms(), self._last_fetch_ms)
                    > 2 * config.STATUS_PERIOD_MS):
                self.imu_flag.set()  # a lost edge on the INT line must not stop sampling
            sec = self.link.sec
            sec.button(self.button.value() == 0)
            sec.service()  # pairing window and untrusted-link timers, bond store writes
            if self._adv_pending and self.link.conn < 0:
                self._advertise()
            pct = self._write_status()
            if pct != battery and pct <= 100:
                battery = pct
                self.link.write(self.link.h_battery, bytes((pct,)))
            if self.link.trusted and self.link.mtu >= twproto.STATUS_SIZE + 3:
                try:
                    self.link.notify(self.link.h_status)
                    self.accepted += 1
                    self._retire()
                except OSError:
                    pass  # the next second's status replaces it

    async def run(self):
        asyncio.create_task(self._sampler())
        asyncio.create_task(self._status())
        await self._sender()


app = None  # the running Band, for a look from the REPL: band.app.ring.waiting


def main():
    global app
    app = Band()
    asyncio.run(app.run())
