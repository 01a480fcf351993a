"""Benchmark of the DSP: offline analysis of a night and streaming cost and latency.

    .venv/bin/python bench/bench_analyze.py [FILE.csv.gz] [--hours 8] [--rate 100]

Without a file, a labelled synthetic night (twitchwatch.gateway.synth) is written to a temporary
directory first. It prints a table:

* offline: ``twitchwatch analyze FILE`` in a fresh process (wall time, peak RSS), and the
  parse + classify time inside one process after imports (parse alone too);
* streaming: CPU per band fed BLE-frame-sized chunks at the band's rate (percent of one
  core), and how late events leave the analyzer: a jerk's early notice after the jerk
  ends, a tremor's early notice after the episode starts (from the labels), the final
  myoclonic/hypnic decision after the jerk ends.

Not a test: numbers depend on the machine (docs/dsp.md records them with the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def write_night(path: pathlib.Path, hours: float, rate: float, seed: int = 11) -> dict:
    """A synthetic night as CSV.gz in the eval format (pyarrow writes it fast)."""
    import gzip

    import pyarrow as pa
    import pyarrow.csv as pcsv

    from twitchwatch.gateway.synth import iter_synth_night

    labels, chunks = iter_synth_night(seed=seed, duration_s=hours * 3600, rate_hz=rate,
                                      profile="mixed", gyro=False, chunk_s=600)
    with gzip.open(path, "wb", compresslevel=6) as f:
        first = True
        for t, a, _ in chunks:
            tb = pa.table({"t": np.round(t, 6), "ax": np.round(a[:, 0], 4),
                           "ay": np.round(a[:, 1], 4), "az": np.round(a[:, 2], 4)})
            buf = pa.BufferOutputStream()
            pcsv.write_csv(tb, buf, pcsv.WriteOptions(include_header=first))
            f.write(buf.getvalue().to_pybytes())
            first = False
    path.with_name(path.name.replace(".csv.gz", ".labels.json")).write_text(json.dumps(labels))
    return labels


def offline_subprocess(path: pathlib.Path) -> tuple[float, float]:
    """Wall time and peak RSS (MB) of ``twitchwatch analyze PATH`` in a fresh process."""
    out = tempfile.mkdtemp()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "twitchwatch", "analyze", str(path), "--out", out,
                    "--no-progress"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024.0


def import_time() -> float:
    """Seconds to import what analyze needs, in a fresh interpreter."""
    code = ("import time; t = time.perf_counter(); import twitchwatch.dsp, "
            "twitchwatch.gateway.inputs.csvfile, "
            "twitchwatch.gateway.commands.analyze, pyarrow.csv; print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT,
                         capture_output=True, text=True).stdout
    return float(out.strip())


def offline_inprocess(path: pathlib.Path, repeat: int = 3) -> tuple[float, float, float]:
    """(import s, best parse+classify s, best parse-only s) inside this process."""
    from twitchwatch.gateway.commands.analyze import analyze_file
    from twitchwatch.gateway.inputs.csvfile import iter_csv
    imports = import_time()
    best = best_parse = float("inf")
    for _ in range(repeat):
        t1 = time.perf_counter()
        analyze_file(path)
        best = min(best, time.perf_counter() - t1)
        t2 = time.perf_counter()
        for _c in iter_csv(path):
            pass
        best_parse = min(best_parse, time.perf_counter() - t2)
    return imports, best, best_parse


def streaming(hours: float, rate: float, frame: int) -> dict[str, float]:
    """Feed a synthetic night in frames of ``frame`` samples; CPU and latencies."""
    from twitchwatch.dsp import Analyzer, Event
    from twitchwatch.gateway.synth import synth_night

    r = synth_night(seed=5, duration_s=hours * 3600, rate_hz=rate, profile="mixed",
                    segment="onset" if hours < 2 else None, gyro=True)
    true_tremor = [e for e in r.labels["events"] if e["type"] == "tremor"]
    an = Analyzer()
    notice_at: dict[str, float] = {}  # id -> stream time of its early notice
    jerk_notice: list[float] = []
    jerk_final: list[float] = []
    tremor_notice: list[float] = []
    gyro = r.gyro_dps
    assert gyro is not None
    cpu = 0.0
    for i in range(0, len(r.t), frame):
        c0 = time.process_time()
        outs = an.feed(r.t[i:i + frame], r.acc_g[i:i + frame], gyro[i:i + frame])
        cpu += time.process_time() - c0
        now = float(r.t[min(len(r.t), i + frame) - 1])
        for o in outs:
            if not isinstance(o, Event):
                continue
            if not o.final:
                notice_at.setdefault(o.id, now)
                continue
            # latencies of events that stand (notices later retracted do not count)
            if o.type == "tremor":
                starts = [e["start"] for e in true_tremor
                          if min(e["end"], o.end) - max(e["start"], o.start) > 0]
                if starts and o.id in notice_at:
                    tremor_notice.append(notice_at[o.id] - min(starts))
            else:
                jerk_final.append(now - o.end)
                if o.id in notice_at:
                    jerk_notice.append(notice_at[o.id] - o.end)
    c0 = time.process_time()
    an.finish()
    cpu += time.process_time() - c0
    dur = float(r.t[-1] - r.t[0])

    def p(x: list[float], q: float) -> float:
        return float(np.percentile(x, q)) if x else float("nan")

    return {"cpu_pct": 100.0 * cpu / dur, "jerk_notice_p50": p(jerk_notice, 50),
            "jerk_notice_max": max(jerk_notice, default=float("nan")),
            "jerk_final_max": max(jerk_final, default=float("nan")),
            "tremor_notice_p50": p(tremor_notice, 50),
            "tremor_notice_max": max(tremor_notice, default=float("nan")),
            "n_jerks": len(jerk_notice), "n_tremor": len(tremor_notice)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", nargs="?", type=pathlib.Path, help="a CSV(.gz) night to analyze")
    ap.add_argument("--hours", type=float, default=8.0, help="synthetic night length")
    ap.add_argument("--rate", type=float, default=100.0, help="synthetic sample rate (Hz)")
    ap.add_argument("--frame", type=int, default=10, help="samples per streamed chunk")
    ap.add_argument("--stream-hours", type=float, default=1.0,
                    help="length of the streamed night for CPU and latency")
    args = ap.parse_args()
    tmp = None
    path = args.file
    if path is None:
        tmp = tempfile.TemporaryDirectory()
        path = pathlib.Path(tmp.name) / f"synthetic_{args.hours:g}h_{args.rate:g}hz.csv.gz"
        t0 = time.perf_counter()
        write_night(path, args.hours, args.rate)
        print(f"(wrote {path.name}: {os.path.getsize(path) / 1e6:.1f} MB in "
              f"{time.perf_counter() - t0:.1f} s)")
    wall, rss = offline_subprocess(path)
    imports, best, parse = offline_inprocess(path)
    st = streaming(args.stream_hours, args.rate, args.frame)
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, numpy {np.__version__}")
    print(f"file: {path.name} ({os.path.getsize(path) / 1e6:.1f} MB)")
    rows = [
        ("offline: twitchwatch analyze, wall (fresh process, imports incl.)", f"{wall:.2f} s"),
        ("offline: peak RSS of that process", f"{rss:.0f} MB"),
        ("offline: imports (numpy, dsp, pyarrow)", f"{imports:.2f} s"),
        ("offline: parse + classify, in process (best of 3)", f"{best:.2f} s"),
        ("offline: parse alone (pyarrow, best of 3)", f"{parse:.2f} s"),
        (f"streaming: CPU per band, {args.rate:g} Hz, {args.frame}-sample frames",
         f"{st['cpu_pct']:.3f} % of a core"),
        ("streaming: jerk early notice after the jerk ends (median / max)",
         f"{st['jerk_notice_p50']:.2f} / {st['jerk_notice_max']:.2f} s (n={st['n_jerks']})"),
        ("streaming: tremor notice after the episode starts (median / max)",
         f"{st['tremor_notice_p50']:.2f} / {st['tremor_notice_max']:.2f} s "
         f"(n={st['n_tremor']})"),
        ("streaming: final jerk/hypnic decision after the jerk ends (max)",
         f"{st['jerk_final_max']:.2f} s"),
    ]
    w = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"| {k:<{w}} | {v} |")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
