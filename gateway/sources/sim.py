"""A simulated band: a synthetic night, encoded into real frames by the firmware's encoder.

It stands in for the radio, nothing else: quantisation to the IMU's int16 counts, frames
sized to the MTU, notification sequence numbers, a crystal that drifts against the host,
radio latency and (optionally) lost notifications. Time is simulated: the night starts at
``start_wall_ns`` (default: now) and runs ``speed`` times faster than real time
(``speed=None``: as fast as the pipeline takes it).
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np

from ..packets import Kind, Packet
from ..private_files import write_private
from .firmware_encoder import twproto

ACC_RANGE_CODE = 2  # +-8 g: keeps severe tremor and large jerks unclipped
GYRO_RANGE_CODE = 3  # +-2000 deg/s
STATUS_EVERY_S = 1.0  # the band notifies its status about once a second
LATENCY_MS = (8.0, 45.0)  # BLE connection-interval latency, uniform in this range
YIELD_EVERY = 32  # frames between yields when running as fast as possible


@dataclass
class SimOptions:
    name: str = "sim-band"
    duration_s: float = 8 * 3600.0
    speed: float | None = 240.0
    seed: int = 1
    profile: str = "mixed"
    rate_hz: int = 100
    gyro: bool = True
    mtu: int = 247
    drift_ppm: float = 20.0
    frame_loss: float = 0.0  # probability that a notification never reaches the gateway
    start_wall_ns: int | None = None


class SimBand:
    """Async context manager and async iterator of packets from one simulated band."""

    def __init__(self, options: SimOptions | None = None, **kw: Any) -> None:
        self.opt = options if options is not None else SimOptions(**kw)
        self.labels: dict[str, Any] | None = None
        self.samples_sent = 0
        self.frames_dropped = 0
        self._rec: Any = None

    async def __aenter__(self) -> SimBand:
        # Synthesis takes seconds for a whole night: keep the event loop free meanwhile.
        self._rec = await asyncio.to_thread(self._synthesise)
        self.labels = self._rec.labels
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._rec = None

    def _synthesise(self) -> Any:
        from ..synth import synth_night

        o = self.opt
        return synth_night(seed=o.seed, duration_s=o.duration_s, rate_hz=float(o.rate_hz),
                           profile=o.profile, gyro=o.gyro)

    def write_labels(self, path: pathlib.Path) -> None:
        """The synthetic night's ground truth, in the evaluation set's format."""
        if self.labels is not None:
            write_private(path, json.dumps(self.labels, indent=1) + "\n", durable=False)

    async def __aiter__(self) -> AsyncIterator[Packet]:
        if self._rec is None:
            raise RuntimeError("use SimBand as 'async with SimBand(...) as band'")
        o, tp = self.opt, twproto()
        rng = np.random.default_rng(o.seed + 7919)
        rec = self._rec
        period_us = round(1e6 / o.rate_hz)
        # The band samples on its own crystal: its sample index is its time base.
        # Rounding jittered synthetic times can collide; the band's index never does.
        index = np.rint(np.asarray(rec.t) * o.rate_hz).astype(np.int64)
        if len(index) > 1:
            steps = np.maximum(np.diff(index), 1)
            index = index[0] + np.concatenate([[0], np.cumsum(steps)])
        acc = np.clip(np.rint(np.asarray(rec.acc_g) * (32768 / 8.0)), -32768, 32767)
        cols = [acc]
        flags = tp.F_ACC
        if o.gyro and rec.gyro_dps is not None:
            cols.append(np.clip(np.rint(np.asarray(rec.gyro_dps) * (32768 / 2000.0)),
                                -32768, 32767))
            flags |= tp.F_GYRO
        raw = np.hstack(cols).astype("<i2")
        ch = raw.shape[1]
        per_frame = tp.samples_per_frame(o.mtu, ch)
        ranges = tp.ranges_code(ACC_RANGE_CODE, GYRO_RANGE_CODE)
        start_wall = o.start_wall_ns if o.start_wall_ns is not None else time.time_ns()
        start_mono = time.monotonic_ns()
        drift = 1.0 + o.drift_ppm * 1e-6
        buf = bytearray(tp.frame_size(per_frame, ch))
        status = bytearray(tp.STATUS_SIZE)

        def stamp(device_s: float) -> tuple[int, int]:
            lat_ns = int(rng.uniform(*LATENCY_MS) * 1e6)
            host_ns = int(device_s * drift * 1e9) + lat_ns
            return start_wall + host_ns, start_mono + host_ns

        meta = tp.encode_meta((0, 1, 0), o.rate_hz, ranges, flags & 3, (1, 2, 3), (1, 2, 3),
                              0, 1, 0)
        w, m = stamp(index[0] / o.rate_hz if len(index) else 0.0)
        yield Packet(o.name, Kind.LINK, json.dumps(
            {"event": "connected", "mtu": o.mtu, "rssi": -58, "address": "sim"},
            sort_keys=True).encode(), w, m)
        yield Packet(o.name, Kind.META, meta, w, m)

        seq = 0
        next_status_s = 0.0
        loop_start = time.monotonic()
        # Frames never straddle a hole in the index: the band's FIFO is contiguous.
        breaks = np.flatnonzero(np.diff(index) != 1) + 1
        runs = zip([0, *breaks.tolist()], [*breaks.tolist(), len(index)], strict=True)
        n_frames = 0
        for a, b in runs:
            for i in range(a, b, per_frame):
                j = min(b, i + per_frame)
                first = int(index[i])
                t_us = first * period_us
                n = tp.pack_frame_into(buf, flags, seq, first, t_us, period_us, j - i,
                                       ranges, raw[i:j].tobytes())
                seq = (seq + 1) & 0xFFFF
                last_s = int(index[j - 1]) * period_us / 1e6
                if o.speed is not None:
                    delay = loop_start + last_s / o.speed - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                n_frames += 1
                if n_frames % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
                if o.frame_loss and rng.random() < o.frame_loss:
                    self.frames_dropped += 1
                else:
                    self.samples_sent += j - i
                    w, m = stamp(last_s)
                    yield Packet(o.name, Kind.DATA, bytes(buf[:n]), w, m)
                if last_s >= next_status_s:
                    tp.pack_status_into(status, 100 - int(50 * last_s / 86400), 3900,
                                        tp.S_STREAMING, 0, o.mtu, seq, 0, 0, 0, 0,
                                        int(last_s * 1e6), 0xFFFFFFFF)
                    w, m = stamp(last_s)
                    yield Packet(o.name, Kind.STATUS, bytes(status), w, m)
                    next_status_s = last_s + STATUS_EVERY_S
        w, m = stamp(int(index[-1]) / o.rate_hz if len(index) else 0.0)
        yield Packet(o.name, Kind.LINK, b'{"event": "disconnected", "reason": "end of night"}',
                     w, m)
