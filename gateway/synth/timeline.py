"""The night's timeline: wake and sleep bouts, settling and sleep onsets, then the
events of a profile placed on it."""

from __future__ import annotations

import math

import numpy as np

from .components import Oscillation, Wobble
from .geometry import rand_unit
from .movements import (
    add_jerk,
    add_tremor,
    bed_tap,
    big_posture,
    handwash,
    jerk_dur,
    jerk_peak,
    knock,
    rollover,
    scratching,
    scrolling,
    voluntary,
    walking,
)
from .scene import Scene

HYPNIC_ISOLATION_S = 30.0  # eval rule: no other jerk within 30 s of a hypnic jerk


def wake_bout(sc: Scene, t0: float, t1: float, profile: str, lying: bool = True) -> None:
    """Fill [t0, t1) with awake activity: voluntary movements, scrolling, scratching..."""
    r = sc.rng
    t = t0 + r.uniform(1, 10)
    sc.comps.append(Wobble(t0, t1, amp_rad=math.radians(r.uniform(0.8, 2.0)),
                            seed=int(r.integers(1 << 31))))
    while t < t1 - 15:
        x = r.random()
        if x < 0.12 and t1 - t > 90:
            end = scrolling(sc, t, min(t1 - t - 10, r.uniform(60, 400)))
        elif x < 0.22:
            end = scratching(sc, t)
        elif x < 0.27:
            end = bed_tap(sc, t)
        elif x < 0.30:
            end = knock(sc, t)
        elif x < 0.33 and not lying:
            end = walking(sc, t, min(t1 - t - 5, r.uniform(15, 60)))
        else:
            kind = str(r.choice(["reach", "fidget", "blanket", "fidget", "reach"]))
            end = voluntary(sc, t, kind, (20, 90) if r.random() < 0.3 else None)
        t = end + r.exponential(25) + 2


def sleep_bout(sc: Scene, t0: float, t1: float, quiet_until: float) -> None:
    r = sc.rng
    sc.comps.append(Oscillation(t0, t1, axis=rand_unit(r), dirn=rand_unit(r),
                                 freq_hz=r.uniform(0.2, 0.3), wander_hz=0.02,
                                 amp_rad=math.radians(r.uniform(0.1, 0.6)), fade_s=5.0,
                                 am_frac=0.2, h2=0.15, radius_m=0.0, seed=int(r.integers(1 << 31))))
    t = max(t0, quiet_until) + r.uniform(60, 1500)
    while t < t1 - 30:
        x = r.random()
        if x < 0.5:
            end = rollover(sc, t)
        elif x < 0.85:
            end = voluntary(sc, t, "arousal", (10, 60) if r.random() < 0.4 else None)
        else:
            end = bed_tap(sc, t)
        t = end + r.uniform(600, 2400)


def settle(sc: Scene, t0: float, t1: float) -> float:
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
        end = voluntary(sc, t, "settle", (20, 150) if r.random() < 0.5 else None)
        t = end + r.uniform(20, 90)
    return end


def plan(sc: Scene, profile: str, segment: str) -> None:
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
                t = big_posture(sc, a + 1, "get_up", (60, 120))
                t = walking(sc, t + 0.5, min(r.uniform(20, 40), (quiet_end - t) / 4))
                if followed:
                    t = handwash(sc, t + 1)
                    t = walking(sc, t + 2, min(r.uniform(15, 30), (quiet_end - t) / 3))
                    t = big_posture(sc, t + 0.5, "lie_down", (60, 120))
                t += 2
            wake_bout(sc, t, quiet_end, profile, lying=followed or i == 0)
            sleep_intervals.append(("wake", a, b))
        else:
            onset_start = a
            if i > 0:
                # settling before sleep: the last settle ends the wake period
                onset_start = settle(sc, max(bouts[i - 1][1] + 1.0, a - 190), a - 5)
            sleep_intervals.append(("sleep", onset_start, b))
            wend = onset_start
            if i > 0:
                wend = min(b - 60, onset_start + r.uniform(240, 840))
                sc.onsets.append({"start": round(onset_start, 3), "end": round(wend, 3)})
                sc.busy.append((onset_start + 0.5, wend))  # keep the onset window quiet
                sc.comps.append(Wobble(a - 200, onset_start, amp_rad=math.radians(
                    r.uniform(0.8, 2.0)), seed=int(r.integers(1 << 31))))
            sleep_bout(sc, onset_start + 1, b, wend)
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
    plan_events(sc, profile)


def state_at(sc: Scene, t: float) -> str:
    for s in sc.sleep:
        if s["start"] <= t < s["end"]:
            return str(s["state"])
    return "wake"


def in_onset(sc: Scene, t: float) -> bool:
    return any(o["start"] <= t < o["end"] for o in sc.onsets)


def plan_events(sc: Scene, profile: str) -> None:
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
            add_jerk(sc, t, "hypnic_jerk", peak, r.uniform(0.15, 0.45))
            if r.random() < 0.35:  # brief arousal after the start
                voluntary(sc, t + r.uniform(1.0, 3.0), "arousal")
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
                add_jerk(sc, tj, "myoclonic_jerk", jerk_peak(r), jerk_dur(r), cluster_id)
        else:
            if in_onset(sc, t):
                continue  # an isolated jerk there is, by definition, a hypnic jerk
            add_jerk(sc, t, "myoclonic_jerk", jerk_peak(r), jerk_dur(r))
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
            if state_at(sc, t0) != "wake" or state_at(sc, t1) != "wake":
                continue
            if any(not (t1 + 5 < a or t0 - 5 > b) for a, b in placed):
                continue
            if kind == "rest" and not sc.free(t0, t1, 0.0, passive=True):
                continue  # rest tremor fades with voluntary movement (holding a phone is
                # not one)
            placed.append((t0, t1))
            add_tremor(sc, t0, t1, kind)
            break
    sc.events.sort(key=lambda e: e["start"])
    # label rule of the eval set: a hypnic jerk has no other jerk within 30 s
    jerks = [e for e in sc.events if e["type"] != "tremor"]
    for e in jerks:
        if e["type"] == "hypnic_jerk":
            near = [o for o in jerks if o is not e and abs(o["start"] - e["start"]) <= 30]
            if near:
                e["type"] = "myoclonic_jerk"
