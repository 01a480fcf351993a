"""Per-band front end: loss accounting, ordering with backlog, reboots, malformed input."""

from __future__ import annotations

import numpy as np

from tests.helpers import frames, jerky_signal, link, packet, status
from twitchwatch.gateway.ingest import HOLD_S, BandIngest
from twitchwatch.gateway.packets import Kind
from twitchwatch.gateway.sources.firmware_encoder import twproto


def _feed(fe: BandIngest, pk) -> list:
    out = []
    for p in pk:
        out += fe.push(p)
    return out


def _indices(blocks) -> np.ndarray:
    return np.concatenate([b.first_index + np.arange(len(b.t_s)) for b in blocks])


def _data(acc, first_index=0, backlog=False, seq0=0, t0_us=0, per_frame=18):
    return [packet(Kind.DATA, raw, (t0_us / 1e6) + (idx - first_index + per_frame) / 100)
            for idx, raw in frames(acc, first_index=first_index, backlog=backlog, seq0=seq0,
                                   t0_us=t0_us, per_frame=per_frame)]


def test_in_order_frames_are_delivered_once_with_device_times():
    acc = jerky_signal(10)
    fe = BandIngest("b1")
    blocks = _feed(fe, [link("connected", 0), *_data(acc)])
    idx = _indices(blocks)
    np.testing.assert_array_equal(idx, np.arange(1000))
    t = np.concatenate([b.t_s for b in blocks])
    np.testing.assert_allclose(np.diff(t), 0.01)
    got = np.concatenate([b.acc_g for b in blocks])
    np.testing.assert_allclose(got, acc, atol=0.5 / 4096)
    c = fe.counters
    assert (c.samples, c.frames_lost, c.samples_missing, c.rejected_total) == (1000, 0, 0, 0)


def test_a_lost_notification_is_counted_as_frames_and_samples():
    pk = _data(jerky_signal(10))
    fe = BandIngest("b1")
    blocks = _feed(fe, [link("connected", 0), *pk[:10], *pk[11:]])
    assert fe.counters.frames_lost == 1
    assert fe.counters.samples_missing == 18
    assert len(_indices(blocks)) == 1000 - 18


def test_backlog_fills_the_hole_of_a_disconnect_in_time_order():
    acc = jerky_signal(60)
    before, during, after = acc[:1800], acc[1800:3600], acc[3600:]
    fe = BandIngest("b1")
    pk = [link("connected", 0), *_data(before)]
    pk += [link("disconnected", 18.0), link("connected", 36.5)]
    live = _data(after, first_index=3600, t0_us=36_000_000)
    backlog = _data(during, first_index=1800, t0_us=18_000_000, backlog=True, seq0=100)
    # The band sends live data first, its backlog behind it: interleave them.
    mixed = []
    for i in range(max(len(live), len(backlog))):
        mixed += live[i:i + 1] + backlog[i:i + 1]
    blocks = _feed(fe, pk + mixed)
    blocks += fe.drain()
    idx = _indices(blocks)
    np.testing.assert_array_equal(idx, np.arange(6000))
    t = np.concatenate([b.t_s for b in blocks])
    assert np.all(np.diff(t) > 0)
    c = fe.counters
    assert c.samples_backlog == 1800 and c.samples_missing == 0 and c.samples_late == 0


def test_a_ring_full_before_the_first_connection_is_analysed_from_its_oldest_sample():
    acc = jerky_signal(40)
    fe = BandIngest("b1")
    out = _feed(fe, [link("connected", 0), packet(Kind.STATUS, status(ring_waiting=2000), 0)])
    live = _data(acc[2000:], first_index=2000, t0_us=20_000_000)
    ring = _data(acc[:2000], first_index=0, t0_us=0, backlog=True, seq0=500)
    mixed = []
    for i in range(max(len(live), len(ring))):
        mixed += live[i:i + 1] + ring[i:i + 1]
    out += _feed(fe, mixed) + fe.drain()
    np.testing.assert_array_equal(_indices(out), np.arange(4000))
    assert fe.counters.samples_late == 0 and fe.counters.samples_backlog == 2000


def test_a_ring_replaying_before_any_status_holds_live_data_for_the_rest_of_it():
    """The band's first frame is a backlog frame (its status comes later, or not at all):
    the live frames interleaved with the rest of the ring wait for it, as after a
    reconnect, instead of giving its holes up as missing and counting them late."""
    acc = jerky_signal(40)
    fe = BandIngest("b1")
    live = _data(acc[2000:], first_index=2000, t0_us=20_000_000)
    ring = _data(acc[:2000], first_index=0, t0_us=0, backlog=True, seq0=500)
    mixed = ring[:1]
    for i in range(max(len(live), len(ring))):
        mixed += live[i:i + 1] + ring[i + 1:i + 2]
    out = _feed(fe, [link("connected", 0), *mixed]) + fe.drain()
    np.testing.assert_array_equal(_indices(out), np.arange(4000))
    c = fe.counters
    assert (c.samples_missing, c.samples_late, c.samples_backlog) == (0, 0, 2000)


def test_a_long_outage_is_waited_for_while_its_backlog_streams_in():
    """A 20-minute hole: the ring replays it (faster than real time) while live data waits."""
    acc = jerky_signal(1500)
    fe = BandIngest("b1")
    out = _feed(fe, [link("connected", 0), *_data(acc[:10000])])
    out += _feed(fe, [link("disconnected", 100), link("connected", 1300)])
    live = _data(acc[130_000:], first_index=130_000, t0_us=1_300_000_000)
    ring = _data(acc[10_000:130_000], first_index=10_000, t0_us=100_000_000, backlog=True)
    mixed = []
    for i in range(len(ring)):  # ~3 backlog frames for every live one
        if i % 3 == 0 and i // 3 < len(live):
            mixed.append(live[i // 3])
        mixed.append(ring[i])
    mixed += live[len(ring) // 3 + 1:]
    out += _feed(fe, mixed) + fe.drain()
    np.testing.assert_array_equal(_indices(out), np.arange(150_000))
    assert fe.counters.samples_missing == 0 and fe.counters.samples_late == 0


def test_no_backlog_coming_releases_the_hole_at_once():
    acc = jerky_signal(20)
    fe = BandIngest("b1")
    _feed(fe, [link("connected", 0), *_data(acc[:900])])
    _feed(fe, [link("disconnected", 9), link("connected", 15)])
    held = _feed(fe, _data(acc[1500:], first_index=1500, t0_us=15_000_000))
    assert held == []  # waiting: the band may still send its backlog
    released = fe.push(packet(Kind.STATUS, status(ring_waiting=0), 20.0))
    assert _indices(released)[0] == 1500
    assert fe.counters.samples_missing == 600


def test_a_hole_is_given_up_after_the_hold_time():
    acc = jerky_signal(HOLD_S + 40)
    fe = BandIngest("b1")
    _feed(fe, [link("connected", 0), *_data(acc[:1000])])
    _feed(fe, [link("disconnected", 10), link("connected", 20)])
    blocks = _feed(fe, _data(acc[2000:], first_index=2000, t0_us=20_000_000))
    assert blocks and _indices(blocks)[0] == 2000
    assert fe.counters.samples_missing == 1000


def test_backlog_that_arrives_after_its_hole_was_given_up_is_counted_late():
    acc = jerky_signal(30)
    fe = BandIngest("b1")
    _feed(fe, [link("connected", 0), *_data(acc[:1000])])
    fe.push(link("connected", 12))  # reconnect without a disconnect notice
    fe.push(packet(Kind.STATUS, status(ring_waiting=0), 12.0))
    _feed(fe, _data(acc[1500:], first_index=1500, t0_us=15_000_000))
    _feed(fe, _data(acc[1000:1500], first_index=1000, t0_us=10_000_000, backlog=True))
    assert fe.counters.samples_late == 500


def test_duplicates_and_malformed_frames_are_counted_not_fatal():
    pk = _data(jerky_signal(5))
    fe = BandIngest("b1")
    junk = [packet(Kind.DATA, b"\x01\x02\x03", 1.0), packet(Kind.DATA, bytes(40), 1.0),
            packet(Kind.META, b"\x09", 1.0), packet(Kind.STATUS, b"", 1.0),
            packet(Kind.LINK, b"not json", 1.0)]
    blocks = _feed(fe, [link("connected", 0), *pk[:5], *pk[3:5], *junk, *pk[5:]])
    assert len(_indices(blocks)) == 500
    c = fe.counters
    assert c.samples_duplicate == 36
    assert c.rejected == {"short": 1, "version": 1, "meta": 1, "status": 1, "link": 1}
    # The repeated notifications step seq back: a resync, not 65,535 frames lost (issue 11).
    assert c.frames_lost == 0 and c.seq_jumps >= 1


def test_a_band_reboot_keeps_the_time_base_monotonic():
    acc = jerky_signal(20)
    fe = BandIngest("b1")
    first = _data(acc[:1000], first_index=50_000, t0_us=500_000_000)
    blocks = _feed(fe, [link("connected", 0), *first])
    blocks += _feed(fe, [link("disconnected", 10.0), link("connected", 14.0)])
    blocks += _feed(fe, [packet(Kind.STATUS, status(ring_waiting=0), 14.0)])
    blocks += _feed(fe, _data(acc[1000:], first_index=0, t0_us=1_000_000))
    blocks += fe.drain()
    t = np.concatenate([b.t_s for b in blocks])
    assert np.all(np.diff(t) > 0)
    assert fe.counters.reboots == 1
    assert len(t) == 2000


def test_the_axis_map_from_metadata_is_applied():
    tp = twproto()
    meta = tp.encode_meta((0, 1, 0), 100, 0x32, 1, (-2, 1, 3), (1, 2, 3), 1, 1, 0)
    acc = np.tile([0.25, 0.5, 0.75], (40, 1))
    fe = BandIngest("b1")
    blocks = _feed(fe, [packet(Kind.META, meta, 0), *_data(acc)])
    got = np.concatenate([b.acc_g for b in blocks])
    np.testing.assert_allclose(got[0], [-0.5, 0.25, 0.75], atol=1e-3)
