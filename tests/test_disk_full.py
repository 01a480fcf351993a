"""A full disk and an unwritable output directory, on real file systems (issue 11).

Each test mounts a small tmpfs of its own (root; skipped with the reason when mounting is
not permitted), fills it for real, and checks what stops (only what cannot go on: the
recording), what goes on (every other sink) and what is left on disk (no partial files).

Before: the gateway died with a double ENOSPC traceback and every sink stopped; a spool
on a full disk left stale ``.tmp`` files; an unwritable ``--out`` gave a traceback.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.fuzz_helpers import clean_stream
from tests.helpers import Collect
from twitchwatch.gateway.pipeline import Session
from twitchwatch.gateway.sinks.jsonl import JsonlEventSink
from twitchwatch.gateway.store.recording import ReadStats, RecordingWriter, read_recording
from twitchwatch.gateway.store.spool import Spool

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _mount_tmpfs(where: pathlib.Path, size: str, *opts: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join((f"size={size}", *opts)),
                        "tmpfs", str(where)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip()}")


@pytest.fixture
def small_fs(tmp_path: pathlib.Path) -> Iterator[pathlib.Path]:
    """A 256 KiB file system that the test fills for real."""
    where = tmp_path / "small"
    _mount_tmpfs(where, "256k")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(fs: pathlib.Path, leave: int = 0) -> None:
    """Fill the file system (``leave`` bytes free, roughly: to the 4 KiB page)."""
    fd = os.open(fs / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        with pytest.raises(OSError):
            while True:
                os.write(fd, b"\0" * 4096)
    finally:
        os.close(fd)
    if leave:
        os.truncate(fs / "filler", os.path.getsize(fs / "filler") - leave)


def test_a_recording_on_a_full_disk_stops_alone_and_stays_readable(small_fs, caplog):
    pk = clean_stream("b1")
    w = RecordingWriter(small_fs / "r.twrec", flush_s=0.0)
    with w:
        _fill(small_fs, leave=40 * 1024)  # room for a quarter of the stream
        for p in pk:
            w.write(p)  # never raises
    assert w.failed is not None and "space" in w.failed
    assert w.packets_not_recorded > 0
    st = ReadStats()
    got = list(read_recording(small_fs / "r.twrec", st))
    assert st.truncated_tail_bytes == 0 and st.corrupt_records == 0  # whole records only
    assert len(got) + w.packets_not_recorded == len(pk)
    assert len([r for r in caplog.records if "stopped" in r.getMessage()]) == 1


def test_a_spool_on_a_full_disk_leaves_no_tmp_file(small_fs):
    spool = Spool(small_fs / "spool")
    spool.open()
    lines = ["m,band=b v=1i " + str(i) for i in range(2_000)]
    with pytest.raises(OSError):
        for _ in range(100):
            spool.put(lines)
    assert not list((small_fs / "spool").glob("*.tmp"))
    assert len(spool) == len(list((small_fs / "spool").glob("*.lp")))  # every file whole
    for c in spool.oldest(10 ** 9):
        assert len(c.lines) == len(lines)


async def test_the_events_file_on_a_full_disk_loses_batches_not_the_session(small_fs):
    sink = JsonlEventSink(small_fs / "e.jsonl")
    _fill(small_fs)
    other = Collect()
    async with Session([sink, other], live=False) as s:
        async def src():
            for p in clean_stream("b1"):
                yield p
        await s.run(src())
    finals = [r for r in other.records if getattr(getattr(r, "event", None), "final", False)]
    assert len(finals) == 4  # the other sink got every event
    assert sink.records_lost == 4 and sink.written == 0
    assert s.sink_errors["events-file"] == 0
    assert (small_fs / "e.jsonl").read_bytes() == b""  # no half line


def _cli(*args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "twitchwatch", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.servers
def test_run_with_out_on_a_full_disk_keeps_influxdb_going(small_fs, tmp_path, influxdb):
    """``run --out`` on a disk that fills mid-night: one line says the recording stopped,
    no traceback, exit 0, and InfluxDB gets every final event of the night."""
    db = "diskfull"
    r = _cli("run", "--hours", "0.1", "--fast", "--seed", "5", "--out", str(small_fs),
             "--influx-url", influxdb.url, "--influx-db", db,
             "--influx-spool", str(tmp_path / "spool"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr + r.stdout
    assert len(re.findall(r"recording \S+ stopped: No space left on device", r.stderr)) == 1
    m = re.search(r"samples missing, \d+ frames rejected; (.*)", r.stdout)
    assert m, r.stdout
    decided = sum(int(n) for n, kind in re.findall(r"(\d+) (\w+)", m.group(1))
                  if kind != "sleep_onset")
    rows = influxdb.rows('SELECT count("event_id") FROM "event"', db)
    assert decided > 0 and rows and rows[0]["count"] == decided


def test_an_unwritable_out_is_one_line_at_start(tmp_path):
    (tmp_path / "file").write_text("x")
    r = _cli("run", "--hours", "0.01", "--fast", "--out", str(tmp_path / "file" / "d"),
             cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"twitchwatch run: output directory {tmp_path / 'file' / 'd'} (--out): cannot "
        "write there (Not a directory)"]
    ro = tmp_path / "ro"
    _mount_tmpfs(ro, "64k", "ro")
    try:
        r = _cli("run", "--hours", "0.01", "--fast", "--out", str(ro), cwd=tmp_path)
    finally:
        subprocess.run(["umount", "-l", str(ro)], check=False)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "cannot write there (Read-only file system)" in r.stderr


def test_session_survives_a_recorder_that_fails(small_fs):
    """The recorder and the pipeline in one session on a full disk: the session ends
    normally (before: ENOSPC out of Session.process, then again out of close())."""
    rec = RecordingWriter(small_fs / "s.twrec", flush_s=0.0)
    rec.__enter__()
    _fill(small_fs)

    async def go() -> Session:
        async with Session([], recorder=rec, live=False) as s:
            async def src():
                for p in clean_stream("b1"):
                    yield p
            await s.run(src())
        return s

    s = asyncio.run(go())
    rec.close()
    assert rec.failed and s.bands["b1"].ingest.counters.samples == 18_000
