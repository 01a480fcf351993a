"""Identical outputs: the analyzer over the dev set, perturbed and synthetic recordings,
compared field by field with a reference written by another checkout (e.g. ``main``).

    # the reference, from a checkout of main (its source tree, imported first):
    git archive main | tar -x -C /tmp/main
    .venv/bin/python bench/check_identical.py --root /tmp/main --write bench/out/ref.json.gz
    # this checkout against it:
    .venv/bin/python bench/check_identical.py --check bench/out/ref.json.gz [-j 2]

Cases (``--cases``): every dev recording (``../shared/eval/dev``, with its gyroscope where
it has one), four perturbed variants of five dev recordings (``bench/eval_perturbed.py``:
a mounting rotation with noise, gaps, 200 Hz and 50 Hz resampled) and synthetic nights at
32, 50, 100 and 200 Hz with and without a gyroscope, dropouts and disconnects. Inputs are
made once and cached as ``.npz`` (``--cache``, default ``bench/out/identical-inputs``); the
reference also holds a digest of each input's samples as the reference checkout's readers
gave them, so a reader that changes a sample is caught too.

Every case is analysed several ways (``--plans``), each compared with the reference's
one-call result: ``whole`` (one ``feed``), ``frames`` (BLE-frame-sized chunks of 10 (18
with a gyroscope) samples for the first ``--stream-s`` seconds, then 4,096-sample chunks,
then frames again for the last minute), ``random`` (chunks of 1-400 samples). Compared: every
output (early notices, retractions, final events, epochs, sleep onsets: all fields, as
their ``repr``, as a multiset), the analyzer's ``stats`` and ``input_stats``.
Exit status 1 on any difference, with the first differing outputs printed.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import itertools
import json
import os
import pathlib
import sys
import time
from collections import Counter
from multiprocessing import Pool
from typing import Any

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared" / "eval" / "dev"
CACHE = ROOT / "bench" / "out" / "identical-inputs"

PERTURB_FILES = ("dev01_myoclonus_onset", "dev02_parkinson_wake", "dev06_mixed_morning",
                 "dev09_myoclonus_onset", "dev11_myoclonus_onset")
PERTURB_VARIANTS = ("rot_noise", "gaps_rot", "rate200_rot", "rate50")
# (name, seed, rate, gyro, minutes, options)
SYNTH: tuple[tuple[str, int, float, bool, float, dict[str, Any]], ...] = (
    ("syn_mixed_100_gyro", 31, 100.0, True, 30, {"dropouts_per_min": 2.0,
                                                  "disconnects_per_h": 8.0}),
    ("syn_mixed_100", 32, 100.0, False, 30, {"dropouts_per_min": 1.0}),
    ("syn_mixed_200_gyro", 33, 200.0, True, 20, {"disconnects_per_h": 6.0}),
    ("syn_myoclonus_50", 34, 50.0, False, 30, {"dropouts_per_min": 1.0}),
    ("syn_parkinson_32", 35, 32.0, False, 30, {}),
    ("syn_essential_104_gyro", 36, 104.0, True, 20, {"dropouts_per_min": 0.5}),
    ("syn_mixed_night_100", 37, 100.0, True, 150, {"segment": "night"}),
)


def case_names() -> list[str]:
    dev = sorted(p.name[: -len(".csv.gz")] for p in DEV.glob("*.csv.gz"))
    pert = [f"{v}:{f}" for v in PERTURB_VARIANTS for f in PERTURB_FILES]
    return dev + pert + [s[0] for s in SYNTH]


# ---------------------------------------------------------------------------- inputs
def _read_csv(path: pathlib.Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    from twitchwatch.gateway.inputs.csvfile import iter_csv

    chunks = list(iter_csv(path))
    g = (np.concatenate([c.gyro_dps for c in chunks]) if chunks[0].gyro_dps is not None
         else None)
    return (np.concatenate([c.t_s for c in chunks]), np.concatenate([c.acc_g for c in chunks]),
            g)


def make_input(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    if ":" in name:
        sys.path.insert(0, str(ROOT / "bench"))
        from eval_perturbed import perturb  # type: ignore[import-not-found]

        variant, base = name.split(":")
        labels = json.loads((DEV / f"{base}.labels.json").read_text())
        t, a, _ = _read_csv(DEV / f"{base}.csv.gz")
        seed = 1000 + PERTURB_FILES.index(base) + 100 * PERTURB_VARIANTS.index(variant)
        t, a, _lab = perturb(t, a, labels, variant, seed)
        return t, a, None
    for s in SYNTH:
        if s[0] == name:
            from twitchwatch.gateway.synth import synth_night

            _, seed, rate, gyro, minutes, opts = s
            r = synth_night(seed=seed, duration_s=minutes * 60, rate_hz=rate,
                            profile=name.split("_")[1], gyro=gyro, **opts)
            return r.t, r.acc_g, r.gyro_dps
    return _read_csv(DEV / f"{name}.csv.gz")


def load_input(name: str, cache: pathlib.Path
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    path = cache / (name.replace(":", "__") + ".npz")
    if path.exists():
        z = np.load(path)
        return z["t"], z["a"], (z["g"] if "g" in z.files else None)
    t, a, g = make_input(name)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp.npz")
    if g is None:
        np.savez(tmp, t=t, a=a)
    else:
        np.savez(tmp, t=t, a=a, g=g)
    tmp.replace(path)
    return t, a, g


def digest(*arrays: np.ndarray | None) -> str:
    h = hashlib.sha256()
    for x in arrays:
        h.update(b"-" if x is None else np.ascontiguousarray(x).tobytes())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------- runs
def chunk_plan(plan: str, n: int, rate: float, gyro: bool, stream_s: float, seed: int
               ) -> list[tuple[int, int]]:
    if plan == "whole":
        return [(0, n)]
    if plan == "random":
        rng = np.random.default_rng(seed)
        sizes = rng.integers(1, 401, size=n // 100 + 10)
        edges = np.concatenate([[0], np.cumsum(sizes)])
        cuts = [*edges[edges < n].tolist(), n]
        return list(itertools.pairwise(cuts))
    if plan == "frames":
        f = 18 if gyro else 10
        head = min(n, int(stream_s * rate))
        tail0 = max(head, n - int(60 * rate))
        out = [(i, min(head, i + f)) for i in range(0, head, f)]
        out += [(i, min(tail0, i + 4096)) for i in range(head, tail0, 4096)]
        out += [(i, min(n, i + f)) for i in range(tail0, n, f)]
        return out
    raise ValueError(plan)


def run_plan(t: np.ndarray, a: np.ndarray, g: np.ndarray | None, plan: str,
             stream_s: float, seed: int) -> dict[str, Any]:
    from twitchwatch.dsp import Analyzer

    an = Analyzer()
    out: list[Any] = []
    rate = float(1.0 / np.median(np.diff(t[:2000])))
    c0 = time.process_time()
    for i, j in chunk_plan(plan, len(t), rate, g is not None, stream_s, seed):
        out += an.feed(t[i:j], a[i:j], None if g is None else g[i:j])
    out += an.finish()
    cpu = time.process_time() - c0
    return {"outputs": sorted(repr(o) for o in out), "stats": dict(an.stats),
            "input_stats": dict(an.input_stats), "cpu_s": round(cpu, 3)}


def one(job: tuple[str, str, str, float]) -> tuple[str, str, dict[str, Any], str]:
    name, plan, cache, stream_s = job
    t, a, g = load_input(name, pathlib.Path(cache))
    seed = int(hashlib.sha256(name.encode()).hexdigest()[:6], 16)
    res = run_plan(t, a, g, plan, stream_s, seed)
    return name, plan, res, digest(t, a, g)


def compare(ref: dict[str, Any], got: dict[str, Any]) -> list[str]:
    msgs = []
    for key in ("stats", "input_stats"):
        if ref[key] != got[key]:
            msgs.append(f"{key}: {ref[key]} != {got[key]}")
    if ref["outputs"] != got["outputs"]:
        a, b = Counter(ref["outputs"]), Counter(got["outputs"])
        only_ref = sorted((a - b).elements())
        only_got = sorted((b - a).elements())
        msgs.append(f"outputs: {len(only_ref)} only in the reference, {len(only_got)} only "
                    f"here (of {len(ref['outputs'])})")
        msgs += [f"  - {x}" for x in only_ref[:5]] + [f"  + {x}" for x in only_got[:5]]
    return msgs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=pathlib.Path,
                    help="import twitchwatch from this source tree (the reference checkout)")
    ap.add_argument("--write", type=pathlib.Path, help="write the reference here (whole runs)")
    ap.add_argument("--check", type=pathlib.Path, help="compare with this reference")
    ap.add_argument("--cases", default="all", help="comma-separated names or prefixes, or all")
    ap.add_argument("--plans", default="whole,frames,random")
    ap.add_argument("--stream-s", type=float, default=1200.0,
                    help="seconds streamed in BLE-frame-sized chunks in the frames plan")
    ap.add_argument("--cache", type=pathlib.Path, default=CACHE)
    ap.add_argument("-j", "--jobs", type=int, default=1)
    args = ap.parse_args()
    if args.root is not None:
        sys.path.insert(0, str(args.root.resolve()))
        os.environ["PYTHONPATH"] = str(args.root.resolve())  # for the pool's workers
    import twitchwatch

    print(f"twitchwatch from {pathlib.Path(twitchwatch.__file__).resolve().parent.parent}",
          flush=True)
    names = case_names()
    if args.cases != "all":
        want = args.cases.split(",")
        names = [n for n in names if any(n.startswith(w) or n == w for w in want)]
    if args.write is None and args.check is None:
        ap.error("--write or --check")
    plans = ["whole"] if args.write else args.plans.split(",")
    jobs = [(n, p, str(args.cache), args.stream_s) for n in names for p in plans]
    ref: dict[str, Any] = {}
    if args.check:
        with gzip.open(args.check, "rt") as f:
            ref = json.load(f)
    results: dict[str, Any] = {}
    bad = 0
    t0 = time.perf_counter()
    # inputs first (cached once, in this process: the perturbation imports scipy)
    for n in names:
        load_input(n, args.cache)
    with Pool(args.jobs) as pool:
        for name, plan, res, dig in pool.imap_unordered(one, jobs):
            if args.write:
                results[name] = {**res, "input": dig}
                print(f"{name:<40} {len(res['outputs']):6d} outputs  {res['cpu_s']:7.2f} s",
                      flush=True)
                continue
            r = ref.get(name)
            if r is None:
                print(f"{name:<40} {plan:<7} no reference")
                bad += 1
                continue
            msgs = compare(r, res)
            if r.get("input") != dig:
                msgs.insert(0, f"input samples differ from the reference's ({dig} != "
                               f"{r.get('input')})")
            status = "ok" if not msgs else "DIFFERENT"
            bad += bool(msgs)
            print(f"{name:<40} {plan:<7} {status:<9} {len(res['outputs']):6d} outputs  "
                  f"cpu {res['cpu_s']:7.2f} s (ref whole {r['cpu_s']:.2f} s)", flush=True)
            for m in msgs:
                print("    " + m)
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(args.write, "wt") as f:
            json.dump(results, f)
        print(f"wrote {args.write} ({len(results)} cases)")
    print(f"{len(jobs)} runs, {bad} different, {time.perf_counter() - t0:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
