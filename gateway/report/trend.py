"""Several nights of one band: counts per night and rates per hour of sleep, side by side."""

from __future__ import annotations

from html import escape
from typing import Any

from . import figures
from . import fmt as f
from .fmt import DASH
from .html import DISCLAIMER, page
from .night_model import CLASS_PLURAL, CLASSES, Night
from .summary import Summary, summarise


def trend_rows(nights: list[Night], sums: list[Summary] | None = None) -> list[dict[str, Any]]:
    sums = sums if sums is not None else [summarise(n) for n in nights]
    rows = []
    for n, s in sorted(zip(nights, sums, strict=True),
                       key=lambda p: (p[0].clock(p[0].start_s) is None,
                                      p[0].wall_ns(p[0].start_s) or 0, p[0].name)):
        d = f.night_date(n)
        rows.append({
            "label": d.strftime("%d %b") if d else n.name, "night": n, "summary": s,
            "counts": {k: s.counts[k].total for k in CLASSES},
            "per_h_sleep": {k: s.counts[k].per_h_sleep for k in CLASSES},
        })
    return rows


def render_trend(nights: list[Night], sums: list[Summary] | None = None,
                 version: str = "") -> str:
    rows = trend_rows(nights, sums)
    band = nights[0].band or nights[0].name
    svg = figures.render(figures.trend, "tr", rows)
    head = ["<th>Night</th><th class=n>In bed</th><th class=n>Sleep</th>"
            "<th class=n>Onset latency</th>"]
    for k in CLASSES:
        head.append(f"<th class=n>{escape(CLASS_PLURAL[k])}</th><th class=n>per h asleep</th>")
    body = []
    for r in rows:
        s: Summary = r["summary"]
        n: Night = r["night"]
        in_bed = f.duration(s.in_bed_s) if n.epochs else DASH
        cells = [f"<td>{escape(f.night_label(n))}<br><span class=muted>{escape(n.name)}"
                 f"</span></td>", f"<td class=n>{in_bed}</td>",
                 f"<td class=n>{f.duration(s.sleep_s)}</td>",
                 f"<td class=n>{f.duration(s.sol_s)}</td>"]
        for k in CLASSES:
            cells.append(f"<td class=n>{s.counts[k].total}</td>"
                         f"<td class=n>{f.number(s.counts[k].per_h_sleep)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    html = (f"<header><h1>Trend over {len(rows)} nights</h1><p class=sub>Band "
            f"<b>{escape(band)}</b></p><p class=disclaimer>{escape(DISCLAIMER)}</p></header>"
            f"<section><h2>Nights</h2><table><tr>{''.join(head)}</tr>{''.join(body)}</table>"
            f"<p class=muted>Per hour asleep: events that began while asleep, per hour of "
            f"estimated sleep. Each night has its own report.</p></section>"
            f"<section><h2>Night by night</h2><figure>{svg}</figure></section>"
            f"<footer>Made by twitchwatch {escape(version)}. {escape(DISCLAIMER)}</footer>")
    return page(f"Trend {band}", html)
