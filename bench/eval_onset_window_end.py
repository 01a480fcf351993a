"""Does the signal show where a sleep-onset window ends ("settled sleep")?

    .venv/bin/python bench/eval_onset_window_end.py [../shared/eval/dev]

A jerk shortly after an onset window that had no sleep start is myoclonic by the eval's
labels, one inside it hypnic; the hypnic decision (``dsp/sleep_onset.py``) can only
tell them apart if the window's end leaves a mark. For every labelled onset window of
at least 150 s with sleep after it, this compares the last 2 minutes of the window with
the first 2 minutes after it (5 s away from its end; seconds within 5 s of a labelled
event or confounder left out) on what a wrist sensor sees of settling into sleep:

* sway: the per-second mean acceleration smoothed over 11 s (breathing averaged out),
  the median change over 10 s (the analyzer's sway, ``dsp/sleep.py``, without its noise
  correction: both sides have the same sensor);
* breathing: the 0.1-0.6 Hz band of the acceleration on its principal axis, its RMS and
  the coefficient of variation of breath-to-breath intervals (breathing grows deeper
  and more regular from drowsiness to stage N2).

Prints one line per window and the median ratio after / before of each measure.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEV = ROOT.parent / "shared" / "eval" / "dev"
SPAN_S = 120.0
AWAY_S = 5.0


def _read(path: pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
    from twitchwatch.gateway.inputs.csvfile import iter_csv

    chunks = list(iter_csv(path))
    return (np.concatenate([c.t_s for c in chunks]),
            np.concatenate([c.acc_g for c in chunks]))


def _measures(t: np.ndarray, a: np.ndarray, t0: float, t1: float,
              busy: list[tuple[float, float]]) -> tuple[float, float, float] | None:
    from scipy import signal

    sec = np.arange(np.floor(t0), np.floor(t1))
    k = np.floor(t).astype(np.int64)
    ok = np.array([not any(b0 - AWAY_S <= s + 1 and s <= b1 + AWAY_S for b0, b1 in busy)
                   for s in sec])
    means = []
    for s in sec:
        i0, i1 = np.searchsorted(k, [s, s + 1])
        means.append(a[i0:i1].mean(axis=0) if i1 > i0 else np.full(3, np.nan))
    m = np.array(means)
    good = ok & np.isfinite(m[:, 0])
    if good.sum() < 60:
        return None
    # sway: 11-s means of the still seconds, their median change over 10 s
    ms = m[good]
    kern = np.ones(11) / 11
    sm = np.stack([np.convolve(ms[:, j], kern, mode="valid") for j in range(3)], axis=1)
    d = sm[10:] - sm[:-10]
    d = d - np.median(d, axis=0)
    sway = float(np.median(np.linalg.norm(d, axis=1)))
    # breathing: 10 Hz means, 0.1-0.6 Hz, principal axis
    x = np.interp(np.arange(t0, t1, 0.1), t, a[:, 0]), np.interp(
        np.arange(t0, t1, 0.1), t, a[:, 1]), np.interp(np.arange(t0, t1, 0.1), t, a[:, 2])
    y = signal.sosfiltfilt(signal.butter(2, [0.1, 0.6], "bandpass", fs=10.0, output="sos"),
                           signal.detrend(np.stack(x, axis=1), axis=0), axis=0)
    keep = np.repeat(good, 10)[: len(y)]
    y = y[: len(keep)][keep]
    if len(y) < 300:
        return None
    _, _, vt = np.linalg.svd(y - y.mean(0), full_matrices=False)
    p = y @ vt[0]
    up = np.flatnonzero(np.diff(np.sign(p)) > 0)
    per = np.diff(up) / 10.0
    per = per[(per > 1.5) & (per < 10)]
    cv = float(per.std() / per.mean()) if len(per) > 4 else float("nan")
    return sway, float(p.std()), cv


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", nargs="?", type=pathlib.Path, default=DEV)
    args = ap.parse_args()
    ratios: list[tuple[float, float, float]] = []
    print(f"{'recording':32s} {'window':>13s}  sway mg in/after   breath mg in/after   "
          "breath CV in/after")
    for lab in sorted(args.dir.glob("*.labels.json")):
        labels = json.loads(lab.read_text())
        wins = [w for w in labels["sleep_onsets"] if w["end"] - w["start"] >= 150]
        if not wins:
            continue
        t, a = _read(lab.with_name(lab.name.replace(".labels.json", ".csv.gz")))
        busy = [(e["start"], e["end"]) for e in labels["events"]]
        busy += [(c["start"], c["end"]) for c in labels["confounders"]]
        for w in wins:
            end = w["end"]
            asleep = any(s["state"] == "sleep" and s["start"] <= end + AWAY_S
                         and s["end"] >= end + AWAY_S + SPAN_S for s in labels["sleep"])
            if not asleep or t[-1] < end + AWAY_S + SPAN_S:
                continue
            before = _measures(t, a, end - AWAY_S - SPAN_S, end - AWAY_S, busy)
            after = _measures(t, a, end + AWAY_S, end + AWAY_S + SPAN_S, busy)
            if before is None or after is None:
                continue
            print(f"{lab.name.split('.')[0]:32s} {w['start']:6.0f}-{end:6.0f}  "
                  f"{before[0] * 1e3:5.1f} / {after[0] * 1e3:5.1f}       "
                  f"{before[1] * 1e3:5.1f} / {after[1] * 1e3:5.1f}        "
                  f"{before[2]:4.2f} / {after[2]:4.2f}")
            ratios.append(tuple(y / x if x > 0 else float("nan")
                                for x, y in zip(before, after, strict=True)))
    if not ratios:
        print("no onset window with sleep after it")
        return 1
    r = np.array(ratios)
    print(f"\n{len(r)} windows; median ratio after / before: sway "
          f"{np.nanmedian(r[:, 0]):.2f}, breathing RMS {np.nanmedian(r[:, 1]):.2f}, "
          f"breathing CV {np.nanmedian(r[:, 2]):.2f}; after lower in "
          f"{int(np.sum(r[:, 0] < 1))}, {int(np.sum(r[:, 1] < 1))}, "
          f"{int(np.sum(r[:, 2] < 1))} of them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
