"""Bounded queues with a stated policy for what happens when they are full.

Every queue in the gateway is one of these, so that every place that can lose data
has a name, a policy and a counter of what it dropped.
"""

from __future__ import annotations

import asyncio
import collections
import enum
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Policy(enum.Enum):
    DROP_OLDEST = "drop-oldest"  # live data: the newest matters most; count what is lost
    BACKPRESSURE = "backpressure"  # replay from a file: wait, lose nothing
    LATEST = "latest-wins"  # state (status, stats): only the last value matters


class Closed(Exception):
    """Raised by put on a closed channel."""


class Channel(Generic[T]):
    def __init__(self, name: str, maxsize: int, policy: Policy) -> None:
        if maxsize < 1:
            raise ValueError(f"channel {name}: maxsize {maxsize} < 1")
        self.name = name
        self.maxsize = 1 if policy is Policy.LATEST else maxsize
        self.policy = policy
        self.dropped = 0
        self.put_count = 0
        self._items: collections.deque[T] = collections.deque()
        self._closed = False
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def put_nowait(self, item: T) -> None:
        """Add without waiting; a full BACKPRESSURE channel raises asyncio.QueueFull."""
        if self._closed:
            raise Closed(self.name)
        if len(self._items) >= self.maxsize:
            if self.policy is Policy.BACKPRESSURE:
                raise asyncio.QueueFull(self.name)
            self._items.popleft()
            self.dropped += 1
        self._items.append(item)
        self.put_count += 1
        self._changed.set()

    async def put(self, item: T) -> None:
        while self.policy is Policy.BACKPRESSURE and len(self._items) >= self.maxsize:
            if self._closed:
                raise Closed(self.name)
            self._changed.clear()
            await self._changed.wait()
        self.put_nowait(item)

    def close(self) -> None:
        """No more puts; readers drain what is left, then stop."""
        self._closed = True
        self._changed.set()

    async def get_batch(self, max_items: int, max_wait_s: float) -> list[T]:
        """Up to max_items, waiting at most max_wait_s after the first one arrived.

        Returns an empty list only when the channel is closed and drained.
        """
        while not self._items:
            if self._closed:
                return []
            self._changed.clear()
            await self._changed.wait()
        if len(self._items) < max_items and not self._closed and max_wait_s > 0:
            # A full channel is a full batch: waiting longer would only stall the producer.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + max_wait_s
            while len(self._items) < min(max_items, self.maxsize) and not self._closed:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self._changed.clear()
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                # that arrives as the event is set (gh-86296), and a sink or reader task
                # that ignores its cancellation hangs the shutdown.
                try:
                    async with asyncio.timeout(remaining):
                        await self._changed.wait()
                except TimeoutError:
                    break
        n = min(max_items, len(self._items))
        batch = [self._items.popleft() for _ in range(n)]
        self._changed.set()  # wake a producer waiting for room
        return batch

    async def __aiter__(self) -> AsyncIterator[T]:
        while batch := await self.get_batch(1, 0):
            yield batch[0]

    def stats(self) -> dict[str, object]:
        return {"name": self.name, "policy": self.policy.value, "maxsize": self.maxsize,
                "queued": len(self._items), "put": self.put_count, "dropped": self.dropped}
