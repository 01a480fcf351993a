"""Benchmark: ``twitchwatch analyze`` and ``replay`` of a session recording (.twrec).

    .venv/bin/python bench/bench_recording.py                  # records scripts/run's 8 h night
    .venv/bin/python bench/bench_recording.py REC.twrec        # or measures this one
    .venv/bin/python bench/bench_recording.py --repeat 5 --hours 1

Without a recording, ``twitchwatch run --hours H --fast`` (the simulated band's synthetic
night, as ``scripts/run`` records it by default, but not paced) writes one to a temporary
directory first. Each command then runs ``--repeat`` times in a fresh process; printed:
the CPU time (user + system, from wait4) of the fastest run, the part of it spent inside
``Analyzer.feed``/``finish`` (the DSP, timed on its own thread in the child) and the rest
(interpreter and imports, reading the file, decoding, ingest, the pipeline, the sinks),
with the load average. On a shared machine the load says as much as the figure.

Not a test: the figures depend on the machine (docs/benchmarks.md records them).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import subprocess
import sys
import tempfile

from fresh_process import load, run_cli

ROOT = pathlib.Path(__file__).resolve().parent.parent

def measure(name: str, args: list[str], cwd: pathlib.Path, repeat: int) -> None:
    runs = [run_cli(args, cwd, dsp_timed=True) for _ in range(repeat)]
    best = min(runs, key=lambda r: r.cpu_s)
    wall, cpu, dsp = best.wall_s, best.cpu_s, best.dsp_s
    print(f"{name}: {cpu:.2f} s CPU (DSP {dsp:.2f}, the rest {cpu - dsp:.2f}), {wall:.2f} s "
          f"wall; fastest of {repeat}, CPU of all: "
          f"{', '.join(f'{r.cpu_s:.2f}' for r in runs)}; {load()}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("recording", nargs="?", type=pathlib.Path)
    ap.add_argument("--hours", type=float, default=8.0, help="night to record (default 8)")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    print(f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{load()}")
    with tempfile.TemporaryDirectory(prefix="bench-twrec-") as d:
        tmp = pathlib.Path(d)
        rec = a.recording.resolve() if a.recording else None
        if rec is None:
            subprocess.run([sys.executable, "-m", "twitchwatch", "run", "--hours",
                            f"{a.hours:g}", "--fast", "--quiet", "--out", "out"], cwd=tmp,
                           check=True, stdout=subprocess.DEVNULL,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
            rec = next((tmp / "out").glob("*.twrec"))
        print(f"recording: {rec.name}, {rec.stat().st_size / 2**20:.1f} MiB")
        measure("analyze", ["analyze", str(rec), "--format", "jsonl", "--no-progress"], tmp,
                a.repeat)
        measure("replay (as fast as possible)", ["replay", str(rec), "--quiet", "--events",
                                                 str(tmp / "replay.events.jsonl")], tmp,
                a.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
