"""Sleep state, sleep onsets and hypnic jerks against labels (eval format).

    .venv/bin/python bench/eval_sleep_onsets.py ../shared/eval/dev
    .venv/bin/python bench/eval_sleep_onsets.py --synth 40 --seed 7000 [--out DIR]

Per recording: the share of seconds whose ``Epoch.state`` agrees with the labelled
``sleep`` intervals (``unknown`` counts as wake), sleep sensitivity and wake specificity,
labelled sleep onsets found (a ``SleepOnset`` within 60 s of the window's start) and
onsets reported where there is none; then, pooled, every labelled jerk that the analyzer
found with its final type, and for each true hypnic jerk not called hypnic the check that
refused it (``dsp/sleep_onset.py``). ``--synth N`` first writes N labelled recordings of
the project's generator (onset segments and whole nights of 4-6 h with a bathroom trip,
seeds from ``--seed``): another sleep model than the eval's, a sanity check.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import tempfile
from collections import Counter

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ONSET_TOL_S = 60.0
JERK_TOL_S = 0.5
PROFILES = ("myoclonus", "parkinson", "essential", "healthy", "mixed")


def write_synth(out: pathlib.Path, n: int, seed: int) -> None:
    from twitchwatch.gateway.synth import synth_night

    for i in range(n):
        rng = np.random.default_rng(seed + i)
        prof = PROFILES[i % len(PROFILES)]
        night = i % 4 == 3
        rate = float(rng.choice([50, 100, 200]))
        gyro = bool(rng.random() < 0.5)
        dur = float(rng.uniform(4.2, 6.0) * 3600 if night else rng.choice([1200, 1800, 2400]))
        r = synth_night(seed=seed + i, duration_s=dur, rate_hz=rate, profile=prof, gyro=gyro,
                        segment="night" if night else "onset")
        name = f"s{seed + i}_{prof}_{'night' if night else 'onset'}_{int(rate)}hz"
        r.write_csv(out / f"{name}.csv.gz")
        (out / f"{name}.labels.json").write_text(json.dumps(r.labels))


def analyze(path: pathlib.Path) -> tuple[list, list]:
    from twitchwatch.dsp import Analyzer
    from twitchwatch.gateway.inputs.csvfile import iter_csv

    an = Analyzer(epochs=True)
    an.trace = []
    out: list = []
    for ch in iter_csv(path):
        out += an.feed(ch.t_s, ch.acc_g, ch.gyro_dps)
    out += an.finish()
    return out, an.trace


def score(path: pathlib.Path, labels: dict, out: list, trace: list, tot: Counter,
          refused: Counter) -> str:
    from twitchwatch.dsp import Epoch, Event, SleepOnset

    ep = [(o.start, o.state) for o in out if isinstance(o, Epoch)]
    k = np.array([e[0] for e in ep])
    pred = np.array([e[1] == "sleep" for e in ep])
    lab = np.zeros(len(k), dtype=bool)
    for s in labels["sleep"]:
        if s["state"] == "sleep":
            lab |= (k + 0.5 >= s["start"]) & (k + 0.5 < s["end"])
    tot["s"] += len(k)
    tot["agree"] += int(np.count_nonzero(pred == lab))
    tot["sleep"] += int(np.count_nonzero(lab))
    tot["sleep_ok"] += int(np.count_nonzero(pred & lab))
    tot["wake"] += int(np.count_nonzero(~lab))
    tot["wake_ok"] += int(np.count_nonzero(~pred & ~lab))
    po = [o.start for o in out if isinstance(o, SleepOnset)]
    used: set[int] = set()
    for w in labels["sleep_onsets"]:
        near = sorted((abs(x - w["start"]), i) for i, x in enumerate(po)
                      if abs(x - w["start"]) <= ONSET_TOL_S and i not in used)
        if near:
            used.add(near[0][1])
    tot["onsets"] += len(labels["sleep_onsets"])
    tot["onsets_found"] += len(used)
    tot["onsets_extra"] += len(po) - len(used)
    jerks = [e for e in out if isinstance(e, Event) and e.final and e.type != "tremor"]
    why = {round(x["t"], 3): x["hypnic_refused"] for x in trace if x["verdict"] == "final"}
    for e in labels["events"]:
        if e["type"] == "tremor":
            continue
        m = [p for p in jerks if abs(p.start - e["start"]) <= JERK_TOL_S]
        got = m[0].type if m else "missed"
        tot[f"{e['type']}->{got}"] += 1
        if e["type"] == "hypnic_jerk" and got == "myoclonic_jerk":
            refused[why.get(round(m[0].start, 3), "?")] += 1
    agree = np.mean(pred == lab) if len(k) else float("nan")
    return (f"{path.name.split('.')[0]:40s} agree {agree:.3f}  onsets {len(used)}/"
            f"{len(labels['sleep_onsets'])} (+{len(po) - len(used)})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", nargs="?", type=pathlib.Path, help="recordings with labels")
    ap.add_argument("--synth", type=int, default=0, help="write N synthetic recordings first")
    ap.add_argument("--seed", type=int, default=7000)
    ap.add_argument("--out", type=pathlib.Path, help="where --synth writes (default: temp)")
    args = ap.parse_args()
    d = args.dir
    if args.synth:
        d = args.out or pathlib.Path(tempfile.mkdtemp(prefix="twitchwatch_sleep_"))
        d.mkdir(parents=True, exist_ok=True)
        write_synth(d, args.synth, args.seed)
    if d is None:
        ap.error("give a directory or --synth N")
    tot: Counter = Counter()
    refused: Counter = Counter()
    for lab in sorted(d.glob("*.labels.json")):
        csv = lab.with_name(lab.name.replace(".labels.json", ".csv.gz"))
        out, trace = analyze(csv)
        print(score(csv, json.loads(lab.read_text()), out, trace, tot, refused), flush=True)
    print(f"\nseconds: agreement {tot['agree'] / max(1, tot['s']):.3f}, sleep sensitivity "
          f"{tot['sleep_ok'] / max(1, tot['sleep']):.3f}, wake specificity "
          f"{tot['wake_ok'] / max(1, tot['wake']):.3f}")
    print(f"onsets: {tot['onsets_found']}/{tot['onsets']} found within {ONSET_TOL_S:.0f} s, "
          f"{tot['onsets_extra']} reported where there is none")
    for k in sorted(x for x in tot if "->" in x):
        print(f"  {k:32s} {tot[k]}")
    if refused:
        print("  hypnic called myoclonic, refused by:", dict(refused))
    if args.synth:
        print(f"recordings: {d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
