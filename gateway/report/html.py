"""The night report as one self-contained HTML page (no script, no network, A4 print).

The page's Content-Security-Policy forbids every fetch and every script, so what the
reader sees is exactly what the file holds, online or not.
"""

from __future__ import annotations

import datetime as dt
import statistics
from html import escape

from . import figures
from . import fmt as f
from .fmt import DASH
from .night_model import CLASS_PLURAL, CLASSES, STATE_NAME, TREMOR_TYPE_NAME, Night
from .summary import Summary, summarise

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
DISCLAIMER = ("twitchwatch is not a medical device. This report describes movements measured "
              "by a wrist band and classified automatically; it is not a diagnosis and does "
              "not replace a clinical assessment or a polysomnography.")

CSS = """
@page { size: A4; margin: 12mm 12mm 14mm 12mm; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font: 9.5pt/1.35 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #111;
       max-width: 186mm; margin: 0 auto; background: #fff; }
@media screen { body { padding: 12px 8px 40px; } }
h1 { font-size: 16pt; margin: 0 0 2px; }
h2 { font-size: 11pt; margin: 12px 0 5px; padding-bottom: 2px; border-bottom: 1px solid #888; }
h3 { font-size: 9.5pt; margin: 8px 0 3px; }
table.wide { width: 100%; }
p { margin: 3px 0; }
.sub { color: #333; }
.note { border: 1px solid #b35806; background: #fff7ec; padding: 4px 8px; margin: 6px 0;
        font-size: 8.5pt; }
.disclaimer { border: 1px solid #999; padding: 3px 8px; margin: 6px 0; font-size: 8pt;
              color: #333; }
table { border-collapse: collapse; font-size: 8.5pt; margin: 3px 0 6px; }
th, td { padding: 2px 7px 2px 0; text-align: left; vertical-align: top;
         border-bottom: 1px solid #ddd; }
th { font-weight: 600; border-bottom: 1px solid #888; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
table.kv th { font-weight: normal; color: #333; border-bottom: 1px solid #ddd; }
table.kv td { font-weight: 600; }
.cols { display: flex; gap: 14px; align-items: flex-start; flex-wrap: wrap; }
.cols > div { flex: 1 1 80mm; }
svg.fig { width: 100%; height: auto; display: block; }
figure { margin: 4px 0 8px; break-inside: avoid; }
section, table, .keep { break-inside: avoid; }
.page { break-before: page; }
.muted { color: #555; font-size: 8pt; }
footer { margin-top: 12px; color: #555; font-size: 7.5pt; border-top: 1px solid #ccc;
         padding-top: 4px; }
"""


def page(title: str, body: str) -> str:
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n"
            f"</body></html>\n")


def render_night(night: Night, s: Summary | None = None, version: str = "") -> str:
    s = s if s is not None else summarise(night)
    band = night.band or night.name
    head = (f"<header><h1>Night report</h1><p class=sub>Band <b>{escape(band)}</b> · "
            f"{escape(f.night_label(night))} · {escape(_span(night))}</p>"
            f'<p class=disclaimer>{escape(DISCLAIMER)}</p></header>')
    parts = [head, *_notes(night), _summary(night, s), _timeline(night, s),
             '<div class="page"></div>', _per_hour(night, s), _distributions(night),
             _tremor(night, s), _quality(night, s), _reading(night), _footer(night, version)]
    return page(f"Night report {band} {f.night_label(night)}", "\n".join(p for p in parts if p))


def _span(night: Night) -> str:
    a, b = night.clock(night.start_s), night.clock(night.end_s)
    if a is None or b is None:
        return f"{f.duration(night.span_s)} recorded; clock time unknown"
    end = b.strftime("%H:%M") if b.date() == a.date() else b.strftime("%a %H:%M")
    return f"{a.strftime('%a %d %b %H:%M')} {DASH} {end} ({night.tz_label()})"


def _notes(night: Night) -> list[str]:
    return [f"<p class=note>{escape(n)}</p>" for n in night.quality.notes]


def _kv(rows: list[tuple[str, str]]) -> str:
    return "<table class=kv>" + "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows) + "</table>"


def _summary(night: Night, s: Summary) -> str:
    motion = night.epochs is not None
    rows: list[tuple[str, str]] = []
    if motion:
        span = (f"{f.clock(night, night.start_s, False)} {DASH} "
                f"{f.clock(night, night.end_s, False)}")
        rows.append(("Time in bed (recording)", f"{f.duration(s.in_bed_s)} ({span})"))
        eff = f" ({f.percent(s.efficiency)} of time in bed)" if s.efficiency is not None else ""
        rows.append(("Estimated sleep time", f.duration(s.sleep_s) + eff))
        if s.sol_s is not None and s.first_sleep_s is not None:
            rows.append(("Sleep onset latency", f"{f.duration(s.sol_s)} (first sleep onset "
                                                f"{f.clock(night, s.first_sleep_s, False)})"))
        else:
            rows.append(("Sleep onset latency", "no sleep onset detected"))
        if s.waso_s is not None:
            rows.append(("Wake after sleep onset", "none" if not s.awakenings else
                         f"{f.duration(s.waso_s)} in {s.awakenings} awakening"
                         f"{'' if s.awakenings == 1 else 's'}"))
        rows.append(("Awake / not scored", f"{f.duration(s.wake_s)} / {f.duration(s.unscored_s)}"))
        rows.append(("Data coverage", f"{f.percent(s.coverage)}"
                                      f" ({len(s.gaps)} gap{'' if len(s.gaps) == 1 else 's'})"))
    else:
        rows.append(("Events from", f"{f.clock(night, night.start_s, False)} {DASH} "
                                    f"{f.clock(night, night.end_s, False)}"))
    rows.append(("Sleep onsets", str(len(night.onsets))))
    counts = ["<table class=wide><tr><th>Movement</th><th class=n>Total</th>"
              "<th class=n>Awake</th><th class=n>per hour awake</th>"
              "<th class=n>Asleep</th><th class=n>per hour asleep</th>"
              "<th class=n>per hour in bed</th></tr>"]
    for k in CLASSES:
        c = s.counts[k]
        wake = str(c.wake) if motion else DASH
        sleep = str(c.sleep) if motion else DASH
        counts.append(f"<tr><td>{escape(CLASS_PLURAL[k])}</td><td class=n>{c.total}</td>"
                      f"<td class=n>{wake}</td><td class=n>{f.number(c.per_h_wake)}</td>"
                      f"<td class=n>{sleep}</td><td class=n>{f.number(c.per_h_sleep)}</td>"
                      f"<td class=n>{f.number(c.per_h_all if motion else None)}</td></tr>")
    counts.append("</table>")
    unscored = sum(c.unscored for c in s.counts.values())
    extra = (f"<p class=muted>{unscored} event{'s' if unscored != 1 else ''} fell in seconds "
             f"not scored as sleep or wake (the first minutes, or around gaps).</p>"
             if motion and unscored else "")
    return ("<section><h2>Summary</h2><div class=cols><div>" + _kv(rows) + "</div><div>"
            + _clusters(s) + _onsets(night, s) + "</div></div>" + "".join(counts) + extra
            + "</section>")


def _clusters(s: Summary) -> str:
    sizes = s.cluster_sizes
    n_my = s.counts["myoclonic_jerk"].total
    if not n_my:
        return "<p>No myoclonic jerks.</p>"
    if not sizes:
        return f"<p>Clusters: none; all {n_my} myoclonic jerks came singly.</p>"
    in_clusters = sum(sizes)
    med = statistics.median(sizes)
    return (f"<p>Clusters (myoclonic jerks less than 6 s apart): <b>{len(sizes)}</b>, "
            f"holding {in_clusters} of {n_my} jerks; size {min(sizes)}{DASH}{max(sizes)} jerks "
            f"(median {med:g}). Single jerks: {s.jerks_single}.</p>")


def _onsets(night: Night, s: Summary) -> str:
    if not s.onsets and not s.hypnic_elsewhere:
        return ""
    rows = ["<h3>Sleep onsets and hypnic jerks</h3><table><tr>"
            "<th>Sleep onset</th><th class=n>Elapsed</th><th class=n>Awake before</th>"
            "<th>Hypnic jerks</th></tr>"]
    for r in s.onsets:
        hyp = ", ".join(f"{f.clock(night, e.start_s, False)} ({e.peak_g:.2f} g)"
                        for e in r.hypnic)
        rows.append(f"<tr><td>{f.clock(night, r.onset.start_s, False)}</td>"
                    f"<td class=n>{f.elapsed(r.onset.start_s - night.start_s)}</td>"
                    f"<td class=n>{f.duration(r.wake_before_s)}</td>"
                    f"<td>{len(r.hypnic)}{': ' + hyp if hyp else ''}</td></tr>")
    rows.append("</table>")
    if s.hypnic_elsewhere:
        rows.append(f"<p class=muted>{len(s.hypnic_elsewhere)} hypnic jerk(s) came without a "
                    f"detected sleep onset before them (at "
                    + ", ".join(f.clock(night, e.start_s) for e in s.hypnic_elsewhere)
                    + ").</p>")
    return "<div class=keep>" + "".join(rows) + "</div>"


def _timeline(night: Night, s: Summary) -> str:
    svg = figures.render(figures.timeline, "tl", night, s)
    return f"<section><h2>The night</h2><figure>{svg}</figure></section>"


def _per_hour(night: Night, s: Summary) -> str:
    if night.span_s <= 0:
        return ""
    svg = figures.render(figures.per_hour, "ph", night, s)
    return (f"<section><h2>Hour by hour</h2><figure>{svg}</figure><p class=muted>Counts per "
            f"clock hour; the first and last hours may be only partly recorded.</p></section>")


def _distributions(night: Night) -> str:
    import matplotlib

    with matplotlib.rc_context(figures.RC):
        fig = figures.distributions(night)
    if fig is None:
        return ""
    svg = figures.to_svg(fig, "ds")
    return (f"<section><h2>Strength and duration</h2><figure>{svg}</figure>"
            f"<p class=muted>Dashed line: the median. Strength is the peak acceleration of "
            f"the movement with gravity removed, in g (1 g = 9.81 m/s²).</p></section>")


def _tremor(night: Night, s: Summary) -> str:
    rows = [(e, st) for e, st in zip(night.events, s.event_state, strict=True)
            if e.kind == "tremor"]
    if not rows:
        return "<section><h2>Tremor episodes</h2><p>None detected.</p></section>"
    out = ["<section><h2>Tremor episodes</h2><table><tr><th>Start</th><th class=n>Elapsed</th>"
           "<th class=n>Duration</th><th class=n>Frequency</th><th class=n>Peak accel.</th>"
           "<th>Type hint</th><th>State</th></tr>"]
    for e, st in rows:
        freq = DASH if e.freq_hz is None else f"{e.freq_hz:.1f} Hz"
        hint = TREMOR_TYPE_NAME.get(e.tremor_type or "", e.tremor_type or DASH)
        state = STATE_NAME[st] if night.epochs is not None else DASH
        out.append(f"<tr><td>{f.clock(night, e.start_s)}</td>"
                   f"<td class=n>{f.elapsed(e.start_s - night.start_s)}</td>"
                   f"<td class=n>{f.duration(e.duration_s)}</td><td class=n>{freq}</td>"
                   f"<td class=n>{e.peak_g * 1000:.0f} mg</td><td>{escape(hint)}</td>"
                   f"<td>{state}</td></tr>")
    out.append("</table><p class=muted>The type hint comes from the frequency and the context "
               "(rest or movement); it is a hint for the clinician, not a diagnosis.</p>"
               "</section>")
    return "".join(out)


def _quality(night: Night, s: Summary) -> str:
    q = night.quality
    rows: list[tuple[str, str]] = []
    if q.rate_hz:
        rows.append(("Sample rate", f"{q.rate_hz:.1f} Hz"))
    if q.has_gyro is not None:
        rows.append(("Sensors", "accelerometer and gyroscope" if q.has_gyro
                     else "accelerometer"))
    if night.epochs is not None:
        rows.append(("Coverage", f"{f.percent(s.coverage)} of {f.duration(night.span_s)}"))
        if s.gaps:
            longest = max(b - a for a, b in s.gaps)
            total = f.duration(sum(b - a for a, b in s.gaps))
            rows.append(("Gaps in the data",
                         f"{len(s.gaps)}, {total} in all, longest {f.duration(longest)}"))
        else:
            rows.append(("Gaps in the data", "none"))
    if q.frames is not None:
        sent = q.frames + (q.frames_lost or 0)
        lost = q.frames_lost or 0
        rows.append(("Radio packets lost", f"{lost:,} of {sent:,} "
                                           f"({100.0 * lost / max(sent, 1):.2f} %)"))
    if q.samples_missing is not None:
        rows.append(("Samples never received", f"{q.samples_missing:,}"))
    if q.samples_late:
        rows.append(("Samples received too late to use", f"{q.samples_late:,}"))
    if q.rejected:
        rows.append(("Damaged packets rejected", f"{q.rejected:,}"))
    if q.reconnects is not None:
        rows.append(("Reconnections", str(q.reconnects)))
    if q.battery_first_pct is not None:
        rows.append(("Band battery", f"{q.battery_first_pct} % at the start, "
                                     f"{q.battery_last_pct} % at the end "
                                     f"(lowest {q.battery_min_pct} %)"))
    if q.rssi_dbm:
        med, lo, hi = q.rssi_dbm
        rows.append(("Radio signal (RSSI)", f"median {med} dBm ({lo} to {hi} dBm)"))
    if q.records_dropped:
        rows.append(("Lost on the way to this report", f"{q.records_dropped:,} records: "
                     "the report may be incomplete; make it again from the recording"))
    if not rows:
        return ""
    gaps = ""
    if s.gaps:
        items = ", ".join(f"{f.clock(night, a, False)} ({f.duration(b - a)})"
                          for a, b in sorted(s.gaps, key=lambda g: g[0] - g[1])[:8])
        more = f" and {len(s.gaps) - 8} more" if len(s.gaps) > 8 else ""
        gaps = f"<p class=muted>Longest gaps: {escape(items)}{more}.</p>"
    return f"<section><h2>Data quality</h2>{_kv(rows)}{gaps}</section>"


def _reading(night: Night) -> str:
    items = [
        "<b>Myoclonic jerks</b>: brief (tens to a few hundred ms), shock-like movements, "
        "single or in clusters.",
        "<b>Hypnic jerks (sleep starts)</b>: a single jerk while falling asleep; common and "
        "harmless. A jerk is called hypnic when it comes alone in the still minutes after the "
        "last movement of a wake period.",
        "<b>Tremor</b>: rhythmic oscillation (3&ndash;12 Hz) lasting seconds to minutes; frequency "
        "and peak acceleration as measured at the wrist.",
        "<b>Sleep and wake</b> are estimated from the stillness of the wrist (as in "
        "actigraphy): they are not sleep stages, and quiet wakefulness can look like sleep.",
        "<b>Sleep onset</b>: the end of the last movement before sleep, confirmed by two "
        "minutes of settled stillness. <b>Sleep onset latency</b>: from the start of the "
        "recording to the first sleep onset.",
    ]
    return ("<section><h2>How to read this report</h2><ul class=muted>"
            + "".join(f"<li>{i}</li>" for i in items) + "</ul></section>")


def _footer(night: Night, version: str) -> str:
    today = dt.date.today().isoformat()
    return (f"<footer>Made by twitchwatch {escape(version)} on {today} from "
            f"{escape(night.source)}. Times are clock times in "
            f"{escape(night.tz_label() if night.has_clock else 'elapsed time')}; elapsed "
            f"times count from the start of the recording. {escape(DISCLAIMER)}</footer>")
