"""Link trouble: band-side disconnects, a band out of range, a stalled link, lossy air.

After each, every sample the band produced arrives exactly once (live or replayed from
the band's offline ring as BACKLOG), except those the harness itself threw away on air.
"""

from __future__ import annotations

from tests.ble.backend import BumbleWorld
from tests.ble.band import BandConfig
from tests.ble.collect import FAST, collecting
from twitchwatch.gateway.sources.ble import BleSource

A, B = "F0:00:00:00:1A:2B", "F0:00:00:00:3C:4D"
KA, KB = "tw-1a2b", "tw-3c4d"


async def test_band_side_disconnect_rescans_backs_off_and_replays_backlog() -> None:
    async with BumbleWorld([BandConfig(A)]) as world:
        band = world.bands[0]
        source = BleSource([KA], backend=world.backend, **{**FAST, "backoff_initial_s": 0.3})
        async with collecting(source) as col:
            log = col[KA]
            await col.wait_for(lambda: log.covered() >= 400)
            await band.disconnect()  # mid-stream, from the band's side
            await col.wait_for(lambda: log.events().count("connected") == 2)
            target = band.counters.produced + 200  # what it sampled while away, and more
            await col.wait_for(lambda: log.covered() >= target)
        assert [e for e in log.events() if e != "stats"][:4] == [
            "connected", "disconnected", "reconnecting", "connected"]
        assert log.last("disconnected")["reason"] == "link lost"
        rec = log.last("reconnecting")
        assert rec["attempt"] == 1 and 0.15 <= rec["delay_s"] <= 0.3  # jittered first step
        assert log.last("connected")["reconnects"] == 1
        # a fresh scan, and a fresh BLEDevice from it, before the second connection
        first, second = world.connects
        assert second.scans_before > first.scans_before
        assert second.device_id != first.device_id
        # the gap was filled from the band's ring, flagged BACKLOG
        gap = [f for f in log.frames if f.backlog and f.first_index > 400]
        assert gap and sum(f.count for f in gap) >= 0.3 * 200 * 0.5  # >= the backoff's share
        assert log.duplicates() == [] and log.bad_values == 0
        assert source.stats()["bands"][KA]["reconnects"] == 1


async def test_band_out_of_range_escalating_backoff_then_backlog_behind_live() -> None:
    async with BumbleWorld([BandConfig(A)]) as world:
        band = world.bands[0]
        opts = {**FAST, "scan_timeout_s": 0.2, "backoff_initial_s": 0.05,
                "backoff_max_s": 0.2}
        async with collecting(BleSource([KA], backend=world.backend, **opts)) as col:
            log = col[KA]
            await col.wait_for(lambda: log.covered() >= 200)
            await band.go_away()
            await col.wait_for(lambda: log.events().count("reconnecting") >= 5)
            away_until = band.counters.produced
            await band.come_back()
            await col.wait_for(lambda: log.covered() >= away_until + 400)
        retries = [x for x in log.links if x["event"] == "reconnecting"]
        assert [x["attempt"] for x in retries[:5]] == [1, 2, 3, 4, 5]
        assert all(x["reason"].startswith("not found") for x in retries[1:5])
        assert all(0 < x["delay_s"] <= 0.2 for x in retries)  # capped
        assert retries[3]["delay_s"] >= 0.1  # 0.05 doubled to the 0.2 cap, minus jitter
        assert all(not x["connected"] for x in retries)
        # backlog frames were interleaved behind live data, not sent before it
        order = [(f.backlog, f.first_index) for f in log.frames]
        resumed = next(i for i, (bl, idx) in enumerate(order) if not bl and idx > away_until)
        assert any(bl for bl, _ in order[resumed:])
        assert log.duplicates() == [] and log.bad_values == 0


async def test_stalled_band_trips_the_watchdog_and_loses_nothing() -> None:
    async with BumbleWorld([BandConfig(A)]) as world:
        band = world.bands[0]
        opts = {**FAST, "watchdog_s": 1.0}
        source = BleSource([KA], backend=world.backend, **opts)
        async with collecting(source) as col:
            log = col[KA]
            await col.wait_for(lambda: log.covered() >= 200)
            band.stall()  # connected, but nothing comes: the stale link bleak users meet
            await col.wait_for(lambda: log.events().count("connected") == 2)
            target = band.counters.produced + 200
            await col.wait_for(lambda: log.covered() >= target)
        events = log.events()
        i = events.index("watchdog")
        assert events[i:i + 3] == ["watchdog", "disconnected", "reconnecting"]
        assert log.last("watchdog")["idle_s"] >= 1.0
        assert log.last("disconnected")["reason"] == "watchdog"
        assert source.stats()["bands"][KA]["watchdog_trips"] == 1
        assert band.counters.connections == 2
        assert log.duplicates() == [] and log.bad_values == 0


async def test_two_bands_at_once() -> None:
    async with BumbleWorld([BandConfig(A), BandConfig(B, rate_hz=100)]) as world:
        band_a, band_b = world.bands
        source = BleSource([KA, B], backend=world.backend, **FAST)  # by name, by address
        async with collecting(source) as col:
            la, lb = col[KA], col[B]
            await col.wait_for(lambda: la.covered() >= 400 and lb.covered() >= 200)
            await band_a.disconnect()
            await col.wait_for(lambda: la.events().count("connected") == 2)
            ta, tb = band_a.counters.produced + 200, band_b.counters.produced + 100
            await col.wait_for(lambda: la.covered() >= ta and lb.covered() >= tb)
        assert set(col.bands) == {KA, B}
        assert lb.events().count("disconnected") == 0  # B never noticed A's trouble
        assert lb.links[0]["name"] == KB and la.links[0]["address"] == A
        assert all(f.period_us == 10_000 for f in lb.frames)
        assert all(f.period_us == 5_000 for f in la.frames)
        for log in (la, lb):
            assert log.duplicates() == [] and log.bad_values == 0


async def test_lossy_slow_air_loses_exactly_what_the_air_dropped() -> None:
    cfg = BandConfig(A, drop_prob=0.05, notify_delay_s=0.05, seed=3)
    async with BumbleWorld([cfg]) as world:
        band = world.bands[0]
        async with collecting(BleSource([KA], backend=world.backend, **FAST)) as col:
            log = col[KA]
            await col.wait_for(lambda: band.counters.produced >= 1500)
            checkpoint = band.counters.produced
            dropped: set[int] = set()

            def complete() -> bool:  # every index so far either arrived or was dropped
                dropped.clear()
                for lo, hi in band.counters.air_dropped_ranges:
                    dropped.update(range(lo, hi))
                return all(log.counts[i] or i in dropped for i in range(checkpoint))

            await col.wait_for(complete)
        assert dropped  # the knob did drop notifications ...
        assert not dropped & set(log.counts)  # ... and exactly those samples are missing
        assert log.duplicates() == [] and log.bad_values == 0
        seqs = [f.seq for f in log.frames]
        assert seqs == sorted(seqs) and len(seqs) < seqs[-1] + 1  # gaps in seq show the loss
