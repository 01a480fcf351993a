"""MQTT sink (aiomqtt): events live at QoS 1, band status retained with a last will.

Topic layout (docs/mqtt.md):

    {prefix}/{band}/status          retained, QoS 1: {"state": "online"|"offline", ...}
    {prefix}/{band}/event/{type}    QoS 1: one event as JSON, with its "id" and "final"

One MQTT connection per band, because a last will belongs to a connection: if the
gateway dies, the broker marks exactly that band's status "offline".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from types import TracebackType
from typing import Any

import aiomqtt

from ..config import MqttConfig
from ..errors import SinkError
from ..records import EventRecord, LinkRecord, Record
from .jsonl import event_json

log = logging.getLogger(__name__)

MAX_INFLIGHT = 20  # QoS 1 messages awaiting PUBACK per band (Mosquitto: ~5-7 k msg/s here)
CONNECT_TIMEOUT_S = 10.0


def topic_part(s: str) -> str:
    """A band id as one topic level: no wildcards, no separators."""
    return re.sub(r"[/#+\s]", "_", s) or "_"


class MqttSink:
    name = "mqtt"
    accepts: tuple[type, ...] = (EventRecord, LinkRecord)
    queue_size = 10_000
    batch_max = 100
    batch_wait_s = 0.05  # events are live: hardly wait to batch them

    def __init__(self, cfg: MqttConfig) -> None:
        self.cfg = cfg
        self.published = 0
        self.failed = 0
        self._clients: dict[str, aiomqtt.Client] = {}
        self._stack = contextlib.AsyncExitStack()
        self._sem = asyncio.Semaphore(MAX_INFLIGHT)

    def status_topic(self, band: str) -> str:
        return f"{self.cfg.prefix}/{topic_part(band)}/status"

    def event_topic(self, band: str, kind: str) -> str:
        return f"{self.cfg.prefix}/{topic_part(band)}/event/{topic_part(kind)}"

    async def __aenter__(self) -> MqttSink:
        # Fail early and clearly if the broker is not there: probe with a plain client.
        try:
            async with self._client(None):
                pass
        except aiomqtt.MqttError as e:
            raise SinkError(f"MQTT broker {self.cfg.host}:{self.cfg.port}: {e}") from e
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        for band, client in list(self._clients.items()):
            with contextlib.suppress(aiomqtt.MqttError):
                await client.publish(self.status_topic(band), self._status("offline", band),
                                     qos=1, retain=True)
        await self._stack.aclose()
        self._clients.clear()

    def _client(self, band: str | None) -> aiomqtt.Client:
        c = self.cfg
        will = None
        ident = f"twitchwatch-{topic_part(c.gateway_id)}"
        if band is not None:
            ident += f"-{topic_part(band)}"
            will = aiomqtt.Will(self.status_topic(band),
                                self._status("offline", band, reason="gateway lost"),
                                qos=1, retain=True)
        return aiomqtt.Client(c.host, c.port, username=c.username, password=c.password,
                              identifier=ident[:64], will=will, timeout=CONNECT_TIMEOUT_S)

    def _status(self, state: str, band: str, **extra: Any) -> bytes:
        return json.dumps({"state": state, "band": band, "gateway": self.cfg.gateway_id,
                           **extra}, sort_keys=True).encode()

    async def _band_client(self, band: str) -> aiomqtt.Client:
        client = self._clients.get(band)
        if client is None:
            client = await self._stack.enter_async_context(self._client(band))
            self._clients[band] = client
            await client.publish(self.status_topic(band), self._status("online", band),
                                 qos=1, retain=True)
        return client

    async def write(self, batch: list[Record]) -> None:
        msgs: list[tuple[str, str, bytes, int, bool]] = []
        for r in batch:
            if isinstance(r, EventRecord):
                msgs.append((r.band, self.event_topic(r.band, r.event.type),
                             json.dumps(event_json(r)).encode(), 1, False))
            elif isinstance(r, LinkRecord):
                body = self._status("online", r.band, link={
                    k: getattr(r, k) for k in r.__dataclass_fields__ if k != "band"})
                msgs.append((r.band, self.status_topic(r.band), body, 1, True))
        for band in sorted({m[0] for m in msgs}):
            try:
                await self._band_client(band)
            except aiomqtt.MqttError as e:
                log.warning("MQTT connection for band %s failed: %s", band, e)
        if msgs:
            await asyncio.gather(*(self._publish(*m) for m in msgs))

    async def _publish(self, band: str, topic: str, payload: bytes, qos: int,
                       retain: bool) -> None:
        async with self._sem:
            try:
                client = await self._band_client(band)
                await client.publish(topic, payload, qos=qos, retain=retain)
                self.published += 1
            except aiomqtt.MqttError as e:
                self.failed += 1
                log.warning("MQTT publish to %s failed: %s", topic, e)
