"""The night report's numbers, against nights whose content is known."""

from __future__ import annotations

import gzip
import json
import re
import stat
from html.parser import HTMLParser

import numpy as np
import pytest

from tests.report_helpers import EXPECT, TZ, hand_night
from twitchwatch.gateway.report import LoadOptions, load, summarise, write_night, write_trends
from twitchwatch.gateway.report.fmt import DASH
from twitchwatch.gateway.report.html import render_night


class _Text(HTMLParser):
    """The page as a reader sees it: table rows as lists of cell texts, and all the text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.text: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._svg = 0
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("svg", "style", "title"):
            self._svg += 1
        elif tag == "script":
            self.scripts += 1
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("svg", "style", "title"):
            self._svg -= 1
        elif tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._svg:
            return
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def row(self, first: str) -> list[str]:
        found = [r for r in self.rows if r and r[0] == first]
        assert found, f"no table row {first!r} in {self.rows}"
        return found[0]

    @property
    def all_text(self) -> str:
        return " ".join("".join(self.text).split())


def _parse(html: str) -> _Text:
    p = _Text()
    p.feed(html)
    return p


def test_summary_numbers_of_the_hand_made_night():
    n = hand_night()
    s = summarise(n)
    for key in ("in_bed_s", "sleep_s", "wake_s", "unscored_s", "sol_s", "waso_s",
                "awakenings"):
        assert getattr(s, key) == EXPECT[key], key
    assert s.coverage == pytest.approx(EXPECT["coverage"])
    assert s.gaps == [(3600.0, 3660.0)]
    for kind, (total, wake, sleep, unscored) in EXPECT["counts"].items():
        c = s.counts[kind]
        assert (c.total, c.wake, c.sleep, c.unscored) == (total, wake, sleep, unscored), kind
        assert c.per_h_wake == pytest.approx(wake / (EXPECT["wake_s"] / 3600))
        assert c.per_h_sleep == pytest.approx(sleep / (EXPECT["sleep_s"] / 3600))
        assert c.per_h_all == pytest.approx(total / 2.0)
    assert s.cluster_sizes == EXPECT["clusters"] and s.jerks_single == EXPECT["single"]
    assert [[e.start_s for e in r.hypnic] for r in s.onsets] == [[1030.0], [5450.0]]
    assert [r.wake_before_s for r in s.onsets] == [940.0, 600.0]
    # clock hours of Europe/Berlin: 22:00, 23:00, 00:00 (the night starts at 22:30)
    assert list(s.hour_edges_s) == [-1800.0, 1800.0, 5400.0, 9000.0]
    for kind, per_hour in EXPECT["per_hour"].items():
        assert list(s.per_hour[kind]) == per_hour, kind


def test_the_page_shows_those_numbers_in_clinical_words():
    n = hand_night()
    page = _parse(render_night(n))
    assert page.scripts == 0
    text = page.all_text
    assert "night of Tue 24 Nov 2026" in text and "Europe/Berlin (CET, UTC+01:00)" in text
    assert page.row("Time in bed (recording)")[1] == f"2 h 00 min (22:30 {DASH} 00:30)"
    assert page.row("Estimated sleep time")[1] == "1 h 32 min (76.9 % of time in bed)"
    assert page.row("Sleep onset latency")[1] == "17 min (first sleep onset 22:46)"
    assert page.row("Wake after sleep onset")[1] == "10 min in 1 awakening"
    assert page.row("Data coverage")[1] == "99.2 % (1 gap)"
    # total, awake, per hour awake, asleep, per hour asleep, per hour in bed
    assert page.row("Myoclonic jerks")[1:] == ["9", "4", "9.4", "4", "2.6", "4.5"]
    assert page.row("Hypnic jerks (sleep starts)")[1:] == ["2", "0", "0.0", "2", "1.3", "1.0"]
    assert page.row("Tremor episodes")[1:] == ["2", "1", "2.3", "1", "0.6", "1.0"]
    assert "Clusters (myoclonic jerks less than 6 s apart): 2, holding 5 of 9 jerks" in text
    assert page.row("22:46")[1:] == ["0:16:40", "16 min", "1: 22:47 (1.40 g)"]
    assert page.row("00:00")[3] == "1: 00:00 (1.10 g)"  # the second onset, 5400 s in
    assert page.row("22:38:20")[2:] == ["30 s", "5.2 Hz", "20 mg",
                                        "rest (parkinsonian pattern)", "awake"]
    assert "not a medical device" in text
    for internal in (r"\bconf\b", "confidence", "myoclonic_jerk", "hypnic_jerk", r"\bid\b"):
        assert not re.search(internal, text), internal
    assert page.row("Radio packets lost")[1] == "5 of 1,005 (0.50 %)"


def test_several_figures_on_one_page_share_no_ids():
    html = render_night(hand_night())
    ids = re.findall(r'id="([^"]+)"', html)
    assert len(ids) > 20 and len(ids) == len(set(ids))
    refs = re.findall(r'url\(#([^)]+)\)', html) + re.findall(r'xlink:href="#([^"]+)"', html)
    assert refs and set(refs) <= set(ids)
    assert html.count("<svg") == 3  # the timeline, the hours, the distributions
    assert "http://" not in html.split("<svg", 1)[0]  # nothing fetched by the page itself


def test_events_file_report_says_what_it_cannot_show(tmp_path):
    path = tmp_path / "s.events.jsonl"
    lines = [
        {"band": "b", "type": "myoclonic_jerk", "id": "j1", "start": 100.0, "end": 100.1,
         "peak_g": 0.8, "confidence": 0.9, "final": True, "cluster": 1,
         "start_utc": "2026-11-24T21:31:40.000+00:00"},
        {"band": "b", "type": "myoclonic_jerk", "id": "j2", "start": 103.0, "end": 103.1,
         "peak_g": 0.6, "confidence": 0.9, "final": True, "cluster": 1,
         "start_utc": "2026-11-24T21:31:43.000+00:00"},
        {"band": "b", "type": "sleep_onset", "id": "s1", "start": 700.0, "confirmed": 820.0,
         "start_utc": "2026-11-24T21:41:40.000+00:00"},
        {"band": "b", "type": "hypnic_jerk", "id": "j3", "start": 760.0, "end": 760.2,
         "peak_g": 1.5, "confidence": 0.9, "final": True,
         "start_utc": "2026-11-24T21:42:40.000+00:00"},
        {"band": "b", "type": "tremor", "id": "t1", "start": 900.0, "end": 960.0,
         "peak_g": 0.03, "confidence": 0.9, "final": False,  # an early notice: not counted
         "start_utc": "2026-11-24T21:44:40.000+00:00"},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    nights = load(path, LoadOptions.make(TZ))
    assert len(nights) == 1
    n = nights[0]
    assert n.epochs is None and len(n.events) == 3 and len(n.onsets) == 1
    s = summarise(n)
    assert s.sleep_s is None and s.sol_s is None
    assert [[e.start_s for e in r.hypnic] for r in s.onsets] == [[760.0]]
    page = _parse(render_night(n))
    text = page.all_text
    assert "Made from the events file alone" in text
    assert "1 unreadable lines of s.events.jsonl were skipped" in text
    assert page.row("Myoclonic jerks")[1:] == ["2", *[DASH] * 5]
    assert page.row("22:41")[3] == "1: 22:42 (1.50 g)"  # clock time from start_utc, Berlin


def _synth_csv(path, seed=5):
    from twitchwatch.gateway.synth import synth_night

    r = synth_night(seed=seed, duration_s=1500, segment="onset", rate_hz=50.0, gyro=False)
    with gzip.open(path, "wt") as f:
        f.write("t,ax,ay,az\n")
        np.savetxt(f, np.column_stack([r.t, r.acc_g]), fmt="%.5f", delimiter=",")
    return r.labels


def test_samples_file_report_matches_the_analyzer_and_the_known_labels(tmp_path):
    from twitchwatch.gateway.commands.analyze import analyze_file

    path = tmp_path / "onset.csv.gz"
    labels = _synth_csv(path)
    [n] = load(path, LoadOptions.make(TZ, "2026-11-24T22:30:00"))
    # exactly the analyzer's events (the same streaming DSP)
    ref = analyze_file(path)[""]
    assert [(e.kind, e.start_s) for e in n.events] == [(e["type"], e["start"])
                                                       for e in ref["events"]]
    assert [o.start_s for o in n.onsets] == [o["start"] for o in ref["onsets"]]
    s = summarise(n)
    # against the generator's truth: one sleep onset, its latency, every jerk
    # (the labelled onset is a window: from the last movement to settled sleep)
    [true_onset] = labels["sleep_onsets"]
    assert true_onset["start"] <= n.start_s + s.sol_s <= true_onset["end"]
    true = {k: sum(e["type"] == k for e in labels["events"]) for k in
            ("myoclonic_jerk", "hypnic_jerk")}
    assert s.counts["myoclonic_jerk"].total == true["myoclonic_jerk"]
    assert s.counts["hypnic_jerk"].total == true["hypnic_jerk"]
    end = labels["duration_s"]
    assert end - true_onset["end"] <= s.sleep_s <= end - true_onset["start"]
    assert s.sleep_s + s.wake_s + s.unscored_s == len(n.epochs)  # every second, once
    wake_jerks = sum(1 for e in labels["events"] if e["start"] < true_onset["start"])
    assert s.counts["myoclonic_jerk"].wake == wake_jerks == 4
    # the sleep start belongs to the onset, though the brief arousal after it moved the
    # analyzer's onset (the end of the last movement) 7.5 s past it
    [row] = s.onsets
    assert [e.kind for e in row.hypnic] == ["hypnic_jerk"] and not s.hypnic_elsewhere
    assert n.clock(n.start_s).isoformat() == "2026-11-24T22:30:00+01:00"


def test_files_are_private_and_the_trend_page_covers_every_night(tmp_path):
    a, b = hand_night("a"), hand_night("b")
    b.events = b.events[:5]
    out = tmp_path / "reports" / "deeper"
    paths = write_night(a, out) + write_night(b, out) + write_trends([a, b], out)
    assert [p.name for p in paths] == ["a.html", "b.html", "trend-hand-band.html"]
    for p in paths:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE(out.parent.stat().st_mode) == 0o700
    trend = _parse(paths[2].read_text())
    rows = [r for r in trend.rows if r and r[0].startswith("night of")]
    assert len(rows) == 2
    assert [r[4] for r in rows] == ["9", "4"]  # myoclonic jerks per night (b: the first 5 events)
    assert not list(out.glob(".*tmp"))


def test_events_csv_of_the_hand_made_night(tmp_path):
    import csv

    from twitchwatch.gateway.export import write_events_csv

    path = write_events_csv(hand_night(), tmp_path / "x" / "hand.events.csv")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 13 + 2  # the events and the two onsets
    by_time = {float(r["elapsed_s"]): r for r in rows}
    assert by_time[30.0]["sleep_state"] == "not scored"
    assert by_time[200.0]["sleep_state"] == "awake" and by_time[200.0]["cluster"] == ""
    assert [by_time[t]["cluster"] for t in (300.0, 303.0, 2000.0, 2004.0, 2007.0)] == \
        ["1", "1", "2", "2", "2"]
    # the confirmation wait counts as sleep: 1030 s is before the analyzer was sure (1120 s)
    assert by_time[1030.0]["sleep_state"] == "asleep"
    assert by_time[1030.0]["class"] == "Hypnic jerk"
    assert by_time[1000.0]["class"] == "Sleep onset"
    assert by_time[500.0]["frequency_hz"] == "5.20" and by_time[500.0]["tremor_type"] == "rest"
    assert by_time[500.0]["clock_time"] == "2026-11-24 22:38:20.000"
    assert by_time[500.0]["utc_offset"] == "+01:00" and by_time[500.0]["elapsed"] == "0:08:20.000"
    assert by_time[4900.0]["sleep_state"] == "awake" and by_time[6000.0]["sleep_state"] == "asleep"


def test_edf_annotations_of_the_hand_made_night(tmp_path):
    import edfio

    from twitchwatch.gateway.export import write_edf

    path = write_edf(hand_night(), None, tmp_path / "hand.edf", patient_code="P 17")
    edf = edfio.read_edf(path)
    assert edf.local_patient_identification.startswith("P_17 X X X")
    assert (edf.startdate.isoformat(), edf.starttime.isoformat()) == ("2026-11-24", "22:30:00")
    ann = [(a.onset, a.duration, a.text) for a in edf.annotations]
    states = [a for a in ann if "actigraphy" in a[2] or "not scored" in a[2]]
    assert states == [(0.0, 60.0, "Sleep/wake not scored"), (60.0, 940.0, "Wake (actigraphy)"),
                      (1000.0, 3800.0, "Sleep (actigraphy)"),
                      (4800.0, 600.0, "Wake (actigraphy)"),
                      (5400.0, 1800.0, "Sleep (actigraphy)")]
    assert [a for a in ann if a[2] == "Sleep onset"] == [(1000.0, None, "Sleep onset"),
                                                        (5400.0, None, "Sleep onset")]
    assert (500.0, 30.0, "Tremor") in ann and (1030.0, 0.3, "Hypnic jerk") in ann
    assert [a for a in ann if a[2] == "Data missing"] == [(3600.0, 60.0, "Data missing")]
    assert sum(a[2] == "Myoclonic jerk" for a in ann) == 9


def test_help_does_not_load_matplotlib_and_a_missing_browser_is_one_line(tmp_path,
                                                                         monkeypatch):
    import subprocess
    import sys

    code = ("import sys; from twitchwatch.gateway.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('matplotlib', 'edfio') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       check=True)
    assert r.stdout.strip() == "[]"
    from twitchwatch.gateway.report import ReportError
    from twitchwatch.gateway.report.pdf import print_pdf

    monkeypatch.setenv("TWITCHWATCH_CHROMIUM", "no-such-browser-here")
    [html] = write_night(hand_night(), tmp_path)
    with pytest.raises(ReportError, match="apt-get install chromium"):
        print_pdf(html, tmp_path / "hand.pdf")
    assert not (tmp_path / "hand.pdf").exists()


def test_report_and_export_of_a_research_device_file(tmp_path):
    """An Axivity AX6 file (accelerometer and gyroscope, clock without a zone) becomes a
    report in clock time and an EDF+ with rotation channels, through the same readers as
    analyze."""
    from tests.test_inputs_devices import device
    from twitchwatch.gateway.cli import main

    cwa = device("skdh_ax6_sample.cwa")
    assert main(["report", str(cwa), "--out", str(tmp_path), "--tz", "Europe/Berlin"]) == 0
    page = _Text()
    page.feed((tmp_path / "skdh_ax6_sample.html").read_text())
    text = " ".join(page.text)
    assert "Axivity CWA" in text and "Europe/Berlin" in text
    assert main(["export", str(cwa), "--format", "edf", "--out", str(tmp_path)]) == 0
    import edfio

    edf = edfio.read_edf(tmp_path / "skdh_ax6_sample.edf")
    labels = [s.label for s in edf.signals]
    assert len(labels) == 6, labels  # three acceleration and three rotation channels
