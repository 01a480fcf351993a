"""Hostile packets for the robustness tests: mutations of real frames and crafted ones.

Every packet a band (or an emulated band in radio range, or a damaged recording) can hand
the gateway is built here from a genuine stream, so the tests can check both that nothing
escapes and that the genuine part still arrives.
"""

from __future__ import annotations

import json
import struct

import numpy as np

from tests.helpers import T0_WALL_NS, data_packets, jerky_signal, link
from twitchwatch.gateway.packets import Kind, Packet

JERKS_AT = (20.0, 55.0, 95.0, 140.0)
NIGHT_S = 180.0


def clean_stream(band: str, seed: int = 0) -> list[Packet]:
    """Three minutes of one band: connect, then frames with four 0.8 g jerks."""
    acc = jerky_signal(NIGHT_S, jerks_at=JERKS_AT, seed=seed)
    return [link("connected", 0.0, band=band, rssi=-60, mtu=247),
            *data_packets(acc, band=band)]


def nested_json(depth: int) -> bytes:
    return b'{"event": ' + b"[" * depth + b"]" * depth + b"}"


def with_header(p: Packet, **fields: int) -> Packet:
    """``p`` (a data frame) with header fields replaced: seq, first_index, t_us."""
    buf = bytearray(p.payload)
    at = {"seq": (2, "<H"), "first_index": (4, "<I"), "t_us": (8, "<Q")}
    for name, value in fields.items():
        off, fmt = at[name]
        struct.pack_into(fmt, buf, off, value)
    return Packet(p.band, p.kind, bytes(buf), p.recv_wall_ns, p.recv_mono_ns)


def header(p: Packet) -> tuple[int, int, int]:
    """(seq, first_index, t_us) of a data frame."""
    seq, first, t_us = struct.unpack_from("<HIQ", p.payload, 2)
    return seq, first, t_us


def mutate(p: Packet, rng: np.random.Generator) -> Packet:
    """One of the ways a packet goes wrong on the air, in a file or in an attacker's hands."""
    kind = int(rng.integers(0, 12))
    buf = bytearray(p.payload)
    if kind == 0 and buf:  # a flipped bit anywhere (header bits are the dangerous ones)
        bit = int(rng.integers(0, min(len(buf), 20) * 8))
        buf[bit // 8] ^= 1 << (bit % 8)
    elif kind == 1 and p.kind is Kind.DATA:  # device time at or past 2^63, or any u64
        t = [1 << 63, (1 << 64) - 1, 1 << 53, int(rng.integers(0, 1 << 62)) * 2]
        return with_header(p, t_us=t[int(rng.integers(0, 4))])
    elif kind == 2 and p.kind is Kind.DATA:  # a flipped bit in the sample index
        _s, first, _t = header(p)
        return with_header(p, first_index=first ^ (1 << int(rng.integers(0, 32))))
    elif kind == 3 and p.kind is Kind.DATA:  # a forged restart: index and clock near 0
        i = int(rng.integers(0, 500))
        return with_header(p, first_index=i, t_us=1_000_000 + i * 10_000)
    elif kind == 4 and p.kind is Kind.DATA:  # seq anywhere
        return with_header(p, seq=int(rng.integers(0, 1 << 16)))
    elif kind == 5:  # random bytes of a frame's length
        buf = bytearray(rng.integers(0, 256, len(buf) or 20, dtype=np.uint8).tobytes())
    elif kind == 6:  # cut short or grown
        n = int(rng.integers(0, len(buf) + 40))
        buf = (buf * 3)[:n]
    elif kind == 7:  # a LINK packet with deeply nested JSON, or far too big
        body = nested_json(int(rng.integers(1_000, 60_000))) if rng.random() < 0.5 else \
            json.dumps({"event": "x" * 70_000}).encode()[:65_000]
        return Packet(p.band, Kind.LINK, body, p.recv_wall_ns, p.recv_mono_ns)
    elif kind == 8:  # a LINK packet with values no sink can carry
        body = json.dumps({"event": "connected", "rssi": 10 ** 30, "mtu": -4,
                           "connected": "yes", "x": [1, {"y": 2}], "f": float("nan")})
        return Packet(p.band, Kind.LINK, body.encode(), p.recv_wall_ns, p.recv_mono_ns)
    elif kind == 9:  # arrival wall time from another millennium
        wall = [-(1 << 62), (1 << 63) - 1, 0, int(rng.integers(-(1 << 62), 1 << 62))]
        return Packet(p.band, p.kind, p.payload, wall[int(rng.integers(0, 4))],
                      p.recv_mono_ns)
    elif kind == 10:  # the payload under another kind (metadata, status)
        k = Kind.META if rng.random() < 0.5 else Kind.STATUS
        return Packet(p.band, k, bytes(buf), p.recv_wall_ns, p.recv_mono_ns)
    elif kind == 11 and p.kind is Kind.DATA:  # BACKLOG flag set on a live frame
        buf[1] |= 0x04
    return Packet(p.band, p.kind, bytes(buf), p.recv_wall_ns, p.recv_mono_ns)


def hostile_stream(band: str, fraction: float = 0.2, seed: int = 1) -> list[Packet]:
    """The clean stream with ``fraction`` of its packets mutated (same order, same times)."""
    rng = np.random.default_rng(seed)
    out = []
    for p in clean_stream(band):
        out.append(mutate(p, rng) if rng.random() < fraction else p)
    return out


def interleave(*streams: list[Packet]) -> list[Packet]:
    """Packets of several bands in arrival order (stable for equal times)."""
    tagged = [(p.recv_mono_ns, k, i, p) for k, s in enumerate(streams) for i, p in enumerate(s)]
    tagged.sort(key=lambda x: (x[0], x[1], x[2]))
    return [x[3] for x in tagged]


__all__ = ["JERKS_AT", "NIGHT_S", "T0_WALL_NS", "clean_stream", "header", "hostile_stream",
           "interleave", "mutate", "nested_json", "with_header"]
