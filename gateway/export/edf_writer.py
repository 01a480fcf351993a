"""EDF+ export: the motion channels with every event as an annotation (docs/report.md).

Written with edfio (EDF+C). Decisions, each for a reason:

- **Continuous (EDF+C), gaps filled and annotated.** EDFbrowser refuses EDF+D, MNE and
  edfio read it as if it were continuous (annotations then land at the wrong samples), and
  edfio cannot write it. So every sample sits on one regular grid from the first sample;
  a hole shorter than 1 s is bridged by a straight line (as the analyzer itself bridges
  it), a longer one holds the last value flat and carries a ``Data missing`` annotation
  over its whole length.
- **Time base: the band's sample clock.** Annotations and samples share it, so an event
  sits on its samples exactly; the start date and time are the wall clock of the first
  sample, local at the patient's location (EDF has no time-zone field).
- **Ranges** are the smallest standard IMU full scale that holds the night's data
  (±2/4/8/16/32 g, ±250/500/1000/2000/4000 deg/s), fixed per file, 16 bits: at ±8 g one
  step is 0.24 mg. Samples are quantised here, so the file holds exactly what was measured
  to within half a step.
- **Anonymous by default**: patient ``X X X X`` (or ``--patient-code``), recording
  ``Startdate dd-MMM-yyyy X X twitchwatch``.
- **One text per kind of annotation** (EDF+ asks identical events to share a text):
  ``Myoclonic jerk``, ``Hypnic jerk``, ``Tremor`` (with durations), ``Sleep onset``, ``Sleep
  (actigraphy)`` / ``Wake (actigraphy)`` / ``Sleep/wake not scored`` for each period of the
  state (with its duration), ``Data missing``. Peak g and frequency go to the CSV export.
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ..private_files import private_tmp
from ..report.night_model import CLASS_NAME, SLEEP, UNKNOWN, WAKE, Night, data_gaps
from ..report.pdf import ReportError
from ..report.summary import sleep_states

ACC_RANGES_G = (2.0, 4.0, 8.0, 16.0, 32.0)
GYRO_RANGES_DPS = (250.0, 500.0, 1000.0, 2000.0, 4000.0)
DIGITAL = (-32768, 32767)
BRIDGE_MAX_S = 1.0  # holes up to this are bridged linearly and not annotated
STATE_TEXT = {SLEEP: "Sleep (actigraphy)", WAKE: "Wake (actigraphy)",
              UNKNOWN: "Sleep/wake not scored"}
GAP_TEXT = "Data missing"
ONSET_TEXT = "Sleep onset"


@dataclass
class BandSamples:
    """A band's samples as they came, gathered for the export (float32: the sensors give
    16 bits, so nothing is lost)."""

    t: list[np.ndarray] = field(default_factory=list)
    acc: list[np.ndarray] = field(default_factory=list)
    gyro: list[np.ndarray | None] = field(default_factory=list)

    def add(self, t: np.ndarray, acc: np.ndarray, gyro: np.ndarray | None) -> None:
        self.t.append(np.asarray(t, dtype=np.float64))
        self.acc.append(np.asarray(acc, dtype=np.float32))
        self.gyro.append(None if gyro is None else np.asarray(gyro, dtype=np.float32))

    def __len__(self) -> int:
        return sum(len(t) for t in self.t)


class SampleStore:
    """The ``samples`` callback of ``report.load``: samples per band."""

    def __init__(self) -> None:
        self.bands: dict[str, BandSamples] = {}

    def __call__(self, band: str, t: np.ndarray, acc: np.ndarray,
                 gyro: np.ndarray | None) -> None:
        self.bands.setdefault(band, BandSamples()).add(t, acc, gyro)


@dataclass
class Grid:
    t0_s: float
    fs: float
    acc: np.ndarray  # (n, 3) float32, holes filled
    gyro: np.ndarray | None
    holes: list[tuple[int, int]]  # [a, b) sample ranges that held no data, >= BRIDGE_MAX_S


def nominal_rate(rate_hz: float) -> float:
    """The rate the grid uses: a whole number of Hz when within 0.5 % of one (jitter,
    crystal error), else to the nearest 1/8 Hz (e.g. 12.5 Hz)."""
    r = round(rate_hz)
    if r > 0 and abs(rate_hz - r) <= 0.005 * rate_hz:
        return float(r)
    return round(rate_hz * 8) / 8


def to_grid(s: BandSamples, rate_hz: float) -> Grid:
    t = np.concatenate(s.t)
    acc = np.concatenate(s.acc)
    with_gyro = all(g is not None for g in s.gyro)
    gyro = np.concatenate([g for g in s.gyro if g is not None]) if with_gyro else None
    fs = nominal_rate(rate_hz)
    t0 = float(t[0])
    idx = np.rint((t - t0) * fs).astype(np.int64)
    per_record = int(Fraction(fs).limit_denominator(1000).numerator)  # samples per record
    n = int(idx[-1]) + 1
    n = -(-n // per_record) * per_record  # whole records; the tail holds the last value
    have = np.zeros(n, dtype=bool)
    have[idx] = True
    holes = _runs(~have)
    src = np.full(n, -1, dtype=np.int64)
    src[idx] = np.arange(len(idx))
    last = np.maximum.accumulate(np.where(have, np.arange(n), -1))
    take = src[np.maximum(last, 0)]
    out_acc = acc[take]
    out_gyro = None if gyro is None else gyro[take]
    bridge = max(1, int(BRIDGE_MAX_S * fs))
    long_holes = []
    for a, b in holes:
        if a == 0:
            continue  # cannot happen: the grid starts at the first sample
        if b - a <= bridge and b < n:  # between two samples: a straight line
            w = (np.arange(1, b - a + 1) / (b - a + 1))[:, None]
            for arr in (out_acc, out_gyro):
                if arr is not None:
                    arr[a:b] = arr[a - 1] + w * (arr[b] - arr[a - 1])
        elif b - a > bridge:
            long_holes.append((a, b))
    return Grid(t0, fs, out_acc, out_gyro, long_holes)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(),
                    strict=True))


def full_scale(x: np.ndarray, ranges: tuple[float, ...]) -> float:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    for r in ranges:
        if peak <= r:
            return r
    return float(2 ** np.ceil(np.log2(peak)))


def digital(x: np.ndarray, r: float) -> np.ndarray:
    d = np.rint((x.astype(np.float64) + r) * ((DIGITAL[1] - DIGITAL[0]) / (2 * r)) + DIGITAL[0])
    return np.clip(d, *DIGITAL).astype(np.int16)


def edf_annotations(night: Night, t0_s: float, grid: Grid | None
                    ) -> list[tuple[float, float | None, str]]:
    """(onset s from the file start, duration s or None, text) for everything that
    happened: events, onsets, sleep/wake periods, and the holes in the data."""
    out: list[tuple[float, float | None, str]] = []
    for e in night.events:
        out.append((e.start_s - t0_s, max(0.0, e.duration_s), CLASS_NAME[e.kind]))
    for o in night.onsets:
        out.append((o.start_s - t0_s, None, ONSET_TEXT))
    st = sleep_states(night)
    ep = night.epochs
    if ep is not None and st is not None and len(ep):
        cut = np.flatnonzero(np.diff(st) != 0) + 1
        starts = np.concatenate([[0], cut])
        ends = np.concatenate([cut, [len(st)]])
        for a, b in zip(starts, ends, strict=True):
            t_a = max(float(ep.t_s[a]), night.start_s)
            t_b = float(ep.t_s[b]) if b < len(st) else night.end_s
            out.append((t_a - t0_s, max(0.0, t_b - t_a), STATE_TEXT[int(st[a])]))
    if grid is not None:
        for a, b in grid.holes:
            out.append((a / grid.fs, (b - a) / grid.fs, GAP_TEXT))
    else:  # no samples: the seconds without data, from the per-second records
        out += [(a - t0_s, b - a, GAP_TEXT) for a, b in data_gaps(night, BRIDGE_MAX_S)]
    rounded = [(round(max(0.0, o), 4), None if d is None else round(d, 4), txt)
               for o, d, txt in out]
    return sorted(rounded, key=lambda a: (a[0], a[2]))


def write_edf(night: Night, samples: BandSamples | None, path: pathlib.Path,
              patient_code: str = "X") -> pathlib.Path:
    import edfio

    grid = None
    signals = []
    if samples is not None and len(samples):
        grid = to_grid(samples, night.quality.rate_hz or _rate_of(samples))
        r = full_scale(grid.acc, ACC_RANGES_G)
        for i, ax in enumerate("XYZ"):
            signals.append(edfio.EdfSignal.from_digital(
                digital(grid.acc[:, i], r), grid.fs, label=f"Accel {ax}",
                transducer_type="3-axis accelerometer, band axes", physical_dimension="g",
                physical_range=(-r, r), digital_range=DIGITAL))
        if grid.gyro is not None:
            rg = full_scale(grid.gyro, GYRO_RANGES_DPS)
            for i, ax in enumerate("XYZ"):
                signals.append(edfio.EdfSignal.from_digital(
                    digital(grid.gyro[:, i], rg), grid.fs, label=f"Gyro {ax}",
                    transducer_type="3-axis gyroscope, band axes", physical_dimension="deg/s",
                    physical_range=(-rg, rg), digital_range=DIGITAL))
    t0 = grid.t0_s if grid is not None else night.start_s
    start = night.clock(t0)
    ann = [edfio.EdfAnnotation(o, d, txt) for o, d, txt in edf_annotations(night, t0, grid)]
    code = "".join(c if c.isalnum() or c in "-_." else "_" for c in patient_code) or "X"
    try:
        edf = edfio.Edf(
            signals, patient=edfio.Patient(code=code),
            recording=edfio.Recording(startdate=start.date() if start else None,
                                      equipment_code="twitchwatch"),
            starttime=start.time() if start else dt.time(0, 0), annotations=ann)
    except ValueError as e:  # e.g. a start date outside 1985-2084, which EDF cannot hold
        raise ReportError(f"{path}: cannot be written as EDF+ ({e})") from None
    tmp = private_tmp(path)
    try:
        edf.write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    os.chmod(path, 0o600)
    return path


def _rate_of(s: BandSamples) -> float:
    t = np.concatenate(s.t[:4])
    d = np.diff(t)
    return 1.0 / float(np.median(d[d > 0])) if len(d) else 1.0
