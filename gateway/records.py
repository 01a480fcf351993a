"""What the pipeline hands to sinks. Wall times (ns since the epoch) are added here, at
the storage boundary, from the band's clock model; everything upstream is device time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twitchwatch.dsp import Epoch, Event, Retraction, SleepOnset


@dataclass(frozen=True, slots=True)
class EventRecord:
    band: str
    event: Event
    start_ns: int  # sensor-derived wall time, rounded to the ms: a resend overwrites
    end_ns: int


@dataclass(frozen=True, slots=True)
class SleepOnsetRecord:
    """A wake-to-sleep transition: ``start_ns`` is when the wake period's movement ended."""

    band: str
    onset: SleepOnset
    start_ns: int


@dataclass(frozen=True, slots=True)
class RetractionRecord:
    """An early notice that the DSP's decision turned down (live consumers drop it)."""

    band: str
    retraction: Retraction
    t_ns: int


@dataclass(frozen=True, slots=True)
class EpochRecord:
    band: str
    epoch: Epoch
    start_ns: int


@dataclass(frozen=True, slots=True)
class LinkRecord:
    """A band's link health. ``reason`` says why it was sent: "periodic", or a link event."""

    band: str
    t_ns: int
    reason: str
    connected: bool
    frames: int
    frames_lost: int
    samples: int
    samples_backlog: int
    samples_missing: int
    samples_late: int
    rejected: int
    reconnects: int
    rssi_dbm: int | None
    battery_pct: int | None
    mtu: int | None


@dataclass(frozen=True, slots=True, eq=False)  # arrays: compared by identity
class RawSamplesRecord:
    """A block of consecutive samples as the DSP got them, in band axes: one BLE frame, or
    a run of in-order frames that ingest took together (at most a second's worth when
    link statistics are on; the lines written per sample are the same either way).

    Built only when a sink accepts them (InfluxDB with raw samples on): 100 per second
    per band would otherwise cost every session for nothing.
    """

    band: str
    t_ns: np.ndarray  # int64, per sample: sensor-derived wall time, same clock as the rest
    acc_g: np.ndarray  # (n, 3) g
    gyro_dps: np.ndarray | None  # (n, 3) deg/s, None for a band without a gyroscope


Record = (EventRecord | EpochRecord | LinkRecord | SleepOnsetRecord | RetractionRecord
          | RawSamplesRecord)
