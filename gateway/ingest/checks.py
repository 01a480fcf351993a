"""What a packet must satisfy before ingest believes it, beyond the codec's byte layout.

The codec (``..codec``) checks one frame's byte layout. Here are the checks that need
context, or bounds that are about what the gateway can compute with:

- **Device time** of a frame's last sample below ``DEVICE_TIME_MAX_US``.
- **Index and device time agree.** The band counts samples (index) and µs (device time)
  from one boot, so between two frames of one stream ``Δt ≈ Δindex · period``: exactly,
  but for the IMU's oscillator against the MCU's crystal (a few %) and the firmware's
  per-read re-anchoring (a period or two). A frame that disagrees with the last one
  accepted (a flipped bit in either field, a forged frame) is not believed
  (``StreamCheck``).
- **Live data is live.** From one live frame to the next the band's clock cannot gain
  more than a minute on the gateway's monotonic clock.
- **A restart is confirmed.** A live frame whose index jumps back could be a band that
  rebooted, or one bad frame. It is believed only when ``CONFIRM_FRAMES`` consecutive live
  frames agree with each other on the new index and clock; until then they are held, and
  dropped (counted) if the old stream goes on.
- **Wall time of arrival** is within 1970-2200 (a crafted recording can hold anything; a
  Raspberry Pi before NTP says 1970, which is fine).
- **LINK packets** are a small flat JSON object (bounded size, scalar values, known
  fields range-checked): a recording's LINK record with deeply nested JSON raised
  RecursionError out of ``replay``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .. import codec

# Device time: the field is u64 µs, but numpy works in int64 (2^63 µs raised OverflowError
# and ended the gateway) and the DSP in float64 seconds, exact to the µs below 2^53 µs
# (285 years: a band's clock since boot never gets there; even Unix-epoch µs fit).
DEVICE_TIME_MAX_US = 1 << 53

WALL_MIN_NS = 0  # 1970: a host clock before NTP is wrong but harmless
WALL_MAX_NS = 7_258_118_400 * 1_000_000_000  # 2200-01-01: beyond it a date is corrupt

# Index/time agreement. Fixed part: the firmware re-anchors each FIFO read to its clock
# (about a period of jitter) and rounds lost samples to periods; 1 s is ten times that
# at 20 Hz. Proportional part: the IMU's own oscillator may run a few % off its nominal
# rate while the device time follows the MCU's crystal; 10 % is twice the worst datasheet
# figure (MPU6050 ±5 %).
AGREE_FIXED_US = 1_000_000
AGREE_FRAC = 0.10
CONFIRM_FRAMES = 3  # live frames that must agree before a restart is believed
REBOOT_BACKSTEP = 1000  # a live index this far behind the stream is a restart candidate
# How far a live frame's device time may run ahead of the gateway's monotonic clock, from
# one live frame to the next: live data waits at most a few seconds on the band (its
# send latency, a congested link); a minute is generous.
LIVE_LEAD_MAX_US = 60_000_000

LINK_MAX_BYTES = 4096  # a LINK packet is ~100-300 bytes of flat JSON
LINK_MAX_KEYS = 64
LINK_MAX_STR = 256
LINK_INT_MAX = 1 << 53
RSSI_RANGE_DBM = (-127, 20)  # the range of the HCI RSSI field
MTU_RANGE = (23, 517)  # ATT: the minimum and the largest MTU BLE allows


def wall_time_ok(ns: int) -> bool:
    return WALL_MIN_NS <= ns < WALL_MAX_NS


def device_time_ok(f: codec.Frame) -> bool:
    return f.t_us + (f.count - 1) * f.period_us < DEVICE_TIME_MAX_US


def frames_agree(a: codec.Frame, b: codec.Frame) -> bool:
    """Do ``a`` and ``b`` look like samples of one stream (one boot of one band)?

    Compares ``b``'s start with ``a``'s end, so the period of each frame's own samples is
    used for them (a rate change between two frames costs nothing)."""
    a_end_index = a.first_index + a.count
    a_end_us = a.t_us + a.count * a.period_us
    d_index = b.first_index - a_end_index
    d_us = b.t_us - a_end_us
    err = abs(d_us - d_index * b.period_us)
    return err <= AGREE_FIXED_US + AGREE_FRAC * abs(d_us)


def link_info(payload: bytes) -> dict[str, Any]:
    """The JSON object of a LINK packet, checked; raises ValueError naming what is wrong.

    Only scalar values are kept (nested ones are dropped); ``rssi`` and ``mtu`` outside
    their ranges are dropped too, so a bad value never reaches a sink."""
    if len(payload) > LINK_MAX_BYTES:
        raise ValueError(f"{len(payload)} bytes, a link packet has at most {LINK_MAX_BYTES}")
    try:
        info = json.loads(payload)
    except (ValueError, RecursionError) as e:  # RecursionError: deeply nested JSON
        raise ValueError(f"not JSON ({type(e).__name__})") from None
    if not isinstance(info, dict):
        raise ValueError(f"JSON {type(info).__name__}, not an object")
    if len(info) > LINK_MAX_KEYS:
        raise ValueError(f"{len(info)} fields, at most {LINK_MAX_KEYS}")
    out: dict[str, Any] = {}
    for k, v in info.items():
        if len(k) > LINK_MAX_STR or not _scalar_ok(v):
            continue
        out[k] = v
    if not isinstance(out.get("event"), str):
        raise ValueError("no \"event\" string")
    for key, (lo, hi) in (("rssi", RSSI_RANGE_DBM), ("mtu", MTU_RANGE)):
        v = out.get(key)
        if v is not None and not (isinstance(v, int) and not isinstance(v, bool)
                                  and lo <= v <= hi):
            del out[key]
    return out


def _scalar_ok(v: object) -> bool:
    if v is None or isinstance(v, bool):
        return True
    if isinstance(v, int):
        return abs(v) < LINK_INT_MAX
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, str):
        return len(v) <= LINK_MAX_STR
    return False


class StreamCheck:
    """Which data frames continue the band's stream, which start a new one, which are junk.

    ``check(frame, recv_mono_ns, live_next_index)`` returns ``"ok"`` (continues the
    stream), ``"hold"`` (a restart candidate, kept in ``held``), ``"restart"`` (``held``
    now has ``CONFIRM_FRAMES`` agreeing live frames: the caller starts a new stream with
    them) or ``"reject"``. Frames that were held and then contradicted are counted in
    ``dropped`` (the caller reads and clears it)."""

    def __init__(self) -> None:
        self.ref: codec.Frame | None = None  # the last frame believed
        self.live: tuple[codec.Frame, int] | None = None  # the last live one, its arrival
        self.held: list[tuple[codec.Frame, int, int]] = []  # candidates, wall ns, mono ns
        self.dropped = 0

    def check(self, f: codec.Frame, recv_wall_ns: int, recv_mono_ns: int,
              live_next_index: int | None) -> str:
        ref = self.ref
        if ref is None:
            self._believe(f, recv_mono_ns)
            return "ok"
        back = (not f.backlog and live_next_index is not None
                and f.first_index < live_next_index - REBOOT_BACKSTEP)
        if frames_agree(ref, f) and not back and self._not_too_fast(f, recv_mono_ns):
            self._drop_held()
            self._believe(f, recv_mono_ns)
            return "ok"
        if f.backlog:  # only live data can start a new stream
            return "reject"
        if self.held:
            last, _w, last_mono = self.held[-1]
            if not (frames_agree(last, f)
                    and _not_faster(last, last_mono, f, recv_mono_ns)):
                self._drop_held()
        self.held.append((f, recv_wall_ns, recv_mono_ns))
        if len(self.held) < CONFIRM_FRAMES:
            return "hold"
        self._believe(f, recv_mono_ns)
        return "restart"

    def _believe(self, f: codec.Frame, recv_mono_ns: int) -> None:
        self.ref = f
        if not f.backlog:
            self.live = (f, recv_mono_ns)

    def _not_too_fast(self, f: codec.Frame, recv_mono_ns: int) -> bool:
        if f.backlog or self.live is None:
            return True
        return _not_faster(self.live[0], self.live[1], f, recv_mono_ns)

    def take_held(self) -> list[tuple[codec.Frame, int]]:
        held, self.held = self.held, []
        return [(f, wall) for f, wall, _m in held]

    def _drop_held(self) -> None:
        self.dropped += len(self.held)
        self.held = []

    def finish(self) -> None:
        """End of stream: candidates never confirmed are dropped."""
        self._drop_held()


def _not_faster(a: codec.Frame, a_mono_ns: int, b: codec.Frame, b_mono_ns: int) -> bool:
    """Live frame ``b`` after live frame ``a``: a band's clock cannot run ahead of the
    gateway's by more than the latency of live data. Without this, one forged frame whose
    index and clock jump ahead together (agreeing) made a hole of billions of samples."""
    ahead_us = (b.t_us - a.t_us) - (b_mono_ns - a_mono_ns) / 1000 * (1 + AGREE_FRAC)
    return ahead_us <= LIVE_LEAD_MAX_US
