"""Fuzzing the whole per-band pipeline, and replay of damaged recordings (issue 11).

sources (a recording, as ``replay`` reads it) -> ingest -> pipeline -> the real sinks
(events file, InfluxDB spooling to a tmp dir, MQTT holding messages for a broker that is
not there). The recording is written before decoding, exactly as ``run`` writes it, so it
holds every hostile packet: replay and analyze of it must work too.

Before the boundary checks: OverflowError (device time 2^63 µs), RecursionError (nested
JSON in a LINK record), samples_missing in the billions, whole sink batches dropped.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz_helpers import clean_stream, hostile_stream, interleave, mutate, nested_json
from twitchwatch.gateway.ingest import BandIngest
from twitchwatch.gateway.packets import Kind, Packet
from twitchwatch.gateway.pipeline import BandPipeline, Session
from twitchwatch.gateway.records import EventRecord
from twitchwatch.gateway.settings import InfluxConfig, MqttConfig
from twitchwatch.gateway.sinks.influx import InfluxSink
from twitchwatch.gateway.sinks.jsonl import JsonlEventSink, event_line
from twitchwatch.gateway.sinks.mqtt import MqttSink
from twitchwatch.gateway.sources.recorded import Replay
from twitchwatch.gateway.store.lineproto import to_line
from twitchwatch.gateway.store.recording import RecordingWriter

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _events(recs: list) -> list[tuple[str, str, int]]:
    return sorted((r.event.id, r.event.type, r.start_ns) for r in recs
                  if isinstance(r, EventRecord) and r.event.final)


def _clean_events(band: str) -> list[tuple[str, str, int]]:
    bp = BandPipeline(band, coalesce_samples=4096)
    recs = []
    for p in clean_stream(band):
        recs += bp.push(p)
    return _events(recs + bp.finish())


def _record(path: pathlib.Path, packets: list[Packet]) -> None:
    with RecordingWriter(path) as w:
        for p in packets:
            w.write(p)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _replay_into_real_sinks(rec: pathlib.Path, tmp: pathlib.Path) -> tuple:
    jsonl = JsonlEventSink(tmp / "events.jsonl")
    influx = InfluxSink(InfluxConfig(url=f"http://127.0.0.1:{_free_port()}",
                                     spool_dir=str(tmp / "spool"), timeout_s=1.0,
                                     drain_timeout_s=0.0))
    mqtt = MqttSink(MqttConfig(host="127.0.0.1", port=_free_port()))
    async with Replay(rec) as src, Session([jsonl, influx, mqtt], live=False) as s:
        await s.run(aiter(src))
    return s, jsonl, influx, mqtt


@pytest.fixture(autouse=True)
def _quick_exit(monkeypatch):
    monkeypatch.setattr("twitchwatch.gateway.pipeline.SINK_DRAIN_TIMEOUT_S", 5.0)
    monkeypatch.setattr("twitchwatch.gateway.sinks.mqtt.DRAIN_TIMEOUT_S", 0.5)


async def test_a_hostile_band_never_stops_another_band_or_any_sink(tmp_path, caplog):
    """20 % of one band's packets mutated (every kind of damage in fuzz_helpers.mutate),
    recorded as received, replayed into the real sinks: the other band's events are
    exactly those of a clean night, no sink loses a batch, nothing escapes, and the log
    stays readable."""
    rec = tmp_path / "hostile.twrec"
    _record(rec, interleave(clean_stream("good"), hostile_stream("evil", 0.2, seed=3)))
    with caplog.at_level(logging.WARNING):
        s, jsonl, influx, mqtt = await _replay_into_real_sinks(rec, tmp_path)
    assert s.internal_errors == 0
    assert s.sink_errors == {"events-file": 0, "influxdb": 0, "mqtt": 0}
    assert jsonl.records_dropped == influx.records_dropped == mqtt.records_dropped == 0
    written = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    good = sorted((e["id"], e["type"]) for e in written if e["band"] == "good")
    assert good == [(i, t) for i, t, _ in _clean_events("good")]
    assert all(1970 < int(e["start_utc"][:4]) < 2200 for e in written)
    c = s.bands["evil"].ingest.counters
    assert c.rejected_total > 50
    assert 0 <= c.samples_missing <= 18_000 and c.samples + c.samples_missing <= 18_000 + 255
    spooled = [ln for f in (tmp_path / "spool").glob("*.lp")
               for ln in f.read_text().splitlines()[1:]]
    assert spooled and all(ln.split(" ")[-1].isdigit() for ln in spooled)
    # Hundreds of bad packets; the log says each kind of trouble once (rate-limited), and
    # at the end how many more there were: two lines per kind at most.
    kinds = len(c.rejected) + 3  # + seq jumps, restarts, the band's MTU
    said = [r for r in caplog.records if r.getMessage().startswith(("band evil", "evil:"))]
    assert len(said) <= 2 * kinds


def _random_record_bytes(rng: np.random.Generator, n: int) -> bytes:
    """Records with a valid CRC and random headers and payloads: past the CRC check, into
    ingest (the recording's own format cannot reject them)."""
    import struct
    import zlib

    out = bytearray()
    for _ in range(n):
        kind = int(rng.integers(0, 5))
        slot = int(rng.integers(0, 3))
        payload = rng.integers(0, 256, int(rng.integers(0, 80)), dtype=np.uint8).tobytes()
        if kind == 0:
            payload = [b"good", b"\x00\x01bad", b"x" * 300, b"evil"][int(rng.integers(0, 4))]
        elif kind == 1 and rng.random() < 0.7:  # a data frame header, fields random
            payload = bytes([1, int(rng.integers(0, 16))]) + payload[2:]
        wall = int(rng.integers(-(1 << 62), 1 << 62))
        mono = int(rng.integers(-(1 << 62), 1 << 62))
        body = struct.pack("<BBHIqq", kind, slot, len(payload), 0, wall, mono)
        crc = zlib.crc32(payload, zlib.crc32(body[:4] + body[8:]))
        out += struct.pack("<HBBHIqq", 0x5754, kind, slot, len(payload), crc, wall, mono)
        out += payload
    return bytes(out)


def test_replay_and_analyze_of_a_damaged_recording_work(tmp_path):
    """The CLI on a recording with valid-CRC random records, a LINK record of deeply nested
    JSON, a 2^63 µs frame and plain garbage: exit 0, no traceback, the damage reported.
    Before: a traceback (RecursionError, OverflowError)."""
    rng = np.random.default_rng(7)
    rec = tmp_path / "damaged.twrec"
    good = clean_stream("good")[:400]
    evil = [Packet("evil", Kind.LINK, nested_json(50_000), good[0].recv_wall_ns, 0)]
    evil.append(mutate(good[10], np.random.default_rng(1)))
    _record(rec, interleave(good, evil))
    with open(rec, "ab") as f:
        f.write(_random_record_bytes(rng, 2_000))
        f.write(os.urandom(5_000))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for cmd in (["replay", str(rec), "--quiet", "--events", str(tmp_path / "r.jsonl")],
                ["analyze", str(rec), "--no-progress"]):
        r = subprocess.run([sys.executable, "-m", "twitchwatch", *cmd], capture_output=True,
                           text=True, env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stderr + r.stdout


# -- hypothesis: any sequence of damage, through ingest and pipeline into the serialisers ---

_BASE = clean_stream("h")[:300]  # 54 s: enough for the clock model and the DSP to start


def _damaged(seed: int, frac: float, extra: list[tuple[int, bytes, Kind]]) -> list[Packet]:
    rng = np.random.default_rng(seed)
    out = [mutate(p, rng) if rng.random() < frac else p for p in _BASE]
    for at, body, kind in extra:
        ref = out[min(at, len(out) - 1)]
        out.insert(min(at, len(out)), Packet("h", kind, body, ref.recv_wall_ns,
                                            ref.recv_mono_ns))
    return out


# The examples are drawn as a seed, a fraction and a few raw packets (not as the packets
# themselves): a failure then reports a few numbers, not megabytes of payload.
@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2 ** 32 - 1), st.sampled_from([0.02, 0.2, 0.6, 1.0]),
       st.lists(st.tuples(st.integers(0, 300), st.binary(max_size=64),
                          st.sampled_from(list(Kind))), max_size=5))
def test_no_damage_escapes_ingest_or_the_pipeline(seed, frac, extra):
    packets = _damaged(seed, frac, extra)
    bp = BandPipeline("h", coalesce_samples=4096)
    recs = []
    for p in packets:
        recs += bp.push(p)
    recs += bp.finish()
    c = bp.ingest.counters
    assert min(c.samples, c.samples_missing, c.frames_lost, c.samples_duplicate) >= 0
    # 54 s of data: holes are bounded by the time that passed, never 2^31 samples.
    assert c.samples_missing <= 100 * 3600 and c.frames_lost <= 2048 * len(packets)
    for r in recs:  # every record the pipeline makes is one every sink can write
        to_line(r)
        if isinstance(r, EventRecord) and r.event.final:
            json.loads(event_line(r))


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(list(Kind)), st.binary(max_size=120),
                          st.integers(-(1 << 63), (1 << 63) - 1)), max_size=40))
def test_arbitrary_bytes_never_raise_out_of_ingest(items):
    fe = BandIngest("x")
    t = []
    for kind, body, wall in items:
        for b in fe.push(Packet("x", kind, body, wall, 0)):
            t.append(b.t_s)
    for b in fe.drain():
        t.append(b.t_s)
    if t:
        assert np.isfinite(np.concatenate(t)).all()
