"""The batched ingest (``codec.decode_frames``, ``ClockModel.observe_many``,
``BandIngest.push_records``, ``BandPipeline.push_many``) against the per-packet one.

Recordings, replay and live batches go through the batched path; its every decision must
be the per-packet path's: the same verdict on every malformed frame (counted, logged,
skipped), the same counters, clock model, samples (byte for byte) and records, whatever
the batch boundaries."""

from __future__ import annotations

import dataclasses
import logging
import re
import struct

import numpy as np
import pytest

from tests.fuzz_helpers import clean_stream, hostile_stream, mutate, with_header
from tests.helpers import data_packets, frames, jerky_signal, link, packet, status
from twitchwatch.gateway import codec
from twitchwatch.gateway.errors import FrameError
from twitchwatch.gateway.ingest import BandIngest, ClockModel
from twitchwatch.gateway.ingest.clock_model import BUCKET_S
from twitchwatch.gateway.packets import Kind, Packet
from twitchwatch.gateway.pipeline import BandPipeline
from twitchwatch.gateway.records import LinkRecord, RawSamplesRecord
from twitchwatch.gateway.store.recording import RecordingWriter, read_recording, read_records


def _payloads(seed: int) -> list[bytes]:
    """Data frames: good ones (3 and 6 channels), every kind of damage, random bytes."""
    rng = np.random.default_rng(seed)
    good = [p.payload for p in clean_stream("b", seed=seed)[1:200]]
    acc = jerky_signal(4.0)
    good += [b for _i, b in frames(acc, gyro=acc * 100, per_frame=int(rng.integers(1, 30)))]
    out = []
    for b in good:
        r = rng.random()
        if r < 0.4:
            out.append(b)
        elif r < 0.8:
            out.append(mutate(Packet("b", Kind.DATA, b, 0, 0), rng).payload)
        else:  # one header byte set to anything: every check's edge
            buf = bytearray(b)
            buf[int(rng.integers(0, min(len(buf), 20)))] = int(rng.integers(0, 256))
            out.append(bytes(buf))
    out += [b"", b"\x01", bytes(21), bytes(22), rng.integers(0, 256, 300, np.uint8).tobytes()]
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("gap", [0, 7])
def test_decode_frames_gives_decode_frames_verdict_fields_and_samples(seed, gap):
    payloads = _payloads(seed)
    pad = b"\xee" * gap  # other packets between the frames, or none
    data = np.frombuffer(b"".join(p + pad for p in payloads), np.uint8)
    lengths = np.array([len(p) for p in payloads], np.int64)
    offsets = np.cumsum(lengths + gap) - lengths - gap
    fb = codec.decode_frames(data, offsets, lengths)
    n_ok = 0
    for i, p in enumerate(payloads):
        try:
            f = codec.decode_frame(p)
        except FrameError:
            assert not fb.ok[i], f"frame {i} {p[:20].hex()}: decode_frame refuses it"
            continue
        n_ok += 1
        assert fb.ok[i], f"frame {i} {p[:20].hex()}: decode_frame accepts it"
        assert (f.flags, f.seq, f.first_index, f.t_us, f.period_us, f.count, f.ranges) == (
            fb.flags[i], fb.seq[i], fb.first_index[i], fb.t_us[i], fb.period_us[i],
            fb.count[i], fb.ranges[i])
        assert np.array_equal(fb.raw(i, i + 1), f.raw)
        assert fb.payload(i) == p
    assert n_ok > 80 and len(payloads) - n_ok > 40  # both verdicts well represented
    # Runs of ok frames with one channel count: their samples, concatenated.
    i = 0
    while i < len(payloads):
        j = i
        while (j < len(payloads) and fb.ok[j]
               and (fb.flags[j] & codec.F_GYRO) == (fb.flags[i] & codec.F_GYRO)):
            j += 1
        if j > i:
            want = np.concatenate([codec.decode_frame(payloads[k]).raw for k in range(i, j)])
            assert np.array_equal(fb.raw(i, j), want)
        i = max(j, i + 1)


def _clock_state(c: ClockModel) -> tuple:
    return (list(c._buckets), c._cur_key, c._cur, c._fit, list(c._history.items()))


@pytest.mark.parametrize("seed", range(4))
def test_observe_many_is_observe_of_each(seed):
    rng = np.random.default_rng(seed)
    n = 3000
    dev = np.cumsum(rng.uniform(0.05, 0.4, n)) + rng.uniform(0, 1e5)
    dev[rng.integers(0, n, 5)] -= BUCKET_S * 3  # a few steps back: keys change both ways
    wall = (1_700_000_000 * 10**9 + dev * 1e9 + rng.uniform(0, 5e7, n)
            + np.arange(n) * rng.uniform(-50, 50)).astype(np.int64)
    wall[rng.integers(0, n, 20)] -= 10**7  # ties and new minima in mid-bucket
    if seed == 3:  # exact ties: the first of equal lowest offsets is kept, not the last
        dev = np.cumsum(rng.integers(1, 3, n)) * 0.25
        wall = (10**15 + dev * 1e9 + rng.integers(0, 2, n) * 10**6).astype(np.int64)
    one, many = ClockModel(), ClockModel()
    for d, w in zip(dev.tolist(), wall.tolist(), strict=True):
        one.observe(d, w)
    cuts = np.sort(rng.choice(np.arange(1, n), 120, replace=False))  # long and short runs
    for a, b in zip([0, *cuts], [*cuts, n], strict=True):
        many.observe_many(dev[a:b], wall[a:b])
    assert _clock_state(many) == _clock_state(one)
    t = dev[::7]
    assert [many.to_wall_ns(x) for x in t.tolist()] == [one.to_wall_ns(x)
                                                       for x in t.tolist()]


def _with_flags(p: Packet, set_bits: int) -> Packet:
    buf = bytearray(p.payload)
    buf[1] |= set_bits
    return Packet(p.band, p.kind, bytes(buf), p.recv_wall_ns, p.recv_mono_ns)


def _eventful(seed: int) -> list[Packet]:
    """A band's stream with what ingest decides about: status packets between frames
    (plain, ring waiting, MTU too small, a battery of 200 %), metadata, a lost stretch,
    a reconnect whose backlog fills the hole, duplicates, reordering, a seq jump, a
    reboot, gyro frames, and packets damaged on the way."""
    rng = np.random.default_rng(seed)
    acc = jerky_signal(120.0, jerks_at=(20.0, 70.0), seed=seed)
    data = data_packets(acc, band="b")
    meta = struct.pack("<BBBBHBBbbbbbbBBI", 1, 1, 2, 3, 100, 0x32, 1, 2, -1, 3, 1, 2, 3, 1,
                       0, 3000)
    out: list[Packet] = [link("connected", 0.0, band="b", rssi=-60, mtu=247),
                         packet(Kind.META, meta, 0.0, "b")]
    hole = range(280, 301)  # sampled while disconnected, replayed from the ring later
    for k, p in enumerate(data):
        if k == hole.start:
            out.append(link("disconnected", k * 0.18, band="b"))
        if k == hole.stop:
            out.append(link("connected", k * 0.18, band="b", rssi=-70, mtu=247))
        if k in hole:
            continue
        if k in (305, 306, 307):  # the ring's backlog of the hole, behind live data
            for q in data[hole.start + (k - 305) * 7:hole.start + (k - 304) * 7]:
                out.append(Packet("b", Kind.DATA, _with_flags(q, codec.F_BACKLOG).payload,
                                  p.recv_wall_ns, p.recv_mono_ns))
        if k % 5 == 0:
            body = [status(), status(ring_waiting=3), status(state=0x03),
                    status(mtu=23)][int(rng.integers(0, 4)) if rng.random() < 0.2 else 0]
            if rng.random() < 0.05:
                body = bytes([body[0], 200]) + body[2:]
            out.append(Packet("b", Kind.STATUS, body, p.recv_wall_ns, p.recv_mono_ns))
        if k == 400:
            p = with_header(p, seq=(k + 9000) & 0xFFFF)
        r = rng.random()
        if r < 0.03:
            p = mutate(p, rng)
        elif r < 0.05 and out[-1].kind is Kind.DATA:  # swapped with the frame before
            out.insert(len(out) - 1, p)
            continue
        elif r < 0.06:
            out.append(p)  # a duplicate
        out.append(p)
    # The band reboots: its index and clock start again.
    t_end = len(data) * 0.18
    for idx_bytes in frames(acc[:2000], gyro=acc[:2000] * 50, t0_us=1_000_000):
        out.append(packet(Kind.DATA, idx_bytes[1], t_end + 1 + idx_bytes[0] / 100, "b"))
    return out


def _streams() -> list[tuple[str, list[Packet]]]:
    return [("clean", clean_stream("b")), ("hostile-0.05", hostile_stream("b", 0.05, 3)),
            ("hostile-0.3", hostile_stream("b", 0.3, 4)), ("eventful-0", _eventful(0)),
            ("eventful-1", _eventful(1))]


def _run(packets: list[Packet], chunks: list[int] | None, every_s: float | None,
         caplog: pytest.LogCaptureFixture) -> dict:
    caplog.clear()
    # No coalescing: each block is fed as it comes. (DSP records map times through the
    # clock model when they come out; across a band's reboot the model starts again, so
    # holding samples back for a flush would move them between clock models.)
    bp = BandPipeline("b", coalesce_samples=0, raw_samples=True, link_stats_every_s=every_s)
    recs = []
    if chunks is None:
        for p in packets:
            recs += bp.push(p)
    else:
        at = 0
        for n in chunks:
            recs += bp.push_many(packets[at:at + n])
            at += n
        assert at >= len(packets)
    recs += bp.finish()
    raw = [r for r in recs if isinstance(r, RawSamplesRecord)]
    ing = bp.ingest
    return {
        # When the DSP is fed, and so when its outputs come out, depends on the batches,
        # as in a live session; what it makes does not, nor do the link records. (An
        # output's wall time is the clock model's when it comes out: around a reboot, on
        # the old or the new stream's model. The clock models are compared below.)
        "link_records": [str(r) for r in recs if isinstance(r, LinkRecord)],
        "dsp_records": sorted(re.sub(r", (start|end|t)_ns=-?\d+", "", str(r)) for r in recs
                              if not isinstance(r, (LinkRecord, RawSamplesRecord))),
        "raw_t": np.concatenate([r.t_ns for r in raw]).tobytes() if raw else b"",
        "raw_acc": np.concatenate([r.acc_g for r in raw]).tobytes() if raw else b"",
        "raw_gyro": b"".join(r.gyro_dps.tobytes() for r in raw if r.gyro_dps is not None),
        "counters": dataclasses.asdict(ing.counters), "status": ing.status,
        "link": ing.link, "meta": ing.meta, "clock": _clock_state(ing.clock),
        "last": (ing.last_t_s, ing.last_recv_wall_ns, bp.raw_unstamped),
        "log": [r.getMessage() for r in caplog.records],
    }


@pytest.mark.parametrize("name,packets", _streams(), ids=[n for n, _ in _streams()])
@pytest.mark.parametrize("every_s", [1.0, None])
def test_push_many_gives_the_records_of_push(name, packets, every_s, caplog):
    caplog.set_level(logging.INFO)
    want = _run(packets, None, every_s, caplog)
    assert want["counters"]["samples"] > 10_000
    rng = np.random.default_rng(len(packets))
    for chunks in ([len(packets)], [1024] * (len(packets) // 1024 + 1),
                   rng.integers(1, 40, len(packets)).tolist()):
        got = _run(packets, chunks, every_s, caplog)
        for key in want:
            assert got[key] == want[key], f"{name}: {key} differs"


def test_eventful_stream_exercises_what_ingest_decides():
    """The stream above holds what it says (otherwise the comparison proves little)."""
    bi = BandIngest("b")
    for p in _eventful(0):
        bi.push(p)
    bi.drain()
    c = bi.counters
    assert c.samples_backlog > 0 and c.reboots == 1 and c.seq_jumps >= 1
    assert c.samples_duplicate > 0 and c.rejected_total > 0 and c.connects >= 2


@pytest.mark.parametrize("block", [1 << 20, 5000])
def test_analyze_path_reads_the_recording_as_packets(tmp_path, monkeypatch, block):
    """``read_records`` blocks hold exactly the packets ``read_recording`` yields (also
    with many small blocks, so records straddle their boundaries)."""
    from twitchwatch.gateway.store import recording

    monkeypatch.setattr(recording, "READ_BLOCK", block)
    path = tmp_path / "r.twrec"
    packets = _eventful(2)
    with RecordingWriter(path) as w:
        for p in packets:
            w.write(p)
    flat = [blk.packet(i) for blk in read_records(path) for i in range(len(blk))]
    recorded = [p for p in packets if len(p.payload) <= 0xFFFF]  # the others are refused
    assert len(recorded) > 900
    assert flat == list(read_recording(path)) == recorded
    assert len(list(read_records(path))) > (1 if block < 100_000 else 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bulk_reading_of_a_damaged_recording_is_record_by_record_reading(
        tmp_path, monkeypatch, seed):
    """``read_records`` takes stretches of good records at once; on a damaged file
    (flipped bits, a band rebound to another slot, garbage, a torn tail) it finds the
    same packets and counts the same damage as reading record by record."""
    from twitchwatch.gateway.store import recording

    rng = np.random.default_rng(seed)
    path = tmp_path / "d.twrec"
    a, b = clean_stream("a", seed=seed)[:700], clean_stream("b", seed=seed + 1)[:700]
    with RecordingWriter(path) as w:
        for p in [q for pair in zip(a, b, strict=True) for q in pair]:
            w.write(p)
    buf = bytearray(path.read_bytes())
    for at in rng.integers(20, len(buf), 40):
        buf[at] ^= 1 << int(rng.integers(0, 8))
    cut = int(rng.integers(len(buf) // 3, len(buf) // 2))
    buf[cut:cut] = rng.integers(0, 256, 3000, np.uint8).tobytes()
    path.write_bytes(bytes(buf[:-7]))

    def read(bulk_min: int) -> tuple[list, recording.ReadStats]:
        monkeypatch.setattr(recording, "BULK_MIN", bulk_min)
        monkeypatch.setattr(recording, "READ_BLOCK", 20_000)
        st = recording.ReadStats()
        return list(read_recording(path, st)), st

    bulk_min = recording.BULK_MIN
    slow, slow_st = read(0)  # 0: every record the slow way
    fast, fast_st = read(bulk_min)
    assert fast == slow and fast_st == slow_st
    assert slow_st.corrupt_records >= 20 and slow_st.truncated_tail_bytes > 0
    assert len(slow) > 1000 and {p.band for p in slow} == {"a", "b"}
