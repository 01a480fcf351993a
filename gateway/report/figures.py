"""The report's plots: matplotlib figures rendered by its own SVG backend, inlined.

No pyplot (no GUI backend, no global state): each figure is a ``Figure`` with an SVG
canvas. Text stays text (``svg.fonttype: none``: small, selectable, printed sharp), and the
ids of each figure get a prefix so that several SVGs can share one HTML page. The output is
byte-identical for the same night (fixed hash salt, no date).
"""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np

from .fmt import DASH
from .night_model import CLASS_NAME, CLASSES, SLEEP, UNKNOWN, WAKE, Night, state_runs
from .summary import Summary, sleep_states

# Okabe-Ito colours: told apart with every common colour-vision deficiency, and in grey.
COLOR = {"myoclonic_jerk": "#D55E00", "hypnic_jerk": "#0072B2", "tremor": "#CC79A7"}
STATE_COLOR = {SLEEP: "#9ecae1", WAKE: "#fdd49e", UNKNOWN: "#e0e0e0"}
STATE_LABEL = {SLEEP: "Asleep", WAKE: "Awake", UNKNOWN: "Not scored"}
GAP_COLOR = "#7f7f7f"
ONSET_COLOR = "#08519c"
WIDTH_IN = 7.2  # the A4 text width at 12 mm margins, so figures print at 1:1

RC: Any = {"svg.fonttype": "none", "font.size": 7.5, "font.family": "sans-serif",
      "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
      "axes.spines.top": False, "axes.spines.right": False, "axes.titlesize": 8.5,
      "axes.titleweight": "bold", "axes.titlelocation": "left", "legend.frameon": False,
      "svg.image_inline": True, "path.simplify": True}


def _figure(h_in: float, top_in: float = 0.25, bottom_in: float = 0.45,
            left_in: float = 0.6, right_in: float = 0.12, hspace_in: float = 0.45,
            wspace: float = 0.25) -> Any:
    """A figure with margins in inches. Fixed margins, not the constrained layout engine:
    that one draws every figure twice (its layout pass was half of a report's time)."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, h_in))
    FigureCanvasSVG(fig)
    fig.subplotpars.update(left=left_in / WIDTH_IN, right=1 - right_in / WIDTH_IN,
                           top=1 - top_in / h_in, bottom=bottom_in / h_in, wspace=wspace,
                           hspace=hspace_in / h_in * 3)
    return fig


def to_svg(fig: Any, prefix: str) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({**RC, "svg.hashsalt": prefix}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    # unique ids per figure: only references inside the same SVG use them
    svg = re.sub(r'id="([^"]+)"', rf'id="{prefix}-\1"', svg)
    svg = re.sub(r'url\(#([^)]+)\)', rf'url(#{prefix}-\1)', svg)
    svg = re.sub(r'xlink:href="#([^"]+)"', rf'xlink:href="#{prefix}-\1"', svg)
    svg = re.sub(r'<svg([^>]*?) width="[^"]+" height="[^"]+"',
                 r'<svg\1 class="fig" role="img"', svg, count=1)
    return svg


def render(fn: Any, prefix: str, *args: Any) -> str:
    import matplotlib

    with matplotlib.rc_context(RC):
        fig = fn(*args)
    return to_svg(fig, prefix)


def _hours(night: Night, t: Any) -> Any:
    return (np.asarray(t, dtype=float) - night.start_s) / 3600.0


def _time_axis(ax: Any, night: Night, s: Summary) -> None:
    span_h = max(night.span_s / 3600.0, 1e-3)
    ax.set_xlim(0, span_h)
    edges = _hours(night, s.hour_edges_s)
    step = 1 if span_h <= 12 else 2
    ticks = [x for x in edges[::step] if -1e-9 <= x <= span_h + 1e-9]
    if night.has_clock:
        labels = []
        for x in ticks:
            c = night.clock(night.start_s + x * 3600.0)
            labels.append(c.strftime("%H:%M") if c else "")
        ax.set_xlabel(f"Clock time, {night.tz_label()}")
    else:
        labels = [f"{x:.0f} h" for x in ticks]
        ax.set_xlabel("Time since the start of the recording")
    if span_h < 1.5:  # a short recording: quarter hours
        ticks = list(np.arange(0, span_h + 1e-9, 0.25))
        labels = [_elapsed_or_clock(night, x) for x in ticks]
    ax.set_xticks(ticks, labels)


def _elapsed_or_clock(night: Night, h: float) -> str:
    c = night.clock(night.start_s + h * 3600.0)
    if c is not None:
        return c.strftime("%H:%M")
    return f"{int(h)}:{round(h * 60) % 60:02d}"


def timeline(night: Night, s: Summary) -> Any:
    fig = _figure(3.0, bottom_in=0.78)
    top, ax = fig.subplots(2, 1, sharex=True, height_ratios=[1, 4],
                           gridspec_kw={"hspace": 0.35})
    states = sleep_states(night)
    ep = night.epochs
    if ep is not None and states is not None:
        for code in (SLEEP, WAKE, UNKNOWN):
            spans = [(_hours(night, a), (b - a) / 3600.0)
                     for a, b, st in state_runs(ep.t_s, states) if st == code]
            if spans:
                top.broken_barh(spans, (0, 1), color=STATE_COLOR[code], label=STATE_LABEL[code])
    for a, b in s.gaps:
        for axis in (top, ax):
            axis.axvspan(_hours(night, a), _hours(night, b), color=GAP_COLOR, alpha=0.35,
                         lw=0, label="No data" if axis is top and (a, b) == s.gaps[0] else None)
    if night.onsets:
        xs = _hours(night, [o.start_s for o in night.onsets])
        top.plot(xs, np.full(len(xs), 0.5), "v", color=ONSET_COLOR, ms=5, label="Sleep onset")
        for x in xs:
            ax.axvline(x, color=ONSET_COLOR, lw=0.6, ls=":", zorder=0)
    top.set_ylim(0, 1)
    top.set_yticks([])
    top.spines["left"].set_visible(False)
    top.set_title("Sleep and wake" if ep is not None else "Sleep onsets")
    ymax = 1.0
    for kind in ("myoclonic_jerk", "hypnic_jerk"):
        ev = [e for e in night.events if e.kind == kind]
        if ev:
            x = _hours(night, [e.start_s for e in ev])
            y = np.array([e.peak_g for e in ev])
            ymax = max(ymax, float(y.max()) * 1.1)
            ax.vlines(x, 0, y, color=COLOR[kind], lw=0.9, label=CLASS_NAME[kind])
            ax.plot(x, y, "o", color=COLOR[kind], ms=2.2)
    first_tremor = True
    for e in night.events:
        if e.kind == "tremor":
            ax.axvspan(_hours(night, e.start_s), _hours(night, e.end_s),
                       color=COLOR["tremor"], alpha=0.45, lw=0,
                       label="Tremor episode" if first_tremor else None)
            first_tremor = False
    ax.set_ylim(0, ymax)
    ax.set_ylabel("Jerk strength (peak g)")
    ax.set_title("Jerks (height: strength) and tremor episodes")
    _time_axis(ax, night, s)
    handles, labels = [], []
    for a in (top, ax):
        h, lab = a.get_legend_handles_labels()
        handles += h
        labels += lab
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.0),
               ncols=min(len(labels), 8), fontsize=7, handlelength=1.2, columnspacing=1.0)
    return fig


def per_hour(night: Night, s: Summary) -> Any:
    fig = _figure(1.9, top_in=0.3)
    ax = fig.subplots()
    edges = _hours(night, s.hour_edges_s)
    if len(edges) > 1:
        left, width = edges[:-1], np.diff(edges) * 0.85
        bottom = np.zeros(len(left))
        for kind in ("myoclonic_jerk", "hypnic_jerk"):
            n = s.per_hour[kind]
            ax.bar(left, n, width=width, bottom=bottom, align="edge", color=COLOR[kind],
                   label=CLASS_NAME[kind])
            bottom = bottom + n
        ax.set_xlim(edges[0], edges[-1])
        ticks = edges[:-1] + np.diff(edges) / 2
        labels = []
        for a in edges[:-1]:
            c = night.clock(night.start_s + a * 3600.0)
            b = night.clock(night.start_s + a * 3600.0 + 3600.0)
            labels.append(f"{c:%H}{DASH}{b:%H}" if c and b else f"{a:.0f}{DASH}{a + 1:.0f} h")
        ax.set_xticks(ticks, labels)
        ax.set_xlabel(f"Hour of the night ({night.tz_label()})" if night.has_clock
                      else "Hour since the start of the recording")
        top = int(bottom.max()) if len(bottom) else 0
        ax.set_ylim(0, max(top * 1.15, 1))
        ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("Jerks")
    ax.set_title("Jerks per hour of the night")
    fig.legend(loc="upper right", fontsize=7, ncols=2)
    return fig


def distributions(night: Night) -> Any | None:
    kinds = [k for k in CLASSES if any(e.kind == k for e in night.events)]
    if not kinds:
        return None
    h = 0.25 + 1.35 * len(kinds)
    fig = _figure(h, bottom_in=0.4, wspace=0.2)
    fig.subplots_adjust(hspace=0.55 / 1.0 * (3 if len(kinds) > 1 else 1) / 3 * 1.8)
    axes = np.atleast_2d(fig.subplots(len(kinds), 2, squeeze=False))
    for row, kind in zip(axes, kinds, strict=True):
        ev = [e for e in night.events if e.kind == kind]
        if kind == "tremor":
            amp = np.array([e.peak_g * 1000.0 for e in ev])
            dur = np.array([e.duration_s for e in ev])
            _hist(row[0], amp, COLOR[kind], "Peak acceleration (mg)", log=True)
            _hist(row[1], dur, COLOR[kind], "Duration (s)", log=True)
        else:
            _hist(row[0], np.array([e.peak_g for e in ev]), COLOR[kind], "Strength (peak g)",
                  log=True)
            _hist(row[1], np.array([e.duration_s * 1000.0 for e in ev]), COLOR[kind],
                  "Duration (ms)", log=False)
        row[0].set_title(f"{CLASS_NAME[kind]}: strength (n = {len(ev)})")
        row[1].set_title(f"{CLASS_NAME[kind]}: duration")
    return fig


def _hist(ax: Any, x: np.ndarray, color: str, label: str, log: bool) -> None:
    x = x[np.isfinite(x) & (x > 0)] if log else x[np.isfinite(x)]
    if len(x) == 0:
        return
    lo, hi = float(x.min()), float(x.max())
    if hi <= lo:
        lo, hi = lo * 0.8 if lo > 0 else lo - 1, hi * 1.25 if hi > 0 else hi + 1
    n_bins = int(np.clip(np.sqrt(len(x)) * 2, 5, 30))
    bins = np.geomspace(lo, hi, n_bins + 1) if log else np.linspace(lo, hi, n_bins + 1)
    # one filled outline per histogram, not one rectangle per bin: a fraction of the cost
    ax.hist(x, bins=bins, color=color, alpha=0.85, histtype="stepfilled", linewidth=0)
    if log:
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.xaxis.set_minor_locator(NullLocator())
    med = float(np.median(x))
    ax.axvline(med, color="black", lw=0.8, ls="--")
    ax.annotate(f"median {med:.3g}", (med, 1.0), xycoords=("data", "axes fraction"),
                xytext=(3, -8), textcoords="offset points", fontsize=6.5)
    ax.set_xlabel(label)
    ax.set_ylabel("Count")
    ax.yaxis.get_major_locator().set_params(integer=True)


def trend(rows: list[dict[str, Any]]) -> Any:
    """Counts per night and rates per hour of sleep, one group of bars per night."""
    fig = _figure(3.6, top_in=0.3, bottom_in=0.4)
    ax1, ax2 = fig.subplots(2, 1, sharex=True, gridspec_kw={"hspace": 0.35})
    x = np.arange(len(rows))
    w = 0.8 / len(CLASSES)
    for i, kind in enumerate(CLASSES):
        ax1.bar(x + (i - 1) * w, [r["counts"][kind] for r in rows], width=w, color=COLOR[kind],
                label=CLASS_NAME[kind])
        rate = [r["per_h_sleep"][kind] for r in rows]
        ax2.plot(x, [np.nan if v is None else v for v in rate], "o-", color=COLOR[kind],
                 label=CLASS_NAME[kind], ms=3.5, lw=1)
    ax1.set_ylabel("Count per night")
    ax1.set_title("Events per night")
    ax1.legend(fontsize=7, ncols=3, loc="upper left")
    ax1.yaxis.get_major_locator().set_params(integer=True)
    ax2.set_ylabel("Per hour of sleep")
    ax2.set_title("Events per hour of sleep")
    ax2.set_xticks(x, [r["label"] for r in rows])
    ax2.set_ylim(bottom=0)
    return fig
