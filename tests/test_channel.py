"""Bounded channels: each policy does what it says and counts what it drops."""

from __future__ import annotations

import asyncio

import pytest

from twitchwatch.gateway.channel import Channel, Closed, Policy


async def test_drop_oldest_keeps_the_newest_and_counts():
    ch: Channel[int] = Channel("c", 3, Policy.DROP_OLDEST)
    for i in range(10):
        ch.put_nowait(i)
    assert ch.dropped == 7
    assert await ch.get_batch(10, 0) == [7, 8, 9]


async def test_latest_wins_keeps_one():
    ch: Channel[int] = Channel("c", 100, Policy.LATEST)
    for i in range(5):
        await ch.put(i)
    assert await ch.get_batch(10, 0) == [4]
    assert ch.dropped == 4


async def test_backpressure_waits_instead_of_dropping():
    ch: Channel[int] = Channel("c", 2, Policy.BACKPRESSURE)
    got: list[int] = []

    async def consume() -> None:
        while batch := await ch.get_batch(1, 0):
            got.extend(batch)
            await asyncio.sleep(0.001)

    task = asyncio.create_task(consume())
    for i in range(50):
        await ch.put(i)
        assert len(ch) <= 2
    ch.close()
    await task
    assert got == list(range(50)) and ch.dropped == 0
    with pytest.raises(asyncio.QueueFull):
        full: Channel[int] = Channel("f", 1, Policy.BACKPRESSURE)
        full.put_nowait(1)
        full.put_nowait(2)


async def test_batches_wait_for_more_but_not_forever():
    ch: Channel[int] = Channel("c", 100, Policy.DROP_OLDEST)
    ch.put_nowait(1)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    assert await ch.get_batch(10, 0.05) == [1]
    assert loop.time() - t0 >= 0.04
    ch.close()
    assert await ch.get_batch(10, 1.0) == []
    with pytest.raises(Closed):
        ch.put_nowait(2)
