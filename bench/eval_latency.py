"""Tremor early-notice latency on labelled recordings, streamed in BLE-frame-sized chunks.

    .venv/bin/python bench/eval_latency.py [FILES.csv.gz ...] [--frame 10]

Default: the dev set (``../shared/eval/dev``). Each recording is fed to one
:class:`dsp.Analyzer` in chunks of ``--frame`` samples, as the gateway does live; the stream
time at which a tremor episode's early notice (``Event(final=False)``) leaves the analyzer,
minus the labelled start of the true episode its final event matches (the scorer's rule:
overlap >= 50 % of the true episode or IoU >= 0.3), is its latency. Also counted: tremor
notices later retracted (no episode stood) and final tremor events on no true episode.
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

from twitchwatch.dsp import Analyzer, Event, Retraction  # noqa: E402


def _load(path: pathlib.Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    from twitchwatch.gateway.inputs.csvfile import iter_csv

    chunks = list(iter_csv(path))
    gyro = (np.concatenate([c.gyro_dps for c in chunks if c.gyro_dps is not None])
            if chunks[0].gyro_dps is not None else None)
    return (np.concatenate([c.t_s for c in chunks]),
            np.concatenate([c.acc_g for c in chunks]), gyro)


def _matches(f: Event, e: dict) -> bool:
    s, t = float(f.start), float(f.end)
    ov = min(t, e["end"]) - max(s, e["start"])
    union = max(t, e["end"]) - min(s, e["start"])
    return ov >= 0.5 * (e["end"] - e["start"]) or (union > 0 and ov / union >= 0.3)


def one(args: tuple[str, int]) -> dict:
    name, frame = args
    path = pathlib.Path(name)
    stem = path.name[: -len(".csv.gz")]
    labels = json.loads(path.with_name(f"{stem}.labels.json").read_text())
    t, a, g = _load(path)
    an = Analyzer(epochs=False)
    notice: dict[str, float] = {}
    finals: list[Event] = []
    retracted: set[str] = set()

    def take(outs: list, now: float) -> None:
        for o in outs:
            if isinstance(o, Event) and o.type == "tremor":
                if o.final:
                    finals.append(o)
                else:
                    notice.setdefault(o.id, now)
            elif isinstance(o, Retraction) and o.id.startswith("t"):
                retracted.add(o.id)

    for i in range(0, len(t), frame):
        take(an.feed(t[i:i + frame], a[i:i + frame], None if g is None else g[i:i + frame]),
             float(t[min(i + frame, len(t)) - 1]))
    take(an.finish(), float(t[-1]))
    true = [e for e in labels["events"] if e["type"] == "tremor"]
    rows = []
    for e in true:
        f = next((f for f in finals if _matches(f, e)), None)
        lat = notice[f.id] - e["start"] if f is not None and f.id in notice else None
        rows.append({"file": stem, "start": e["start"], "peak_g": e["peak_g"],
                     "rate_hz": labels["rate_hz"], "latency_s": lat,
                     "freq_err_hz": None if f is None or f.freq_hz is None
                     else abs(f.freq_hz - e["freq_hz"])})
    spurious = sum(1 for f in finals if not any(_matches(f, e) for e in true))
    return {"rows": rows, "retracted": len(retracted), "spurious": spurious}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=pathlib.Path)
    ap.add_argument("--frame", type=int, default=10, help="samples per streamed chunk")
    args = ap.parse_args()
    files = args.files or sorted(DEV.glob("*.csv.gz"))
    with Pool(2) as pool:
        res = pool.map(one, [(str(f), args.frame) for f in files])
    rows = [r for x in res for r in x["rows"]]
    for r in rows:
        lat = "missed" if r["latency_s"] is None else f"{r['latency_s']:.2f} s"
        print(f"{r['file']:36s} {r['start']:8.1f} s  {r['peak_g'] * 1000:5.0f} mg "
              f"{r['rate_hz']:5.0f} Hz  notice after {lat}")
    lat = np.array([r["latency_s"] for r in rows if r["latency_s"] is not None])
    if len(lat):
        print(f"episodes {len(rows)}, noticed {len(lat)}: median {np.median(lat):.2f} s, "
              f"90th percentile {np.percentile(lat, 90):.2f} s, max {lat.max():.2f} s, "
              f"over 5 s: {int((lat > 5).sum())}")
    print(f"tremor notices retracted: {sum(x['retracted'] for x in res)}, final tremor on "
          f"no true episode: {sum(x['spurious'] for x in res)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
