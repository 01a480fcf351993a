"""The report as PDF: the HTML page printed by headless Chromium (Debian's ``chromium``).

Chromium lays out the same page a reader opens, on A4 (the page's ``@page`` rule), with
the fonts embedded. It runs with a throw-away profile, no network services, and without
its sandbox: the page is our own, has no script and may fetch nothing (its CSP), and the
sandbox does not start as root or in most containers.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import tempfile

from ..errors import TwitchwatchError
from ..private_files import private_tmp

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 120.0  # a cold start on a busy 2-core machine takes a few seconds
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--no-default-browser-check")


class ReportError(TwitchwatchError):
    """A report that could not be made (missing tool, failed conversion)."""


def find_browser() -> str | None:
    override = os.environ.get("TWITCHWATCH_CHROMIUM")
    if override:
        return shutil.which(override)
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(html: pathlib.Path, pdf: pathlib.Path) -> pathlib.Path:
    exe = find_browser()
    if exe is None:
        raise ReportError("--pdf needs Chromium, which is not installed: apt-get install "
                          "chromium (Debian/Ubuntu), or set TWITCHWATCH_CHROMIUM")
    tmp = private_tmp(pdf)
    try:
        with tempfile.TemporaryDirectory(prefix="twitchwatch-chromium-") as profile:
            cmd = [exe, *FLAGS, f"--user-data-dir={profile}", "--no-pdf-header-footer",
                   f"--print-to-pdf={tmp}", html.resolve().as_uri()]
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S,
                                   stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                raise ReportError(f"Chromium did not print {html} within {TIMEOUT_S:.0f} s"
                                  ) from None
        with open(tmp, "rb") as f:
            ok = f.read(5) == b"%PDF-"
        if r.returncode != 0 or not ok:
            last = (r.stderr.strip().splitlines() or ["no output"])[-1]
            raise ReportError(f"Chromium could not print {html} to PDF (exit {r.returncode}: "
                              f"{last})")
        os.replace(tmp, pdf)
    finally:
        tmp.unlink(missing_ok=True)
    os.chmod(pdf, 0o600)
    return pdf
