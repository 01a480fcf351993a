"""Benchmark: raw samples to InfluxDB. Line formatting throughput (the raw sink's batch
shape: 250 blocks of 18 samples), then the 1 h recording of bench_pipeline.py replayed
into a throw-away influxd (bench/servers.py) with raw samples off and on.

    .venv/bin/python bench/bench_raw.py            # needs influxd (Debian: influxdb)
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_pipeline import recording  # noqa: E402
from bench.servers import InfluxServer, find_binary  # noqa: E402
from twitchwatch.gateway.records import RawSamplesRecord  # noqa: E402
from twitchwatch.gateway.store.lineproto_raw import raw_record_lines  # noqa: E402


def formatting(gyro: bool, batches: int = 40) -> str:
    rng = np.random.default_rng(0)
    per, blocks = 18, 250
    data = []
    for k in range(batches):
        batch = []
        for b in range(blocks):
            i0 = (k * blocks + b) * per
            t = 1_795_000_000_000_000_000 + (i0 + np.arange(per)) * 10_000_000
            acc = np.rint(rng.normal(0, 0.3, (per, 3)) * 4096) / 4096
            rot = np.rint(rng.normal(0, 30, (per, 3)) * 16.384) / 16.384 if gyro else None
            batch.append(RawSamplesRecord("sim-band", t, acc, rot))
        data.append(batch)
    t0 = time.perf_counter()
    lines = [ln for batch in data for ln in raw_record_lines(batch)]
    rate = len(lines) / (time.perf_counter() - t0)
    size = sum(len(ln) + 1 for ln in lines) / len(lines)
    return (f"| {'accel+gyro' if gyro else 'accel'} | {rate / 1e6:.2f} M lines/s | "
            f"{size:.0f} B | {2.88e6 / rate:.1f} s |")


def replay(server: InfluxServer, raw: bool, tmp: pathlib.Path) -> str:
    rec = recording(1.0)
    db = "raw_on" if raw else "raw_off"
    # INF: the recording may be older than a week, and expired samples are not sent.
    extra = ["--influx-raw", "--influx-raw-retention", "INF"] if raw else []
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "twitchwatch", "replay", str(rec), "--quiet",
                    "--events", str(tmp / f"{db}.jsonl"), "--influx-url", server.url,
                    "--influx-db", db, "--influx-spool", str(tmp / f"spool-{db}"), *extra],
                   check=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    n = server.rows('SELECT count(ax) FROM "twitchwatch_raw"."raw"', db) if raw else []
    return (f"| 1 h, raw {'on' if raw else 'off'} | {wall:.1f} s | {3600 / wall:,.0f}x | "
            f"{n[0]['count'] if n else 0:,} |")


def main() -> None:
    print("| channels | formatting | per line | 8 h night (2.88 M lines) |\n|---|---|---|---|")
    for gyro in (True, False):
        print(formatting(gyro), flush=True)
    binary = find_binary("influxd")
    if binary is None:
        raise SystemExit("influxd is not installed (apt-get install influxdb)")
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        server = InfluxServer(tmp / "influxd", binary)
        server.start()
        try:
            print("\n| replay into InfluxDB | wall | x real time | raw points |\n|---|---|---|---|")
            for raw in (False, True):
                print(replay(server, raw, tmp), flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
