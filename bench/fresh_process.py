"""One command in a fresh process, measured: what the first-run and recording benchmarks
share. The process's own CPU time and peak RSS come from ``wait4``, so neighbours on a
shared machine change the wall time only; the load average is printed beside a figure
because it says as much as the figure.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import time
from dataclasses import dataclass

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Run in the child: the CLI with Analyzer.feed/finish timed on the thread that calls them
# (thread time: the DSP alone, whatever else the process does on other threads).
_DSP_TIMED = """
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


@dataclass(frozen=True)
class Measured:
    wall_s: float
    cpu_s: float  # user + system, all threads
    peak_rss_mib: float
    dsp_s: float  # inside Analyzer.feed/finish (NaN unless dsp_timed)
    stderr: str


def load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def run_cli(args: list[str], cwd: pathlib.Path, *, dsp_timed: bool = False) -> Measured:
    """``twitchwatch ARGS`` of this checkout in a fresh process; exits on failure."""
    cmd = [sys.executable, "-c", _DSP_TIMED] if dsp_timed else [sys.executable, "-m",
                                                               "twitchwatch"]
    t0 = time.perf_counter()
    proc = subprocess.Popen([*cmd, *args], cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    err = proc.stderr.read() if proc.stderr else ""
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"twitchwatch {' '.join(args)} failed:\n{err[-2000:]}")
    m = re.search(r"^DSP ([0-9.]+)$", err, re.MULTILINE) if dsp_timed else None
    return Measured(wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024,
                    float(m.group(1)) if m else float("nan"), err)
