"""False alarms on real daily activities: events per hour of signal, by activity and class.

    .venv/bin/python bench/eval_jerks_real.py [--csv ../shared/real/hmp_adl_wrist32hz.csv.gz]

The HMP recording (``../shared/real/README.md``) holds 839 trials of 14 daily activities of
16 healthy volunteers (no myoclonus, no tremor), joined with 5 s gaps: every event reported
there is a false alarm. The trial list (``labels.segments`` of the JSON beside the file)
names each trial's activity; an event is credited to the trial it starts in. Hours are
those of signal (the trials), not of the file's time span. Prints one line per event with
its place in its trial, then the table.
"""

from __future__ import annotations

import argparse
import collections
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
REAL = ROOT.parent / "shared" / "real" / "hmp_adl_wrist32hz.csv.gz"


def main() -> int:
    from twitchwatch.dsp import Analyzer, Event
    from twitchwatch.gateway.inputs.csvfile import iter_csv

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=pathlib.Path, default=REAL)
    args = ap.parse_args()
    meta = json.loads(args.csv.with_name(args.csv.name.replace(".csv.gz", ".json")).read_text())
    trials = meta["labels"]["segments"]
    an = Analyzer(epochs=False)
    out = []
    for c in iter_csv(args.csv):
        out += an.feed(c.t_s, c.acc_g, c.gyro_dps)
    out += an.finish()
    events = [o for o in out if isinstance(o, Event) and o.final]
    hours: collections.Counter[str] = collections.Counter()
    for s in trials:
        hours[s["label"]] += (s["end_s"] - s["start_s"]) / 3600
    total_h = sum(hours.values())
    count: collections.Counter[tuple[str, str]] = collections.Counter()
    for e in events:
        tr = [s for s in trials if s["start_s"] - 0.01 <= e.start <= s["end_s"] + 0.01]
        label = tr[0]["label"] if tr else "(between trials)"
        count[(label, e.type)] += 1
        where = ""
        if tr:
            into, length = e.start - tr[0]["start_s"], tr[0]["end_s"] - tr[0]["start_s"]
            where = f"{into:.1f} s into a {length:.1f} s trial"
        print(f"{e.type:15s} {e.start:10.2f} s  {label:15s} {where}  peak {e.peak_g:.2f} g")
    types = sorted({k[1] for k in count})
    print(f"\n{len(events)} events in {total_h:.2f} h of signal: "
          f"{len(events) / total_h:.2f} per hour")
    print("| activity | hours | " + " | ".join(types) + " | per hour |")
    print("|---|---|" + "---|" * len(types) + "---|")
    for label in sorted(hours, key=lambda k: -sum(count[(k, t)] for t in types)):
        n = [count[(label, t)] for t in types]
        print(f"| {label} | {hours[label]:.2f} | " + " | ".join(map(str, n))
              + f" | {sum(n) / hours[label]:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
