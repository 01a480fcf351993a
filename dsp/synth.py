"""Labelled synthetic wrist-IMU nights for tests, benchmarks and the simulated band.

``synth_night(seed=..., duration_s=...)`` returns a :class:`SynthRecording` whose ``labels``
follow the evaluation format (``../shared/eval/README.md``): events, confounders, sleep,
sleep_onsets, ignored_events, gaps. ``iter_synth_night`` yields the same samples in chunks
so that a whole night never has to sit in memory.

Signal model (all in the sensor frame, then turned by a random mounting rotation):

* the forearm's orientation is a piecewise-constant *posture* with smooth minimum-jerk
  transitions (rollovers, settling, getting up); the accelerometer reads gravity through it;
* every movement is a rotation of the forearm (axis in the sensor frame, angle profile)
  plus the translational acceleration of the wrist, in g; the gyroscope reads the
  rotation rate in deg/s;
* white sensor noise, per-axis offset and scale errors, 16-bit quantisation, +/-8 g and
  +/-2000 deg/s clipping, timestamp jitter, dropouts and disconnections.

Physiological parameters and their sources (the numbers are drawn around these):

* Myoclonic jerks: EMG bursts 10-50 ms (cortical) to > 100 ms (spinal, functional);
  the limb movement lasts tens to a few hundred ms; single, repetitive or in irregular
  clusters, awake and asleep (Shibasaki & Hallett, Muscle Nerve 31:157, 2005; Caviness &
  Brown, Lancet Neurol 3:598, 2004). Modelled as a rotation pulse about the elbow
  (radius 0.25-0.4 m) whose tangential acceleration is biphasic (Hann-shaped angular
  velocity) or triphasic (there and back), 40-250 ms, 0.15-2.5 g.
* Hypnic jerks (sleep starts): one sudden, often large jerk at the transition from wake
  to light sleep, EMG 75-250 ms, sometimes followed by a brief arousal (ICSD-3, AASM 2014;
  Sander et al., Sleep Med Rev 2016 review). Modelled as a 150-450 ms, 0.4-2.6 g pulse
  inside the sleep-onset window, isolated (no other jerk within 30 s).
* Tremor (Deuschl et al., Mov Disord 13 Suppl 3:2, 1998 consensus; Elble & McNames,
  Tremor Other Hyperkinet Mov 6:404, 2016): Parkinsonian rest tremor 4-6 Hz, fading with
  voluntary movement and absent in sleep; essential tremor 4-12 Hz (mostly 5-9 Hz),
  postural; physiological 8-12 Hz and small. Amplitude 5-400 mg at the wrist; frequency
  wanders by about 0.1-0.3 Hz; a second harmonic of 5-30 %. Modelled as a forearm rotation
  (mostly pronation-supination) at radius 0.05-0.15 m, so that the accelerometer sees both
  the gravity modulation and r*theta'' and the gyroscope sees theta'.
* Breathing: 12-20 breaths/min awake, slower and more regular asleep (Douglas et al.,
  Thorax 37:840, 1982); it rocks a resting forearm by 0.1-0.6 deg (2-10 mg).
* Voluntary reaching follows a minimum-jerk profile (Flash & Hogan, J Neurosci 5:1688,
  1985): peak acceleration 5.77 L/T^2, i.e. 0.05-0.4 g for 10-40 cm in 0.5-2 s.
* Scratching: rhythmic but irregular 2-5 Hz bursts, 0.2-0.7 g (Ebata et al., Br J
  Dermatol 144:305, 2001; Moreau et al., IEEE JBHI 22:1774, 2018).
* Walking: cadence 1.6-2.0 steps/s (Tudor-Locke et al., Int J Behav Nutr Phys Act 8:80,
  2011); arm swing at the stride frequency, heel strikes at the step frequency.
* Sleep: sleep-onset latency of 5-20 min after the last movements of wake; posture
  changes every 20-60 min in sleep (De Koninck et al., Sleep 15:143, 1992); brief
  arousals with movement.
* Sensor: MEMS accelerometer noise density 70-300 ug/sqrt(Hz) (e.g. Bosch BMI160 datasheet
  180 ug/sqrt(Hz)); cheap bands and motion artefacts make it several mg RMS, hence the
  default 3-20 mg. Gyroscope noise 0.007-0.02 deg/s/sqrt(Hz), biases of a few deg/s.
"""

from __future__ import annotations

import gzip
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

G_MS2 = 9.80665
ACC_RANGE_G = 8.0
GYRO_RANGE_DPS = 2000.0
ACC_LSB_G = 2 * ACC_RANGE_G / 65536
GYRO_LSB_DPS = 2 * GYRO_RANGE_DPS / 65536
PROFILES = ("healthy", "myoclonus", "parkinson", "essential", "mixed")
SEGMENTS = ("onset", "wake", "sleep", "morning", "night")
CHUNK_S = 60.0  # render window; components are pure functions of time, so any size works
HYPNIC_ISOLATION_S = 30.0  # eval rule: no other jerk within 30 s of a hypnic jerk


@dataclass
class SynthRecording:
    """A synthetic recording: times (s), acceleration (g), gyroscope (deg/s) or None."""

    t: np.ndarray
    acc_g: np.ndarray
    gyro_dps: np.ndarray | None
    labels: dict[str, Any]

    def write_csv(self, path: str | Path) -> None:
        """Write the eval CSV format (``t,ax,ay,az[,gx,gy,gz]``), gzip if it ends in .gz."""
        write_csv(path, self.t, self.acc_g, self.gyro_dps)


# ----------------------------------------------------------------------------- geometry

def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _rand_unit(rng: np.random.Generator) -> np.ndarray:
    return _unit(rng.normal(size=3))


def _perp_unit(rng: np.random.Generator, v: np.ndarray) -> np.ndarray:
    w = rng.normal(size=3)
    w -= w.dot(v) * v
    return _unit(w)


def _rotate(vec: np.ndarray, axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rodrigues: rotate rows of ``vec`` (n,3) about unit ``axis`` by ``angle`` (n,) rad."""
    c = np.cos(angle)[:, None]
    s = np.sin(angle)[:, None]
    kxv = np.cross(axis, vec)
    kdv = vec @ axis
    return vec * c + kxv * s + np.outer(kdv, axis) * (1 - c)


def _rot_matrix(axis: np.ndarray, angle: float) -> np.ndarray:
    k = _unit(np.asarray(axis, dtype=float))
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(angle) * kx + (1 - math.cos(angle)) * kx @ kx


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q = _unit(rng.normal(size=4))
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def _minjerk(s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-jerk position, velocity and acceleration profiles for s in [0, 1]."""
    s = np.clip(s, 0.0, 1.0)
    pos = s ** 3 * (10 - 15 * s + 6 * s * s)
    vel = 30 * s * s * (1 - s) ** 2
    acc = 60 * s - 180 * s * s + 120 * s ** 3
    return pos, vel, acc


# --------------------------------------------------------------------------- components

@dataclass
class _Comp:
    """A movement: forearm rotation about ``axis`` plus wrist translation, from t0 to t1."""

    t0: float
    t1: float
    tail_s = 0.5  # how long after t1 the component still contributes

    def render(self, tt: np.ndarray, g: np.ndarray, gyro: np.ndarray, acc: np.ndarray) -> None:
        raise NotImplementedError


@dataclass
class _Stroke(_Comp):
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
            p1, v1, a1 = _minjerk(s)
            p2, v2, a2 = _minjerk(s - 1)
            pos = np.where(up, p1, 1 - p2)
            vel = np.where(up, v1, -v2) / (dur / 2)
            acl = np.where(up, a1, -a2) / (dur / 2) ** 2
        else:
            pos, vel, acl = _minjerk((tt - self.t0) / dur)
            vel = vel / dur
            acl = acl / dur ** 2
        ang = self.angle * pos
        g[:] = _rotate(g, self.axis, ang)
        gyro += np.outer(self.angle * vel, self.axis) * (180 / math.pi)
        acc += np.outer(self.dist_m * acl / G_MS2, self.dirn)


@dataclass
class _Jerk(_Comp):
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
            pos, vel, acl = _minjerk((tt - self.t1) / self.back_s)
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
        g[:] = _rotate(g, self.axis, theta)
        gyro += np.outer(w, self.axis) * (180 / math.pi)
        acc += np.outer(lin + ring, self.dirn)


@dataclass
class _Oscillation(_Comp):
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
        g[:] = _rotate(g, self.axis, theta)
        gyro += np.outer(self.amp_rad * env * dshape, self.axis) * (180 / math.pi)
        acc += np.outer(self.radius_m * self.amp_rad * env * d2shape / G_MS2, self.dirn)


@dataclass
class _Wobble(_Comp):
    """Slow postural sway of a resting but awake forearm: a sum of slow sinusoids."""

    amp_rad: float = 0.01
    seed: int = 0

    def render(self, tt, g, gyro, acc):
        r = np.random.default_rng(self.seed)
        n = 10
        f = np.exp(r.uniform(np.log(0.02), np.log(0.6), n))
        a = self.amp_rad / np.sqrt(n) * (f / 0.05) ** -0.5 * r.uniform(0.5, 1.5, n)
        p = r.uniform(0, 2 * np.pi, n)
        axes = _unit(r.normal(size=(n, 3)))
        fade = np.clip(np.minimum(tt - self.t0, self.t1 - tt) / 2.0, 0, 1)
        for k in range(n):
            th = a[k] * fade * np.sin(2 * np.pi * f[k] * tt + p[k])
            g[:] = _rotate(g, axes[k], th)
            gyro += np.outer(a[k] * fade * 2 * np.pi * f[k] * np.cos(2 * np.pi * f[k] * tt + p[k]),
                             axes[k]) * (180 / math.pi)


@dataclass
class _Impulse(_Comp):
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
        d = _unit(g) if self.world else np.broadcast_to(self.dirn, g.shape)
        acc += self.peak_g * y[:, None] * d
        if self.gyro_dps:
            gyro += np.outer(self.gyro_dps * y, _unit(np.cross(self.dirn, [0.3, 0.5, 0.8])))


# --------------------------------------------------------------------------- the scene

@dataclass
class _Posture:
    """Posture track: an initial orientation and smooth transitions (sensor-frame axes)."""

    start: np.ndarray = field(default_factory=lambda: np.eye(3))
    pending: list[tuple[float, float, np.ndarray, float]] = field(default_factory=list)
    times: list[tuple[float, float]] = field(default_factory=list)
    mats: list[np.ndarray] = field(default_factory=list)
    axes: list[np.ndarray] = field(default_factory=list)
    angles: list[float] = field(default_factory=list)

    def add(self, t0: float, t1: float, axis: np.ndarray, angle: float) -> None:
        self.pending.append((t0, t1, _unit(axis), angle))

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
            self.mats.append(self.mats[-1] @ _rot_matrix(axis, angle))
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
            pos, vel, _ = _minjerk(s)
            prev = self.mats[kk - 1]
            gm = np.broadcast_to(prev.T @ up, (int(m.sum()), 3)).copy()
            # rotating the body by +angle about axis (body frame) turns gravity by -angle
            ang = self.angles[kk - 1]
            g[m] = _rotate(gm, self.axes[kk - 1], -ang * pos)
            w[m] = np.outer(ang * vel / (b - a), self.axes[kk - 1]) * (180 / math.pi)
        return g, w


@dataclass
class _Scene:
    rate_hz: float
    duration_s: float
    rng: np.random.Generator
    posture: _Posture = field(default_factory=_Posture)
    comps: list[_Comp] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    confounders: list[dict] = field(default_factory=list)
    sleep: list[dict] = field(default_factory=list)
    onsets: list[dict] = field(default_factory=list)
    busy: list[tuple[float, float]] = field(default_factory=list)  # voluntary-ish spans
    spans: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # comps' [t0, end]
    passive: list[tuple[float, float]] = field(default_factory=list)  # holding still

    # ---- helpers to add movements
    def posture_change(self, t0: float, dur: float, angle: float) -> None:
        axis = _rand_unit(self.rng)
        self.posture.add(t0, t0 + dur, axis, angle)

    def stroke(self, t0: float, dur: float, dist_m: float, angle: float, back: bool = True) -> None:
        r = self.rng
        self.comps.append(_Stroke(t0, t0 + dur, axis=_rand_unit(r), angle=angle,
                                  dirn=_rand_unit(r), dist_m=dist_m, back=back))

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


# voluntary movement kinds: (strokes lo-hi, stroke dur s lo-hi, peak acceleration g lo-hi,
# angle deg lo-hi). Peak accelerations of everyday reaching are 0.05-0.3 g at the wrist.
_VOLUNTARY = {
    "reach": ((1, 2), (0.6, 1.6), (0.05, 0.25), (10, 40)),
    "fidget": ((1, 3), (0.4, 1.0), (0.03, 0.12), (2, 8)),
    "blanket": ((3, 8), (0.5, 1.5), (0.05, 0.3), (10, 45)),
    "settle": ((1, 3), (0.5, 1.2), (0.05, 0.3), (5, 25)),
    "arousal": ((1, 6), (0.5, 1.5), (0.05, 0.3), (5, 30)),
}


def _dist_for_peak(peak_g: float, dur_s: float, back: bool = True) -> float:
    """Distance (m) whose minimum-jerk stroke peaks at ``peak_g`` (5.77 L / T^2)."""
    t_half = dur_s / 2 if back else dur_s
    return peak_g * G_MS2 * t_half * t_half / 5.77


def _voluntary(sc: _Scene, t0: float, kind: str, posture_deg: tuple[float, float] | None = None
               ) -> float:
    """Add a voluntary movement starting at t0; return its end time."""
    r = sc.rng
    (n_lo, n_hi), (d_lo, d_hi), (p_lo, p_hi), (a_lo, a_hi) = _VOLUNTARY[kind]
    t = t0
    for _ in range(int(r.integers(n_lo, n_hi + 1))):
        d = r.uniform(d_lo, d_hi)
        sc.stroke(t, d, _dist_for_peak(r.uniform(p_lo, p_hi), d),
                  math.radians(r.uniform(a_lo, a_hi)) * r.choice([-1, 1]))
        t += d * r.uniform(0.6, 1.0)
    if posture_deg is not None:
        d = r.uniform(0.6, 1.5)
        sc.posture_change(t0 + r.uniform(0, max(0.0, t - t0 - d)), d,
                          math.radians(r.uniform(*posture_deg)))
        t = max(t, t0 + d)
    sc.confound("voluntary", t0, t, kind)
    return t


def _big_posture(sc: _Scene, t0: float, kind: str, deg: tuple[float, float]) -> float:
    r = sc.rng
    d = r.uniform(1.5, 3.5)
    sc.posture_change(t0, d, math.radians(r.uniform(*deg)))
    sc.stroke(t0 + 0.2, d * 0.8, _dist_for_peak(r.uniform(0.1, 0.4), d * 0.8),
              math.radians(r.uniform(5, 20)))
    sc.confound("voluntary", t0, t0 + d, kind)
    return t0 + d


def _rollover(sc: _Scene, t0: float) -> float:
    r = sc.rng
    d = r.uniform(2.0, 5.0)
    sc.posture_change(t0 + 0.3, d - 0.6, math.radians(r.uniform(60, 170)) * r.choice([-1, 1]))
    t = t0
    while t < t0 + d - 0.4:
        sd = r.uniform(0.4, 1.2)
        sc.stroke(t, sd, _dist_for_peak(r.uniform(0.05, 0.4), sd), math.radians(r.uniform(5, 25)))
        t += sd * r.uniform(0.5, 1.0)
    sc.confound("rollover", t0, t0 + d)
    return t0 + d


def _scratching(sc: _Scene, t0: float) -> float:
    """Irregular 2-5 Hz back-and-forth bursts with pauses."""
    r = sc.rng
    total = r.uniform(2.0, 12.0)
    f0 = r.uniform(2.0, 5.0)
    dirn = _rand_unit(r)
    axis = _perp_unit(r, dirn)
    t = t0
    while t < t0 + total:
        for _ in range(int(r.integers(3, 16))):
            per = 1 / f0 * r.uniform(0.75, 1.3)  # cycle-to-cycle irregularity
            amp = r.uniform(0.4, 1.6)
            sc.comps.append(_Stroke(t, t + per, axis=axis, angle=math.radians(4 * amp),
                                    dirn=dirn, dist_m=_dist_for_peak(0.3 * amp, per), back=True))
            t += per
            if t > t0 + total:
                break
        t += r.uniform(0.1, 1.0)
    sc.confound("scratching", t0, t)
    return t


def _walking(sc: _Scene, t0: float, dur: float) -> float:
    r = sc.rng
    cad = r.uniform(1.6, 2.0)
    swing = _Oscillation(t0, t0 + dur, axis=_rand_unit(r), dirn=_rand_unit(r), freq_hz=cad / 2,
                         wander_hz=0.05, amp_rad=math.radians(r.uniform(10, 25)), fade_s=1.0,
                         am_frac=0.1, h2=0.2, radius_m=0.6, seed=int(r.integers(1 << 31)))
    sc.comps.append(swing)
    t = t0 + r.uniform(0, 0.3)
    up = np.array([0.0, 0, 1])
    while t < t0 + dur - 0.1:
        sc.comps.append(_Impulse(t, t + 0.15, dirn=up, peak_g=r.uniform(0.1, 0.3),
                                 ring_hz=r.uniform(6, 10), decay_s=0.04, world=True))
        t += 1 / cad * r.uniform(0.95, 1.05)
    sc.confound("walking", t0, t0 + dur, f"cadence {cad:.2f} Hz")
    return t0 + dur


def _scrolling(sc: _Scene, t0: float, dur: float) -> float:
    """Phone in hand: the arm is raised, small thumb-swipe jolts every 1-4 s."""
    r = sc.rng
    _voluntary(sc, t0, "reach")
    sc.posture_change(t0 + 0.2, 1.0, math.radians(r.uniform(40, 100)))
    t = t0 + 2.0
    while t < t0 + dur - 2.5:
        d = r.uniform(0.15, 0.4)
        sc.stroke(t, d, _dist_for_peak(r.uniform(0.005, 0.04), d),
                  math.radians(r.uniform(0.1, 1.0)))
        t += r.uniform(0.8, 4.0)
    sc.comps.append(_Wobble(t0 + 1, t0 + dur - 1, amp_rad=math.radians(r.uniform(0.3, 1.0)),
                            seed=int(r.integers(1 << 31))))
    sc.posture_change(t0 + dur - 1.2, 1.0, math.radians(r.uniform(40, 100)))
    sc.confound("scrolling", t0, t0 + dur)
    sc.passive.append(sc.busy[-1])
    return t0 + dur


def _handwash(sc: _Scene, t0: float) -> float:
    """Rubbing the hands: irregular 1-3 Hz strokes for several seconds."""
    r = sc.rng
    sc.posture_change(t0, 1.0, math.radians(r.uniform(30, 80)))
    t = t0 + 1.0
    end = t + r.uniform(4, 10)
    dirn = _rand_unit(r)
    while t < end:
        per = 1 / r.uniform(1.0, 3.0)
        sc.comps.append(_Stroke(t, t + per, axis=_rand_unit(r), angle=math.radians(
            r.uniform(5, 20)), dirn=dirn, dist_m=_dist_for_peak(r.uniform(0.1, 0.4), per),
            back=True))
        t += per
    sc.posture_change(t, 1.0, math.radians(r.uniform(30, 80)))
    sc.confound("voluntary", t0, t + 1.0, "handwash")
    return t + 1.0


def _bed_tap(sc: _Scene, t0: float) -> float:
    r = sc.rng
    fs = sc.rate_hz
    ring = min(35.0, 0.4 * fs)
    decay = max(0.006, 0.5 / fs)
    if r.random() < 0.5:
        sc.comps.append(_Impulse(t0, t0 + 0.1, peak_g=r.uniform(0.02, 0.15), ring_hz=ring,
                                 decay_s=decay))
        sc.confound("bed_tap", t0, t0 + 0.01, "tap")
        return t0 + 0.01
    n = int(r.integers(2, 5))
    t = t0
    for _ in range(n):
        sc.comps.append(_Impulse(t, t + 0.1, peak_g=r.uniform(0.05, 0.4), ring_hz=ring,
                                 decay_s=decay))
        t += r.uniform(0.4, 2.0)
    # the mattress sways a little after the first bump and settles within a second or two
    sc.comps.append(_Oscillation(t0, min(t, t0 + r.uniform(0.8, 2.0)), axis=_rand_unit(r),
                                 freq_hz=r.uniform(1.0, 3.0), amp_rad=math.radians(0.2),
                                 fade_s=0.4, radius_m=0.0, seed=int(r.integers(1 << 31))))
    sc.confound("bed_tap", t0, t, "bump")
    return t


def _knock(sc: _Scene, t0: float) -> float:
    r = sc.rng
    d = r.uniform(0.03, 0.06)
    sc.comps.append(_Impulse(t0, t0 + 0.3, dirn=_rand_unit(r), peak_g=r.uniform(0.2, 2.0),
                             ring_hz=r.uniform(15, min(40.0, 0.4 * sc.rate_hz)),
                             decay_s=d / 3, world=False, gyro_dps=r.uniform(5, 50)))
    sc.confound("sensor_knock", t0, t0 + d)
    return t0 + d


# ---------------------------------------------------------------------- event makers

def _jerk_pulse(sc: _Scene, t0: float, dur: float, peak_g: float, ring: bool = True) -> None:
    r = sc.rng
    axis = _rand_unit(r)
    dirn = _perp_unit(r, axis)
    sc.comps.append(_Jerk(t0, t0 + dur, axis=axis, dirn=dirn, peak_g=peak_g,
                          radius_m=r.uniform(0.25, 0.4),
                          shape="bi" if r.random() < 0.6 else "tri",
                          ring_hz=r.uniform(8, 15),
                          ring_frac=r.uniform(0.0, 0.15) if ring else 0.0,
                          back_s=r.uniform(0.4, 1.5)))


def _add_jerk(sc: _Scene, t0: float, kind: str, peak_g: float, dur: float,
              cluster: int | None = None) -> None:
    r = sc.rng
    if kind == "hypnic_jerk":
        # a whole-body start: a sharp main pulse and one or two smaller ones from other
        # muscle groups within the 150-450 ms of the event (multiphasic, abrupt onset)
        main = min(dur, r.uniform(0.08, 0.2))
        _jerk_pulse(sc, t0, main, peak_g)
        end = t0 + main
        while end < t0 + dur - 0.04:  # contiguous sub-pulses up to the event's end
            d2 = min(r.uniform(0.05, 0.15), t0 + dur - end)
            a2 = end - r.uniform(0.0, 0.3) * d2
            _jerk_pulse(sc, a2, d2, peak_g * r.uniform(0.3, 0.7), ring=False)
            end = a2 + d2
    else:
        _jerk_pulse(sc, t0, dur, peak_g)
    if kind == "hypnic_jerk" or r.random() < 0.3:
        # the body's start often leaves the arm in a slightly different posture
        sc.posture_change(t0 + 0.2 * dur, 0.8 * dur, math.radians(r.uniform(3, 15)))
    e: dict[str, object] = {"type": kind, "start": round(float(t0), 3),
                            "end": round(float(t0 + dur), 3), "peak_g": round(float(peak_g), 3),
                            "freq_hz": None}
    if cluster is not None:
        e["cluster"] = cluster
    sc.events.append(e)


def _jerk_peak(r: np.random.Generator) -> float:
    return float(np.clip(r.lognormal(math.log(0.6), 0.7), 0.15, 2.5))


def _jerk_dur(r: np.random.Generator) -> float:
    return float(np.clip(r.lognormal(math.log(0.11), 0.45), 0.04, 0.26))


def _add_tremor(sc: _Scene, t0: float, t1: float, kind: str) -> None:
    r = sc.rng
    if kind == "rest":
        f0, radius = r.uniform(4.0, 6.0), r.uniform(0.05, 0.12)
        amp_g = float(np.clip(r.lognormal(math.log(0.08), 0.8), 0.01, 0.4))
    elif kind == "essential":
        f0, radius = r.uniform(4.5, 10.0), r.uniform(0.05, 0.15)
        amp_g = float(np.clip(r.lognormal(math.log(0.05), 0.7), 0.015, 0.3))
    else:
        f0, radius = r.uniform(8.0, 12.0), r.uniform(0.05, 0.12)
        amp_g = float(r.uniform(0.01, 0.06))
    axis = _rand_unit(r)
    dirn = _perp_unit(r, axis)
    # dynamic accel per radian: gravity modulation (<= 1 g/rad) plus r w^2 / g
    per_rad = math.hypot(0.8, radius * (2 * math.pi * f0) ** 2 / G_MS2)
    osc = _Oscillation(t0, t1, axis=axis, dirn=dirn, freq_hz=f0, wander_hz=r.uniform(0.05, 0.3),
                       amp_rad=amp_g / per_rad / 1.2, fade_s=r.uniform(0.8, 2.5),
                       am_frac=r.uniform(0.1, 0.35), h2=r.uniform(0.05, 0.3), radius_m=radius,
                       seed=int(r.integers(1 << 31)))
    sc.comps.append(osc)
    sc.events.append({"type": "tremor", "start": round(t0, 3), "end": round(t1, 3),
                      "peak_g": round(amp_g, 3), "freq_hz": round(osc.mean_freq(), 2),
                      "tremor_type": kind})


# ------------------------------------------------------------------------ the timeline

def _wake_bout(sc: _Scene, t0: float, t1: float, profile: str, lying: bool = True) -> None:
    """Fill [t0, t1) with awake activity: voluntary movements, scrolling, scratching..."""
    r = sc.rng
    t = t0 + r.uniform(1, 10)
    sc.comps.append(_Wobble(t0, t1, amp_rad=math.radians(r.uniform(0.8, 2.0)),
                            seed=int(r.integers(1 << 31))))
    while t < t1 - 15:
        x = r.random()
        if x < 0.12 and t1 - t > 90:
            end = _scrolling(sc, t, min(t1 - t - 10, r.uniform(60, 400)))
        elif x < 0.22:
            end = _scratching(sc, t)
        elif x < 0.27:
            end = _bed_tap(sc, t)
        elif x < 0.30:
            end = _knock(sc, t)
        elif x < 0.33 and not lying:
            end = _walking(sc, t, min(t1 - t - 5, r.uniform(15, 60)))
        else:
            kind = str(r.choice(["reach", "fidget", "blanket", "fidget", "reach"]))
            end = _voluntary(sc, t, kind, (20, 90) if r.random() < 0.3 else None)
        t = end + r.exponential(25) + 2


def _sleep_bout(sc: _Scene, t0: float, t1: float, quiet_until: float) -> None:
    r = sc.rng
    sc.comps.append(_Oscillation(t0, t1, axis=_rand_unit(r), dirn=_rand_unit(r),
                                 freq_hz=r.uniform(0.2, 0.3), wander_hz=0.02,
                                 amp_rad=math.radians(r.uniform(0.1, 0.6)), fade_s=5.0,
                                 am_frac=0.2, h2=0.15, radius_m=0.0, seed=int(r.integers(1 << 31))))
    t = max(t0, quiet_until) + r.uniform(60, 1500)
    while t < t1 - 30:
        x = r.random()
        if x < 0.5:
            end = _rollover(sc, t)
        elif x < 0.85:
            end = _voluntary(sc, t, "arousal", (10, 60) if r.random() < 0.4 else None)
        else:
            end = _bed_tap(sc, t)
        t = end + r.uniform(600, 2400)


def _settle(sc: _Scene, t0: float, t1: float) -> float:
    """2-4 settling movements with quiet between; returns the end of the last one."""
    r = sc.rng
    n = int(r.integers(2, 5))
    t = t0
    end = t0
    if t1 - t0 < 5:
        return max(t0, t1)
    for _ in range(n):
        if t > t1 - 3:
            break
        end = _voluntary(sc, t, "settle", (20, 150) if r.random() < 0.5 else None)
        t = end + r.uniform(20, 90)
    return end


def _plan(sc: _Scene, profile: str, segment: str) -> None:
    r = sc.rng
    dur = sc.duration_s
    bouts: list[tuple[str, float, float]] = []  # (state, start, end)
    if segment == "wake":
        bouts = [("wake", 0.0, dur)]
    elif segment == "sleep":
        bouts = [("sleep", 0.0, dur)]
    elif segment == "morning":
        cut = dur * r.uniform(0.3, 0.6)
        bouts = [("sleep", 0.0, cut), ("wake", cut, dur)]
    elif segment == "onset":
        cut = dur * r.uniform(0.2, 0.45)
        bouts = [("wake", 0.0, cut), ("sleep", cut, dur)]
    else:  # a whole night: wake, sleep, maybe a bathroom visit, morning wake
        w0 = min(dur * 0.1, r.uniform(600, 1800))
        w_end = dur - min(dur * 0.06, r.uniform(300, 1200))
        bouts = [("wake", 0.0, w0)]
        if dur > 4 * 3600 and r.random() < 0.7:
            mid = r.uniform(w0 + 0.3 * (w_end - w0), w0 + 0.7 * (w_end - w0))
            bouts += [("sleep", w0, mid), ("wake", mid, mid + r.uniform(240, 600))]
            bouts += [("sleep", bouts[-1][2], w_end)]
        else:
            bouts += [("sleep", w0, w_end)]
        bouts += [("wake", w_end, dur)]
    # walk through the bouts; a wake->sleep change gets settling and an onset window
    sleep_intervals: list[tuple[str, float, float]] = []
    for i, (state, a, b) in enumerate(bouts):
        if state == "wake":
            followed = i + 1 < len(bouts)
            quiet_end = max(a, b - 200) if followed else b  # room to settle before sleep
            t = a
            if i > 0:  # out of bed: to the bathroom, or up in the morning
                t = _big_posture(sc, a + 1, "get_up", (60, 120))
                t = _walking(sc, t + 0.5, min(r.uniform(20, 40), (quiet_end - t) / 4))
                if followed:
                    t = _handwash(sc, t + 1)
                    t = _walking(sc, t + 2, min(r.uniform(15, 30), (quiet_end - t) / 3))
                    t = _big_posture(sc, t + 0.5, "lie_down", (60, 120))
                t += 2
            _wake_bout(sc, t, quiet_end, profile, lying=followed or i == 0)
            sleep_intervals.append(("wake", a, b))
        else:
            onset_start = a
            if i > 0:
                # settling before sleep: the last settle ends the wake period
                onset_start = _settle(sc, max(bouts[i - 1][1] + 1.0, a - 190), a - 5)
            sleep_intervals.append(("sleep", onset_start, b))
            wend = onset_start
            if i > 0:
                wend = min(b - 60, onset_start + r.uniform(240, 840))
                sc.onsets.append({"start": round(onset_start, 3), "end": round(wend, 3)})
                sc.busy.append((onset_start + 0.5, wend))  # keep the onset window quiet
                sc.comps.append(_Wobble(a - 200, onset_start, amp_rad=math.radians(
                    r.uniform(0.8, 2.0)), seed=int(r.integers(1 << 31))))
            _sleep_bout(sc, onset_start + 1, b, wend)
    # merge the state intervals so that they tile [0, dur)
    tiles: list[dict] = []
    for state, a, b in sleep_intervals:
        if tiles and tiles[-1]["state"] == state:
            tiles[-1]["end"] = b
            continue
        if tiles:
            tiles[-1]["end"] = a
        tiles.append({"state": state, "start": a, "end": b})
    if tiles:
        tiles[0]["start"] = 0.0
        tiles[-1]["end"] = dur
    sc.sleep = [{"state": d["state"], "start": round(d["start"], 3), "end": round(d["end"], 3)}
                for d in tiles]
    _plan_events(sc, profile)


def _state_at(sc: _Scene, t: float) -> str:
    for s in sc.sleep:
        if s["start"] <= t < s["end"]:
            return str(s["state"])
    return "wake"


def _in_onset(sc: _Scene, t: float) -> bool:
    return any(o["start"] <= t < o["end"] for o in sc.onsets)


def _plan_events(sc: _Scene, profile: str) -> None:
    r = sc.rng
    dur = sc.duration_s
    # -- hypnic jerks: one per sleep-onset window (most people, most nights)
    p_hyp = {"healthy": 0.8, "myoclonus": 0.9, "parkinson": 0.7, "essential": 0.7, "mixed": 0.85}
    hyp_times = []
    for o in sc.onsets:
        if r.random() < p_hyp[profile] and o["end"] - o["start"] > 60:
            t = r.uniform(o["start"] + 20, o["end"] - 40)
            hyp_times.append(t)
            peak = float(np.clip(r.lognormal(math.log(0.9), 0.5), 0.4, 2.6))
            _add_jerk(sc, t, "hypnic_jerk", peak, r.uniform(0.15, 0.45))
            if r.random() < 0.35:  # brief arousal after the start
                _voluntary(sc, t + r.uniform(1.0, 3.0), "arousal")
    # -- myoclonic jerks: episodes (single or clusters) at a profile-dependent rate (/h)
    rate = {"healthy": 0.5, "myoclonus": 25.0, "parkinson": 0.5, "essential": 0.5, "mixed": 8.0}
    n_ep = int(r.poisson(rate[profile] * dur / 3600))
    cluster_id = 0
    for _ in range(n_ep):
        t = r.uniform(1, dur - 15)
        times = [t]
        if r.random() < 0.45:
            for _ in range(int(r.integers(1, 7))):
                times.append(times[-1] + r.choice([r.uniform(0.3, 1.0), r.uniform(1.0, 5.0)]))
        if any(abs(tj - h) <= HYPNIC_ISOLATION_S + 5 for h in hyp_times for tj in times):
            continue  # the hypnic jerk stays isolated
        if len(times) > 1:
            cluster_id += 1
            for tj in times:
                _add_jerk(sc, tj, "myoclonic_jerk", _jerk_peak(r), _jerk_dur(r), cluster_id)
        else:
            if _in_onset(sc, t):
                continue  # an isolated jerk there is, by definition, a hypnic jerk
            _add_jerk(sc, t, "myoclonic_jerk", _jerk_peak(r), _jerk_dur(r))
    # -- tremor episodes in wake
    kinds = {"parkinson": ["rest"], "essential": ["essential"], "mixed": ["essential", "rest",
             "physiological"], "myoclonus": ["physiological"], "healthy": ["physiological"]}
    trate = {"parkinson": 12.0, "essential": 15.0, "mixed": 4.0, "myoclonus": 1.0, "healthy": 0.5}
    wake_s = sum(max(0.0, float(x["end"]) - float(x["start"])) for x in sc.sleep
                 if x["state"] == "wake")
    n_tr = int(r.poisson(trate[profile] * wake_s / 3600))
    placed: list[tuple[float, float]] = []
    for _ in range(n_tr):
        kind = str(r.choice(kinds[profile]))
        for _attempt in range(30):
            length = float(np.clip(r.lognormal(math.log(40), 0.7), 8, 400))
            t0 = r.uniform(0, max(1.0, dur - length))
            t1 = t0 + length
            if _state_at(sc, t0) != "wake" or _state_at(sc, t1) != "wake":
                continue
            if any(not (t1 + 5 < a or t0 - 5 > b) for a, b in placed):
                continue
            if kind == "rest" and not sc.free(t0, t1, 0.0, passive=True):
                continue  # rest tremor fades with voluntary movement (holding a phone is
                # not one)
            placed.append((t0, t1))
            _add_tremor(sc, t0, t1, kind)
            break
    sc.events.sort(key=lambda e: e["start"])
    # label rule of the eval set: a hypnic jerk has no other jerk within 30 s
    jerks = [e for e in sc.events if e["type"] != "tremor"]
    for e in jerks:
        if e["type"] == "hypnic_jerk":
            near = [o for o in jerks if o is not e and abs(o["start"] - e["start"]) <= 30]
            if near:
                e["type"] = "myoclonic_jerk"


# --------------------------------------------------------------------- sampling & I/O

@dataclass
class _Sampler:
    """Sample grid, gaps, noise and sensor errors: everything per-sample and seeded."""

    rate_hz: float
    duration_s: float
    seed: int
    noise_g: float
    gyro_noise_dps: float
    jitter_s: float
    mount: np.ndarray
    acc_offset_g: np.ndarray
    acc_scale: np.ndarray
    gyro_bias_dps: np.ndarray
    gaps: list[tuple[float, float]]

    @property
    def n_nominal(self) -> int:
        return math.floor(self.duration_s * self.rate_hz)

    def keep_mask(self, k0: int, k1: int) -> np.ndarray:
        tt = np.arange(k0, k1) / self.rate_hz
        keep = np.ones(k1 - k0, dtype=bool)
        for a, b in self.gaps:
            if b < tt[0] or a > tt[-1]:
                continue
            keep &= ~((tt >= a) & (tt < b))
        return keep


def _plan_gaps(r: np.random.Generator, dur: float, dropouts_per_min: float,
               disconnects_per_h: float) -> list[tuple[float, float]]:
    gaps = []
    for _ in range(int(r.poisson(dropouts_per_min * dur / 60))):
        a = r.uniform(1, dur - 1)
        gaps.append((a, a + r.uniform(0.03, 0.5)))
    for _ in range(int(r.poisson(disconnects_per_h * dur / 3600))):
        a = r.uniform(5, dur - 5)
        gaps.append((a, min(dur, a + r.uniform(2.0, 30.0))))
    gaps.sort()
    merged: list[tuple[float, float]] = []
    for a, b in gaps:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return [(round(a, 2), round(b, 2)) for a, b in merged]


def _build(seed: int, duration_s: float, rate_hz: float, profile: str, gyro: bool,
           options: dict) -> tuple[_Scene, _Sampler, dict]:
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, not {profile!r}")
    if not 10.0 <= rate_hz <= 1000.0:
        raise ValueError(f"rate_hz {rate_hz} out of range")
    r = np.random.default_rng(seed)
    segment = options.pop("segment", None) or ("night" if duration_s >= 2 * 3600 else "onset")
    if segment not in SEGMENTS:
        raise ValueError(f"segment must be one of {SEGMENTS}, not {segment!r}")
    noise_g = options.pop("noise_g", None)
    noise_g = float(r.uniform(0.003, 0.02)) if noise_g is None else float(noise_g)
    jitter_s = float(options.pop("jitter_s", 0.002))
    mounting = options.pop("mounting", "random")
    gaps_on = options.pop("gaps", True)
    dropouts = float(options.pop("dropouts_per_min", 0.3 if gaps_on else 0.0))
    disconnects = float(options.pop("disconnects_per_h", 0.5 if gaps_on else 0.0))
    if options:
        raise TypeError(f"unknown options: {sorted(options)}")
    sc = _Scene(rate_hz=rate_hz, duration_s=duration_s, rng=r)
    sc.posture.start = _random_rotation(r)
    _plan(sc, profile, segment)
    sc.posture.finalize()
    sc.comps.sort(key=lambda c: c.t0)
    sc.spans = np.array([(c.t0, c.t1 + c.tail_s) for c in sc.comps]).reshape(-1, 2)
    mount = np.eye(3) if mounting == "standard" else _random_rotation(r)
    samp = _Sampler(rate_hz=rate_hz, duration_s=duration_s, seed=seed, noise_g=noise_g,
                    gyro_noise_dps=float(r.uniform(0.05, 0.3)), jitter_s=jitter_s, mount=mount,
                    acc_offset_g=r.normal(0, 0.01, 3), acc_scale=1 + r.normal(0, 0.01, 3),
                    gyro_bias_dps=r.normal(0, 1.0, 3),
                    gaps=_plan_gaps(r, duration_s, dropouts, disconnects))
    labels = _labels(sc, samp, profile, segment, seed, gyro)
    return sc, samp, labels


def _present_fraction(samp: _Sampler, a: float, b: float) -> float:
    if b <= a:
        b = a + 1 / samp.rate_hz
    lost = sum(max(0.0, min(b, gb) - max(a, ga)) for ga, gb in samp.gaps)
    return 1 - lost / (b - a)


def _labels(sc: _Scene, samp: _Sampler, profile: str, segment: str, seed: int,
            gyro: bool) -> dict:
    events, ignored = [], []
    for e in sc.events:
        if _present_fraction(samp, float(e["start"]), float(e["end"])) < 0.5:
            ignored.append({**e, "reason": "data_gap"})
        else:
            events.append(e)
    n_kept = 0
    k = 0
    n = samp.n_nominal
    while k < n:
        k1 = min(n, k + int(CHUNK_S * samp.rate_hz))
        n_kept += int(samp.keep_mask(k, k1).sum())
        k = k1
    conf = sorted(sc.confounders, key=lambda c: c["start"])
    return {
        "rate_hz": samp.rate_hz, "duration_s": sc.duration_s,
        "events": events, "confounders": conf, "sleep": sc.sleep,
        "sleep_onsets": sc.onsets, "ignored_events": ignored,
        "gaps": [list(g) for g in samp.gaps],
        "profile": profile, "seed": seed, "segment": segment, "n_samples": n_kept,
        "gyro": gyro, "noise_g": round(samp.noise_g, 4),
    }


def _render_chunk(sc: _Scene, samp: _Sampler, k0: int, k1: int, gyro_on: bool,
                  comp_idx: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    fs = samp.rate_hz
    tt = np.arange(k0, k1) / fs
    g, w = sc.posture.gravity(tt)
    gyro = w
    acc = np.zeros_like(g)
    lo, hi = tt[0], tt[-1]
    for i in np.flatnonzero((sc.spans[:, 0] <= hi) & (sc.spans[:, 1] >= lo)):
        c = sc.comps[i]
        m = (tt >= c.t0 - 0.01) & (tt <= c.t1 + c.tail_s)
        if not m.any():
            continue
        sel = np.flatnonzero(m)
        gs, ws, accs = g[sel], np.zeros((len(sel), 3)), np.zeros((len(sel), 3))
        c.render(tt[sel], gs, ws, accs)
        g[sel] = gs
        gyro[sel] += ws
        acc[sel] += accs
    rng = np.random.default_rng([samp.seed, k0])
    a = (g + acc) * samp.acc_scale + samp.acc_offset_g
    a = a @ samp.mount.T + rng.normal(0, samp.noise_g, a.shape)
    a = np.clip(np.round(a / ACC_LSB_G) * ACC_LSB_G, -ACC_RANGE_G, ACC_RANGE_G - ACC_LSB_G)
    gy = None
    if gyro_on:
        gy = gyro @ samp.mount.T + samp.gyro_bias_dps + rng.normal(0, samp.gyro_noise_dps, g.shape)
        gy = np.clip(np.round(gy / GYRO_LSB_DPS) * GYRO_LSB_DPS, -GYRO_RANGE_DPS, GYRO_RANGE_DPS)
    keep = samp.keep_mask(k0, k1)
    jit = rng.uniform(-samp.jitter_s, samp.jitter_s, len(tt)) if samp.jitter_s > 0 else 0.0
    t_out = np.round(np.maximum(tt + jit, 0.0), 6)
    if k0 == 0:
        t_out[0] = 0.0
    return t_out[keep], a[keep], (gy[keep] if gy is not None else None)


def iter_synth_night(*, seed: int, duration_s: float, rate_hz: float = 100.0,
                     profile: str = "mixed", gyro: bool = True, chunk_s: float = CHUNK_S,
                     **options: Any) -> tuple[dict, Iterator[tuple[np.ndarray, np.ndarray,
                                                                      np.ndarray | None]]]:
    """Labels and an iterator of ``(t_s, acc_g, gyro_dps_or_None)`` chunks of ~chunk_s.

    Same arguments as :func:`synth_night`; the samples are identical to its arrays.
    """
    sc, samp, labels = _build(seed, duration_s, rate_hz, profile, gyro, dict(options))

    def gen() -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        n = samp.n_nominal
        step = max(1, round(CHUNK_S * rate_hz))
        # chunk_s only regroups the fixed render windows, so samples never depend on it
        group = max(1, round(chunk_s / CHUNK_S))
        buf: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
        k = 0
        while k < n:
            k1 = min(n, k + step)
            buf.append(_render_chunk(sc, samp, k, k1, gyro, []))
            k = k1
            if len(buf) >= group or k >= n:
                yield (np.concatenate([b[0] for b in buf]), np.concatenate([b[1] for b in buf]),
                       np.concatenate([b[2] for b in buf if b[2] is not None]) if gyro else None)
                buf = []

    return labels, gen()


def synth_night(*, seed: int, duration_s: float, rate_hz: float = 100.0, profile: str = "mixed",
                gyro: bool = True, **options: Any) -> SynthRecording:
    """A labelled synthetic recording.

    profile: "healthy", "myoclonus", "parkinson", "essential" or "mixed".
    options: ``segment`` ("onset", "wake", "sleep", "morning", "night"; default "night"
    for >= 2 h, else "onset"), ``noise_g`` (accelerometer noise RMS per axis; default
    random 3-20 mg), ``jitter_s`` (timestamp jitter, uniform +/-; default 2 ms),
    ``mounting`` ("random" or "standard"), ``gaps`` (False: no dropouts or disconnects),
    ``dropouts_per_min`` (default 0.3), ``disconnects_per_h`` (default 0.5).
    """
    labels, chunks = iter_synth_night(seed=seed, duration_s=duration_s, rate_hz=rate_hz,
                                      profile=profile, gyro=gyro, **options)
    n = int(labels["n_samples"])
    t = np.empty(n)
    acc = np.empty((n, 3))
    gy = np.empty((n, 3)) if gyro else None
    i = 0
    for ct, ca, cg in chunks:
        m = len(ct)
        t[i:i + m] = ct
        acc[i:i + m] = ca
        if gy is not None and cg is not None:
            gy[i:i + m] = cg
        i += m
    return SynthRecording(t=t, acc_g=acc, gyro_dps=gy, labels=labels)


def write_csv(path: str | Path, t: np.ndarray, acc_g: np.ndarray,
              gyro_dps: np.ndarray | None = None) -> None:
    """Write ``t,ax,ay,az[,gx,gy,gz]`` with the eval set's decimals; .gz compresses."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    cols = [t[:, None], acc_g] + ([gyro_dps] if gyro_dps is not None else [])
    data = np.hstack(cols)
    header = "t,ax,ay,az" + (",gx,gy,gz" if gyro_dps is not None else "")
    fmt = ["%.6f"] + ["%.4f"] * 3 + (["%.3f"] * 3 if gyro_dps is not None else [])
    with opener(path, "wb") as fh:
        buf = io.BytesIO()
        buf.write((header + "\n").encode())
        step = 200_000
        for i in range(0, len(t), step):
            np.savetxt(buf, data[i:i + step], fmt=fmt, delimiter=",")
            fh.write(buf.getvalue())
            buf.seek(0)
            buf.truncate()
