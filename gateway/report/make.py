"""Writing reports: one HTML (and PDF) per night, and a trend page per band with several."""

from __future__ import annotations

import pathlib
from collections import defaultdict

from .files import private_dir, write_private
from .night import Night


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
