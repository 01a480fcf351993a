"""Accuracy on labelled synthetic recordings (twitchwatch.gateway.synth), by the shared scorer.

    .venv/bin/python bench/eval_synthetic.py [--n 30] [--seed 1000] [--out DIR]
    .venv/bin/python bench/eval_synthetic.py --nights [--out DIR]

Writes N recordings (profiles, segments, 50/100/200 Hz, with and without gyroscope,
random mounting, noise, jitter, dropouts and disconnects varied by seed) as CSV.gz with
labels into DIR, runs ``twitchwatch analyze`` on them and prints the pooled score of
``../shared/eval/score.py``. Recording i is ``synth_night(seed=SEED + i, ...)`` (``--seed``,
default 1000: the set the docs quote; other seeds give sets the analyzer was not tuned on).

``--nights``: six whole 8 h nights instead (``NIGHTS``: seeds 1-6, every profile, 50-200 Hz,
half with a gyroscope), where sleep onsets, posture changes and morning tremor come in
their nightly order.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
from multiprocessing import Pool

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SCORER = ROOT.parent / "shared" / "eval" / "score.py"
PROFILES = ("myoclonus", "parkinson", "essential", "healthy", "mixed")
SEGMENTS = ("onset", "onset", "wake", "sleep", "morning", "onset")
# (seed, profile, rate_hz, gyro) of the 8 h nights
NIGHTS = ((1, "mixed", 100, True), (2, "parkinson", 100, True), (3, "essential", 50, False),
          (4, "myoclonus", 200, True), (5, "healthy", 100, False), (6, "mixed", 200, False))


def make(args: tuple[pathlib.Path, int, int]) -> str:
    from twitchwatch.gateway.synth import synth_night

    out, i, seed = args
    rng = np.random.default_rng(seed - 500 + i)
    prof, seg = PROFILES[i % len(PROFILES)], SEGMENTS[i % len(SEGMENTS)]
    rate = float(rng.choice([50, 100, 200]))
    gyro = bool(rng.random() < 0.5)
    dur = float(rng.choice([1200, 1800, 2400]))
    r = synth_night(seed=seed + i, duration_s=dur, rate_hz=rate, profile=prof, gyro=gyro,
                    segment=seg)
    name = f"syn{seed + i - 1000:03d}_{prof}_{seg}_{int(rate)}hz{'_gyro' if gyro else ''}"
    r.write_csv(out / f"{name}.csv.gz")
    (out / f"{name}.labels.json").write_text(json.dumps(r.labels))
    return name


def make_night(args: tuple[pathlib.Path, int]) -> str:
    from twitchwatch.gateway.synth import synth_night

    out, i = args
    seed, prof, rate, gyro = NIGHTS[i]
    r = synth_night(seed=seed, duration_s=28800, rate_hz=float(rate), profile=prof,
                    gyro=gyro, segment="night")
    name = f"night{seed}_{prof}_{rate}hz{'_gyro' if gyro else ''}"
    r.write_csv(out / f"{name}.csv.gz")
    (out / f"{name}.labels.json").write_text(json.dumps(r.labels))
    return name


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=30, help="number of recordings")
    ap.add_argument("--seed", type=int, default=1000, help="seed of the first recording")
    ap.add_argument("--nights", action="store_true", help="six 8 h nights instead")
    ap.add_argument("--out", type=pathlib.Path, help="directory (default: a temporary one)")
    args = ap.parse_args()
    out = args.out or pathlib.Path(tempfile.mkdtemp(prefix="twitchwatch_synth_"))
    out.mkdir(parents=True, exist_ok=True)
    # 8 h nights take ~2 GB each to build: one at a time
    with Pool(1 if args.nights else 2) as pool:
        names = (pool.map(make_night, [(out, i) for i in range(len(NIGHTS))]) if args.nights
                 else pool.map(make, [(out, i, args.seed) for i in range(args.n)]))
    pred = out / "pred"
    subprocess.run([sys.executable, "-m", "twitchwatch", "analyze",
                    *[str(out / f"{n}.csv.gz") for n in names], "--out", str(pred),
                    "--no-progress"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    if not SCORER.is_file():
        print(f"predictions in {pred}; no scorer at {SCORER}")
        return 0
    res = subprocess.run([sys.executable, str(SCORER), "--dir", str(out), str(pred)],
                         check=True, capture_output=True, text=True).stdout
    print(res[res.find("== POOLED"):] if "== POOLED" in res else res)
    print(f"recordings and predictions: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
