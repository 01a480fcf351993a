"""The scene being planned: posture track, movement components and the labels so far."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .components import Component, Stroke
from .geometry import minjerk, rand_unit, rot_matrix, rotate, unit


@dataclass
class Posture:
    """Posture track: an initial orientation and smooth transitions (sensor-frame axes)."""

    start: np.ndarray = field(default_factory=lambda: np.eye(3))
    pending: list[tuple[float, float, np.ndarray, float]] = field(default_factory=list)
    times: list[tuple[float, float]] = field(default_factory=list)
    mats: list[np.ndarray] = field(default_factory=list)
    axes: list[np.ndarray] = field(default_factory=list)
    angles: list[float] = field(default_factory=list)

    def add(self, t0: float, t1: float, axis: np.ndarray, angle: float) -> None:
        self.pending.append((t0, t1, unit(axis), angle))

    def finalize(self) -> None:
        """Chain the transitions in time order; an overlapping one waits for the previous."""
        self.mats = [self.start]
        last = -math.inf
        for t0, t1, axis, angle in sorted(self.pending, key=lambda p: p[0]):
            if t0 < last:
                t0, t1 = last, last + (t1 - t0)
            self.times.append((t0, t1))
            self.axes.append(axis)
            self.angles.append(angle)
            self.mats.append(self.mats[-1] @ rot_matrix(axis, angle))
            last = t1

    def gravity(self, tt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gravity in the sensor frame (n,3) and the posture's angular rate (n,3) deg/s."""
        up = np.array([0.0, 0.0, 1.0])
        starts = np.array([a for a, _ in self.times]) if self.times else np.zeros(0)
        k = np.searchsorted(starts, tt, side="right")  # transitions begun before tt
        g = np.empty((len(tt), 3))
        w = np.zeros((len(tt), 3))
        for kk in np.unique(k):
            m = k == kk
            base = self.mats[kk - 1] if kk > 0 else self.mats[0]
            if kk == 0:
                g[m] = base.T @ up
                continue
            a, b = self.times[kk - 1]
            s = (tt[m] - a) / (b - a)
            pos, vel, _ = minjerk(s)
            prev = self.mats[kk - 1]
            gm = np.broadcast_to(prev.T @ up, (int(m.sum()), 3)).copy()
            # rotating the body by +angle about axis (body frame) turns gravity by -angle
            ang = self.angles[kk - 1]
            g[m] = rotate(gm, self.axes[kk - 1], -ang * pos)
            w[m] = np.outer(ang * vel / (b - a), self.axes[kk - 1]) * (180 / math.pi)
        return g, w


@dataclass
class Scene:
    rate_hz: float
    duration_s: float
    rng: np.random.Generator
    posture: Posture = field(default_factory=Posture)
    comps: list[Component] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    confounders: list[dict] = field(default_factory=list)
    sleep: list[dict] = field(default_factory=list)
    onsets: list[dict] = field(default_factory=list)
    busy: list[tuple[float, float]] = field(default_factory=list)  # voluntary-ish spans
    spans: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # comps' [t0, end]
    passive: list[tuple[float, float]] = field(default_factory=list)  # holding still

    # ---- helpers to add movements
    def posture_change(self, t0: float, dur: float, angle: float) -> None:
        axis = rand_unit(self.rng)
        self.posture.add(t0, t0 + dur, axis, angle)

    def stroke(self, t0: float, dur: float, dist_m: float, angle: float, back: bool = True) -> None:
        r = self.rng
        self.comps.append(Stroke(t0, t0 + dur, axis=rand_unit(r), angle=angle,
                                  dirn=rand_unit(r), dist_m=dist_m, back=back))

    def confound(self, kind: str, t0: float, t1: float, detail: str | None = None) -> None:
        c: dict[str, object] = {"kind": kind, "start": round(t0, 3), "end": round(t1, 3)}
        if detail:
            c["detail"] = detail
        self.confounders.append(c)
        if kind != "bed_tap" and kind != "sensor_knock":
            self.busy.append((t0, t1))

    def free(self, t0: float, t1: float, margin: float = 1.0, passive: bool = False) -> bool:
        spans = self.busy
        if passive:  # scrolling (holding still) does not count
            spans = [s for s in spans if s not in self.passive]
        return all(b < t0 - margin or a > t1 + margin for a, b in spans)
