"""BleSource against one emulated band: connect, MTU, 200 Hz streaming, status, shutdown.

Unmodified bleak (BleakScanner, BleakClient via bleak-retry-connector's
establish_connection) drives a bumble peripheral whose frames come from the firmware's
own encoder. Sample indices are counted at the packet level: each exactly once.
"""

from __future__ import annotations

import time

import pytest

from tests.ble.backend import BumbleWorld
from tests.ble.band import BandConfig
from tests.ble.collect import FAST, collecting
from tests.ble.firmware import twproto as tw
from twitchwatch.gateway.codec import F_GYRO, decode_frame, decode_meta, decode_status
from twitchwatch.gateway.errors import TwitchwatchError
from twitchwatch.gateway.packets import Kind
from twitchwatch.gateway.sources.ble import BleSource
from twitchwatch.gateway.sources.ble_bonds import BondRecord, BondRegistry
from twitchwatch.gateway.sources.ble_scan import BluetoothUnavailableError

A = "F0:00:00:00:1A:2B"
KEY = "tw-1a2b"


@pytest.mark.parametrize("max_mtu", [247, 100])
async def test_connect_exchanges_mtu_and_band_sizes_frames_to_it(max_mtu: int) -> None:
    async with BumbleWorld([BandConfig(A, max_mtu=max_mtu)]) as world:
        band = world.bands[0]
        async with collecting(BleSource([KEY], backend=world.backend, **FAST)) as col:
            log = col[KEY]
            await col.wait_for(lambda: log.covered() >= 400)
        spf = tw.samples_per_frame(max_mtu, 6)
        assert spf == {247: 18, 100: 6}[max_mtu]
        assert band.counters.mtus == [max_mtu]  # central asked 517, band capped it
        connected = log.links[0]
        assert connected["event"] == "connected" and connected["mtu"] == max_mtu
        assert connected["rssi"] == -50 and connected["address"] == A
        assert connected["name"] == KEY and connected["battery_pct"] == 80
        assert all(f.count <= spf for f in log.frames)
        assert max(f.count for f in log.frames) == spf  # full frames once running
        assert max(band.counters.frame_sizes) <= max_mtu - 3  # never truncated by the stack
        # order matters to the pipeline: link state, then metadata, then anything else
        assert log.kinds[:2] == [Kind.LINK, Kind.META]
        meta = decode_meta(log.meta[0])
        assert (meta.rate_hz, meta.ring_capacity) == (200, band.cfg.ring_capacity)
        writes = band.counters.control_writes
        assert [op for op, _ in writes] == [tw.OP_TIME_SYNC, tw.OP_START]
        host_us = writes[0][1]
        assert host_us is not None and abs(host_us - time.time_ns() // 1000) < 600e6


async def test_200_hz_accel_and_gyro_arrive_complete_and_exactly_once() -> None:
    async with BumbleWorld([BandConfig(A, rate_hz=200, gyro=True)]) as world:
        band = world.bands[0]
        source = BleSource([KEY], backend=world.backend, **FAST)
        async with collecting(source) as col:
            log = col[KEY]
            await col.wait_for(lambda: log.covered() >= 1000)  # 5 s of samples
            assert source.stats()["bands"][KEY]["state"] == "streaming"
        assert log.duplicates() == []
        assert log.bad_values == 0  # every value is the one the band sampled
        assert all(f.flags & F_GYRO and f.period_us == 5000 and f.raw.shape[1] == 6
                   for f in log.frames)
        assert [f.seq for f in log.frames] == list(range(len(log.frames)))  # none lost
        # what the band sampled before the gateway connected came as backlog, and only that
        first_live = min(f.first_index for f in log.frames if not f.backlog)
        assert all(f.first_index + f.count <= first_live for f in log.frames if f.backlog)
        # device time advances with the index at the nominal period
        f0, f1 = log.frames[0], log.frames[-1]
        assert f1.t_us - f0.t_us == (f1.first_index - f0.first_index) * 5000
        assert source.dropped == 0
        # leaving the source cancelled its task and disconnected the band
        assert all(t.done() for t in source._tasks)
        await band.wait_until(lambda: not band.connected, 10)
        rest = [p async for p in source]  # what was queued after the reader stopped; then end
        assert rest[-1].kind is Kind.LINK
        assert rest[-1].link_info() | {"connected_s": 0, "frames": 0} == {
            "event": "disconnected", "reason": "shutdown", "connected": False,
            "reconnects": 0, "connected_s": 0, "frames": 0}


async def test_status_notifications_and_accel_only_band() -> None:
    async with BumbleWorld([BandConfig(A, rate_hz=100, gyro=False)]) as world:
        band = world.bands[0]
        opts = {**FAST, "status_poll_s": 30.0}  # notifications alone must carry status
        async with collecting(BleSource([KEY], backend=world.backend, **opts)) as col:
            log = col[KEY]
            await col.wait_for(lambda: len(log.status) >= 3 and log.covered() >= 200)
        assert band.counters.status_notifications >= 2
        st = decode_status(log.status[-1])
        assert st.state & tw.S_STREAMING and st.mtu == 247 and st.battery_pct == 80
        assert st.since_sync_s is not None  # the TIME_SYNC write reached the band
        assert all(not f.has_gyro and f.count <= 37 and f.period_us == 10_000
                   for f in log.frames)
        assert log.duplicates() == [] and log.bad_values == 0


async def test_central_that_never_exchanges_mtu_reads_status_and_reconnects() -> None:
    # At the default ATT MTU of 23 no sample fits a notification: the band says so in its
    # status, which the gateway can only read (a 40-byte notification would be cut).
    async with BumbleWorld([BandConfig(A)], mtu_request=None) as world:
        band = world.bands[0]
        opts = {**FAST, "watchdog_s": 1.0}
        async with collecting(BleSource([KEY], backend=world.backend, **opts)) as col:
            log = col[KEY]
            await col.wait_for(lambda: log.events().count("connected") >= 2)
        assert "mtu_too_small" in log.events()
        assert log.last("mtu_too_small")["band_mtu"] == 23
        assert log.last("watchdog")["detail"] == "band reports MTU too small"
        assert log.last("disconnected")["reason"] == "watchdog"
        assert log.frames == [] and band.counters.status_notifications == 0
        statuses = [decode_status(s) for s in log.status]
        assert statuses and all(s.mtu_too_small for s in statuses)  # whole 40-byte reads
        assert band.counters.produced > 0 and band.ring_waiting > 0  # kept for later


async def test_queue_overflow_drops_oldest_and_counts() -> None:
    """Nobody reads: the channel fills, then drops its oldest packets, counting them.

    Everything is decided on what the source itself received (its channel's counters), not
    on what the band sent: notifications still in flight in the emulated stack at any
    moment would make a count taken at the band's side a race with the clock.
    """
    async with BumbleWorld([BandConfig(A)]) as world:
        band = world.bands[0]
        async with BleSource([KEY], backend=world.backend, queue_size=16, **FAST) as src:
            # link + meta + status, then data: 43 packets are well past the 16 it keeps
            await band.wait_until(lambda: src.stats()["queue"]["put"] >= 43, 60)
            q = src.stats()["queue"]
            assert q["queued"] == 16 and src.dropped == q["put"] - 16
            kept = [await anext(src) for _ in range(16)]
    assert not any(p.kind is Kind.META for p in kept)  # the second packet: long dropped
    seqs = [decode_frame(p.payload).seq for p in kept if p.kind is Kind.DATA]
    # what was kept is the newest, in order: consecutive frames (none lost on this link),
    # and not the first ones
    assert seqs and seqs == list(range(seqs[0], seqs[0] + len(seqs))) and seqs[0] > 0


async def test_no_bluetooth_ends_iteration_with_a_plain_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/twitchwatch-bus")
    # paired on some earlier day; today the adapter is gone
    BondRegistry().put(BondRecord(A, KEY, BondRecord.now(), "pair"))
    async with BleSource([KEY], **FAST) as src:  # the platform backend: BlueZ over D-Bus
        with pytest.raises(BluetoothUnavailableError) as e:
            async for _ in src:
                pass
    assert isinstance(e.value, TwitchwatchError)
    assert "no Bluetooth adapter available" in str(e.value)
