"""MQTT against the real Mosquitto: broker restarts, de-duplication ids, retained status,
last will, live motion, Home Assistant discovery."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import sys
import uuid

import aiomqtt
import pytest

from bench.servers import MosquittoServer
from twitchwatch import dsp
from twitchwatch.gateway.records import EpochRecord, EventRecord, LinkRecord
from twitchwatch.gateway.settings import MqttConfig
from twitchwatch.gateway.sinks.mqtt import MqttSink

pytestmark = pytest.mark.servers

T0_NS = 1_767_300_000_000_000_000


class PersistentMosquitto(MosquittoServer):
    """Mosquitto that keeps sessions across a restart (saved on SIGTERM), so a persistent
    subscriber gets what was published while it was reconnecting, as Home Assistant would."""

    def __init__(self, workdir, binary):  # type: ignore[no-untyped-def]
        super().__init__(workdir, binary)
        self.config_path.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {workdir}/\nlog_dest stderr\nlog_type error\n")


@pytest.fixture
def broker(mosquitto_private, tmp_path):
    mosquitto_private.stop()
    server = PersistentMosquitto(tmp_path / "mosq-persist", mosquitto_private.binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Subscriber:
    """A persistent-session subscriber that reconnects by itself; keeps every message."""

    def __init__(self, server: MosquittoServer, topic: str) -> None:
        self.server, self.topic = server, topic
        self.messages: list[tuple[str, dict, bool]] = []
        self.ident = "sub-" + uuid.uuid4().hex[:8]
        self.ready = asyncio.Event()

    async def _run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client(self.server.host, self.server.port,
                                          identifier=self.ident, clean_session=False) as c:
                    await c.subscribe(self.topic, qos=1)
                    self.ready.set()
                    async for m in c.messages:
                        self.messages.append((str(m.topic), json.loads(m.payload), m.retain))
            except aiomqtt.MqttError:
                self.ready.clear()
                await asyncio.sleep(0.1)

    async def __aenter__(self) -> Subscriber:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.ready.wait(), 60)  # a failure bound only
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def ids(self) -> list[str]:
        return [b["id"] for t, b, _ in self.messages if "/event/" in t]


async def until(cond, what: str, limit_s: float = 60.0) -> None:
    """Wait for a condition (bounded; the bound only turns a hang into a failure)."""
    for _ in range(int(limit_s / 0.05)):
        if cond():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def ev(i: int, band: str = "b1", final: bool = True) -> EventRecord:
    e = dsp.Event(id=f"ev-{i:03d}", type=("myoclonic_jerk", "hypnic_jerk", "tremor")[i % 3],
                  start=100.0 + i, end=100.2 + i, peak_g=0.5, confidence=0.9, final=final)
    return EventRecord(band, e, T0_NS + i * 10**9, T0_NS + i * 10**9 + 2 * 10**8)


async def retained(server: MosquittoServer, topic: str) -> dict | None:
    """The retained message on a topic, read by a fresh client (None if there is none).

    A broker sends a subscription's retained message before anything published after the
    subscription: a marker published then tells "none" by the order of arrival, not by a
    timeout."""
    marker = "tw-marker/" + uuid.uuid4().hex
    async with aiomqtt.Client(server.host, server.port) as c:
        await c.subscribe(topic, qos=1)
        await c.subscribe(marker, qos=1)
        await c.publish(marker, b"{}", qos=1)
        async with asyncio.timeout(60):  # a failure bound only
            async for m in c.messages:
                return None if str(m.topic) == marker else json.loads(m.payload)
    return None


async def test_events_survive_a_broker_restart(broker, tmp_path):
    prefix = "tw-" + uuid.uuid4().hex[:6]
    cfg = MqttConfig(host=broker.host, port=broker.port, prefix=prefix, gateway_id="gw")
    sink = MqttSink(cfg)
    async with Subscriber(broker, f"{prefix}/#") as sub:
        async with sink:
            await sink.write([ev(i) for i in range(5)])
            await until(lambda: len(set(sub.ids())) == 5, "first events")
            link = sink.links["b1"]
            assert link.connected and link.connects == 1

            await asyncio.to_thread(broker.stop)
            await sink.write([ev(i) for i in range(5, 10)])  # waits in the outbox
            await until(lambda: not link.connected, "the gateway to notice")
            await asyncio.to_thread(broker.start)
            await sink.write([ev(i) for i in range(10, 15)])
            await until(lambda: len(set(sub.ids())) == 15, "events after the restart")
            assert link.connects >= 2 and link.dropped == 0
            # The reconnect re-announced the band: retained "online" again.
            assert (await retained(broker, sink.status_topic("b1")))["state"] == "online"
        status = await retained(broker, sink.status_topic("b1"))
        assert status is not None and status["state"] == "offline"
    # Every event arrived, each with its id; a resend after a lost PUBACK may repeat one,
    # which is what the id is for.
    assert set(sub.ids()) == {f"ev-{i:03d}" for i in range(15)}
    bodies = {b["id"]: b for t, b, _ in sub.messages if "/event/" in t}
    assert bodies["ev-006"]["type"] == "myoclonic_jerk" and bodies["ev-006"]["final"] is True
    assert all(t.endswith("/event/" + b["type"]) for t, b, _ in sub.messages if "/event/" in t)


async def test_outbox_is_bounded_drop_oldest(mosquitto_private):
    server = mosquitto_private
    server.stop()  # the broker is away from the start: everything waits in the outbox
    cfg = MqttConfig(host=server.host, port=server.port, prefix="tw-bound", queue_max=4)
    sink = MqttSink(cfg)
    async with sink:
        await sink.write([ev(i) for i in range(10)])
        link = sink.links["b1"]
        assert [m[1] for m in link.outbox] == [json.dumps(_ej(ev(i))).encode()
                                               for i in range(6, 10)]
        assert link.dropped == 6
    assert sink.dropped == 6 + 4  # the broker never came: the rest is counted at exit


def _ej(r: EventRecord) -> dict:
    from twitchwatch.gateway.sinks.jsonl import event_json

    return event_json(r)


async def test_last_will_marks_a_killed_gateway_offline(mosquitto_private, tmp_path):
    server = mosquitto_private
    prefix = "tw-will-" + uuid.uuid4().hex[:6]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "twitchwatch", "run", "--simulate", "--hours", "0.2", "--speed", "30",
        "--band", "sim-band", "--quiet", "--no-record", "--out", str(tmp_path / "out"),
        "--mqtt-host", server.host, "--mqtt-port", str(server.port), "--mqtt-prefix", prefix,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    topic = f"{prefix}/sim-band/status"
    try:
        async with Subscriber(server, topic) as sub:
            await until(lambda: any(b["state"] == "online" for _, b, _ in sub.messages),
                        "the band online")
            os.kill(proc.pid, signal.SIGKILL)
            await proc.wait()
            await until(lambda: sub.messages[-1][1]["state"] == "offline", "the last will")
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
    will = await retained(server, topic)
    assert will == {"band": "sim-band", "gateway": will["gateway"], "reason": "gateway lost",
                    "state": "offline"}


async def test_live_motion_and_home_assistant_discovery(mosquitto, tmp_path):
    prefix = "tw-ha-" + uuid.uuid4().hex[:6]
    disc = "ha-" + uuid.uuid4().hex[:6]
    cfg = MqttConfig(host=mosquitto.host, port=mosquitto.port, prefix=prefix, gateway_id="gw",
                     motion_every_s=5.0, homeassistant=True, discovery_prefix=disc)
    sink = MqttSink(cfg)
    assert EpochRecord in sink.accepts
    epochs = [EpochRecord("b1", dsp.Epoch(start=float(s), duration_s=1.0, activity_g=0.01 * s,
                                          tremor_power=1e-5, state="sleep", coverage=1.0),
                          T0_NS + s * 10**9) for s in range(30)]
    link_rec = LinkRecord("b1", T0_NS, "connected", True, 10, 0, 100, 0, 0, 0, 0, 0, -60, 88,
                          247)
    async with Subscriber(mosquitto, f"{prefix}/#") as sub, \
            Subscriber(mosquitto, f"{disc}/#") as ha, sink:
        await sink.write([link_rec, ev(1), ev(2, final=False)])
        await until(lambda: len(sub.ids()) == 2, "events")
        for e in epochs:  # one per second, as the pipeline delivers them
            await sink.write([e])
            await asyncio.sleep(0)
        await until(lambda: any(t.endswith("/motion") for t, _, _ in sub.messages),
                    "live motion")
        await until(lambda: len(ha.messages) >= 4, "discovery configs")
    motion = [b for t, b, _ in sub.messages if t.endswith("/motion")]
    starts = [m["start"] for m in motion]
    assert starts[0] == 0.0 and all(b - a >= 5.0 for a, b in itertools.pairwise(starts))
    assert set(motion[0]) >= {"activity_g", "tremor_power", "sleep_state", "coverage", "t_utc"}

    configs = {t: b for t, b, _ in ha.messages}
    node = "twitchwatch_b1"
    event_conf = configs[f"{disc}/event/{node}/movement/config"]
    assert event_conf["state_topic"] == f"{prefix}/b1/ha_event"
    assert event_conf["event_types"] == ["myoclonic_jerk", "hypnic_jerk", "tremor"]
    assert event_conf["availability_topic"] == f"{prefix}/b1/status"
    assert {b["unique_id"] for b in configs.values()} == \
        {f"{node}_{o}" for o in ("movement", "battery", "rssi", "activity")}
    # Discovery configs are retained: Home Assistant started later still finds the band.
    assert await retained(mosquitto, f"{disc}/event/{node}/movement/config") == event_conf
    # Home Assistant gets final events only, with the event_type it requires.
    ha_events = [b for t, b, _ in sub.messages if t.endswith("/ha_event")]
    assert ha_events == [{"event_type": "hypnic_jerk", "id": "ev-001", "peak_g": 0.5,
                          "confidence": 0.9, "start_utc": ha_events[0]["start_utc"]}]
    status = [b for t, b, _ in sub.messages if t.endswith("/status")]
    assert status[0]["state"] == "online"
    assert any(b.get("link", {}).get("battery_pct") == 88 for b in status)
