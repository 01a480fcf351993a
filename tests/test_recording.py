"""Recordings: byte-exact round trip, crash-cut tails, damaged records."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from twitchwatch.gateway.errors import RecordingError
from twitchwatch.gateway.packets import Kind, Packet
from twitchwatch.gateway.store.recording import (
    FILE_MAGIC,
    ReadStats,
    RecordingWriter,
    read_recording,
)


def _packets(n: int) -> list[Packet]:
    out = []
    for i in range(n):
        band = f"band-{i % 3}"
        kind = (Kind.DATA, Kind.STATUS, Kind.LINK, Kind.META)[i % 4]
        out.append(Packet(band, kind, bytes([i % 256]) * (i % 300), 10**18 + i, 10**9 + i))
    return out


def test_round_trip_is_exact(tmp_path):
    path = tmp_path / "s.twrec"
    pk = _packets(500)
    with RecordingWriter(path) as w:
        for p in pk:
            w.write(p)
    st = ReadStats()
    assert list(read_recording(path, st)) == pk
    assert st.corrupt_records == 0 and st.truncated_tail_bytes == 0 and not st.warnings


def test_a_cut_recording_replays_up_to_its_last_complete_record(tmp_path):
    path = tmp_path / "s.twrec"
    pk = _packets(200)
    with RecordingWriter(path) as w:
        for p in pk:
            w.write(p)
    data = path.read_bytes()
    for cut in (len(data) - 1, len(data) - 7, len(data) // 2, len(FILE_MAGIC) + 3):
        cut_path = tmp_path / f"cut{cut}.twrec"
        cut_path.write_bytes(data[:cut])
        st = ReadStats()
        got = list(read_recording(cut_path, st))
        assert got == pk[:len(got)]
        assert st.truncated_tail_bytes > 0
        assert any("last complete record" in w for w in st.warnings)
        # Everything that was completely written is there, and nothing more.
        assert _size(tmp_path / f"a{cut}.twrec", got) <= cut
        assert cut < _size(tmp_path / f"b{cut}.twrec", pk[:len(got) + 1])


def _size(path, packets) -> int:
    with RecordingWriter(path) as w:
        for p in packets:
            w.write(p)
    return path.stat().st_size


def test_a_damaged_record_is_skipped_and_counted(tmp_path):
    path = tmp_path / "s.twrec"
    pk = _packets(100)
    with RecordingWriter(path) as w:
        for p in pk:
            w.write(p)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    st = ReadStats()
    got = list(read_recording(path, st))
    assert st.corrupt_records >= 1
    assert len(pk) - 3 <= len(got) < len(pk)
    assert got[0] == pk[0] and got[-1] == pk[-1]


def test_not_a_recording_is_refused_by_name(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(RecordingError, match=r"notes\.txt"):
        list(read_recording(path))
    with pytest.raises(RecordingError, match=r"missing\.twrec"):
        list(read_recording(tmp_path / "missing.twrec"))


def test_a_killed_writer_leaves_a_replayable_file(tmp_path):
    """SIGKILL mid-write, as a crash would: everything flushed before it replays."""
    path = tmp_path / "crash.twrec"
    script = textwrap.dedent(f"""
        import sys, time
        from twitchwatch.gateway.packets import Kind, Packet
        from twitchwatch.gateway.store.recording import RecordingWriter
        w = RecordingWriter({str(path)!r}, flush_s=0.0).__enter__()
        i = 0
        while True:
            w.write(Packet("b", Kind.DATA, bytes(200), i, i))
            i += 1
            if i == 2000:
                print("ready", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    time.sleep(0.05)
    proc.kill()
    proc.wait()
    st = ReadStats()
    got = list(read_recording(path, st))
    assert len(got) >= 2000
    assert [p.recv_wall_ns for p in got] == list(range(len(got)))
    assert st.corrupt_records == 0
    assert os.path.getsize(path) > 2000 * 200
