"""A recorded session replayed end to end into the real InfluxDB and Mosquitto.

The events are read back with InfluxQL and from an MQTT subscription and compared with
what the DSP stage emits for the same recording.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid

import aiomqtt
import pytest

from tests.helpers import data_packets, jerky_signal, link
from twitchwatch import dsp
from twitchwatch.gateway.ingest import iter_recording_samples
from twitchwatch.gateway.pipeline import Session
from twitchwatch.gateway.sinks.jsonl import JsonlEventSink
from twitchwatch.gateway.store.recording import RecordingWriter

pytestmark = pytest.mark.servers

JERKS = (20.0, 95.5, 301.0, 302.5, 600.0)


async def _record(tmp_path):
    rng_gyro = jerky_signal(700, seed=9) * 0  # no rotation: gyro channel present but still
    acc = jerky_signal(700, jerks_at=JERKS, seed=4)
    packets = [link("connected", 0, mtu=247, rssi=-61)]
    packets += data_packets(acc, gyro=rng_gyro)
    packets.append(link("disconnected", 706, reason="end"))

    async def source():
        for p in packets:
            yield p

    path = tmp_path / "night.twrec"
    with RecordingWriter(path) as rec:
        async with Session([JsonlEventSink(tmp_path / "live.jsonl")], recorder=rec) as s:
            await s.run(source())
    return path


def _dsp_events(path):
    """Final events straight from the DSP over the recording's samples."""
    an = dsp.Analyzer()
    out = []
    for _band, t, acc, gyro in iter_recording_samples(path):
        out += an.feed(t, acc, gyro)
    out += an.finish()
    return sorted((e for e in out if isinstance(e, dsp.Event) and e.final),
                  key=lambda e: e.start)


async def _replay_cli(path, influxdb, mosquitto, db, prefix, tmp_path):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "twitchwatch", "replay", str(path), "--quiet",
        "--events", str(tmp_path / "replay.jsonl"),
        "--influx-url", influxdb.url, "--influx-db", db,
        "--influx-spool", str(tmp_path / "influx-spool"),  # not in the checkout
        "--mqtt-host", mosquitto.host, "--mqtt-port", str(mosquitto.port),
        "--mqtt-prefix", prefix,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, out.decode()


async def test_replayed_night_lands_in_influxdb_and_mqtt(tmp_path, influxdb, mosquitto):
    path = await _record(tmp_path)
    expected = _dsp_events(path)
    assert len(expected) >= len(JERKS)
    db = "e2e_" + uuid.uuid4().hex[:8]
    prefix = "tw-e2e-" + uuid.uuid4().hex[:8]
    got_mqtt: list[dict] = []
    statuses: list[dict] = []

    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as sub:
        await sub.subscribe(f"{prefix}/#", qos=1)

        async def collect():
            async for m in sub.messages:
                body = json.loads(m.payload)
                if "/event/" in str(m.topic):
                    got_mqtt.append(body)
                elif str(m.topic).endswith("/status"):
                    statuses.append(body)

        task = asyncio.create_task(collect())
        await _replay_cli(path, influxdb, mosquitto, db, prefix, tmp_path)
        for _ in range(1200):  # a failure bound only (60 s): the assertions below decide
            if len([e for e in got_mqtt if e["final"]]) >= len(expected) and statuses and \
                    statuses[-1]["state"] == "offline":
                break
            await asyncio.sleep(0.05)
        task.cancel()

    # MQTT: every final event, once, with the DSP's id, type and times.
    finals = sorted((e for e in got_mqtt if e["final"]), key=lambda e: e["start"])
    assert [(e["id"], e["type"], e["start"], e["end"]) for e in finals] == \
        [(e.id, e.type, e.start, e.end) for e in expected]
    assert statuses[0]["state"] == "online" and statuses[-1]["state"] == "offline"

    # InfluxDB: the same events, tagged by band and type, read back with InfluxQL.
    rows = influxdb.rows('SELECT * FROM "event" ORDER BY time', db)
    assert [(r["event_id"], r["type"], r["band"], r["device_start_s"]) for r in rows] == \
        [(e.id, e.type, "b1", e.start) for e in expected]
    assert [round(r["peak_g"], 4) for r in rows] == [round(e.peak_g, 4) for e in expected]
    motion = influxdb.rows('SELECT count("activity_g") FROM "motion"', db)
    assert motion[0]["count"] >= 690
    link_rows = influxdb.rows('SELECT last("samples") FROM "link"', db)
    assert link_rows[0]["last"] == 70_000

    # The replay's events file is the live run's, line for line.
    assert (tmp_path / "replay.jsonl").read_text() == (tmp_path / "live.jsonl").read_text()

    # Replaying again overwrites instead of duplicating: timestamps are sensor-derived.
    await _replay_cli(path, influxdb, mosquitto, db, prefix, tmp_path)
    again = influxdb.rows('SELECT count("event_id") FROM "event"', db)
    assert again[0]["count"] == len(expected)


async def test_sleep_onsets_and_retractions_reach_mqtt(mosquitto):
    from twitchwatch.gateway.records import RetractionRecord, SleepOnsetRecord
    from twitchwatch.gateway.settings import MqttConfig
    from twitchwatch.gateway.sinks.mqtt import MqttSink

    prefix = "tw-ctx-" + uuid.uuid4().hex[:8]
    onset = SleepOnsetRecord("b 1", dsp.SleepOnset(id="s697075", start=697.075,
                                                    confirmed=817.5), 1_764_000_697_075_000_000)
    retraction = RetractionRecord("b 1", dsp.Retraction(id="j25020", time=26.0),
                                  1_764_000_026_000_000_000)
    got: dict[str, dict] = {}
    async with aiomqtt.Client(mosquitto.host, mosquitto.port) as sub:
        await sub.subscribe(f"{prefix}/#", qos=1)
        cfg = MqttConfig(host=mosquitto.host, port=mosquitto.port, prefix=prefix)
        async with MqttSink(cfg) as sink:
            await sink.write([onset, retraction])

        async def collect():
            async for m in sub.messages:
                got[str(m.topic)] = json.loads(m.payload)
                if f"{prefix}/b_1/sleep_onset" in got and f"{prefix}/b_1/retraction" in got:
                    return

        await asyncio.wait_for(collect(), 20)
    assert got[f"{prefix}/b_1/sleep_onset"]["id"] == "s697075"
    assert got[f"{prefix}/b_1/sleep_onset"]["start_utc"].endswith(":11:37.075+00:00")
    assert got[f"{prefix}/b_1/retraction"] == {"band": "b 1", "id": "j25020", "time": 26.0}
