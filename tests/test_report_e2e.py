"""From a streamed night to the files a clinic opens: the run's own report, the report and
exports of its recording, EDF+ read back by edfio and MNE, CSV read back by csv, and the
page rendered and printed by headless Chromium."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import pathlib
import stat
import subprocess
import sys

import numpy as np
import pytest

from tests.report_helpers import TZ, chromium, console_lines, run_chromium
from tests.test_report import _parse
from twitchwatch.gateway.ingest.from_recording import iter_recording_samples
from twitchwatch.gateway.report import LoadOptions, load

pytestmark = pytest.mark.slow  # a streamed night, Chromium and MNE: about a minute


def _cli(*args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TZ": TZ}  # run's report uses the machine's zone
    return subprocess.run([sys.executable, "-m", "twitchwatch", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    """A short simulated night streamed by ``run``: its files, and its report."""
    root = tmp_path_factory.mktemp("night")
    r = _cli("run", "--hours", "0.25", "--fast", "--quiet", "--seed", "3", "--out", "data",
             cwd=root)
    assert r.returncode == 0, r.stderr
    [rec] = (root / "data").glob("*.twrec")
    stem = rec.name.removesuffix(".twrec")
    return {"root": root, "rec": rec, "events": rec.with_name(stem + ".events.jsonl"),
            "html": rec.with_name(stem + ".html"), "stdout": r.stdout}


def _tables(path: pathlib.Path) -> list[list[str]]:
    return _parse(path.read_text()).rows


def test_run_ends_with_the_report_of_its_night(night):
    assert f"report: data/{night['html'].name}" in night["stdout"]
    assert stat.S_IMODE(night["html"].stat().st_mode) == 0o600
    lines = [json.loads(x) for x in night["events"].read_text().splitlines()]
    onsets = [x for x in lines if x["type"] == "sleep_onset"]
    assert onsets and all(set(x) == {"band", "type", "id", "start", "confirmed", "start_utc"}
                          for x in onsets)
    assert stat.S_IMODE(night["events"].stat().st_mode) == 0o600
    # the same night from the recording, through the replay pipeline: the same tables
    r = _cli("report", str(night["rec"]), "--out", "again", "--tz", TZ, cwd=night["root"])
    assert r.returncode == 0, r.stderr
    again = night["root"] / "again" / night["html"].name
    assert _tables(again) == _tables(night["html"])
    [n] = load(night["rec"], LoadOptions.make(TZ))
    assert len(n.events) == len(lines) - len(onsets)
    assert [o.start_s for o in n.onsets] == [x["start"] for x in onsets]
    page = _parse(night["html"].read_text())
    total = sum(int(page.row(k)[1]) for k in ("Myoclonic jerks", "Hypnic jerks (sleep starts)",
                                             "Tremor episodes"))
    assert total == len(n.events) > 0


def test_edf_export_holds_the_samples_and_every_event(night):
    import edfio
    import mne

    r = _cli("export", str(night["rec"]), "--format", "edf", "--out", "edf", "--tz", TZ,
             cwd=night["root"])
    assert r.returncode == 0, r.stderr
    path = night["root"] / "edf" / night["rec"].name.replace(".twrec", ".edf")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    edf = edfio.read_edf(path)
    assert edf.reserved == "EDF+C" and edf.labels == (
        "Accel X", "Accel Y", "Accel Z", "Gyro X", "Gyro Y", "Gyro Z")
    assert edf.local_patient_identification == "X X X X"
    [n] = load(night["rec"], LoadOptions.make(TZ))
    # samples: each one at its place on the grid, within the 16-bit resolution
    t, acc, gyro = (np.concatenate(x) for x in zip(*[(tt, a, g) for _b, tt, a, g in
                                                       iter_recording_samples(night["rec"])],
                                                     strict=True))
    fs = edf.signals[0].sampling_frequency
    assert fs == 100.0
    idx = np.rint((t - t[0]) * fs).astype(int)
    for i, sig in enumerate(edf.signals[:6]):
        src = acc if i < 3 else gyro
        lo, hi = sig.physical_range
        step = (hi - lo) / 65535
        err = np.abs(sig.data[idx] - src[:, i % 3])
        assert err.max() <= step / 2 + 1e-6 * max(abs(lo), abs(hi)), sig.label
    # the start: the first sample's wall clock, local to the patient (Europe/Berlin)
    first = n.clock(float(t[0]))
    start = dt.datetime.combine(edf.startdate, edf.starttime)
    assert abs((start - first.replace(tzinfo=None)).total_seconds()) < 1e-3
    # every event, onset and sleep/wake period as an annotation at its sample
    ann = [(a.onset, a.duration, a.text) for a in edf.annotations]
    names = {"myoclonic_jerk": "Myoclonic jerk", "hypnic_jerk": "Hypnic jerk",
             "tremor": "Tremor"}
    for e in n.events:
        hits = [a for a in ann if a[2] == names[e.kind]
                and abs(a[0] - (e.start_s - t[0])) < 1e-3]
        assert len(hits) == 1, e
        assert hits[0][1] == pytest.approx(e.duration_s, abs=1e-3)
    assert sum(a[2] in names.values() for a in ann) == len(n.events)
    assert [a[0] for a in ann if a[2] == "Sleep onset"] == pytest.approx(
        [o.start_s - t[0] for o in n.onsets], abs=1e-3)
    states = [a for a in ann if a[2] in ("Sleep (actigraphy)", "Wake (actigraphy)",
                                         "Sleep/wake not scored")]
    assert any(a[2] == "Sleep (actigraphy)" for a in states)
    assert sum(a[1] for a in states) == pytest.approx(n.end_s - n.start_s, abs=2.0)
    # MNE reads the same file: channels, annotations, samples
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    assert raw.ch_names == list(edf.labels)
    assert sorted(raw.annotations.description) == sorted(a[2] for a in ann)
    assert np.allclose(raw.annotations.onset, sorted(a[0] for a in ann), atol=1e-3)
    assert np.allclose(raw.get_data()[0], edf.signals[0].data, atol=1e-6)


def test_csv_export_reads_back_with_the_csv_module(night):
    r = _cli("export", str(night["rec"]), "--format", "csv", "--out", "csv", "--tz", TZ,
             cwd=night["root"])
    assert r.returncode == 0, r.stderr
    path = night["root"] / "csv" / night["rec"].name.replace(".twrec", ".events.csv")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    [n] = load(night["rec"], LoadOptions.make(TZ))
    events = [x for x in rows if x["class"] != "Sleep onset"]
    assert len(events) == len(n.events) and len(rows) - len(events) == len(n.onsets)
    for x, e in zip(events, n.events, strict=True):
        assert float(x["peak_g"]) == pytest.approx(e.peak_g, abs=5e-5)
        assert float(x["elapsed_s"]) == pytest.approx(e.start_s - n.start_s, abs=5e-4)
        assert float(x["duration_s"]) == pytest.approx(e.duration_s, abs=5e-4)
        clock = dt.datetime.fromisoformat(f"{x['clock_time']}{x['utc_offset']}")
        assert abs(clock.timestamp() - e.wall_ns / 1e9) < 1e-3
        assert x["sleep_state"] in ("awake", "asleep", "not scored")
    clusters = [int(x["cluster"]) for x in events if x["cluster"]]
    assert sorted(set(clusters)) == list(range(1, len(set(clusters)) + 1))
    assert all(clusters.count(c) >= 2 for c in clusters)
    assert list(rows[0]) == ["clock_time", "utc_offset", "elapsed_s", "elapsed", "class",
                             "duration_s", "peak_g", "frequency_hz", "tremor_type",
                             "sleep_state", "cluster"]


def test_events_file_exports_as_annotation_only_edf(night):
    import edfio
    import mne

    r = _cli("export", str(night["events"]), "--format", "edf", "--out", "ev", cwd=night["root"])
    assert r.returncode == 0, r.stderr
    [path] = (night["root"] / "ev").glob("*.edf")
    edf = edfio.read_edf(path)
    assert edf.labels == () and edf.reserved == "EDF+C"
    lines = [json.loads(x) for x in night["events"].read_text().splitlines()]
    assert len(edf.annotations) == len(lines)
    assert len(mne.read_annotations(path)) == len(lines)


def _nonblank(png: pathlib.Path) -> tuple[float, float]:
    from PIL import Image

    g = np.asarray(Image.open(png).convert("L"), dtype=float)
    return float(g.std()), float(np.mean(g < 200))


def test_the_page_renders_in_chromium_without_console_messages(night, tmp_path):
    chromium()
    shot = tmp_path / "first-page.png"
    r = run_chromium([f"--screenshot={shot}", "--window-size=794,1123"], night["html"],
                     tmp_path / "profile")
    assert r.returncode == 0, r.stderr[-2000:]
    std, ink = _nonblank(shot)
    assert std > 20 and ink > 0.02, (std, ink)
    assert console_lines(r.stderr) == []
    # the check above can fail: a page that tries to fetch something is reported
    bad = tmp_path / "bad.html"
    bad.write_text(night["html"].read_text().replace(
        "</body>", '<img src="http://127.0.0.1:9/x.png"></body>'))
    r = run_chromium([f"--screenshot={tmp_path / 'bad.png'}"], bad, tmp_path / "profile2")
    assert any("Content Security Policy" in ln for ln in console_lines(r.stderr))


def test_the_pdf_is_a4_with_every_page_drawn(night, tmp_path):
    chromium()
    r = _cli("report", str(night["rec"]), str(night["events"]), "--out", str(tmp_path / "p"),
             "--tz", TZ, "--pdf", cwd=night["root"])
    assert r.returncode == 0, r.stderr
    pdfs = sorted((tmp_path / "p").glob("*.pdf"))
    assert len(pdfs) == 3  # two nights (events file, recording) and their trend page
    for pdf in pdfs:
        assert stat.S_IMODE(pdf.stat().st_mode) == 0o600
    pdf = next(p for p in pdfs if not p.name.startswith("trend") and "-2" not in p.name)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    assert "(A4)" in info.stdout
    pages = int(next(ln for ln in info.stdout.splitlines() if ln.startswith("Pages:")).split()[1])
    assert pages >= 2
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(pdf), str(tmp_path / "pg")], check=True)
    pngs = sorted(tmp_path.glob("pg-*.png"))
    assert len(pngs) == pages
    for png in pngs:
        std, ink = _nonblank(png)
        assert std > 5 and ink > 0.005, (png.name, std, ink)
