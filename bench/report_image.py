"""Make docs/img/report.png: the first page of a night report, from the current code.

    .venv/bin/python bench/report_image.py            # the 8 h simulated night (seed 11)

The night is the simulated band's 8-hour recording (made once, kept in bench/out/, as in
bench_pipeline.py), reported in Europe/Berlin time and photographed by headless Chromium
at A4 width.
"""

from __future__ import annotations

import argparse
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", type=pathlib.Path, default=ROOT / "docs" / "img" / "report.png")
    a = ap.parse_args()
    from bench_pipeline import recording

    from twitchwatch.gateway.report import LoadOptions, load, write_night
    from twitchwatch.gateway.report.pdf import FLAGS, find_browser

    path = recording(a.hours, a.seed)
    [night] = load(path, LoadOptions.make("Europe/Berlin"))
    night.name = "report"
    browser = find_browser()
    if browser is None:
        sys.exit("needs Chromium (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        [html] = write_night(night, pathlib.Path(tmp))
        a.out.parent.mkdir(parents=True, exist_ok=True)
        # 794 CSS px = the A4 width at 96 dpi; the height shows the first printed page
        subprocess.run([browser, *FLAGS, f"--user-data-dir={tmp}/profile", "--hide-scrollbars",
                        "--window-size=794,1180", "--force-device-scale-factor=1",
                        f"--screenshot={a.out}", html.as_uri()], check=True,
                       capture_output=True, timeout=120)
    print(a.out)


if __name__ == "__main__":
    main()
