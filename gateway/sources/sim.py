"""A simulated band: a synthetic night, encoded into real frames by the firmware's encoder.

It stands in for the radio, nothing else: quantisation to the IMU's int16 counts, frames
sized to the MTU, notification sequence numbers, a crystal that drifts against the host,
radio latency and (optionally) lost notifications. Time is simulated: the night runs from
``start_wall_ns`` (default: so that it ends at the moment the band starts, i.e. the whole
night is in the past and a dashboard's "last 12 hours" shows it at once), ``speed`` times
faster than real time (``speed=None``: as fast as the pipeline takes it).

The night is synthesised a chunk at a time in a worker thread while the frames of the
previous chunk go out, so the first packet leaves at once and memory stays flat.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import time
from collections.abc import AsyncIterator, Iterator
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
# Night synthesised per worker-thread call: ~40 ms of CPU, which a stop waits for (the
# thread finishes its chunk before the process may exit).
SYNTH_CHUNK_S = 120.0
# Pacing: frames that are due within this much wall time go out together, so a fast
# simulation costs one timer per burst instead of one per frame (at 960x a frame is due
# every 0.19 ms). A real band's notifications jitter by more than this anyway.
PACE_SLACK_S = 0.02
YIELD_EVERY = 32  # frames between yields when running as fast as possible


@dataclass
class SimOptions:
    name: str = "sim-band"
    duration_s: float = 8 * 3600.0
    speed: float | None = 960.0
    seed: int = 1
    profile: str = "mixed"
    rate_hz: int = 100
    gyro: bool = True
    mtu: int = 247
    drift_ppm: float = 20.0
    frame_loss: float = 0.0  # probability that a notification never reaches the gateway
    start_wall_ns: int | None = None  # None: the night ends when the band starts


class SimBand:
    """Async context manager and async iterator of packets from one simulated band."""

    def __init__(self, options: SimOptions | None = None, **kw: Any) -> None:
        self.opt = options if options is not None else SimOptions(**kw)
        self.labels: dict[str, Any] | None = None
        self.samples_sent = 0
        self.frames_dropped = 0
        self.start_wall_ns = 0
        self._chunks: Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]] | None = None

    async def __aenter__(self) -> SimBand:
        from ..synth import iter_synth_night

        o = self.opt
        # Planning the night (its labels) takes a fraction of a second; the samples follow.
        self.labels, self._chunks = await asyncio.to_thread(
            iter_synth_night, seed=o.seed, duration_s=o.duration_s, rate_hz=float(o.rate_hz),
            profile=o.profile, gyro=o.gyro, chunk_s=SYNTH_CHUNK_S)
        self.start_wall_ns = o.start_wall_ns if o.start_wall_ns is not None \
            else time.time_ns() - round(o.duration_s * 1e9)
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._chunks = None

    def write_labels(self, path: pathlib.Path) -> None:
        """The synthetic night's ground truth, in the evaluation set's format."""
        if self.labels is not None:
            write_private(path, json.dumps(self.labels, indent=1) + "\n", durable=False)

    async def __aiter__(self) -> AsyncIterator[Packet]:
        if self._chunks is None:
            raise RuntimeError("use SimBand as 'async with SimBand(...) as band'")
        chunks = self._chunks
        enc = _Encoder(self.opt, self.start_wall_ns)
        yield enc.connected()
        yield enc.meta()
        loop_start = time.monotonic()
        n_frames = 0
        while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
            for frame_last_s, packets in enc.frames(*chunk):
                if self.opt.speed is not None:
                    delay = loop_start + frame_last_s / self.opt.speed - time.monotonic()
                    if delay > PACE_SLACK_S:
                        await asyncio.sleep(delay)
                n_frames += 1
                if n_frames % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
                for p in packets:
                    yield p
        for p in enc.end():
            yield p
        self.samples_sent, self.frames_dropped = enc.samples_sent, enc.frames_dropped


class _Encoder:
    """Synthetic samples to the packets a band would send, chunk after chunk.

    Frames never straddle a hole in the sample index (the band's FIFO is contiguous), and
    a chunk's last, incomplete frame waits for the next chunk, so the frames are the same
    whatever the chunk size.
    """

    def __init__(self, o: SimOptions, start_wall_ns: int) -> None:
        self.o = o
        self.tp = tp = twproto()
        self.rng = np.random.default_rng(o.seed + 7919)
        self.period_us = round(1e6 / o.rate_hz)
        self.start_wall, self.start_mono = start_wall_ns, time.monotonic_ns()
        self.drift = 1.0 + o.drift_ppm * 1e-6
        self.flags = tp.F_ACC | (tp.F_GYRO if o.gyro else 0)
        self.ch = tp.channels(self.flags)
        self.per_frame = tp.samples_per_frame(o.mtu, self.ch)
        self.ranges = tp.ranges_code(ACC_RANGE_CODE, GYRO_RANGE_CODE)
        self.buf = bytearray(tp.frame_size(self.per_frame, self.ch))
        self.status = bytearray(tp.STATUS_SIZE)
        self.seq = 0
        self.next_status_s = 0.0
        self.first_index: int | None = None
        self.last_raw: int | None = None  # rint(t * rate) of the previous sample
        self.last_index: int | None = None
        self.carry_index = np.zeros(0, np.int64)  # an incomplete frame from the last chunk
        self.carry_raw = np.zeros((0, self.ch), "<i2")
        self.samples_sent = 0
        self.frames_dropped = 0

    def stamp(self, device_s: float) -> tuple[int, int]:
        lat_ns = int(self.rng.uniform(*LATENCY_MS) * 1e6)
        host_ns = int(device_s * self.drift * 1e9) + lat_ns
        return self.start_wall + host_ns, self.start_mono + host_ns

    def connected(self) -> Packet:
        w, m = self.stamp(0.0)
        body = {"event": "connected", "mtu": self.o.mtu, "rssi": -58, "address": "sim"}
        self._first_stamp = (w, m)
        return Packet(self.o.name, Kind.LINK, json.dumps(body, sort_keys=True).encode(), w, m)

    def meta(self) -> Packet:
        o, tp = self.o, self.tp
        meta = tp.encode_meta((0, 1, 0), o.rate_hz, self.ranges, self.flags & 3, (1, 2, 3),
                              (1, 2, 3), 0, 1, 0)
        w, m = self._first_stamp
        return Packet(o.name, Kind.META, meta, w, m)

    def _indices(self, t: np.ndarray) -> np.ndarray:
        """The band's sample index: rounding jittered synthetic times can collide, the
        band's index never does (each sample is at least one index after the last)."""
        raw = np.rint(np.asarray(t) * self.o.rate_hz).astype(np.int64)
        if self.last_raw is None:
            steps = np.maximum(np.diff(raw), 1)
            index = raw[0] + np.concatenate([[0], np.cumsum(steps)])
        else:
            assert self.last_index is not None
            steps = np.maximum(np.diff(np.concatenate([[self.last_raw], raw])), 1)
            index = self.last_index + np.cumsum(steps)
        self.last_raw, self.last_index = int(raw[-1]), int(index[-1])
        return index

    def _counts(self, acc_g: np.ndarray, gyro_dps: np.ndarray | None) -> np.ndarray:
        acc = np.clip(np.rint(np.asarray(acc_g) * (32768 / 8.0)), -32768, 32767)
        cols = [acc]
        if self.o.gyro and gyro_dps is not None:
            cols.append(np.clip(np.rint(np.asarray(gyro_dps) * (32768 / 2000.0)),
                                -32768, 32767))
        return np.hstack(cols).astype("<i2")

    def frames(self, t: np.ndarray, acc_g: np.ndarray, gyro_dps: np.ndarray | None
               ) -> Iterator[tuple[float, list[Packet]]]:
        """(device time of the frame's last sample, the packets it causes) per frame."""
        if len(t) == 0:
            return
        index = np.concatenate([self.carry_index, self._indices(t)])
        raw = np.concatenate([self.carry_raw, self._counts(acc_g, gyro_dps)])
        breaks = np.flatnonzero(np.diff(index) != 1) + 1
        starts = [0, *breaks.tolist()]
        ends = [*breaks.tolist(), len(index)]
        for k, (a, b) in enumerate(zip(starts, ends, strict=True)):
            for i in range(a, b, self.per_frame):
                j = min(b, i + self.per_frame)
                if k == len(starts) - 1 and j - i < self.per_frame:
                    # the last run's short frame: the next chunk may continue the run
                    self.carry_index, self.carry_raw = index[i:j], raw[i:j]
                    return
                yield self._frame(index[i:j], raw[i:j])
        self.carry_index = np.zeros(0, np.int64)
        self.carry_raw = np.zeros((0, self.ch), "<i2")

    def _frame(self, index: np.ndarray, raw: np.ndarray) -> tuple[float, list[Packet]]:
        o, tp = self.o, self.tp
        first, count = int(index[0]), len(index)
        n = tp.pack_frame_into(self.buf, self.flags, self.seq, first, first * self.period_us,
                               self.period_us, count, self.ranges, raw.tobytes())
        self.seq = (self.seq + 1) & 0xFFFF
        last_s = int(index[-1]) * self.period_us / 1e6
        out = []
        if o.frame_loss and self.rng.random() < o.frame_loss:
            self.frames_dropped += 1
        else:
            self.samples_sent += count
            w, m = self.stamp(last_s)
            out.append(Packet(o.name, Kind.DATA, bytes(self.buf[:n]), w, m))
        if last_s >= self.next_status_s:
            tp.pack_status_into(self.status, 100 - int(50 * last_s / 86400), 3900,
                                tp.S_STREAMING, 0, o.mtu, self.seq, 0, 0, 0, 0,
                                int(last_s * 1e6), 0xFFFFFFFF)
            w, m = self.stamp(last_s)
            out.append(Packet(o.name, Kind.STATUS, bytes(self.status), w, m))
            self.next_status_s = last_s + STATUS_EVERY_S
        return last_s, out

    def end(self) -> list[Packet]:
        out = []
        if len(self.carry_index):
            out += self._frame(self.carry_index, self.carry_raw)[1]
        last_s = (self.last_index or 0) / self.o.rate_hz
        w, m = self.stamp(last_s)
        out.append(Packet(self.o.name, Kind.LINK,
                          b'{"event": "disconnected", "reason": "end of night"}', w, m))
        return out
