"""Benchmark: the first run (`scripts/run`'s default), analyze and replay of its recording,
and how fast a signal stops the gateway. Each in a fresh process, so its CPU time and peak
RSS are its own.

    .venv/bin/python bench/bench_first_run.py            # the default: 8 h at 960x
    .venv/bin/python bench/bench_first_run.py --hours 1

Reports wall time, CPU time (user + system, all threads) and peak RSS; the share of the
run's CPU spent inside ``Analyzer.feed``/``finish`` (the DSP; timed per thread, in a second
run as fast as possible); and the time from SIGTERM or SIGINT to exit, with a source that
is sending and with one that is quiet. The machine's load average is printed beside each
figure: on a shared machine it says as much as the figure.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import signal
import subprocess
import sys
import tempfile
import time

from fresh_process import load, run_cli

ROOT = pathlib.Path(__file__).resolve().parent.parent
TW = [sys.executable, "-m", "twitchwatch"]


def stop_latency(cmd: list[str], cwd: pathlib.Path, ready: pathlib.Path, sig: int) -> float:
    """Seconds from the signal to the process's exit, once an events file matching
    ``ready`` exists (the session runs, its signal handlers are in place)."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    while not list(ready.parent.glob(ready.name)):
        if proc.poll() is not None:
            raise SystemExit(f"{' '.join(cmd)} ended before the signal")
        time.sleep(0.02)
    time.sleep(1.0)  # well into streaming
    t = time.perf_counter()
    proc.send_signal(sig)
    proc.wait()
    return time.perf_counter() - t


def quiet_recording(path: pathlib.Path) -> None:
    """A minute of the simulated band, then one packet 31 years later: replayed at its own
    pace, the source sleeps after the first minute."""
    import asyncio

    from twitchwatch.gateway.packets import Kind, Packet
    from twitchwatch.gateway.sources.sim import SimBand, SimOptions
    from twitchwatch.gateway.store.recording import RecordingWriter

    async def minute() -> list[Packet]:
        async with SimBand(SimOptions(name="quiet", duration_s=60, speed=None)) as band:
            return [p async for p in band]

    packets = asyncio.run(minute())
    last = packets[-1]
    far = Packet(last.band, Kind.LINK, b'{"event": "disconnected"}',
                 last.recv_wall_ns + 10**18, last.recv_mono_ns + 10**18)
    with RecordingWriter(path) as w:
        for p in [*packets, far]:
            w.write(p)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hours", type=float, default=8.0)
    a = ap.parse_args()
    print(f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{load()}")
    with tempfile.TemporaryDirectory(prefix="firstrun-") as d:
        tmp = pathlib.Path(d)
        hours = ["--hours", f"{a.hours:g}"]
        m = run_cli(["run", *hours, "--out", "out"], tmp)
        print(f"run (default, {a.hours:g} h at 960x): {m.wall_s:.1f} s wall, {m.cpu_s:.1f} s "
              f"CPU, {m.peak_rss_mib:.0f} MiB peak; {load()}")
        rec = next((tmp / "out").glob("*.twrec"))
        m = run_cli(["run", *hours, "--fast", "--quiet", "--no-record", "--out", "fast"], tmp,
                    dsp_timed=True)
        print(f"run --fast: DSP {m.dsp_s:.2f} of {m.cpu_s:.2f} s CPU; {load()}")
        for name, args in (("analyze", ["analyze", str(rec), "--format", "jsonl"]),
                           ("replay", ["replay", str(rec), "--quiet"])):
            m = run_cli(args, tmp)
            print(f"{name} of its .twrec: {m.wall_s:.1f} s wall, {m.cpu_s:.1f} s CPU, "
                  f"{m.peak_rss_mib:.0f} MiB; {load()}")
        quiet = tmp / "quiet.twrec"
        quiet_recording(quiet)
        for name, sig in (("SIGTERM", signal.SIGTERM), ("Ctrl-C", signal.SIGINT)):
            busy = stop_latency([*TW, "run", "--out", f"stop-{sig}"], tmp,
                                tmp / f"stop-{sig}" / "*.events.jsonl", sig)
            ev = tmp / f"quiet-{sig}.events.jsonl"
            idle = stop_latency([*TW, "replay", str(quiet), "--speed", "1000", "--events",
                                 str(ev)], tmp, ev, sig)
            print(f"{name} to exit: {busy:.2f} s while streaming, {idle:.2f} s with a quiet "
                  f"source; {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
