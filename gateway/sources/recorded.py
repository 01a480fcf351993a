"""Replay a recording: the packets a session received, fed back through the pipeline."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from types import TracebackType

from ..packets import Packet
from ..store.recording import ReadStats, read_recording

YIELD_EVERY = 256  # packets between yields when replaying as fast as possible
# Paced replay waits out the recorded gaps between packets, but no more than this each: a
# damaged or crafted receive time must not make a replay sleep for years. A real gap (the
# band away for an hour) still shows, as 10 minutes of recorded time.
MAX_GAP_S = 600.0


class Replay:
    """Async context manager and async iterator of a recording's packets.

    ``speed=None`` replays as fast as the pipeline takes it; otherwise at ``speed`` times
    the pace at which the packets originally arrived (from their monotonic receive times).
    """

    def __init__(self, path: str | os.PathLike[str], speed: float | None = None) -> None:
        self.path = path
        self.speed = speed
        self.stats = ReadStats()

    async def __aenter__(self) -> Replay:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        return None

    async def __aiter__(self) -> AsyncIterator[Packet]:
        prev_mono: int | None = None
        due = time.monotonic()  # when the current packet is due
        for n, p in enumerate(read_recording(self.path, self.stats), 1):
            if self.speed is not None:
                if prev_mono is not None:
                    gap_s = min(MAX_GAP_S, max(0.0, (p.recv_mono_ns - prev_mono) / 1e9))
                    due += gap_s / self.speed
                prev_mono = p.recv_mono_ns
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif n % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            yield p
