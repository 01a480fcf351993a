"""What the analyzer emits. Times are seconds on the caller's time base."""

from __future__ import annotations

from dataclasses import asdict, dataclass

EVENT_TYPES = ("myoclonic_jerk", "hypnic_jerk", "tremor")


@dataclass(frozen=True, slots=True)
class Event:
    """A detected movement event.

    ``final`` is False for an early notice (a jerk whose hypnic-or-not decision still waits
    for context, a tremor episode still going on); the final event with the same ``id``
    follows and supersedes it. Stores keep final events only; live views show both.
    ``cluster`` groups myoclonic jerks that come within seconds of each other;
    ``tremor_type`` is a hint ("rest", "essential", "physiological") from frequency and
    context.
    """

    id: str
    type: str
    start: float
    end: float
    peak_g: float
    confidence: float
    final: bool = True
    freq_hz: float | None = None
    cluster: int | None = None
    tremor_type: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True, slots=True)
class Retraction:
    """An early notice that the final decision turned down (e.g. the first stroke of a
    scratching bout). Live views drop the event with this ``id``; stores never saw it."""

    id: str
    time: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SleepOnset:
    """Sleep onset: the end of the last movement of a wake period (``start``), confirmed
    at ``confirmed`` once the stillness has lasted long enough."""

    id: str
    start: float
    confirmed: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Epoch:
    """One second of context for the dashboards.

    ``activity_g``: mean dynamic acceleration (gravity removed); ``tremor_power``: mean
    square of the 3-12 Hz band, g^2; ``state``: "wake", "sleep" or "unknown";
    ``coverage``: the fraction of the second's samples that arrived.
    """

    start: float
    duration_s: float
    activity_g: float
    tremor_power: float
    state: str
    coverage: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


Output = Event | Epoch | SleepOnset | Retraction
