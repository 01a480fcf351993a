"""Writing reports: one HTML (and PDF) per night, and a trend page per band with several."""

from __future__ import annotations

import pathlib
from collections import defaultdict
from typing import Any

from ..private_files import private_dir, write_private
from .night_model import Night


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as v

    try:
        return v("twitchwatch")
    except PackageNotFoundError:
        return ""


def write_night(night: Night, out_dir: pathlib.Path, pdf: bool = False) -> list[pathlib.Path]:
    from .html import render_night

    private_dir(out_dir)
    path = write_private(out_dir / f"{night.name}.html", render_night(night, version=version()))
    out = [path]
    if pdf:
        from .pdf import print_pdf

        out.append(print_pdf(path, path.with_suffix(".pdf")))
    return out


def write_trends(nights: list[Night], out_dir: pathlib.Path, pdf: bool = False
                 ) -> list[pathlib.Path]:
    """``trend-BAND.html`` for each band with two nights or more."""
    from .trend import render_trend

    by_band: dict[str, list[Night]] = defaultdict(list)
    for n in nights:
        by_band[n.band].append(n)
    out = []
    for band, group in by_band.items():
        if len(group) < 2:
            continue
        name = "trend" + (f"-{_safe(band)}" if band else "")
        path = write_private(out_dir / f"{name}.html", render_trend(group, version=version()))
        out.append(path)
        if pdf:
            from .pdf import print_pdf

            out.append(print_pdf(path, path.with_suffix(".pdf")))
    return out


def _safe(band: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in band)


def write_run_report(sink: Any, session: Any, base: pathlib.Path) -> list[pathlib.Path]:
    """The report of the night ``run`` just streamed, from what its ``ReportSink`` collected
    (no second analysis: the same records the other sinks got). ``base``: the session's
    files without suffix; the report goes beside them as ``<base>.html``."""
    from .. import codec
    from .night_model import resolve_tz

    tz, tz_name = resolve_tz(None)
    dropped = sum(ch.dropped for ch in session.channels if ch.name == sink.name)
    out = []
    bands = list(sink.builders)
    for band, b in sink.builders.items():
        bp = session.bands.get(band)
        if bp is not None:
            b.quality.rate_hz = bp.analyzer.rate_hz
            meta = bp.ingest.meta
            b.quality.has_gyro = None if meta is None else bool(meta.channel_flags & codec.F_GYRO)
        b.quality.records_dropped = dropped
        name = base.name if len(bands) == 1 else f"{base.name}.{_safe(band)}"
        night = b.build(name, f"session {base.name}", tz, tz_name)
        out += write_night(night, base.parent)
    return out
