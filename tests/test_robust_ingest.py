"""Crafted hostile packets at the ingest boundary (issue 11): each is counted and skipped.

Each test names what it did before the checks in ``gateway/ingest/checks.py``.
"""

from __future__ import annotations

import logging

import numpy as np

from tests.fuzz_helpers import clean_stream, header, nested_json, with_header
from tests.helpers import link, packet
from twitchwatch.gateway.ingest import BandIngest
from twitchwatch.gateway.packets import Kind, Packet
from twitchwatch.gateway.pipeline import BandPipeline


def _push_all(fe: BandIngest | BandPipeline, pk: list[Packet]) -> list:
    out = []
    for p in pk:
        out += fe.push(p)
    return out


def _samples(blocks: list) -> int:
    return sum(len(b.t_s) for b in blocks)


def test_a_device_time_of_2_63_us_is_rejected_not_raised():
    """Before: OverflowError out of ingest ended the gateway (one frame, anyone in range)."""
    pk = clean_stream("b1")
    for t_us in (1 << 63, (1 << 64) - 1, 1 << 53):
        bp = BandPipeline("b1")
        bad = with_header(pk[50], t_us=t_us)
        _push_all(bp, [*pk[:50], bad, *pk[51:]])
        bp.finish()
        c = bp.ingest.counters
        assert c.rejected == {"time": 1}
        assert c.samples == 18_000 - 18 and c.samples_missing == 18


def test_a_flipped_high_bit_in_the_sample_index_costs_one_frame():
    """Before: samples_missing jumped by 2^31 and every later frame was a 'duplicate'."""
    pk = clean_stream("b1")
    for bit in (12, 20, 31):
        _s, first, _t = header(pk[100])
        fe = BandIngest("b1")
        blocks = _push_all(fe, [*pk[:100], with_header(pk[100], first_index=first ^ (1 << bit)),
                                *pk[101:]])
        blocks += fe.drain()
        c = fe.counters
        assert c.rejected == {"index": 1}, bit
        assert c.samples_missing == 18 and c.samples_duplicate == 0
        assert _samples(blocks) == 18_000 - 18


def test_a_flipped_bit_in_seq_is_a_resync_not_thousands_of_lost_frames():
    """Before: seq 4 -> 4+2^15 counted 32,768 frames lost (and a repeat, 65,535)."""
    pk = clean_stream("b1")
    fe = BandIngest("b1")
    seq, _f, _t = header(pk[10])
    _push_all(fe, [*pk[:10], with_header(pk[10], seq=seq ^ 0x8000), *pk[11:], pk[-1]])
    c = fe.counters
    assert c.frames_lost == 0
    assert c.seq_jumps == 3  # to the flipped value, back, and the repeated last frame


def test_forged_restart_frames_are_not_believed_and_do_not_flood_the_log(caplog):
    """A reboot storm: one forged 'restart' frame after every genuine one. Before: every one
    was a reboot (the time base reset, a warning line each: 1,386 in a fuzzed night)."""
    pk = clean_stream("b1")
    stream = []
    for k, p in enumerate(pk):
        stream.append(p)
        if p.kind is Kind.DATA and k % 2:
            stream.append(with_header(p, first_index=k % 7, t_us=1_000_000 + (k % 7) * 10_000))
    with caplog.at_level(logging.WARNING):
        fe = BandIngest("b1")
        blocks = _push_all(fe, stream) + fe.drain()
    c = fe.counters
    assert c.reboots == 0
    assert c.rejected["index"] == 500
    assert _samples(blocks) == 18_000 and c.samples_missing == 0
    assert len(caplog.records) <= 3


def test_a_real_restart_is_believed_after_three_agreeing_frames():
    pk = clean_stream("b1")
    fe = BandIngest("b1")
    # The band restarts: index and clock begin again near zero, three frames or more.
    restarted = [with_header(p, first_index=18 * i, t_us=2_000_000 + 180_000 * i)
                 for i, p in enumerate(pk[600:])]
    blocks = _push_all(fe, [*pk[:600], *restarted]) + fe.drain()
    t = np.concatenate([b.t_s for b in blocks])
    assert fe.counters.reboots == 1
    assert np.all(np.diff(t) > 0)
    assert _samples(blocks) == 18_000


def test_a_link_packet_with_deeply_nested_json_is_rejected():
    """Before: RecursionError out of ingest (and out of replay, for a recorded one)."""
    fe = BandIngest("b1")
    for body in (nested_json(100_000), b"[1]", b'{"no_event": 1}', b"x" * 70_000):
        assert fe.push(packet(Kind.LINK, body, 1.0)) == []
    assert fe.counters.rejected == {"link": 4}


def test_link_values_out_of_range_never_reach_a_record():
    bp = BandPipeline("b1")
    pk = clean_stream("b1")
    _push_all(bp, pk[:30])
    recs = bp.push(link("connected", 3.0, rssi=10 ** 30, mtu=-4, x=[1, {"y": 2}]))
    (rec,) = recs
    assert (rec.rssi_dbm, rec.mtu) == (-60, 247)  # the last good values, not the bad ones


def test_a_packet_stamped_outside_1970_2200_is_rejected():
    """Before: a recorded arrival time in year 3000 gave events with out-of-range years."""
    pk = clean_stream("b1")
    fe = BandIngest("b1")
    bad = [Packet("b1", p.kind, p.payload, w, p.recv_mono_ns)
           for p, w in zip(pk[5:8], (-1, (1 << 63) - 1, 32_503_680_000 * 10 ** 9), strict=True)]
    _push_all(fe, [*pk[:5], *bad, *pk[8:]])
    assert fe.counters.rejected == {"wall_time": 3}
