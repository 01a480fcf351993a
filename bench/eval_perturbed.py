"""Robustness on the dev set made harder the way the held-out set is said to be harder.

    .venv/bin/python bench/eval_perturbed.py [--variants rot_noise,gaps_rot,rate200_rot,rate50]

Each variant rewrites every dev recording (``../shared/eval/dev``) and its labels:

* ``rot``: a random mounting rotation of the accelerometer;
* ``noise``: +15 mg RMS of white noise per axis (a noisier sensor); ``noiseNN``: +NN mg
  (``noise25``, ``noise40``: extreme ones, the dev recordings already carry 3-20 mg);
* ``gaps``: ~1 dropout of 0.05-0.5 s per minute and a 3-30 s disconnect per half hour more;
  events left with under half of their samples move to ``ignored_events``, as in the eval
  labels;
* ``rateNNN`` (``rate200``, ``rate50``, ``rate104``...): resampled (polyphase,
  anti-aliased) to NNN Hz, with +/-2 ms of timestamp jitter and the original gaps.

Then ``twitchwatch analyze`` runs on every file and the shared scorer prints the pooled
macro-F1 per variant. Seeds are fixed, so the numbers reproduce.
"""

from __future__ import annotations

import argparse
import gzip
import json
import pathlib
import re
import subprocess
import sys
import tempfile
from fractions import Fraction

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared" / "eval" / "dev"
SCORER = ROOT.parent / "shared" / "eval" / "score.py"


def _rotation(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def _read(path: pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
    from twitchwatch.gateway.inputs.csvfile import iter_csv

    chunks = list(iter_csv(path))
    return (np.concatenate([c.t_s for c in chunks]),
            np.concatenate([c.acc_g for c in chunks]))


def perturb(t: np.ndarray, a: np.ndarray, labels: dict, variant: str, seed: int
            ) -> tuple[np.ndarray, np.ndarray, dict]:
    from scipy import signal

    rng = np.random.default_rng(seed)
    lab = json.loads(json.dumps(labels))
    fs = float(lab["rate_hz"])
    rate = re.search(r"rate(\d+)", variant)
    if rate and fs == 100:
        ratio = Fraction(int(rate.group(1)), 100)
        up, down = ratio.numerator, ratio.denominator
        k = np.round(t * fs).astype(int)
        grid = np.arange(k[-1] + 1) / fs
        au = np.stack([np.interp(grid, t, a[:, j]) for j in range(3)], axis=1)
        au = signal.resample_poly(au, up, down, axis=0)
        fs = fs * up / down
        tt = np.arange(len(au)) / fs
        keep = np.ones(len(tt), dtype=bool)
        for g0, g1 in lab["gaps"]:
            keep &= ~((tt >= g0) & (tt < g1))
        t = tt[keep] + rng.uniform(-0.002, 0.002, int(keep.sum()))
        t = np.maximum.accumulate(np.maximum(t, 0.0) + 1e-9 * np.arange(len(t)))
        a = au[keep]
        lab["rate_hz"] = fs
    if "rot" in variant:
        a = a @ _rotation(rng).T
    if "noise" in variant:
        mg = re.search(r"noise(\d*)", variant)
        a = a + rng.normal(0, int(mg.group(1) or 15) / 1000 if mg else 0.015, a.shape)
    if "gaps" in variant:
        dur = float(lab["duration_s"])
        new = []
        for _ in range(int(dur / 60)):
            g0 = rng.uniform(1, dur - 1)
            new.append((g0, g0 + rng.uniform(0.05, 0.5)))
        for _ in range(max(1, int(dur / 1800))):
            g0 = rng.uniform(10, dur - 40)
            new.append((g0, g0 + rng.uniform(3, 30)))
        keep = np.ones(len(t), dtype=bool)
        for g0, g1 in new:
            keep &= ~((t >= g0) & (t < g1))
        t, a = t[keep], a[keep]
        gaps = sorted([tuple(g) for g in lab["gaps"]] + new)
        lab["gaps"] = [list(g) for g in gaps]

        def present(s: float, e: float) -> float:
            e = max(e, s + 0.01)
            lost = sum(max(0.0, min(e, g1) - max(s, g0)) for g0, g1 in gaps)
            return 1 - lost / (e - s)

        events, ignored = [], list(lab["ignored_events"])
        for e in lab["events"]:
            if present(e["start"], e["end"]) < 0.5:
                ignored.append({**e, "reason": "data_gap"})
            else:
                events.append(e)
        lab["events"], lab["ignored_events"] = events, ignored
    return t, np.round(a, 4), lab


def _write(path: pathlib.Path, t: np.ndarray, a: np.ndarray) -> None:
    with gzip.open(path, "wt", compresslevel=3) as f:
        f.write("t,ax,ay,az\n")
        np.savetxt(f, np.column_stack([t, a]), fmt=["%.6f", "%.4f", "%.4f", "%.4f"],
                   delimiter=",")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default="rot_noise,gaps_rot,rate200_rot,rate50")
    ap.add_argument("--out", type=pathlib.Path, help="directory (default: temporary)")
    args = ap.parse_args()
    if not DEV.is_dir() or not SCORER.is_file():
        print(f"needs {DEV} and {SCORER}")
        return 1
    base = args.out or pathlib.Path(tempfile.mkdtemp(prefix="twitchwatch_perturbed_"))
    files = sorted(DEV.glob("*.csv.gz"))
    for variant in args.variants.split(","):
        out = base / variant
        out.mkdir(parents=True, exist_ok=True)
        for i, f in enumerate(files):
            name = f.name[: -len(".csv.gz")]
            labels = json.loads((DEV / f"{name}.labels.json").read_text())
            t, a = _read(f)
            t, a, lab = perturb(t, a, labels, variant, 1000 + i)
            _write(out / f.name, t, a)
            (out / f"{name}.labels.json").write_text(json.dumps(lab))
        subprocess.run([sys.executable, "-m", "twitchwatch", "analyze",
                        *[str(out / f.name) for f in files], "--out", str(out / "pred"),
                        "--no-progress"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        res = subprocess.run([sys.executable, str(SCORER), "--dir", str(out),
                              str(out / "pred")], check=True, capture_output=True,
                             text=True).stdout
        pooled = res[res.find("== POOLED"):]
        lines = [x for x in pooled.splitlines()
                 if x.strip().startswith(("myoclonic_jerk ", "hypnic_jerk ", "tremor ",
                                          "macro-F1", "tremor frequency"))
                 and "missed" not in x][:5]
        print(f"== {variant}")
        print("\n".join(lines))
    print(f"files: {base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
