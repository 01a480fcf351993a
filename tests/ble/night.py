"""A simulated night with link drops: does the gateway lose anything the band could hold?

The emulated band runs ``time_scale`` times faster than real time (device clock,
sampling and its notification budget all scale; its clock is simulated, so on a loaded
machine it slows down rather than outrun the emulated radio), and a seeded schedule, in
the band's device time, disconnects it from the band's side or takes it out of range for
minutes at a time. The gateway side
is the real BleSource with its real options (in wall time). Every DATA packet is
counted by sample index; at the end every index the band produced is accounted for:

    received (once) + dropped on air (harness knob) + dropped by the full ring == produced

    python -m tests.ble.night --hours 8 --scale 60      # the figure in docs/ble.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import tempfile
import time
from dataclasses import asdict, dataclass

import numpy as np

from twitchwatch.gateway.codec import decode_frame
from twitchwatch.gateway.packets import Kind
from twitchwatch.gateway.sources.ble import BleSource
from twitchwatch.gateway.sources.ble_bonds import STATE_ENV

from .backend import BumbleWorld
from .band import BandConfig, EmulatedBand
from .imu_signal import samples

ADDRESS = "F0:00:00:00:1A:2B"
KEY = "tw-1a2b"


@dataclass
class NightReport:
    hours: float
    time_scale: float
    wall_s: float
    produced: int
    received: int  # distinct sample indices received
    duplicates: int  # sample indices received more than once
    air_dropped: int
    ring_dropped: int
    lost_unexplained: int  # produced, not received, not dropped by ring or air: must be 0
    bad_values: int  # checked frames whose samples differ from what the band sampled
    backlog_samples: int
    ring_peak: int
    ring_capacity: int
    brief_disconnects: int  # band-side disconnects, band back at once
    away_periods: int  # out of range: disconnected and not advertising
    away_device_s: float
    reconnects: int
    watchdog_trips: int
    notifications: int
    notifications_per_wall_s: float
    peak_notifications_per_wall_s: float
    samples_per_wall_s: float
    queue_dropped: int


class _Tally:
    """Per-index receive counts in a numpy array: a night is millions of samples."""

    def __init__(self, expect: int) -> None:
        self.counts = np.zeros(expect, dtype=np.uint8)
        self.backlog = 0
        self.bad_values = 0
        self.frames = 0
        self.per_second: dict[int, int] = {}
        self.changed = asyncio.Event()

    def _grow(self, n: int) -> None:
        if n > len(self.counts):
            self.counts = np.concatenate([self.counts, np.zeros(n * 2 - len(self.counts),
                                                                dtype=np.uint8)])

    def add(self, payload: bytes, recv_mono_ns: int) -> None:
        f = decode_frame(payload)
        end = f.first_index + f.count
        self._grow(end)
        self.counts[f.first_index:end] += 1
        self.frames += 1
        if f.backlog:
            self.backlog += f.count
        if self.frames % 97 == 0 and not np.array_equal(
                f.raw, samples(f.first_index, f.count, f.has_gyro)):
            self.bad_values += 1
        s = recv_mono_ns // 1_000_000_000
        self.per_second[s] = self.per_second.get(s, 0) + 1
        self.changed.set()

    def accounted(self, upto: int, dropped: np.ndarray) -> bool:
        self._grow(upto)
        return bool(np.all((self.counts[:upto] > 0) | dropped[:upto]))


def _mask(ranges: list[tuple[int, int]], n: int) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    for lo, hi in ranges:
        m[lo:min(hi, n)] = True
    return m


async def _schedule(band: EmulatedBand, hours: float, scale: float, rng: random.Random,
                    every_min: tuple[float, float], away_min: tuple[float, float],
                    long_away_min: float | None, stats: dict[str, float],
                    link_back: bool = False) -> None:
    """Band-side disconnects and out-of-range periods, in device time, until morning.

    Which events happen, and when in the night, is a function of the seed alone: decisions
    use the schedule's own device time, never the clock. ``link_back``: after each event,
    wait until the gateway streams from the band again, and do not count that wait as
    night, so a slow reconnect on a loaded machine does not eat the next event's gap.
    """
    end_dev_s = hours * 3600.0
    dev0_s = band.device_us() / 1e6
    long_at = end_dev_s / 2 if long_away_min else None
    paused_s = 0.0  # device seconds spent waiting for the link, not counted as night
    t = 0.0  # the schedule's own device time: what happens when never reads a clock

    def dev_now() -> float:  # the band's simulated clock (tests/ble/band.py), not the wall
        return band.device_us() / 1e6 - dev0_s - paused_s

    async def sleep_until(dev_s: float) -> None:
        await band.wait_until(lambda: dev_now() >= dev_s, 3600)  # a failure bound only

    async def back() -> None:
        nonlocal paused_s
        if link_back:
            before = dev_now()
            await band.wait_until(lambda: band.streaming, 600)  # a failure bound only
            paused_s += dev_now() - before

    await back()
    while True:
        gap = rng.uniform(*every_min) * 60
        if t + gap >= end_dev_s:
            await sleep_until(end_dev_s)
            return
        t += gap
        await sleep_until(t)
        if long_at is not None and t >= long_at:
            away = float(long_away_min or 0) * 60
            long_at = None
        elif rng.random() < 0.5:
            await band.disconnect()
            await back()
            continue
        else:
            away = rng.uniform(*away_min) * 60
        await band.go_away()
        stats["away_periods"] += 1
        stats["away_device_s"] += away
        t += away
        await sleep_until(t)
        await band.come_back()
        await back()


async def simulate_night(hours: float = 1.0, time_scale: float = 60.0, *, seed: int = 1,
                         ring_capacity: int = 120_000, drop_prob: float = 0.0,
                         every_min: tuple[float, float] = (5.0, 20.0),
                         away_min: tuple[float, float] = (0.5, 5.0),
                         long_away_min: float | None = None,
                         drain_timeout_s: float = 120.0, link_back: bool = False
                         ) -> NightReport:
    cfg = BandConfig(ADDRESS, time_scale=time_scale, ring_capacity=ring_capacity,
                     drop_prob=drop_prob, seed=seed, drift_ppm=40.0)
    rng = random.Random(seed)
    stats = {"away_periods": 0.0, "away_device_s": 0.0}
    started = time.monotonic()
    async with BumbleWorld([cfg]) as world:
        band = world.bands[0]
        tally = _Tally(int(hours * 3600 * cfg.rate_hz * 1.05) + 1000)
        source = BleSource([KEY], backend=world.backend, scan_timeout_s=2.0, watchdog_s=5.0,
                           backoff_initial_s=0.05, backoff_max_s=0.5, status_poll_s=2.0,
                           stats_every_s=10.0, queue_size=65536, seed=seed)

        async def read() -> None:
            async for p in source:
                if p.kind is Kind.DATA:
                    tally.add(p.payload, p.recv_mono_ns)

        async with source:
            reader = asyncio.create_task(read(), name="night-reader")
            try:
                await _schedule(band, hours, time_scale, rng, every_min, away_min,
                                long_away_min, stats, link_back)
                await band.come_back()
                produced = band.counters.produced
                # Morning: let the band finish sending what its ring still holds.
                async with asyncio.timeout(drain_timeout_s):
                    while True:
                        c = band.counters
                        dropped = _mask(c.air_dropped_ranges + c.ring_dropped_ranges, produced)
                        if tally.accounted(produced, dropped):
                            break
                        tally.changed.clear()
                        await tally.changed.wait()
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
        wall_s = time.monotonic() - started
        c = band.counters
        tally._grow(produced)
        got = tally.counts[:produced]
        received = int(np.count_nonzero(got))
        dropped = _mask(c.air_dropped_ranges + c.ring_dropped_ranges, produced)
        link = source.stats()["bands"][KEY]
        streaming_s = max(1, len(tally.per_second))
        return NightReport(
            hours=hours, time_scale=time_scale, wall_s=round(wall_s, 1), produced=produced,
            received=received, duplicates=int(np.count_nonzero(got > 1)),
            air_dropped=int(np.count_nonzero(_mask(c.air_dropped_ranges, produced))),
            ring_dropped=int(np.count_nonzero(_mask(c.ring_dropped_ranges, produced))),
            lost_unexplained=int(np.count_nonzero((got == 0) & ~dropped)),
            bad_values=tally.bad_values, backlog_samples=tally.backlog,
            ring_peak=c.ring_peak, ring_capacity=ring_capacity,
            brief_disconnects=c.band_disconnects - int(stats["away_periods"]),
            away_periods=int(stats["away_periods"]),
            away_device_s=round(stats["away_device_s"], 1), reconnects=link["reconnects"],
            watchdog_trips=link["watchdog_trips"], notifications=tally.frames,
            notifications_per_wall_s=round(tally.frames / streaming_s, 1),
            peak_notifications_per_wall_s=float(max(tally.per_second.values(), default=0)),
            samples_per_wall_s=round(received / wall_s, 1),
            queue_dropped=source.dropped)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hours", type=float, default=1.0)
    p.add_argument("--scale", type=float, default=60.0, help="device seconds per wall second")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ring", type=int, default=120_000, help="band ring capacity, samples")
    p.add_argument("--drop", type=float, default=0.0, help="notification loss on air")
    p.add_argument("--long-away-min", type=float, default=None,
                   help="one out-of-range period of this many minutes mid-night")
    a = p.parse_args()
    # bumble warns about ACL fragments still queued when the gateway disconnects at the
    # end of the night (after the accounting): noise for this report.
    logging.getLogger("bumble").setLevel(logging.ERROR)
    # The world pairs the gateway with the band first; its bonds file is throw-away here.
    with tempfile.TemporaryDirectory() as state:
        os.environ.setdefault(STATE_ENV, state)
        report = asyncio.run(simulate_night(a.hours, a.scale, seed=a.seed,
                                            ring_capacity=a.ring, drop_prob=a.drop,
                                            long_away_min=a.long_away_min))
    print(json.dumps(asdict(report), indent=2))


if __name__ == "__main__":
    main()
