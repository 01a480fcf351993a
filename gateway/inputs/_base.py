"""What every reader gives: :class:`InputInfo`, :class:`Chunk` and the :class:`Input` shape.

Times: ``Chunk.t_s`` counts seconds from the recording's first sample. Wall-clock time is
only in :class:`InputInfo`: ``start_local`` is the clock time the device wrote (naive: most
devices keep local time without saying which zone), ``start_utc`` is set when the file names
its UTC offset (GENEActiv, ActiGraph, ISO or epoch CSV times) or the user gave ``--tz``.
"""

from __future__ import annotations

import datetime as dt
import math
import pathlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import RecordingError

if TYPE_CHECKING:  # numpy is imported where samples are decoded: `--help` stays instant
    import numpy as np

# How much data a reader decodes at a time: large enough for numpy to be fast, small
# enough that memory stays flat whatever the length of the recording.
BLOCK_BYTES = 1 << 20

ACC_UNITS = ("g", "mg", "m/s2")
GYRO_UNITS = ("dps", "rads")
STANDARD_GRAVITY = 9.80665  # m/s^2 per g
RAD_TO_DEG = 180.0 / math.pi


@dataclass
class Chunk:
    """Samples in time order: ``t_s`` (n,) seconds from the first sample, ``acc_g`` (n, 3)
    in g, ``gyro_dps`` (n, 3) in deg/s or None when the recording has no gyroscope."""

    t_s: np.ndarray
    acc_g: np.ndarray
    gyro_dps: np.ndarray | None


@dataclass
class InputOptions:
    """How to read files that do not say everything themselves (CSV, some EDF files).

    ``columns`` maps our names (t, ax, ay, az, gx, gy, gz) to the file's column or EDF
    signal labels; ``acc_units``/``gyro_units`` declare units (else detected from gravity);
    ``time_format`` is one of :data:`TIME_FORMATS`; ``tz`` is an IANA zone name for files
    whose clock times carry no UTC offset (CWA, EDF, naive ISO times)."""

    columns: dict[str, str] = field(default_factory=dict)
    acc_units: str | None = None
    gyro_units: str | None = None
    time_format: str = "auto"
    tz: str | None = None


TIME_FORMATS = ("auto", "s", "ms", "epoch", "epoch-ms", "iso")
AXES = ("ax", "ay", "az", "gx", "gy", "gz")


@dataclass
class InputInfo:
    """What a file says about itself (filled when it is opened, warnings also while read)."""

    format: str
    path: pathlib.Path
    start_local: dt.datetime | None = None  # naive, the device's clock
    start_utc: dt.datetime | None = None  # aware, when the offset is known
    utc_offset: dt.timedelta | None = None
    tz_name: str | None = None
    rate_hz: float | None = None  # measured from the file's timing where it can be
    nominal_rate_hz: float | None = None  # what the device was set to
    has_gyro: bool = False
    device: str | None = None
    serial: str | None = None
    acc_range_g: float | None = None
    gyro_range_dps: float | None = None
    duration_s: float | None = None  # estimated from the header, before reading
    warnings: list[str] = field(default_factory=list)

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    def clock_text(self) -> str | None:
        """The start for people: ``2019-12-23 21:04:06.700 UTC-05:00`` or with a note."""
        if self.start_local is None:
            return None
        s = self.start_local.isoformat(sep=" ", timespec="milliseconds")
        if self.tz_name:
            return f"{s} {self.tz_name}"
        if self.utc_offset is not None:
            return f"{s} UTC{_offset_text(self.utc_offset)}"
        return f"{s} (device clock, time zone not in the file)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format, "path": str(self.path),
            "start_local": None if self.start_local is None else self.start_local.isoformat(),
            "start_utc": None if self.start_utc is None else self.start_utc.isoformat(),
            "utc_offset_s": None if self.utc_offset is None else self.utc_offset.total_seconds(),
            "tz_name": self.tz_name, "rate_hz": self.rate_hz,
            "nominal_rate_hz": self.nominal_rate_hz, "has_gyro": self.has_gyro,
            "device": self.device, "serial": self.serial, "acc_range_g": self.acc_range_g,
            "gyro_range_dps": self.gyro_range_dps, "duration_s": self.duration_s,
            "warnings": list(self.warnings),
        }


class Input(Protocol):
    info: InputInfo

    def chunks(self, progress: Callable[[float], None] | None = None) -> Iterator[Chunk]:
        """The samples, in blocks; ``progress`` gets the fraction of the file read."""
        ...


def _offset_text(off: dt.timedelta) -> str:
    total = round(off.total_seconds() / 60)
    sign = "+" if total >= 0 else "-"
    h, m = divmod(abs(total), 60)
    return f"{sign}{h:02d}:{m:02d}"


def set_clock(info: InputInfo, start_local: dt.datetime | None, *,
              utc_offset: dt.timedelta | None = None, tz: str | None = None) -> None:
    """Fill the start fields from a naive local start and what is known of its zone.

    An offset written in the file wins; else ``tz`` (the user's ``--tz``) is applied."""
    info.start_local = start_local
    if start_local is None:
        return
    if utc_offset is not None:
        info.utc_offset = utc_offset
        info.start_utc = (start_local - utc_offset).replace(tzinfo=dt.UTC)
        if tz:
            info.warn(f"--tz {tz} ignored: the file gives its UTC offset "
                      f"({_offset_text(utc_offset)})")
        return
    if tz:
        zone = zoneinfo(tz)
        aware = start_local.replace(tzinfo=zone)
        info.tz_name = tz
        info.utc_offset = aware.utcoffset()
        info.start_utc = aware.astimezone(dt.UTC)


def zoneinfo(name: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RecordingError(f"--tz {name!r}: not a time zone name (expected e.g. "
                             "Europe/Berlin or UTC)") from None


def gravity_units(median_norm: float) -> str | None:
    """Which acceleration unit a resting sensor's median |a| points to, or None.

    A worn or lying sensor always feels gravity: about 1 in g, 9.81 in m/s^2, 1000 in mg.
    The windows are wide enough for movement and miscalibration and far from each other."""
    if 0.5 <= median_norm <= 2.0:
        return "g"
    if 6.0 <= median_norm <= 14.0:
        return "m/s2"
    if 600.0 <= median_norm <= 1600.0:
        return "mg"
    return None


def acc_scale(info: InputInfo, declared: str | None, median_norm: float | None,
              what: str) -> float:
    """The factor to g, deciding between a declared unit and what gravity says.

    Undeclared units are detected and converted with a warning (gravity is unambiguous);
    a declared unit is obeyed, with a warning when gravity disagrees."""
    to_g = {"g": 1.0, "mg": 1e-3, "m/s2": 1.0 / STANDARD_GRAVITY}
    seen = gravity_units(median_norm) if median_norm is not None else None
    if declared is not None:
        if declared not in to_g:
            raise RecordingError(f"{info.path}: acceleration units {declared!r} not one of "
                                 f"{', '.join(ACC_UNITS)}")
        if seen is not None and seen != declared:
            info.warn(f"{what} declared in {declared} but the median |a| is "
                      f"{median_norm:.3g}, which looks like {seen}")
        return to_g[declared]
    if seen is None:
        if median_norm is not None:
            info.warn(f"{what}: median |a| is {median_norm:.3g}, neither about 1 (g) nor "
                      "9.8 (m/s2): read as g; gravity may be removed or the units unusual")
        return 1.0
    if seen != "g":
        info.warn(f"{what}: values look like {seen} (median |a| {median_norm:.3g} over the "
                  f"first minute), converted to g; declare --acc-units to silence this")
    return to_g[seen]


def gyro_scale(info: InputInfo, declared: str | None) -> float:
    if declared is None or declared == "dps":
        return 1.0
    if declared == "rads":
        return RAD_TO_DEG
    raise RecordingError(f"{info.path}: gyroscope units {declared!r} not one of "
                         f"{', '.join(GYRO_UNITS)}")


def days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates, vectorised (H. Hinnant's method)."""
    import numpy as np

    y = y.astype(np.int64) - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (m.astype(np.int64) + 9) % 12
    doy = (153 * mp + 2) // 5 + d.astype(np.int64) - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def monotonic_guard(t: np.ndarray, last_t: float) -> np.ndarray:
    """Mask of samples whose time moves forward (a device clock set back loses samples
    here, counted by the caller, rather than reaching the analyzer out of order)."""
    import numpy as np

    if len(t) == 0:
        return np.zeros(0, dtype=bool)
    run = np.maximum.accumulate(np.concatenate([[last_t], t]))[:-1]
    return t > run


def auto_axis(label: str) -> str | None:
    """Our axis name (ax..gz) for a channel or column label, or None. Conservative on
    purpose: ``Acc X``, ``accel_x``, ``Accelerometer X``, ``x`` -> ax; ``Gyro Z``,
    ``gyr_z``, ``gz`` -> gz."""
    n = re.sub(r"[^a-z0-9]", "", label.lower())
    if not n or n[-1] not in "xyz":
        return None
    body = n[:-1]
    if re.fullmatch(r"(gyr|gyro|gyroscope|rot|rotation|angvel|angularvelocity|g)", body):
        return "g" + n[-1]
    if re.fullmatch(r"(|a|acc|accel|accelerometer|acceleration|accelerom)", body):
        return "a" + n[-1]
    return None
