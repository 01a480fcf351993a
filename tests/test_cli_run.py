"""The two user-facing commands end to end: run (simulated band) then replay."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from twitchwatch.gateway.codec import decode_frame
from twitchwatch.gateway.packets import Kind
from twitchwatch.gateway.sources.sim import SimBand, SimOptions


def _cli(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "twitchwatch", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


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


async def test_the_simulated_band_sends_the_synthetic_samples_exactly():
    async with SimBand(SimOptions(duration_s=120, speed=None, seed=5)) as band:
        packets = [p async for p in band]
        rec = band._rec
    frames = [decode_frame(p.payload) for p in packets if p.kind is Kind.DATA]
    raw = np.concatenate([f.raw for f in frames])
    want = np.clip(np.rint(np.asarray(rec.acc_g) * 4096), -32768, 32767)
    np.testing.assert_array_equal(raw[:, :3], want)
    seqs = [f.seq for f in frames]
    assert seqs == list(range(len(frames)))
    assert all(len(p.payload) <= 247 - 3 for p in packets if p.kind is Kind.DATA)
