"""Benchmark: the gateway's own small parts against the libraries that could replace them.

    .venv/bin/python bench/bench_libraries.py
    # the spool and backoff candidates are no dependencies: to compare them too,
    python3 -m venv /tmp/cand && /tmp/cand/bin/pip install numpy persist-queue diskcache \\
        tenacity && /tmp/cand/bin/python bench/bench_libraries.py

- line protocol: ``store/lineproto.py`` against influxdb-client's ``Point`` (already a
  dependency, for 2.x/3.x): import cost and time per per-second line;
- spool: ``store/spool.Spool`` against persist-queue's SQLiteAckQueue and a diskcache Deque
  (SQLite synchronous=FULL): put and read-back of 40 batches of 5,000 lines, fsync'd;
- backoff: tenacity's import cost.

The reasons drawn from these figures are in docs/benchmarks.md and next to each part.
"""

from __future__ import annotations

import importlib
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LINES = [f"motion,band=sim-1207 activity_g=0.0{i % 97},tremor_power=1.2e-05,sleep_state=1i,"
         f"coverage=1.0 {1764000000000 + i * 1000}" for i in range(5000)]
BATCHES = 40


def import_ms(module: str) -> float | None:
    code = f"import time; t = time.perf_counter(); import {module}; " \
           "print(time.perf_counter() - t)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    return 1000 * float(r.stdout) if r.returncode == 0 else None


def lineproto() -> None:
    from twitchwatch.dsp import Epoch
    from twitchwatch.gateway.records import EpochRecord
    from twitchwatch.gateway.store.lineproto import epoch_line

    n = 20_000
    recs = [EpochRecord("b1", Epoch(start=float(i), duration_s=1.0, activity_g=0.0123,
                                    tremor_power=1.2e-5, state="sleep", coverage=1.0),
                        1_764_000_000_000_000_000 + i * 10**9) for i in range(n)]
    t = time.perf_counter()
    for r in recs:
        epoch_line(r)
    ours = (time.perf_counter() - t) / n * 1e6
    print(f"line protocol, per-second line: ours {ours:.1f} us", end="")
    try:
        from influxdb_client.client.write.point import Point
        from influxdb_client.domain.write_precision import WritePrecision
    except ImportError:
        print()
        return
    t = time.perf_counter()
    for r in recs:
        ep = r.epoch
        (Point("motion").tag("band", r.band).field("activity_g", ep.activity_g)
         .field("tremor_power", ep.tremor_power).field("sleep_state", 1)
         .field("coverage", ep.coverage).time(r.start_ns // 10**6, WritePrecision.MS)
         .to_line_protocol())
    theirs = (time.perf_counter() - t) / n * 1e6
    print(f", influxdb-client Point {theirs:.1f} us; importing Point "
          f"{import_ms('influxdb_client.client.write.point'):.0f} ms, ours "
          f"{import_ms('twitchwatch.gateway.store.lineproto'):.0f} ms (with the DSP it "
          "imports for the record types)")


def _bench(name: str, put, drain) -> None:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    for _ in range(BATCHES):
        put(LINES)
    t1 = time.perf_counter()
    drain()
    t2 = time.perf_counter()
    print(f"  {name:<28} put {1000 * (t1 - t) / BATCHES:6.1f} ms/batch, read back and "
          f"remove {1000 * (t2 - t1) / BATCHES:6.1f} ms/batch")


def spool(base: pathlib.Path) -> None:
    from twitchwatch.gateway.store.spool import Spool

    print(f"spool, {BATCHES} batches of {len(LINES):,} lines, in {base}:")
    s = Spool(base / "ours")
    s.open()

    def drain_ours() -> None:
        while len(s):
            s.remove(s.oldest(5000))

    _bench("ours (file per batch, fsync)", lambda lines: s.put(lines, ""), drain_ours)
    if importlib.util.find_spec("persistqueue"):
        import persistqueue

        q = persistqueue.SQLiteAckQueue(str(base / "pq"), auto_commit=True,
                                        multithreading=False)

        def drain_pq() -> None:
            while q.size:
                q.ack(q.get(block=False))

        _bench("persist-queue SQLiteAckQueue", q.put, drain_pq)
    if importlib.util.find_spec("diskcache"):
        import diskcache

        d = diskcache.Deque.fromcache(diskcache.Cache(str(base / "dc"), sqlite_synchronous=2))

        def drain_dc() -> None:
            while len(d):
                d.popleft()

        _bench("diskcache Deque (FULL sync)", d.append, drain_dc)


def main() -> int:
    lineproto()
    # On the disk the gateway's output goes to, not a tmpfs: fsync must cost what it costs.
    base = pathlib.Path(tempfile.mkdtemp(prefix="spoolbench-", dir=ROOT / "bench"))
    try:
        spool(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if importlib.util.find_spec("tenacity"):
        print(f"backoff: importing tenacity {import_ms('tenacity'):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
