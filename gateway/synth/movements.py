"""What happens in a night, one kind at a time: voluntary movements and confounders,
jerks and tremor episodes, each added to the scene with its label."""

from __future__ import annotations

import math

import numpy as np

from .components import Impulse, JerkPulse, Oscillation, Stroke, Wobble
from .geometry import G_MS2, perp_unit, rand_unit
from .scene import Scene

# voluntary movement kinds: (strokes lo-hi, stroke dur s lo-hi, peak acceleration g lo-hi,
# angle deg lo-hi). Peak accelerations of everyday reaching are 0.05-0.3 g at the wrist.
VOLUNTARY = {
    "reach": ((1, 2), (0.6, 1.6), (0.05, 0.25), (10, 40)),
    "fidget": ((1, 3), (0.4, 1.0), (0.03, 0.12), (2, 8)),
    "blanket": ((3, 8), (0.5, 1.5), (0.05, 0.3), (10, 45)),
    "settle": ((1, 3), (0.5, 1.2), (0.05, 0.3), (5, 25)),
    "arousal": ((1, 6), (0.5, 1.5), (0.05, 0.3), (5, 30)),
}


def dist_for_peak(peak_g: float, dur_s: float, back: bool = True) -> float:
    """Distance (m) whose minimum-jerk stroke peaks at ``peak_g`` (5.77 L / T^2)."""
    t_half = dur_s / 2 if back else dur_s
    return peak_g * G_MS2 * t_half * t_half / 5.77


def voluntary(sc: Scene, t0: float, kind: str, posture_deg: tuple[float, float] | None = None
               ) -> float:
    """Add a voluntary movement starting at t0; return its end time."""
    r = sc.rng
    (n_lo, n_hi), (d_lo, d_hi), (p_lo, p_hi), (a_lo, a_hi) = VOLUNTARY[kind]
    t = t0
    for _ in range(int(r.integers(n_lo, n_hi + 1))):
        d = r.uniform(d_lo, d_hi)
        sc.stroke(t, d, dist_for_peak(r.uniform(p_lo, p_hi), d),
                  math.radians(r.uniform(a_lo, a_hi)) * r.choice([-1, 1]))
        t += d * r.uniform(0.6, 1.0)
    if posture_deg is not None:
        d = r.uniform(0.6, 1.5)
        sc.posture_change(t0 + r.uniform(0, max(0.0, t - t0 - d)), d,
                          math.radians(r.uniform(*posture_deg)))
        t = max(t, t0 + d)
    sc.confound("voluntary", t0, t, kind)
    return t


def big_posture(sc: Scene, t0: float, kind: str, deg: tuple[float, float]) -> float:
    r = sc.rng
    d = r.uniform(1.5, 3.5)
    sc.posture_change(t0, d, math.radians(r.uniform(*deg)))
    sc.stroke(t0 + 0.2, d * 0.8, dist_for_peak(r.uniform(0.1, 0.4), d * 0.8),
              math.radians(r.uniform(5, 20)))
    sc.confound("voluntary", t0, t0 + d, kind)
    return t0 + d


def rollover(sc: Scene, t0: float) -> float:
    r = sc.rng
    d = r.uniform(2.0, 5.0)
    sc.posture_change(t0 + 0.3, d - 0.6, math.radians(r.uniform(60, 170)) * r.choice([-1, 1]))
    t = t0
    while t < t0 + d - 0.4:
        sd = r.uniform(0.4, 1.2)
        sc.stroke(t, sd, dist_for_peak(r.uniform(0.05, 0.4), sd), math.radians(r.uniform(5, 25)))
        t += sd * r.uniform(0.5, 1.0)
    sc.confound("rollover", t0, t0 + d)
    return t0 + d


def scratching(sc: Scene, t0: float) -> float:
    """Irregular 2-5 Hz back-and-forth bursts with pauses."""
    r = sc.rng
    total = r.uniform(2.0, 12.0)
    f0 = r.uniform(2.0, 5.0)
    dirn = rand_unit(r)
    axis = perp_unit(r, dirn)
    t = t0
    while t < t0 + total:
        for _ in range(int(r.integers(3, 16))):
            per = 1 / f0 * r.uniform(0.75, 1.3)  # cycle-to-cycle irregularity
            amp = r.uniform(0.4, 1.6)
            sc.comps.append(Stroke(t, t + per, axis=axis, angle=math.radians(4 * amp),
                                    dirn=dirn, dist_m=dist_for_peak(0.3 * amp, per), back=True))
            t += per
            if t > t0 + total:
                break
        t += r.uniform(0.1, 1.0)
    sc.confound("scratching", t0, t)
    return t


def walking(sc: Scene, t0: float, dur: float) -> float:
    r = sc.rng
    cad = r.uniform(1.6, 2.0)
    swing = Oscillation(t0, t0 + dur, axis=rand_unit(r), dirn=rand_unit(r), freq_hz=cad / 2,
                         wander_hz=0.05, amp_rad=math.radians(r.uniform(10, 25)), fade_s=1.0,
                         am_frac=0.1, h2=0.2, radius_m=0.6, seed=int(r.integers(1 << 31)))
    sc.comps.append(swing)
    t = t0 + r.uniform(0, 0.3)
    up = np.array([0.0, 0, 1])
    while t < t0 + dur - 0.1:
        sc.comps.append(Impulse(t, t + 0.15, dirn=up, peak_g=r.uniform(0.1, 0.3),
                                 ring_hz=r.uniform(6, 10), decay_s=0.04, world=True))
        t += 1 / cad * r.uniform(0.95, 1.05)
    sc.confound("walking", t0, t0 + dur, f"cadence {cad:.2f} Hz")
    return t0 + dur


def scrolling(sc: Scene, t0: float, dur: float) -> float:
    """Phone in hand: the arm is raised, small thumb-swipe jolts every 1-4 s."""
    r = sc.rng
    voluntary(sc, t0, "reach")
    sc.posture_change(t0 + 0.2, 1.0, math.radians(r.uniform(40, 100)))
    t = t0 + 2.0
    while t < t0 + dur - 2.5:
        d = r.uniform(0.15, 0.4)
        sc.stroke(t, d, dist_for_peak(r.uniform(0.005, 0.04), d),
                  math.radians(r.uniform(0.1, 1.0)))
        t += r.uniform(0.8, 4.0)
    sc.comps.append(Wobble(t0 + 1, t0 + dur - 1, amp_rad=math.radians(r.uniform(0.3, 1.0)),
                            seed=int(r.integers(1 << 31))))
    sc.posture_change(t0 + dur - 1.2, 1.0, math.radians(r.uniform(40, 100)))
    sc.confound("scrolling", t0, t0 + dur)
    sc.passive.append(sc.busy[-1])
    return t0 + dur


def handwash(sc: Scene, t0: float) -> float:
    """Rubbing the hands: irregular 1-3 Hz strokes for several seconds."""
    r = sc.rng
    sc.posture_change(t0, 1.0, math.radians(r.uniform(30, 80)))
    t = t0 + 1.0
    end = t + r.uniform(4, 10)
    dirn = rand_unit(r)
    while t < end:
        per = 1 / r.uniform(1.0, 3.0)
        sc.comps.append(Stroke(t, t + per, axis=rand_unit(r), angle=math.radians(
            r.uniform(5, 20)), dirn=dirn, dist_m=dist_for_peak(r.uniform(0.1, 0.4), per),
            back=True))
        t += per
    sc.posture_change(t, 1.0, math.radians(r.uniform(30, 80)))
    sc.confound("voluntary", t0, t + 1.0, "handwash")
    return t + 1.0


def bed_tap(sc: Scene, t0: float) -> float:
    r = sc.rng
    fs = sc.rate_hz
    ring = min(35.0, 0.4 * fs)
    decay = max(0.006, 0.5 / fs)
    if r.random() < 0.5:
        sc.comps.append(Impulse(t0, t0 + 0.1, peak_g=r.uniform(0.02, 0.15), ring_hz=ring,
                                 decay_s=decay))
        sc.confound("bed_tap", t0, t0 + 0.01, "tap")
        return t0 + 0.01
    n = int(r.integers(2, 5))
    t = t0
    for _ in range(n):
        sc.comps.append(Impulse(t, t + 0.1, peak_g=r.uniform(0.05, 0.4), ring_hz=ring,
                                 decay_s=decay))
        t += r.uniform(0.4, 2.0)
    # the mattress sways a little after the first bump and settles within a second or two
    sc.comps.append(Oscillation(t0, min(t, t0 + r.uniform(0.8, 2.0)), axis=rand_unit(r),
                                 freq_hz=r.uniform(1.0, 3.0), amp_rad=math.radians(0.2),
                                 fade_s=0.4, radius_m=0.0, seed=int(r.integers(1 << 31))))
    sc.confound("bed_tap", t0, t, "bump")
    return t


def knock(sc: Scene, t0: float) -> float:
    r = sc.rng
    d = r.uniform(0.03, 0.06)
    sc.comps.append(Impulse(t0, t0 + 0.3, dirn=rand_unit(r), peak_g=r.uniform(0.2, 2.0),
                             ring_hz=r.uniform(15, min(40.0, 0.4 * sc.rate_hz)),
                             decay_s=d / 3, world=False, gyro_dps=r.uniform(5, 50)))
    sc.confound("sensor_knock", t0, t0 + d)
    return t0 + d


# ---------------------------------------------------------------------- event makers

def jerk_pulse(sc: Scene, t0: float, dur: float, peak_g: float, ring: bool = True) -> None:
    r = sc.rng
    axis = rand_unit(r)
    dirn = perp_unit(r, axis)
    sc.comps.append(JerkPulse(t0, t0 + dur, axis=axis, dirn=dirn, peak_g=peak_g,
                          radius_m=r.uniform(0.25, 0.4),
                          shape="bi" if r.random() < 0.6 else "tri",
                          ring_hz=r.uniform(8, 15),
                          ring_frac=r.uniform(0.0, 0.15) if ring else 0.0,
                          back_s=r.uniform(0.4, 1.5)))


def add_jerk(sc: Scene, t0: float, kind: str, peak_g: float, dur: float,
              cluster: int | None = None) -> None:
    r = sc.rng
    if kind == "hypnic_jerk":
        # a whole-body start: a sharp main pulse and one or two smaller ones from other
        # muscle groups within the 150-450 ms of the event (multiphasic, abrupt onset)
        main = min(dur, r.uniform(0.08, 0.2))
        jerk_pulse(sc, t0, main, peak_g)
        end = t0 + main
        while end < t0 + dur - 0.04:  # contiguous sub-pulses up to the event's end
            d2 = min(r.uniform(0.05, 0.15), t0 + dur - end)
            a2 = end - r.uniform(0.0, 0.3) * d2
            jerk_pulse(sc, a2, d2, peak_g * r.uniform(0.3, 0.7), ring=False)
            end = a2 + d2
    else:
        jerk_pulse(sc, t0, dur, peak_g)
    if kind == "hypnic_jerk" or r.random() < 0.3:
        # the body's start often leaves the arm in a slightly different posture
        sc.posture_change(t0 + 0.2 * dur, 0.8 * dur, math.radians(r.uniform(3, 15)))
    e: dict[str, object] = {"type": kind, "start": round(float(t0), 3),
                            "end": round(float(t0 + dur), 3), "peak_g": round(float(peak_g), 3),
                            "freq_hz": None}
    if cluster is not None:
        e["cluster"] = cluster
    sc.events.append(e)


def jerk_peak(r: np.random.Generator) -> float:
    return float(np.clip(r.lognormal(math.log(0.6), 0.7), 0.15, 2.5))


def jerk_dur(r: np.random.Generator) -> float:
    return float(np.clip(r.lognormal(math.log(0.11), 0.45), 0.04, 0.26))


def add_tremor(sc: Scene, t0: float, t1: float, kind: str) -> None:
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
    axis = rand_unit(r)
    dirn = perp_unit(r, axis)
    # dynamic accel per radian: gravity modulation (<= 1 g/rad) plus r w^2 / g
    per_rad = math.hypot(0.8, radius * (2 * math.pi * f0) ** 2 / G_MS2)
    osc = Oscillation(t0, t1, axis=axis, dirn=dirn, freq_hz=f0, wander_hz=r.uniform(0.05, 0.3),
                       amp_rad=amp_g / per_rad / 1.2, fade_s=r.uniform(0.8, 2.5),
                       am_frac=r.uniform(0.1, 0.35), h2=r.uniform(0.05, 0.3), radius_m=radius,
                       seed=int(r.integers(1 << 31)))
    sc.comps.append(osc)
    sc.events.append({"type": "tremor", "start": round(t0, 3), "end": round(t1, 3),
                      "peak_g": round(amp_g, 3), "freq_hz": round(osc.mean_freq(), 2),
                      "tremor_type": kind})
