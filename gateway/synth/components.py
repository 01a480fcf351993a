"""Movements as functions of time: each adds its rotation, rotation rate and wrist
translation to the rendered samples. Pure functions of time, so any render window works."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .geometry import G_MS2, minjerk, rotate, unit


@dataclass
class Component:
    """A movement: forearm rotation about ``axis`` plus wrist translation, from t0 to t1."""

    t0: float
    t1: float
    tail_s = 0.5  # how long after t1 the component still contributes

    def render(self, tt: np.ndarray, g: np.ndarray, gyro: np.ndarray, acc: np.ndarray) -> None:
        raise NotImplementedError


@dataclass
class Stroke(Component):
    """A minimum-jerk movement: rotate by ``angle`` and translate by ``dist_m`` along ``dirn``.

    ``back`` makes it go there and back within the duration (reach-and-return).
    """

    axis: np.ndarray = field(default_factory=lambda: np.array([1.0, 0, 0]))
    angle: float = 0.0
    dirn: np.ndarray = field(default_factory=lambda: np.array([0, 1.0, 0]))
    dist_m: float = 0.0
    back: bool = True

    def render(self, tt, g, gyro, acc):
        dur = self.t1 - self.t0
        if self.back:
            # there and back: two min-jerk halves
            s = (tt - self.t0) / (dur / 2)
            up = s < 1
            p1, v1, a1 = minjerk(s)
            p2, v2, a2 = minjerk(s - 1)
            pos = np.where(up, p1, 1 - p2)
            vel = np.where(up, v1, -v2) / (dur / 2)
            acl = np.where(up, a1, -a2) / (dur / 2) ** 2
        else:
            pos, vel, acl = minjerk((tt - self.t0) / dur)
            vel = vel / dur
            acl = acl / dur ** 2
        ang = self.angle * pos
        g[:] = rotate(g, self.axis, ang)
        gyro += np.outer(self.angle * vel, self.axis) * (180 / math.pi)
        acc += np.outer(self.dist_m * acl / G_MS2, self.dirn)


@dataclass
class JerkPulse(Component):
    """A jerk: a rotation pulse about the elbow; the wrist at ``radius_m`` sees r*alpha.

    ``shape`` "bi": Hann-shaped angular velocity (limb moves and stops; biphasic
    acceleration); "tri": one sine cycle of angular velocity (out and back; triphasic).
    """

    axis: np.ndarray = field(default_factory=lambda: np.array([1.0, 0, 0]))
    dirn: np.ndarray = field(default_factory=lambda: np.array([0, 1.0, 0]))
    peak_g: float = 0.5
    radius_m: float = 0.3
    shape: str = "bi"
    ring_hz: float = 10.0
    ring_frac: float = 0.1
    back_s: float = 1.0
    tail_s = 1.6

    def render(self, tt, g, gyro, acc):
        d = self.t1 - self.t0
        x = np.clip((tt - self.t0) / d, 0.0, 1.0)
        inside = (tt >= self.t0) & (tt <= self.t1)
        if self.shape == "bi":
            # w = W sin^2(pi x): the limb turns and stops; alpha = W (pi/d) sin(2 pi x)
            w_peak = self.peak_g * G_MS2 * d / (math.pi * self.radius_m)
            w = w_peak * np.sin(math.pi * x) ** 2
            alpha = w_peak * (math.pi / d) * np.sin(2 * math.pi * x)
            theta = w_peak * d * (x - np.sin(2 * math.pi * x) / (2 * math.pi)) / 2
        else:
            # w = W sin(2 pi x) sin^2(pi x) = W/2 (sin 2pi x - sin(4 pi x)/2): out and back;
            # alpha = W pi/d (cos 2pi x - cos 4pi x), whose peak is 2 pi W / d
            w_peak = self.peak_g * G_MS2 * d / (2 * math.pi * self.radius_m)
            w = w_peak / 2 * (np.sin(2 * math.pi * x) - np.sin(4 * math.pi * x) / 2)
            alpha = w_peak * math.pi / d * (np.cos(2 * math.pi * x) - np.cos(4 * math.pi * x))
            theta = w_peak * d / 2 * ((1 - np.cos(2 * math.pi * x)) / (2 * math.pi)
                                      - (1 - np.cos(4 * math.pi * x)) / (8 * math.pi))
        w = np.where(inside, w, 0.0)
        alpha = np.where(inside, alpha, 0.0)
        if self.shape == "bi":
            # the limb then relaxes back to its posture, slowly (not part of the event)
            pos, vel, acl = minjerk((tt - self.t1) / self.back_s)
            after_pulse = tt > self.t1
            theta = np.where(after_pulse, theta * (1 - pos), theta)
            w = w - np.where(after_pulse, w_peak * d / 2 * vel / self.back_s, 0.0)
            alpha = alpha - np.where(after_pulse, w_peak * d / 2 * acl / self.back_s ** 2, 0.0)
        lin = self.radius_m * alpha / G_MS2
        # small mechanical ringing after the pulse (not part of the labelled event)
        after = tt > self.t1
        ring = np.zeros_like(tt)
        if self.ring_frac > 0:
            ta = tt[after] - self.t1
            ring[after] = (self.ring_frac * self.peak_g * np.exp(-ta / 0.04)
                           * np.sin(2 * math.pi * self.ring_hz * ta))
        g[:] = rotate(g, self.axis, theta)
        gyro += np.outer(w, self.axis) * (180 / math.pi)
        acc += np.outer(lin + ring, self.dirn)


@dataclass
class Oscillation(Component):
    """A rhythmic forearm rotation (tremor, breathing): theta = A env(t) shape(phase(t)).

    Frequency wanders slowly (two slow sinusoids); the envelope fades in and out over
    ``fade_s`` and is modulated by ``am_frac``; ``h2`` is the relative second harmonic.
    ``radius_m`` converts angular acceleration to wrist translation (r*theta'').
    """

    axis: np.ndarray = field(default_factory=lambda: np.array([1.0, 0, 0]))
    dirn: np.ndarray = field(default_factory=lambda: np.array([0, 1.0, 0]))
    freq_hz: float = 5.0
    wander_hz: float = 0.1
    amp_rad: float = 0.01
    fade_s: float = 1.0
    am_frac: float = 0.2
    h2: float = 0.1
    radius_m: float = 0.1
    seed: int = 0

    def _params(self):
        r = np.random.default_rng(self.seed)
        return r.uniform(0.01, 0.08, 2), r.uniform(0, 2 * np.pi, 6), r.uniform(0.03, 0.2, 2)

    def phase(self, tt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        fw, ph, _fa = self._params()
        x = tt - self.t0
        # f(t) = f0 + W/2 (sin(2 pi fw0 x + p0) + sin(2 pi fw1 x + p1)); phase = 2 pi int f
        integ = self.freq_hz * x
        inst = np.full_like(x, self.freq_hz)
        for k in range(2):
            a = self.wander_hz / 2
            integ = integ - a / (2 * np.pi * fw[k]) * (np.cos(2 * np.pi * fw[k] * x + ph[k])
                                                       - np.cos(ph[k]))
            inst = inst + a * np.sin(2 * np.pi * fw[k] * x + ph[k])
        return 2 * np.pi * integ + ph[2], inst

    def envelope(self, tt: np.ndarray) -> np.ndarray:
        _, ph, fa = self._params()
        up = np.clip((tt - self.t0) / self.fade_s, 0, 1)
        down = np.clip((self.t1 - tt) / self.fade_s, 0, 1)
        fade = np.sin(np.pi / 2 * np.minimum(up, down)) ** 2
        am = 1 + self.am_frac * 0.5 * (np.sin(2 * np.pi * fa[0] * tt + ph[3])
                                       + np.sin(2 * np.pi * fa[1] * tt + ph[4]))
        return fade * am

    def mean_freq(self) -> float:
        tt = np.linspace(self.t0, self.t1, 2000)
        env = self.envelope(tt)
        return float(np.sum(self.phase(tt)[1] * env) / max(np.sum(env), 1e-12))

    def render(self, tt, g, gyro, acc):
        phi, inst = self.phase(tt)
        _, ph, _ = self._params()
        env = self.envelope(tt)
        w = 2 * np.pi * inst
        shape = np.sin(phi) + self.h2 * np.sin(2 * phi + ph[5])
        dshape = w * (np.cos(phi) + 2 * self.h2 * np.cos(2 * phi + ph[5]))
        d2shape = -w * w * (np.sin(phi) + 4 * self.h2 * np.sin(2 * phi + ph[5]))
        theta = self.amp_rad * env * shape
        g[:] = rotate(g, self.axis, theta)
        gyro += np.outer(self.amp_rad * env * dshape, self.axis) * (180 / math.pi)
        acc += np.outer(self.radius_m * self.amp_rad * env * d2shape / G_MS2, self.dirn)


@dataclass
class Wobble(Component):
    """Slow postural sway of a resting but awake forearm: a sum of slow sinusoids."""

    amp_rad: float = 0.01
    seed: int = 0

    def render(self, tt, g, gyro, acc):
        r = np.random.default_rng(self.seed)
        n = 10
        f = np.exp(r.uniform(np.log(0.02), np.log(0.6), n))
        a = self.amp_rad / np.sqrt(n) * (f / 0.05) ** -0.5 * r.uniform(0.5, 1.5, n)
        p = r.uniform(0, 2 * np.pi, n)
        axes = unit(r.normal(size=(n, 3)))
        fade = np.clip(np.minimum(tt - self.t0, self.t1 - tt) / 2.0, 0, 1)
        for k in range(n):
            th = a[k] * fade * np.sin(2 * np.pi * f[k] * tt + p[k])
            g[:] = rotate(g, axes[k], th)
            gyro += np.outer(a[k] * fade * 2 * np.pi * f[k] * np.cos(2 * np.pi * f[k] * tt + p[k]),
                             axes[k]) * (180 / math.pi)


@dataclass
class Impulse(Component):
    """A very short impact (bed tap, sensor knock): a damped high-frequency ringing.

    ``world`` True: along gravity (comes through the mattress); else along ``dirn``.
    """

    dirn: np.ndarray = field(default_factory=lambda: np.array([0, 0, 1.0]))
    peak_g: float = 0.1
    ring_hz: float = 30.0
    decay_s: float = 0.01
    world: bool = True
    gyro_dps: float = 0.0

    def render(self, tt, g, gyro, acc):
        x = tt - self.t0
        on = x >= 0
        y = np.where(on, np.exp(-np.maximum(x, 0) / self.decay_s)
                     * np.sin(2 * np.pi * self.ring_hz * np.maximum(x, 0) + 0.6), 0.0)
        d = unit(g) if self.world else np.broadcast_to(self.dirn, g.shape)
        acc += self.peak_g * y[:, None] * d
        if self.gyro_dps:
            gyro += np.outer(self.gyro_dps * y, unit(np.cross(self.dirn, [0.3, 0.5, 0.8])))
