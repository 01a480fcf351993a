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
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Run in the child: the CLI with Analyzer.feed/finish timed on the thread that calls them.
DSP_TIMED = """
import sys, time
from twitchwatch.dsp import Analyzer
spent = [0.0]
def timed(f):
    def wrap(*a, **k):
        t = time.thread_time()
        try:
            return f(*a, **k)
        finally:
            spent[0] += time.thread_time() - t
    return wrap
Analyzer.feed, Analyzer.finish = timed(Analyzer.feed), timed(Analyzer.finish)
from twitchwatch.gateway.cli import main
rc = main(sys.argv[1:])
print(f"DSP {spent[0]:.3f}", file=sys.stderr)
sys.exit(rc)
"""


def load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def child(args: list[str], cwd: pathlib.Path) -> tuple[float, float, float]:
    """(wall s, CPU s, DSP CPU s) of the CLI with ``args`` in a fresh process."""
    import time

    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", DSP_TIMED, *args], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    err = proc.stderr.read() if proc.stderr else ""
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"twitchwatch {' '.join(args)} failed:\n{err[-2000:]}")
    m = re.search(r"DSP ([0-9.]+)", err)
    return wall, ru.ru_utime + ru.ru_stime, float(m.group(1)) if m else float("nan")


def measure(name: str, args: list[str], cwd: pathlib.Path, repeat: int) -> None:
    runs = [child(args, cwd) for _ in range(repeat)]
    wall, cpu, dsp = min(runs, key=lambda r: r[1])
    print(f"{name}: {cpu:.2f} s CPU (DSP {dsp:.2f}, the rest {cpu - dsp:.2f}), {wall:.2f} s "
          f"wall; fastest of {repeat}, CPU of all: "
          f"{', '.join(f'{r[1]:.2f}' for r in runs)}; {load()}")


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
