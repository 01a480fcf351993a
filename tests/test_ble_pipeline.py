"""BleSource through the lead's pipeline (gateway.pipeline.Session): bands to records.

A band-side disconnect mid-stream leaves a hole that the band's backlog fills after the
reconnect; the pipeline's loss accounting must find nothing missing and nothing twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from tests.ble.backend import BumbleWorld
from tests.ble.band import BandConfig
from tests.ble.collect import FAST
from twitchwatch.gateway.codec import decode_frame
from twitchwatch.gateway.packets import Kind, Packet
from twitchwatch.gateway.pipeline import Session
from twitchwatch.gateway.records import LinkRecord, Record
from twitchwatch.gateway.sources.ble import BleSource

KEY = "tw-1a2b"


class Collect:
    name = "collect"
    accepts: tuple[type, ...] = (LinkRecord,)
    queue_size = 100_000
    batch_max = 500
    batch_wait_s = 0.0

    def __init__(self) -> None:
        self.records: list[LinkRecord] = []

    async def __aenter__(self) -> Collect:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def write(self, batch: list[Record]) -> None:
        self.records += [r for r in batch if isinstance(r, LinkRecord)]


async def test_band_drop_and_backlog_through_the_pipeline() -> None:
    async with BumbleWorld([BandConfig("F0:00:00:00:1A:2B")]) as world:
        band = world.bands[0]
        source = BleSource([KEY], backend=world.backend, **FAST)
        seen: set[int] = set()

        async def packets() -> AsyncIterator[Packet]:
            """The source's packets until the hole of a band-side drop has been filled."""
            target: int | None = None
            prefix = 0
            async for p in source:
                if p.kind is Kind.DATA:
                    f = decode_frame(p.payload)
                    seen.update(range(f.first_index, f.first_index + f.count))
                yield p
                if target is None and len(seen) >= 600:
                    await band.disconnect()  # mid-stream, from the band's side
                    target = band.counters.produced + 600
                while prefix in seen:
                    prefix += 1
                if target is not None and prefix >= target:
                    return

        sink = Collect()
        async with source, Session([sink], live=True) as session:
            await session.run(packets())
        c = session.bands[KEY].ingest.counters
        assert c.connects == 2 and c.disconnects == 1
        assert c.samples_missing == 0 and c.samples_duplicate == 0 and c.frames_lost == 0
        assert c.samples_backlog > 0  # the hole was filled from the band's ring
        assert c.samples + c.samples_late == len(seen)  # every sample went somewhere once
        links = [r for r in sink.records if r.band == KEY]
        assert links and links[-1].reconnects == 1
        assert {r.rssi_dbm for r in links if r.reason == "connected"} == {-50}
