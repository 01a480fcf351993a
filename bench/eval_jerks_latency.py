"""Jerk early-notice latency on labelled recordings, streamed in BLE-frame-sized chunks.

    .venv/bin/python bench/eval_jerks_latency.py [FILES.csv.gz ...] [--frame 10]

Default: the dev set (``../shared/eval/dev``). Each recording is fed to one
:class:`dsp.Analyzer` in chunks of ``--frame`` samples, as the gateway does live. For every
final jerk (myoclonic or hypnic) that matches a true one (starts within 0.5 s, the scorer's
rule), its latency is the stream time at which its early notice (``Event(final=False)``,
same id) left the analyzer minus the labelled end of the true jerk. The budget is 1 s.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
from multiprocessing import Pool

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEV = ROOT.parent / "shared" / "eval" / "dev"
JERKS = ("myoclonic_jerk", "hypnic_jerk")


def _one(args: tuple[pathlib.Path, int]) -> list[float]:
    from twitchwatch.dsp import Analyzer, Event
    from twitchwatch.gateway.inputs.csvfile import iter_csv

    path, frame = args
    labels = json.loads(path.with_name(path.name.replace(".csv.gz", ".labels.json"))
                        .read_text())
    true = [e for e in labels["events"] if e["type"] in JERKS]
    an = Analyzer(epochs=False)
    notice: dict[str, float] = {}
    finals = []
    for c in iter_csv(path):
        for i in range(0, len(c.t_s), frame):
            gy = None if c.gyro_dps is None else c.gyro_dps[i:i + frame]
            now = float(c.t_s[min(len(c.t_s), i + frame) - 1])
            for o in an.feed(c.t_s[i:i + frame], c.acc_g[i:i + frame], gy):
                if isinstance(o, Event) and o.type in JERKS:
                    if o.final:
                        finals.append(o)
                    else:
                        notice.setdefault(o.id, now)
    finals += [o for o in an.finish() if isinstance(o, Event) and o.final and o.type in JERKS]
    lat = []
    for e in finals:
        match = [t for t in true if abs(t["start"] - e.start) <= 0.5]
        if match and e.id in notice:
            end = min(match, key=lambda t: abs(t["start"] - e.start))["end"]
            lat.append(notice[e.id] - end)
    return lat


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=pathlib.Path)
    ap.add_argument("--frame", type=int, default=10, help="samples per streamed chunk")
    args = ap.parse_args()
    files = args.files or sorted(DEV.glob("*.csv.gz"))
    with Pool(2) as pool:
        lat = np.array([x for part in pool.map(_one, [(f, args.frame) for f in files])
                        for x in part])
    if not len(lat):
        print("no matched jerk")
        return 1
    print(f"{len(lat)} matched jerks, early notice after the labelled end: median "
          f"{np.median(lat):.2f} s, 90th percentile {np.percentile(lat, 90):.2f} s, "
          f"max {lat.max():.2f} s; over 1 s: {int((lat > 1.0).sum())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
