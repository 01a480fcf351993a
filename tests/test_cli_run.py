"""The two user-facing commands end to end: run (simulated band) then replay."""

from __future__ import annotations

import itertools
import json
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from twitchwatch.gateway.codec import decode_frame
from twitchwatch.gateway.packets import Kind
from twitchwatch.gateway.sources import sim
from twitchwatch.gateway.sources.sim import SimBand, SimOptions
from twitchwatch.gateway.synth import synth_night


def _cli(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "twitchwatch", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=900)


def test_run_records_and_replay_gives_the_same_events(tmp_path):
    r = _cli("run", "--hours", "0.15", "--fast", "--seed", "3", "--out", str(tmp_path / "d"),
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "samples/s" in r.stdout and "frames lost" in r.stdout
    recs = list((tmp_path / "d").glob("*.twrec"))
    assert len(recs) == 1
    live = recs[0].with_name(recs[0].name.replace(".twrec", ".events.jsonl"))
    labels = json.loads(recs[0].with_name(recs[0].name.replace(".twrec", ".labels.json"))
                        .read_text())
    assert "events" in labels
    r = _cli("replay", str(recs[0]), "--quiet", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    replayed = recs[0].with_name(recs[0].name.replace(".twrec", ".replay.events.jsonl"))
    assert replayed.read_text() == live.read_text()
    assert live.read_text().strip(), "a synthetic night with events gave none"

    # analyze of the same recording: the same events (it has no wall clock to add).
    r = _cli("analyze", str(recs[0]), "--format", "jsonl", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    keys = ("id", "type", "start", "end", "peak_g", "freq_hz")
    offline = [{k: e.get(k) for k in keys} for e in map(json.loads, r.stdout.splitlines())]
    lines = [json.loads(x) for x in live.read_text().splitlines()]
    online = [{k: e.get(k) for k in keys} for e in lines if e["type"] != "sleep_onset"]
    assert sorted(offline, key=lambda e: e["start"]) == sorted(online, key=lambda e: e["start"])


def test_replay_of_a_cut_recording_warns_and_still_works(tmp_path):
    r = _cli("run", "--hours", "0.05", "--fast", "--quiet", "--out", str(tmp_path), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rec = next(tmp_path.glob("*.twrec"))
    data = rec.read_bytes()
    rec.write_bytes(data[: len(data) - 5])
    r = _cli("replay", str(rec), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "last complete record" in r.stdout


def test_bad_input_is_a_message_not_a_traceback(tmp_path):
    (tmp_path / "x.twrec").write_text("not a recording")
    r = _cli("replay", str(tmp_path / "x.twrec"), cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "x.twrec" in r.stderr
    r = _cli("replay", str(tmp_path / "missing.twrec"), cwd=tmp_path)
    assert r.returncode == 2 and "no such file" in r.stderr
    (tmp_path / "c.toml").write_text("[mqtt]\nhots = 1\n")
    r = _cli("run", "--config", str(tmp_path / "c.toml"), cwd=tmp_path)
    assert r.returncode == 2 and "hots" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("chunk_s", [60.0, 600.0])
async def test_the_simulated_band_sends_the_synthetic_samples_exactly(monkeypatch, chunk_s):
    """Every synthetic sample once, in frames that never straddle a hole in the index,
    whatever the size of the chunks the night is synthesised in."""
    monkeypatch.setattr(sim, "SYNTH_CHUNK_S", chunk_s)
    async with SimBand(SimOptions(duration_s=1200, speed=None, seed=5)) as band:
        packets = [p async for p in band]
    rec = synth_night(seed=5, duration_s=1200)
    assert rec.labels["gaps"], "the night should have gaps to frame around"
    frames = [decode_frame(p.payload) for p in packets if p.kind is Kind.DATA]
    raw = np.concatenate([f.raw for f in frames])
    want = np.clip(np.rint(np.asarray(rec.acc_g) * 4096), -32768, 32767)
    np.testing.assert_array_equal(raw[:, :3], want)
    seqs = [f.seq for f in frames]
    assert seqs == list(range(len(frames)))
    assert all(len(p.payload) <= 247 - 3 for p in packets if p.kind is Kind.DATA)
    per_frame = 18  # MTU 247, accelerometer and gyroscope
    index = np.concatenate([f.first_index + np.arange(f.count) for f in frames])
    assert (np.diff(index) >= 1).all()
    for a, b in itertools.pairwise(frames):
        contiguous = b.first_index == a.first_index + a.count
        assert a.count == per_frame or not contiguous  # short frames only before a hole
    assert band.samples_sent == len(rec.t)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_signal_stops_a_run_whose_source_is_quiet(tmp_path, sig, record_property):
    """A recording whose last packet comes 31 years after the others, replayed at its own
    pace: the source sleeps. A signal still ends the process cleanly, with its summary."""
    from tests.helpers import data_packets, jerky_signal, link
    from twitchwatch.gateway.packets import Packet
    from twitchwatch.gateway.store.recording import RecordingWriter

    rec = tmp_path / "quiet.twrec"
    packets = [link("connected", 0, mtu=247), *data_packets(jerky_signal(60, jerks_at=(20,)))]
    last = packets[-1]
    far = Packet(last.band, Kind.LINK, b'{"event": "disconnected"}',
                 last.recv_wall_ns + 10**18, last.recv_mono_ns + 10**18)
    with RecordingWriter(rec) as w:
        for p in [*packets, far]:
            w.write(p)
    events = tmp_path / "quiet.events.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "twitchwatch", "replay", str(rec),
                             "--speed", "1000", "--events", str(events)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # The events file is opened once the session runs, i.e. after the signal handlers
        # are in place; the bound only turns a hang into a failure.
        deadline = time.monotonic() + 120
        while not events.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
            time.sleep(0.05)
        sent = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
        record_property("stop_s", round(time.monotonic() - sent, 3))
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    # a clean stop: the summary, and the recording read no further than the quiet gap
    replayed = int(re.search(r"replayed ([\d,]+) packets", out)[1].replace(",", ""))
    assert replayed <= len(packets)


def test_a_run_stopped_by_a_signal_exits_without_making_the_report(tmp_path):
    """The report (a second or two of plotting) would delay the stop: the run says how to
    make it instead, and the recording it names is there to make it from."""
    out_dir = tmp_path / "d"
    proc = subprocess.Popen([sys.executable, "-m", "twitchwatch", "run", "--out", str(out_dir)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 120  # only turns a hang into a failure
        while not list(out_dir.glob("*.events.jsonl")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert list(out_dir.glob("*.html")) == []
    rec = next(out_dir.glob("*.twrec"))
    assert f"stopped: make the night's report with 'twitchwatch report {rec} --out " \
           f"{out_dir}'" in out
