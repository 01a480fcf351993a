"""MQTT sink (aiomqtt): events live at QoS 1, band status retained with a last will.

Topic layout (docs/storage.md, "MQTT"):

    {prefix}/{band}/status          retained, QoS 1: {"state": "online"|"offline", ...}
    {prefix}/{band}/event/{type}    QoS 1: one event as JSON, with its "id" and "final"
    {prefix}/{band}/motion          QoS 0, optional: the latest per-second summary
    {discovery}/.../config          retained, optional: Home Assistant MQTT discovery

One MQTT connection per band (``MqttBandLink``), because a last will belongs to a connection:
if the gateway dies, the broker marks exactly that band's status "offline". Each link
owns a task that connects, publishes, and reconnects with capped backoff and jitter after
the broker goes away (a restart, a network drop).

While a band's connection is down (policy, docs/storage.md):
- events wait in the link's outbox, bounded at ``queue_max`` messages, drop-oldest with a
  counter (``dropped``). A message leaves the outbox only once the broker acknowledged it
  (PUBACK), so an event whose acknowledgement was lost with the connection is sent again
  after the reconnect: consumers de-duplicate by the event's ``id``.
- status and live motion are latest-wins slots: only the newest is sent after a reconnect.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import re
import ssl
from collections.abc import Callable
from types import TracebackType
from typing import Any

import aiomqtt
from aiomqtt.exceptions import MqttConnectError

from ..backoff import Backoff
from ..errors import SinkError
from ..ratelog import RateLimitedLog
from ..records import (
    EpochRecord,
    EventRecord,
    LinkRecord,
    Record,
    RetractionRecord,
    SleepOnsetRecord,
)
from ..settings import MqttConfig
from ..store.lineproto import STATE_CODE
from ..tls import client_context
from .jsonl import SERIALISE_ERRORS, event_json, utc_iso

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
STATUS_EVERY_S = 10.0  # periodic link records come every second; status needs far fewer
DRAIN_TIMEOUT_S = 10.0  # at exit, per band, to send what waits and the "offline" status
RECONNECT_FIRST_S = 0.5
RECONNECT_MAX_S = 30.0
EVENT_TYPES = ("myoclonic_jerk", "hypnic_jerk", "tremor")

Message = tuple[str, bytes, int, bool]  # topic, payload, QoS, retain


def topic_part(s: str) -> str:
    """A band id as one topic level: no wildcards, no separators."""
    return re.sub(r"[/#+\s]", "_", s) or "_"


def ha_id(s: str) -> str:
    """A Home Assistant node/object id: [a-zA-Z0-9_-] only."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", s) or "_"


class MqttBandLink:
    """One band's MQTT connection: its own last will, an outbox, reconnects."""

    def __init__(self, sink: MqttSink, band: str) -> None:
        self.sink = sink
        self.band = band
        self.outbox: collections.deque[Message] = collections.deque()
        self._acks: dict[int, Callable[[], None]] = {}  # id(message in outbox) -> on PUBACK
        self.status: Message | None = None  # latest-wins
        self.motion: Message | None = None  # latest-wins
        self.connected = False
        self.connects = 0
        self.published = 0
        self.dropped = 0  # outbox overflow (drop-oldest)
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._backoff = Backoff(initial_s=RECONNECT_FIRST_S, max_s=RECONNECT_MAX_S)

    async def __aenter__(self) -> MqttBandLink:
        self._task = asyncio.create_task(self._run(), name=f"mqtt-{self.band}")
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        """Send what waits and the "offline" status, then disconnect (bounded)."""
        self._closing = True
        self._wake.set()
        assert self._task is not None
        done, _ = await asyncio.wait({self._task}, timeout=DRAIN_TIMEOUT_S)
        if not done:
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        left = len(self.outbox)
        if left:
            self.dropped += left
            log.warning("MQTT band %s: %d message(s) not delivered (broker unreachable)",
                        self.band, left)

    def put(self, msg: Message, on_puback: Callable[[], None] | None = None) -> None:
        """Queue a QoS 1 message; ``on_puback`` runs once the broker acknowledged it."""
        if len(self.outbox) >= self.sink.cfg.queue_max:
            self._acks.pop(id(self.outbox.popleft()), None)
            self.dropped += 1
        self.outbox.append(msg)
        if on_puback is not None:
            self._acks[id(msg)] = on_puback
        self._wake.set()

    def set_status(self, msg: Message) -> None:
        self.status = msg
        self._wake.set()

    def set_motion(self, msg: Message) -> None:
        if self.connected:  # live motion is for now: nothing is kept for after a reconnect
            self.motion = msg
            self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                async with self.sink.client(self.band) as client:
                    await self._session(client)
                    return  # closing: everything sent, "offline" published
            except aiomqtt.MqttError as err:
                self.connected = False
                if self._closing:
                    return
                delay = self._backoff.next_delay_s()
                log.warning("MQTT band %s: %s; reconnecting in %.1f s", self.band, err, delay)
                with contextlib.suppress(TimeoutError):  # not wait_for: see channel.py
                    async with asyncio.timeout(delay):
                        await self._closed()

    async def _closed(self) -> None:
        while not self._closing:
            self._wake.clear()
            await self._wake.wait()

    async def _session(self, client: aiomqtt.Client) -> None:
        # aiomqtt's public sign of a lost connection: its message iterator raises.
        gone = asyncio.create_task(_until_disconnected(client), name=f"mqtt-{self.band}-watch")
        try:
            await self._publish_until_closed(client, gone)
        finally:
            gone.cancel()
            await asyncio.gather(gone, return_exceptions=True)

    async def _publish_until_closed(self, client: aiomqtt.Client,
                                    gone: asyncio.Future[None]) -> None:
        pub = self._publisher(client, gone)
        s = self.sink
        self.connects += 1
        self._backoff.reset()  # connected: the next loss starts from the shortest delay
        if self.connects > 1:
            log.info("MQTT band %s: reconnected", self.band)
        await pub((s.status_topic(self.band), s.status_payload("online", self.band), 1, True))
        for msg in s.discovery_messages(self.band):
            await pub(msg)
        self.connected = True
        while True:
            while self.outbox:
                m = self.outbox[0]
                await pub(m)
                if self.outbox and self.outbox[0] is m:  # still there unless dropped
                    self.outbox.popleft()
                    ack = self._acks.pop(id(m), None)
                    if ack is not None:
                        ack()
            for slot in ("status", "motion"):
                m = getattr(self, slot)
                if m is not None:
                    await pub(m)
                    if getattr(self, slot) is m:
                        setattr(self, slot, None)
            if self._closing:
                await pub((s.status_topic(self.band), s.status_payload("offline", self.band),
                           1, True))
                return
            self._wake.clear()
            waiter: asyncio.Future[Any] = asyncio.ensure_future(self._wake.wait())
            await asyncio.wait({waiter, gone}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if gone.done():
                raise aiomqtt.MqttError(f"connection lost ({_reason(gone)})")

    def _publisher(self, client: aiomqtt.Client, gone: asyncio.Future[None]) -> Any:
        async def pub(m: Message) -> None:
            topic, payload, qos, retain = m
            # aiomqtt waits for PUBACK until its timeout even when the connection is gone;
            # racing the disconnect makes a broker restart cost milliseconds, not seconds.
            task: asyncio.Future[Any] = asyncio.ensure_future(
                client.publish(topic, payload, qos=qos, retain=retain))
            await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError):
                    await task
                raise aiomqtt.MqttError(f"connection lost ({_reason(gone)})")
            task.result()
            self.published += 1
            self.sink.published += 1
        return pub


async def _until_disconnected(client: aiomqtt.Client) -> None:
    """Returns only by raising MqttError, when the connection is lost. We subscribe to
    nothing, so the iterator only waits."""
    async for _ in client.messages:
        pass


def _reason(fut: asyncio.Future[None]) -> str:
    if fut.done() and not fut.cancelled() and (e := fut.exception()) is not None:
        return str(e.__cause__ or e)
    return "disconnected"


class MqttSink:
    name = "mqtt"
    accepts: tuple[type, ...] = (EventRecord, LinkRecord, SleepOnsetRecord, RetractionRecord)
    queue_size = 10_000  # the session's channel; write() never waits on the network
    durable = True  # takes part in the outbox: acknowledges final events on PUBACK
    delivered: Callable[[Record], None] | None = None
    batch_max = 100
    batch_wait_s = 0.05  # events are live: hardly wait to batch them

    def __init__(self, cfg: MqttConfig) -> None:
        self.cfg = cfg
        if cfg.motion_every_s < 0 or cfg.queue_max < 1:
            raise SinkError(f"MQTT: motion_every_s {cfg.motion_every_s} < 0 or queue_max "
                            f"{cfg.queue_max} < 1")
        if cfg.motion_every_s > 0:
            self.accepts = (*self.accepts, EpochRecord)
        self._tls_context = client_context("mqtt", cfg.ca_file, cfg.cert_file,
                                           cfg.key_file, cfg.tls_insecure) \
            if cfg.use_tls else None
        self.published = 0
        self.records_dropped = 0  # records with a value JSON cannot carry
        self._rlog = RateLimitedLog(log)
        self.links: dict[str, MqttBandLink] = {}
        self._next_status_ns: dict[str, int] = {}
        self._next_motion_s: dict[str, float] = {}
        self._stack = contextlib.AsyncExitStack()

    # -- topics and payloads -----------------------------------------------------------

    def status_topic(self, band: str) -> str:
        return f"{self.cfg.prefix}/{topic_part(band)}/status"

    def event_topic(self, band: str, kind: str) -> str:
        return f"{self.cfg.prefix}/{topic_part(band)}/event/{topic_part(kind)}"

    def sleep_onset_topic(self, band: str) -> str:
        return f"{self.cfg.prefix}/{topic_part(band)}/sleep_onset"

    def retraction_topic(self, band: str) -> str:
        return f"{self.cfg.prefix}/{topic_part(band)}/retraction"

    def motion_topic(self, band: str) -> str:
        return f"{self.cfg.prefix}/{topic_part(band)}/motion"

    def ha_event_topic(self, band: str) -> str:
        return f"{self.cfg.prefix}/{topic_part(band)}/ha_event"

    def status_payload(self, state: str, band: str, **extra: Any) -> bytes:
        return json.dumps({"state": state, "band": band, "gateway": self.cfg.gateway_id,
                           **extra}, sort_keys=True).encode()

    def client(self, band: str | None) -> aiomqtt.Client:
        c = self.cfg
        will = None
        ident = f"twitchwatch-{topic_part(c.gateway_id)}"
        if band is not None:
            ident += f"-{topic_part(band)}"
            will = aiomqtt.Will(self.status_topic(band),
                                self.status_payload("offline", band, reason="gateway lost"),
                                qos=1, retain=True)
        tls: dict[str, Any] = {}
        if c.use_tls:
            tls["tls_context"] = self._tls_context
            if c.tls_insecure:  # paho: after the context, host name check off
                tls["tls_insecure"] = True
        return aiomqtt.Client(c.host, c.port, username=c.username, password=c.password,
                              identifier=ident[:64], will=will, timeout=CONNECT_TIMEOUT_S,
                              **tls)

    def discovery_messages(self, band: str) -> list[Message]:
        """Home Assistant MQTT discovery for one band (retained; empty unless enabled)."""
        if not self.cfg.homeassistant:
            return []
        node = f"twitchwatch_{ha_id(band)}"
        device = {"identifiers": [node], "name": f"twitchwatch {band}",
                  "manufacturer": "twitchwatch", "model": "IMU wrist band",
                  "via_device": f"twitchwatch_gateway_{ha_id(self.cfg.gateway_id)}"}
        avail = {"availability_topic": self.status_topic(band),
                 "availability_template": "{{ value_json.state }}",
                 "payload_available": "online", "payload_not_available": "offline"}
        comps: list[tuple[str, str, dict[str, Any]]] = [
            ("event", "movement", {
                "name": "Movement", "state_topic": self.ha_event_topic(band),
                "event_types": list(EVENT_TYPES), "icon": "mdi:human-handsdown"}),
            ("sensor", "battery", {
                "name": "Battery", "state_topic": self.status_topic(band),
                "value_template": "{{ value_json.link.battery_pct }}",
                "device_class": "battery", "unit_of_measurement": "%",
                "state_class": "measurement", "entity_category": "diagnostic"}),
            ("sensor", "rssi", {
                "name": "Signal strength", "state_topic": self.status_topic(band),
                "value_template": "{{ value_json.link.rssi_dbm }}",
                "device_class": "signal_strength", "unit_of_measurement": "dBm",
                "state_class": "measurement", "entity_category": "diagnostic"}),
        ]
        if self.cfg.motion_every_s > 0:
            comps.append(("sensor", "activity", {
                "name": "Activity", "state_topic": self.motion_topic(band),
                "value_template": "{{ value_json.activity_g }}", "unit_of_measurement": "g",
                "state_class": "measurement", "icon": "mdi:run"}))
        out: list[Message] = []
        for component, obj, conf in comps:
            body = {**conf, **avail, "unique_id": f"{node}_{obj}", "device": device}
            topic = f"{self.cfg.discovery_prefix}/{component}/{node}/{obj}/config"
            out.append((topic, json.dumps(body, sort_keys=True).encode(), 1, True))
        return out

    # -- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> MqttSink:
        # Say early and clearly if the broker refuses us (credentials); a broker that is
        # not up yet (a reboot, compose starting) is only a warning: the links reconnect.
        try:
            async with self.client(None):
                pass
        except MqttConnectError as e:
            raise SinkError(f"MQTT broker {self.cfg.host}:{self.cfg.port}: {e}") from e
        except aiomqtt.MqttError as e:
            if isinstance(e.__context__, ssl.SSLCertVerificationError):
                # A broker whose certificate does not verify is a setting to fix (CA,
                # host name), not an outage that passes.
                raise SinkError(f"MQTT broker {self.cfg.host}:{self.cfg.port}: TLS: "
                                f"{e.__context__.verify_message or e}") from e
            log.warning("MQTT broker %s:%d not reachable yet (%s): will keep trying",
                        self.cfg.host, self.cfg.port, e)
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._stack.aclose()  # each link drains and says "offline"

    async def _link(self, band: str) -> MqttBandLink:
        link = self.links.get(band)
        if link is None:
            link = await self._stack.enter_async_context(MqttBandLink(self, band))
            self.links[band] = link
        return link

    @property
    def dropped(self) -> int:
        return sum(li.dropped for li in self.links.values())

    # -- records -----------------------------------------------------------------------

    async def write(self, batch: list[Record]) -> None:
        for r in batch:
            link = await self._link(r.band)
            try:
                self._write_one(link, r)
            except SERIALISE_ERRORS as e:  # that record only, never the batch
                self.records_dropped += 1
                self._rlog.warning("value", "MQTT: a %s of band %s dropped: %s",
                                   type(r).__name__, r.band, e)

    def _write_one(self, link: MqttBandLink, r: Record) -> None:
        if isinstance(r, EventRecord):
            body = json.dumps(event_json(r), allow_nan=False).encode()
            ack = self.delivered
            link.put((self.event_topic(r.band, r.event.type), body, 1, False),
                     (lambda: ack(r)) if ack is not None and r.event.final else None)
            if self.cfg.homeassistant and r.event.final:
                ha = {"event_type": r.event.type, "id": r.event.id,
                      "peak_g": r.event.peak_g, "confidence": r.event.confidence,
                      "start_utc": utc_iso(r.start_ns)}
                link.put((self.ha_event_topic(r.band), json.dumps(ha).encode(), 1,
                          False))
        elif isinstance(r, LinkRecord):
            due = self._next_status_ns.get(r.band, 0)
            if r.reason != "periodic" or r.t_ns >= due:
                self._next_status_ns[r.band] = r.t_ns + int(STATUS_EVERY_S * 1e9)
                body = self.status_payload("online", r.band, link={
                    k: getattr(r, k) for k in r.__dataclass_fields__ if k != "band"})
                link.set_status((self.status_topic(r.band), body, 1, True))
        elif isinstance(r, SleepOnsetRecord):
            body = json.dumps({"band": r.band, "id": r.onset.id, "start": r.onset.start,
                               "confirmed": r.onset.confirmed,
                               "start_utc": utc_iso(r.start_ns)}).encode()
            link.put((self.sleep_onset_topic(r.band), body, 1, False))
        elif isinstance(r, RetractionRecord):
            body = json.dumps({"band": r.band, "id": r.retraction.id,
                               "time": r.retraction.time}).encode()
            link.put((self.retraction_topic(r.band), body, 1, False))
        elif isinstance(r, EpochRecord):
            ep = r.epoch
            if ep.start >= self._next_motion_s.get(r.band, float("-inf")):
                self._next_motion_s[r.band] = ep.start + self.cfg.motion_every_s
                body = json.dumps({
                    "band": r.band, "start": ep.start, "t_utc": utc_iso(r.start_ns),
                    "activity_g": ep.activity_g, "tremor_power": ep.tremor_power,
                    "state": ep.state, "sleep_state": STATE_CODE.get(ep.state, -1),
                    "coverage": ep.coverage}).encode()
                link.set_motion((self.motion_topic(r.band), body, 0, False))
