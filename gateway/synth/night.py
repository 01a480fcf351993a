"""Sampling a planned night: the sample grid, gaps, sensor errors and quantisation;
the public generators and the CSV writer."""

from __future__ import annotations

import gzip
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .geometry import random_rotation
from .scene import Scene
from .timeline import plan

ACC_RANGE_G = 8.0
GYRO_RANGE_DPS = 2000.0
ACC_LSB_G = 2 * ACC_RANGE_G / 65536
GYRO_LSB_DPS = 2 * GYRO_RANGE_DPS / 65536
PROFILES = ("healthy", "myoclonus", "parkinson", "essential", "mixed")
SEGMENTS = ("onset", "wake", "sleep", "morning", "night")
CHUNK_S = 60.0  # render window; components are pure functions of time, so any size works


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


@dataclass
class Sampler:
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


def plan_gaps(r: np.random.Generator, dur: float, dropouts_per_min: float,
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


def build(seed: int, duration_s: float, rate_hz: float, profile: str, gyro: bool,
           options: dict) -> tuple[Scene, Sampler, dict]:
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
    sc = Scene(rate_hz=rate_hz, duration_s=duration_s, rng=r)
    sc.posture.start = random_rotation(r)
    plan(sc, profile, segment)
    sc.posture.finalize()
    sc.comps.sort(key=lambda c: c.t0)
    sc.spans = np.array([(c.t0, c.t1 + c.tail_s) for c in sc.comps]).reshape(-1, 2)
    mount = np.eye(3) if mounting == "standard" else random_rotation(r)
    samp = Sampler(rate_hz=rate_hz, duration_s=duration_s, seed=seed, noise_g=noise_g,
                    gyro_noise_dps=float(r.uniform(0.05, 0.3)), jitter_s=jitter_s, mount=mount,
                    acc_offset_g=r.normal(0, 0.01, 3), acc_scale=1 + r.normal(0, 0.01, 3),
                    gyro_bias_dps=r.normal(0, 1.0, 3),
                    gaps=plan_gaps(r, duration_s, dropouts, disconnects))
    labels = make_labels(sc, samp, profile, segment, seed, gyro)
    return sc, samp, labels


def present_fraction(samp: Sampler, a: float, b: float) -> float:
    if b <= a:
        b = a + 1 / samp.rate_hz
    lost = sum(max(0.0, min(b, gb) - max(a, ga)) for ga, gb in samp.gaps)
    return 1 - lost / (b - a)


def make_labels(sc: Scene, samp: Sampler, profile: str, segment: str, seed: int,
            gyro: bool) -> dict:
    events, ignored = [], []
    for e in sc.events:
        if present_fraction(samp, float(e["start"]), float(e["end"])) < 0.5:
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


def render_chunk(sc: Scene, samp: Sampler, k0: int, k1: int, gyro_on: bool,
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
    sc, samp, labels = build(seed, duration_s, rate_hz, profile, gyro, dict(options))

    def gen() -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        n = samp.n_nominal
        step = max(1, round(CHUNK_S * rate_hz))
        # chunk_s only regroups the fixed render windows, so samples never depend on it
        group = max(1, round(chunk_s / CHUNK_S))
        buf: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
        k = 0
        while k < n:
            k1 = min(n, k + step)
            buf.append(render_chunk(sc, samp, k, k1, gyro, []))
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
