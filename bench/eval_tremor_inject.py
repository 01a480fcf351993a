"""Tremor recall by amplitude and duration: episodes injected into the dev recordings.

    .venv/bin/python bench/eval_tremor_inject.py [--per-hour 6] [--seed 1] [--nogyro]
                                                 [--noise-mg 0] [--out DIR]

The dev set has 28 tremor episodes, few of them short or weak. This adds more, of known
amplitude, frequency and duration, into the dev recordings themselves (their noise,
movements, gaps, sleep and rates are the eval generator's, not ours): a forearm rotation
theta(t) about a random axis of the sensor, whose acceleration is gravity turned through
theta plus the wrist's tangential r theta'' (r 5-15 cm), and whose rotation rate is added
to the gyroscope where the file has one. Amplitude log-uniform 8-200 mg, duration
log-uniform 3-60 s (fades 0.5-2 s included), 3.5-11.5 Hz, a 5-30 % second harmonic,
0.05-0.3 Hz of wander and 10-35 % of amplitude modulation (Elble & McNames 2016), placed
in the wake state away from labelled tremor. Each file is analysed in process; the shared
scorer (``../shared/eval/score.py``) scores the tremor of the labels plus the injected
episodes; the table gives recall by amplitude and duration and the false positives.
Seeds are fixed, so the numbers reproduce.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import subprocess
import sys
import tempfile
from multiprocessing import Pool

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEV = ROOT.parent / "shared" / "eval" / "dev"
SCORER = ROOT.parent / "shared" / "eval" / "score.py"
G = 9.80665


def _load(path: pathlib.Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    from twitchwatch.gateway.inputs.csvfile import iter_csv

    chunks = list(iter_csv(path))
    gyro = (np.concatenate([c.gyro_dps for c in chunks if c.gyro_dps is not None])
            if chunks[0].gyro_dps is not None else None)
    return (np.concatenate([c.t_s for c in chunks]),
            np.concatenate([c.acc_g for c in chunks]), gyro)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def inject(t: np.ndarray, acc: np.ndarray, gyro: np.ndarray | None, t0: float, t1: float,
           peak_g: float, f0: float, rng: np.random.Generator) -> float:
    """Add one tremor episode in place; returns its mean frequency."""
    m = (t >= t0) & (t <= t1)
    if not m.any():
        return f0
    tt = t[m] - t0
    g_s = _unit(acc[m].mean(axis=0))
    axis = _unit(rng.normal(size=3))
    dirn = _unit(np.cross(axis, rng.normal(size=3)))
    radius = rng.uniform(0.05, 0.15)
    wander, am = rng.uniform(0.05, 0.3), rng.uniform(0.1, 0.35)
    fw, ph = rng.uniform(0.02, 0.08, 2), rng.uniform(0, 2 * np.pi, 5)
    h2 = rng.uniform(0.05, 0.3)
    inst = f0 + wander / 2 * (np.sin(2 * np.pi * fw[0] * tt + ph[0])
                              + np.sin(2 * np.pi * fw[1] * tt + ph[1]))
    dt = np.diff(tt, prepend=tt[0])
    phase = 2 * np.pi * np.cumsum(inst * dt) + ph[2]
    fade_s = rng.uniform(0.5, 2.0)
    up = np.clip(tt / fade_s, 0, 1)
    down = np.clip((t1 - t0 - tt) / fade_s, 0, 1)
    env = np.sin(np.pi / 2 * np.minimum(up, down)) ** 2
    env *= 1 + am * np.sin(2 * np.pi * rng.uniform(0.03, 0.2) * tt + ph[3])
    grav = np.cross(axis, g_s)  # d(gravity)/d(theta) for a small turn about the axis
    per_rad = math.hypot(float(np.linalg.norm(grav)), radius * (2 * np.pi * f0) ** 2 / G)
    amp_rad = peak_g / per_rad
    w = 2 * np.pi * inst
    shape = np.sin(phase) + h2 * np.sin(2 * phase + ph[4])
    dshape = w * (np.cos(phase) + 2 * h2 * np.cos(2 * phase + ph[4]))
    d2shape = -w * w * (np.sin(phase) + 4 * h2 * np.sin(2 * phase + ph[4]))
    theta = amp_rad * env * shape
    acc[m] += np.outer(theta, grav) + np.outer(radius * amp_rad * env * d2shape / G, dirn)
    if gyro is not None:
        gyro[m] += np.outer(amp_rad * env * dshape * 180 / np.pi, axis)
    return float(np.sum(inst * env) / max(float(np.sum(env)), 1e-12))


def one(args: tuple[str, int, float, bool, float, str]) -> str:
    from twitchwatch.dsp import Analyzer, Event

    name, seed, per_hour, nogyro, noise_mg, out = args
    path = DEV / f"{name}.csv.gz"
    labels = json.loads((DEV / f"{name}.labels.json").read_text())
    t, acc, gyro = _load(path)
    if nogyro:
        gyro = None
    rng = np.random.default_rng(seed)
    if noise_mg:
        acc = acc + rng.normal(0, noise_mg / 1000, acc.shape)
    dur = float(t[-1])
    busy = [(e["start"] - 15, e["end"] + 15) for e in labels["events"]
            if e["type"] == "tremor"]
    busy += [(e["start"] - 15, e["end"] + 15) for e in labels["ignored_events"]
             if e["type"] == "tremor"]
    wake = [(s["start"], s["end"]) for s in labels["sleep"] if s["state"] == "wake"]
    added = []
    for _ in range(max(1, round(per_hour * dur / 3600))):
        for _attempt in range(50):
            length = float(np.exp(rng.uniform(math.log(3.0), math.log(60.0))))
            a, b = wake[int(rng.integers(len(wake)))] if wake else (0.0, dur)
            if b - a < length + 20:
                continue
            t0 = float(rng.uniform(a + 10, b - length - 10))
            t1 = t0 + length
            if any(t1 > x0 and t0 < x1 for x0, x1 in busy):
                continue
            if any(t1 > g0 - 2 and t0 < g1 + 2 for g0, g1 in labels["gaps"]):
                continue
            peak = float(np.exp(rng.uniform(math.log(0.008), math.log(0.2))))
            f0 = float(rng.uniform(3.5, 11.5))
            f = inject(t, acc, gyro, t0, t1, peak, f0, rng)
            busy.append((t0 - 15, t1 + 15))
            added.append({"type": "tremor", "start": round(t0, 3), "end": round(t1, 3),
                          "peak_g": round(peak, 4), "freq_hz": round(f, 2),
                          "tremor_type": "injected"})
            break
    lab = {**labels, "events": sorted(labels["events"] + added, key=lambda e: e["start"])}
    odir = pathlib.Path(out)
    (odir / f"{name}.labels.json").write_text(json.dumps(lab))
    an = Analyzer(epochs=False)
    res = an.feed(t, np.round(acc, 4), gyro) + an.finish()
    with open(odir / "pred" / f"{name}.jsonl", "w") as fh:
        for o in res:
            if isinstance(o, Event) and o.final and o.type == "tremor":
                fh.write(json.dumps(o.to_dict()) + "\n")
    return name


def _matched(p: dict, e: dict) -> bool:
    ov = min(p["end"], e["end"]) - max(p["start"], e["start"])
    un = max(p["end"], e["end"]) - min(p["start"], e["start"])
    return ov >= 0.5 * (e["end"] - e["start"]) or (un > 0 and ov / un >= 0.3)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-hour", type=float, default=6.0, help="episodes per hour")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--nogyro", action="store_true", help="drop the gyroscope columns")
    ap.add_argument("--noise-mg", type=float, default=0.0, help="extra white noise (mg)")
    ap.add_argument("--out", type=pathlib.Path, help="directory (default: temporary)")
    args = ap.parse_args()
    if not DEV.is_dir() or not SCORER.is_file():
        print(f"needs {DEV} and {SCORER}")
        return 1
    out = args.out or pathlib.Path(tempfile.mkdtemp(prefix="twitchwatch_tremor_"))
    (out / "pred").mkdir(parents=True, exist_ok=True)
    names = sorted(p.name[: -len(".csv.gz")] for p in DEV.glob("*.csv.gz"))
    jobs = [(n, args.seed * 1000 + i, args.per_hour, args.nogyro, args.noise_mg, str(out))
            for i, n in enumerate(names)]
    with Pool(2) as pool:
        pool.map(one, jobs)
    res = subprocess.run([sys.executable, str(SCORER), "--dir", str(out), str(out / "pred")],
                         check=True, capture_output=True, text=True).stdout
    pooled = res[res.find("== POOLED"):]
    print("\n".join(x for x in pooled.splitlines()
                    if x.strip().startswith(("== POOLED", "class", "tremor "))))
    # recall of the injected episodes by amplitude and duration (the scorer's matching)
    rows: dict[tuple[str, str], list[int]] = {}
    for n in names:
        lab = json.loads((out / f"{n}.labels.json").read_text())
        pf = out / "pred" / f"{n}.jsonl"
        preds = [json.loads(x) for x in pf.read_text().splitlines() if x.strip()]
        for e in lab["events"]:
            if e.get("tremor_type") != "injected":
                continue
            amp = "<15 mg" if e["peak_g"] < 0.015 else "15-30 mg" if e["peak_g"] < 0.03 \
                else "30-80 mg" if e["peak_g"] < 0.08 else ">=80 mg"
            d = e["end"] - e["start"]
            dd = "3-5 s" if d < 5 else "5-10 s" if d < 10 else ">=10 s"
            hit = any(_matched(p, e) for p in preds)
            rows.setdefault((amp, dd), [0, 0])[0] += int(hit)
            rows[(amp, dd)][1] += 1
    amps = ["<15 mg", "15-30 mg", "30-80 mg", ">=80 mg"]
    durs = ["3-5 s", "5-10 s", ">=10 s"]
    print("\ninjected episodes found (found/injected):")
    print("| amplitude | " + " | ".join(durs) + " | all |")
    print("|---|" + "---|" * (len(durs) + 1))
    for a in amps:
        cells = [rows.get((a, d), [0, 0]) for d in durs]
        tot = [sum(c[0] for c in cells), sum(c[1] for c in cells)]
        print(f"| {a} | " + " | ".join(f"{c[0]}/{c[1]}" for c in cells)
              + f" | {tot[0]}/{tot[1]} |")
    print(f"files: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
