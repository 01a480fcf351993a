"""``twitchwatch analyze``: formats, outputs, bad files."""

from __future__ import annotations

import gzip
import json
import pathlib

import numpy as np
import pytest

from twitchwatch.gateway.cli import main
from twitchwatch.gateway.inputs.csvfile import CsvFormatError, iter_csv
from twitchwatch.gateway.synth import synth_night


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    d = tmp_path_factory.mktemp("rec")
    r = synth_night(seed=21, duration_s=600, rate_hz=100, profile="myoclonus", segment="wake")
    r.write_csv(d / "night.csv.gz")
    (d / "night.labels.json").write_text(json.dumps(r.labels))
    return d / "night.csv.gz"


def _csv(path: pathlib.Path, text: str) -> pathlib.Path:
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


def test_reader_round_trip(night: pathlib.Path) -> None:
    chunks = list(iter_csv(night, block_bytes=1 << 16))
    assert len(chunks) > 1
    t = np.concatenate([c.t_s for c in chunks])
    labels = json.loads(night.with_name("night.labels.json").read_text())
    assert len(t) == labels["n_samples"]
    assert chunks[0].first_line == 2
    assert chunks[1].first_line == 2 + len(chunks[0].t_s)
    assert all(c.gyro_dps is not None for c in chunks)


def test_jsonl_and_out(night: pathlib.Path, tmp_path: pathlib.Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "pred"
    assert main(["analyze", str(night), "--format", "jsonl", "--out", str(out_dir)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines, "expected events"
    for e in lines:
        assert {"type", "start", "end", "peak_g", "confidence"} <= set(e)
        assert e["file"] == str(night)
        if e["type"] == "tremor":
            assert "freq_hz" in e
    written = [json.loads(x) for x in (out_dir / "night.jsonl").read_text().splitlines()]
    assert [(e["type"], e["start"]) for e in written] == [(e["type"], e["start"]) for e in lines]
    # and they match the labels reasonably (the full accuracy lives in the dev test)
    labels = json.loads(night.with_name("night.labels.json").read_text())
    true = [e["start"] for e in labels["events"] if e["type"] != "tremor"]
    hits = sum(1 for s in true if any(abs(s - e["start"]) <= 0.5 for e in written))
    assert hits >= 0.8 * len(true)


def test_table(night: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(night)]) == 0
    out = capsys.readouterr().out
    assert "night.csv.gz" in out and "myoclonic_jerk" in out and "samples at 100.0 Hz" in out


def test_bad_files_name_file_and_line(night: pathlib.Path, tmp_path: pathlib.Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    cols = _csv(tmp_path / "cols.csv", "t,ax,ay\n0,0,0\n")
    word = _csv(tmp_path / "word.csv.gz", "t,ax,ay,az\n0.00,0,0,1\n0.01,0,x,1\n")
    back = _csv(tmp_path / "back.csv", "t,ax,ay,az\n0.00,0,0,1\n0.02,0,0,1\n0.01,0,0,1\n")
    short = _csv(tmp_path / "short.csv", "t,ax,ay,az\n0.00,0,0,1\n0.01,0,0\n")
    missing = tmp_path / "nope.csv"
    code = main(["analyze", str(cols), str(word), str(night), str(back), str(short),
                 str(missing), "--format", "jsonl", "--out", str(tmp_path / "o")])
    assert code == 1
    cap = capsys.readouterr()
    err = cap.err
    assert f"{cols}:1: missing column(s) az" in err
    assert f"{word}:3: ay is not a number" in err
    assert f"{back}:4: time goes backwards" in err
    assert f"{short}:3:" in err
    assert f"{missing}: no such file" in err
    # the good file in the middle was still analysed and written
    assert (tmp_path / "o" / "night.jsonl").is_file()
    assert not (tmp_path / "o" / "word.jsonl").exists()
    assert str(night) in cap.out


def test_reader_rejects_non_finite(tmp_path: pathlib.Path) -> None:
    bad = _csv(tmp_path / "nan.csv", "t,ax,ay,az\n0.00,0,0,1\n0.01,nan,0,1\n")
    with pytest.raises(CsvFormatError, match=r"nan.csv:3: ax is not a finite number"):
        list(iter_csv(bad))


async def test_twrec_live_replay_and_analyze_agree(tmp_path: pathlib.Path) -> None:
    """The same session through the live pipeline, packet by packet, and through
    ``analyze`` of its recording: the same final events."""
    from twitchwatch.gateway.commands.analyze import analyze_file
    from twitchwatch.gateway.pipeline import BandPipeline
    from twitchwatch.gateway.records import EventRecord
    from twitchwatch.gateway.sources.sim import SimBand
    from twitchwatch.gateway.store.recording import RecordingWriter

    path = tmp_path / "session.twrec"
    live = BandPipeline("sim-band")
    records = []
    async with SimBand(duration_s=600.0, speed=None, seed=3, profile="myoclonus") as band:
        with RecordingWriter(path) as w:
            async for p in band:
                w.write(p)
                records += live.push(p)
    records += live.finish()
    live_events = sorted((r.event.id, r.event.type, r.event.start) for r in records
                         if isinstance(r, EventRecord) and r.event.final)
    res = analyze_file(path)
    assert list(res) == ["sim-band"]
    offline = sorted((e["id"], e["type"], e["start"]) for e in res["sim-band"]["events"])
    assert live_events and live_events == offline
