"""Packets as a band would send them, built with the firmware's own encoder."""

from __future__ import annotations

import json
import pathlib

import numpy as np

from twitchwatch.gateway.packets import Kind, Packet
from twitchwatch.gateway.records import (
    EpochRecord,
    EventRecord,
    LinkRecord,
    Record,
    RetractionRecord,
    SleepOnsetRecord,
)
from twitchwatch.gateway.sources.firmware_encoder import twproto

T0_WALL_NS = 1_764_000_000_000_000_000


def jerky_signal(duration_s: float, rate_hz: float = 100.0, jerks_at: tuple[float, ...] = (),
                 seed: int = 0, gravity: tuple[float, float, float] = (0.0, 0.0, 1.0)
                 ) -> np.ndarray:
    """Resting wrist (gravity + 3 mg noise) with 0.8 g, 100 ms pulses at ``jerks_at``."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * rate_hz)
    acc = np.tile(np.asarray(gravity, float), (n, 1)) + rng.normal(0, 0.003, (n, 3))
    w = max(3, int(0.1 * rate_hz))
    for s in jerks_at:
        i = int(s * rate_hz)
        acc[i:i + w, 0] += 0.8 * np.hanning(w)
    return acc


def frames(acc: np.ndarray, *, rate_hz: int = 100, per_frame: int = 18, first_index: int = 0,
           t0_us: int = 5_000_000, backlog: bool = False, seq0: int = 0,
           gyro: np.ndarray | None = None) -> list[tuple[int, bytes]]:
    """(first sample index, frame bytes) for consecutive samples."""
    tp = twproto()
    period_us = round(1e6 / rate_hz)
    cols = [np.clip(np.rint(acc * 4096), -32768, 32767)]
    flags = tp.F_ACC | (tp.F_BACKLOG if backlog else 0)
    if gyro is not None:
        cols.append(np.clip(np.rint(gyro * 16.384), -32768, 32767))
        flags |= tp.F_GYRO
    raw = np.hstack(cols).astype("<i2")
    out = []
    for k, i in enumerate(range(0, len(raw), per_frame)):
        j = min(len(raw), i + per_frame)
        idx = first_index + i
        buf = bytearray(tp.frame_size(j - i, raw.shape[1]))
        tp.pack_frame_into(buf, flags, seq0 + k, idx, t0_us + i * period_us, period_us, j - i,
                           tp.ranges_code(2, 3), raw[i:j].tobytes())
        out.append((idx, bytes(buf)))
    return out


def packet(kind: Kind, payload: bytes, device_s: float, band: str = "b1",
           latency_s: float = 0.02) -> Packet:
    ns = T0_WALL_NS + int((device_s + latency_s) * 1e9)
    return Packet(band, kind, payload, ns, ns - T0_WALL_NS)


def link(event: str, device_s: float, band: str = "b1", **info: object) -> Packet:
    body = json.dumps({"event": event, **info}, sort_keys=True).encode()
    return packet(Kind.LINK, body, device_s, band)


def data_packets(acc: np.ndarray, band: str = "b1", rate_hz: int = 100, **kw: object
                 ) -> list[Packet]:
    t0_us = int(kw.get("t0_us", 5_000_000))  # type: ignore[call-overload]
    out = []
    for idx, raw in frames(acc, rate_hz=rate_hz, **kw):  # type: ignore[arg-type]
        first = idx - int(kw.get("first_index", 0))  # type: ignore[call-overload]
        per_frame = int(kw.get("per_frame", 18))  # type: ignore[call-overload]
        last_s = t0_us / 1e6 + (first + per_frame - 1) / rate_hz
        out.append(packet(Kind.DATA, raw, last_s, band))
    return out


def status(ring_waiting: int = 0, state: int = 1, mtu: int = 247) -> bytes:
    tp = twproto()
    buf = bytearray(tp.STATUS_SIZE)
    tp.pack_status_into(buf, 90, 3900, state, 0, mtu, 0, 0, 0, 0, ring_waiting, 0, 0)
    return bytes(buf)


class Collect:
    """A sink that keeps every record it is offered: what the other sinks should hold."""

    name = "collect"
    accepts: tuple[type, ...] = (EventRecord, EpochRecord, LinkRecord, SleepOnsetRecord,
                                 RetractionRecord)
    queue_size = 1_000_000
    batch_max = 10_000
    batch_wait_s = 0.0

    def __init__(self) -> None:
        self.records: list[Record] = []

    async def __aenter__(self) -> Collect:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def write(self, batch: list[Record]) -> None:
        self.records += batch


def read_all(path: pathlib.Path, **opts: object
             ) -> tuple[object, np.ndarray, np.ndarray, np.ndarray | None]:
    """A file read whole through ``open_input``: (info, t_s, acc_g, gyro_dps or None)."""
    from twitchwatch.gateway.inputs import InputOptions, open_input

    inp = open_input(path, InputOptions(**opts))  # type: ignore[arg-type]
    chunks = list(inp.chunks())
    t = np.concatenate([c.t_s for c in chunks])
    acc = np.concatenate([c.acc_g for c in chunks])
    gyro = (np.concatenate([c.gyro_dps for c in chunks])  # type: ignore[misc]
            if chunks[0].gyro_dps is not None else None)
    return inp.info, t, acc, gyro
