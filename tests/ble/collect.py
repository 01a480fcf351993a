"""Reading a BleSource in the background and counting, per band, every sample index.

Tests wait on conditions over what arrived (never on wall-clock durations); the
timeouts passed to ``wait_for`` are failure bounds, generous on purpose (the suite must
pass with both cores busy).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twitchwatch.gateway.codec import Frame, decode_frame
from twitchwatch.gateway.packets import Kind, Packet
from twitchwatch.gateway.sources.ble import BleSource

from .imu_signal import samples

# Gateway options for tests: short scans and quick backoff in wall time. The watchdog
# stays well above the band's ~90 ms between frames, so a busy CI machine does not trip it.
FAST: dict[str, Any] = {"scan_timeout_s": 1.0, "watchdog_s": 3.0, "backoff_initial_s": 0.05,
        "backoff_max_s": 0.4, "status_poll_s": 0.5, "stats_every_s": 1.0, "seed": 1}


@dataclass
class BandLog:
    counts: collections.Counter[int] = field(default_factory=collections.Counter)
    frames: list[Frame] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    kinds: list[Kind] = field(default_factory=list)  # arrival order of packet kinds
    meta: list[bytes] = field(default_factory=list)
    status: list[bytes] = field(default_factory=list)
    bad_values: int = 0  # frames whose samples differ from the signal the band sampled
    _prefix: int = 0  # every index below this has arrived

    def add_frame(self, f: Frame) -> None:
        self.frames.append(f)
        for i in range(f.first_index, f.first_index + f.count):
            self.counts[i] += 1
        if not np.array_equal(f.raw, samples(f.first_index, f.count, f.has_gyro)):
            self.bad_values += 1

    def covered(self) -> int:
        """Length of the gap-free prefix of sample indices received so far."""
        while self.counts[self._prefix]:
            self._prefix += 1
        return self._prefix

    def duplicates(self) -> list[int]:
        return sorted(i for i, n in self.counts.items() if n > 1)

    def events(self) -> list[str]:
        return [str(x["event"]) for x in self.links]

    def last(self, event: str) -> dict[str, Any]:
        return next(x for x in reversed(self.links) if x["event"] == event)


class Collector:
    def __init__(self, source: BleSource) -> None:
        self.source = source
        self.bands: dict[str, BandLog] = collections.defaultdict(BandLog)
        self.packets = 0
        self.task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    def __getitem__(self, band: str) -> BandLog:
        return self.bands[band]

    async def run(self) -> None:
        try:
            async for p in self.source:
                self.add(p)
        finally:
            self._changed.set()  # a waiter must see the reader stop, not time out

    def add(self, p: Packet) -> None:
        self.packets += 1
        log = self.bands[p.band]
        log.kinds.append(p.kind)
        if p.kind is Kind.DATA:
            log.add_frame(decode_frame(p.payload))
        elif p.kind is Kind.LINK:
            log.links.append(p.link_info())
        elif p.kind is Kind.META:
            log.meta.append(p.payload)
        elif p.kind is Kind.STATUS:
            log.status.append(p.payload)
        self._changed.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 120.0) -> None:
        async with asyncio.timeout(timeout_s):
            while not predicate():
                if self.task is not None and self.task.done():
                    self.task.result()  # raises what stopped the reader
                    raise AssertionError("the source ended before the condition held")
                self._changed.clear()
                await self._changed.wait()


@contextlib.asynccontextmanager
async def collecting(source: BleSource) -> AsyncIterator[Collector]:
    """Enter the source and read it in a task until the block ends."""
    col = Collector(source)
    async with source:
        task = col.task = asyncio.create_task(col.run(), name="collector")
        try:
            yield col
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
