"""Benchmark: a recorded night replayed through the whole gateway pipeline into the file
sinks, as fast as possible. Reports speed (x real time) and peak memory for several
recording lengths, to show that memory does not grow with the length.

    .venv/bin/python bench/bench_pipeline.py            # 1 h and 8 h, 100 Hz, accel + gyro
    .venv/bin/python bench/bench_pipeline.py --hours 1 8 24

Recordings are made once by the simulated band (firmware encoder, real frames) and kept
in bench/out/. Each replay runs in a fresh process (`twitchwatch replay`), so its peak
RSS is its own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import platform
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


async def _record(path: pathlib.Path, hours: float, seed: int) -> None:
    from twitchwatch.gateway.sources.sim import SimBand, SimOptions
    from twitchwatch.gateway.store.recording import RecordingWriter

    tmp = path.with_suffix(".part")
    tmp.unlink(missing_ok=True)
    async with SimBand(SimOptions(duration_s=hours * 3600, speed=None, seed=seed)) as band:
        with RecordingWriter(tmp) as w:
            async for p in band:
                w.write(p)
    tmp.rename(path)


def recording(hours: float, seed: int = 11) -> pathlib.Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"night-{hours:g}h-seed{seed}.twrec"
    if not path.exists():
        # In a child process: a big parent would inflate the replay children's peak RSS
        # (a forked child counts its parent's pages until it execs).
        print(f"making a {hours:g} h recording with the simulated band...", file=sys.stderr)
        subprocess.run([sys.executable, __file__, "--make", str(path), str(hours), str(seed)],
                       check=True)
    return path


def replay(path: pathlib.Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB, events) of one replay in a fresh process."""
    events = path.with_suffix(".bench.events.jsonl")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "twitchwatch", "replay", str(path), "--quiet",
                             "--events", str(events)], cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS, not all children's
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"replay failed with {proc.returncode}")
    peak_kib = usage.ru_maxrss
    # the events file also holds the sleep onsets: count the events alone
    n_events = sum('"sleep_onset"' not in ln for ln in events.read_text().splitlines())
    return wall, peak_kib / 1024, n_events


def cpu_model() -> str:
    try:
        text = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hours", type=float, nargs="+", default=[1.0, 8.0])
    ap.add_argument("--make", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make:
        asyncio.run(_record(pathlib.Path(args.make[0]), float(args.make[1]),
                            int(args.make[2])))
        return
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"command: {' '.join([pathlib.Path(sys.executable).name, *sys.argv])}\n")
    print("| recording | size | replay wall | x real time | peak RSS | final events |")
    print("|---|---|---|---|---|---|")
    for hours in sorted(args.hours):
        path = recording(hours)
        wall, rss, n = replay(path)
        size = path.stat().st_size / 2**20
        print(f"| {hours:g} h, 100 Hz, accel+gyro | {size:.0f} MiB | {wall:.1f} s | "
              f"{hours * 3600 / wall:,.0f}x | {rss:.0f} MiB | {n} |", flush=True)


if __name__ == "__main__":
    main()
