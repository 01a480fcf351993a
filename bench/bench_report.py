"""Benchmark: the night report of an 8-hour night, after analysis (target: <= 3 s).

    .venv/bin/python bench/bench_report.py                    # 8 h, mixed night (seed 11)
    .venv/bin/python bench/bench_report.py --profile myoclonus --seed 4 --pdf

The recording is made once by the simulated band (as in bench_pipeline.py) and kept in
bench/out/. Each measurement runs in a fresh process, which first analyses the recording
(through the replay pipeline: not part of the target), then times the report: the summary,
the plots (matplotlib imported on first use: that import is part of what a user waits
for), the page written; then a second report in the same process (warm), the EDF+ and CSV
exports, and with --pdf the PDF printed by Chromium. Also: the cost of importing
matplotlib, and `twitchwatch --help`, which must not import it.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))


def child(path: pathlib.Path, out: pathlib.Path, pdf: bool) -> None:
    from twitchwatch.gateway.export import SampleStore, write_edf, write_events_csv
    from twitchwatch.gateway.report import LoadOptions, load, write_night

    opts = LoadOptions.make("Europe/Berlin")
    t0 = time.perf_counter()
    store = SampleStore()
    [night] = load(path, opts, store)
    t1, c1 = time.perf_counter(), time.process_time()
    write_night(night, out)
    t2, c2 = time.perf_counter(), time.process_time()
    write_night(night, out)
    t3, c3 = time.perf_counter(), time.process_time()
    write_edf(night, store.bands[night.band], out / f"{night.name}.edf")
    t4 = time.perf_counter()
    write_events_csv(night, out / f"{night.name}.events.csv")
    t5 = time.perf_counter()
    res = {"analysis_s": t1 - t0, "report_cold_s": t2 - t1, "report_warm_s": t3 - t2,
           "report_cold_cpu_s": c2 - c1, "report_warm_cpu_s": c3 - c2,
           "edf_s": t4 - t3, "csv_s": t5 - t4, "events": len(night.events),
           "html_kb": (out / f"{night.name}.html").stat().st_size / 1024,
           "edf_mb": (out / f"{night.name}.edf").stat().st_size / 2**20}
    if pdf:
        from twitchwatch.gateway.report.pdf import print_pdf

        t6 = time.perf_counter()
        print_pdf(out / f"{night.name}.html", out / f"{night.name}.pdf")
        res["pdf_s"] = time.perf_counter() - t6
    print(json.dumps(res))


def _wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--profile", default="mixed")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pdf", action="store_true")
    ap.add_argument("--child", nargs=2, metavar=("RECORDING", "OUT"))
    a = ap.parse_args()
    if a.child:
        child(pathlib.Path(a.child[0]), pathlib.Path(a.child[1]), a.pdf)
        return
    from bench_pipeline import recording

    if a.profile == "mixed":
        path = recording(a.hours, a.seed)
    else:
        path = ROOT / "bench" / "out" / f"night-{a.hours:g}h-{a.profile}-seed{a.seed}.twrec"
        if not path.exists():
            _make(path, a.hours, a.seed, a.profile)
    print(f"machine: {platform.processor() or platform.machine()}, Python "
          f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores; recording {path.name}")
    rows = []
    for _ in range(a.runs):
        with tempfile.TemporaryDirectory() as out:
            r = subprocess.run([sys.executable, __file__, "--child", str(path), out]
                               + (["--pdf"] if a.pdf else []),
                               check=True, capture_output=True, text=True, cwd=ROOT)
            rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
    imp = [_wall([sys.executable, "-c", "import matplotlib.figure, "
                  "matplotlib.backends.backend_svg"]) - _wall([sys.executable, "-c", "pass"])
           for _ in range(3)]
    helps = [_wall([str(ROOT / ".venv" / "bin" / "twitchwatch"), "--help"]) for _ in range(3)]
    print(f"events: {rows[0]['events']}; page {rows[0]['html_kb']:.0f} kB; "
          f"EDF {rows[0]['edf_mb']:.1f} MB")
    print("| measure | runs |\n|---|---|")
    for key, label in (("analysis_s", "analysis (replay pipeline), not in the target"),
                       ("report_cold_s", "report, fresh process (matplotlib import included)"),
                       ("report_cold_cpu_s", "the same, CPU time of the process"),
                       ("report_warm_s", "report, second in the same process"),
                       ("report_warm_cpu_s", "the same, CPU time"),
                       ("edf_s", "EDF+ export"), ("csv_s", "CSV export"), ("pdf_s", "PDF")):
        if key in rows[0]:
            print(f"| {label} | {', '.join(f'{r[key]:.2f} s' for r in rows)} |")
    print(f"| importing matplotlib (figure + SVG backend) | "
          f"{', '.join(f'{x:.2f} s' for x in imp)} |")
    print(f"| `twitchwatch --help` | {', '.join(f'{x:.2f} s' for x in helps)} |")


def _make(path: pathlib.Path, hours: float, seed: int, profile: str) -> None:
    import asyncio

    from twitchwatch.gateway.sources.sim import SimBand, SimOptions
    from twitchwatch.gateway.store.recording import RecordingWriter

    async def rec() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        async with SimBand(SimOptions(duration_s=hours * 3600, speed=None, seed=seed,
                                      profile=profile)) as band:
            with RecordingWriter(tmp) as w:
                async for p in band:
                    w.write(p)
        tmp.rename(path)

    print(f"making a {hours:g} h {profile} recording...", file=sys.stderr)
    asyncio.run(rec())


if __name__ == "__main__":
    main()
