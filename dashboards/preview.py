"""A PNG of the Night dashboard's main panels, drawn with matplotlib from the same InfluxQL
queries (dashboards/build.py), for docs and for machines without Grafana.

    python dashboards/preview.py --url http://127.0.0.1:8086 --db twitchwatch \\
        --from 2026-01-01T22:00:00Z --to 2026-01-02T06:00:00Z --out night.png
    python dashboards/preview.py --demo --out docs/img/night.png   # a simulated night in a
                                                                   # throw-away influxd
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import json
import pathlib
import sys
import tempfile
import urllib.parse
import urllib.request
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def _builder() -> Any:
    spec = importlib.util.spec_from_file_location("dash_build", HERE / "build.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def query(url: str, db: str, q: str) -> list[dict[str, Any]]:
    data = urllib.parse.urlencode({"q": q, "db": db, "epoch": "ms"}).encode()
    with urllib.request.urlopen(f"{url}/query", data=data, timeout=30) as r:
        res = json.loads(r.read())["results"][0]
    if "error" in res:
        raise SystemExit(f"InfluxQL error: {res['error']}\n  {q}")
    return list(res.get("series", []))


def render(url: str, db: str, from_ms: int, to_ms: int, out: pathlib.Path,
           bands: list[str] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    b = _builder()
    if bands is None:
        bands = [v[1] for s in query(url, db, b.Q_BANDS) for v in s["values"]]
    step = max(1, (to_ms - from_ms) // 1000 // 800)
    sel = "(" + "|".join(bands) + ")" if len(bands) > 1 else bands[0]

    def run(q: str) -> list[dict[str, Any]]:
        q = q.replace("$timeFilter", f"time >= {from_ms}ms and time <= {to_ms}ms")
        return query(url, db, q.replace("$__interval", f"{step}s").replace("$band", sel))

    def xy(s: dict[str, Any], col: int = 1) -> tuple[list[dt.datetime], list[Any]]:
        pts = [(dt.datetime.fromtimestamp(v[0] / 1000, dt.UTC), v[col]) for v in s["values"]
               if v[col] is not None]
        return [p[0] for p in pts], [p[1] for p in pts]

    fig, axes = plt.subplots(6, 1, figsize=(12, 13), sharex=True,
                             gridspec_kw={"height_ratios": [3, 1, 2, 2, 2, 2]})
    ax = axes[0]
    for s in run(b.Q_ACTIVITY):
        ax.plot(*xy(s), lw=0.8, label=s["tags"]["band"])
    ax.set_ylabel("activity (g)")
    ax.set_title("Activity")
    ax.legend(loc="upper right")
    ax = axes[1]
    colors = {1: "tab:blue", 0: "gold", -1: "lightgray"}
    for i, s in enumerate(run(b.Q_STATE)):
        t, v = xy(s)
        ax.scatter(t, [i] * len(t), c=[colors.get(x, "gray") for x in v], marker="|", s=200)
    ax.set_yticks(range(len(bands)), bands)
    ax.set_title("Sleep (blue) / wake (yellow)")
    ax = axes[2]
    for s in run(b.Q_EVENTS):
        kind = s["tags"]["type"]
        ax.scatter(*xy(s), s=14, color=b.EVENT_COLORS.get(kind, "k"), label=kind)
    ax.set_ylabel("peak (g)")
    ax.set_title("Events by type")
    ax.legend(loc="upper right")
    ax = axes[3]
    bottom: dict[dt.datetime, float] = {}
    for s in run(b.Q_EVENTS_PER_HOUR):
        t, v = xy(s)
        kind = s["tags"]["type"]
        ax.bar(t, v, width=1 / 24 * 0.9, align="edge", color=b.EVENT_COLORS.get(kind, "k"),
               bottom=[bottom.get(x, 0) for x in t], label=kind)
        for x, y in zip(t, v, strict=True):
            bottom[x] = bottom.get(x, 0) + y
    ax.set_ylabel("events / h")
    ax.set_title("Events per hour")
    ax = axes[4]
    for s in run(b.Q_TREMOR_RMS):
        ax.plot(*xy(s), lw=0.8, label=f"{s['tags']['band']} 3-12 Hz RMS")
    for s in run(b.Q_TREMOR_PEAK):
        ax.scatter(*xy(s), s=16, marker="D", label=f"{s['tags']['band']} episode peak")
    ax.set_ylabel("g")
    ax.set_title("Tremor amplitude")
    ax.legend(loc="upper right", fontsize=8)
    ax = axes[5]
    for s in run(b.Q_SAMPLE_LOSS):
        ax.plot(*xy(s), lw=0.8, label=f"{s['tags']['band']} samples missing %")
    ax.set_ylabel("%")
    ax2 = ax.twinx()
    for s in run(b.Q_BATTERY):
        ax2.plot(*xy(s), lw=1, ls="--", label=f"{s['tags']['band']} battery %")
    ax2.set_ylabel("battery %")
    ax.set_title("Link: loss and battery")
    ax.legend(loc="upper left", fontsize=8)
    axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    fig.suptitle("twitchwatch / Night (preview from the dashboard's InfluxQL queries)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)


async def _demo_night(url: str, db: str, t0_ns: int, hours: float) -> None:
    from gateway.config import InfluxConfig
    from gateway.pipeline import Session
    from gateway.sinks.influx import InfluxSink
    from gateway.sources.sim import SimBand, SimOptions

    with tempfile.TemporaryDirectory() as spool:
        for name, seed, profile in (("left-wrist", 3, "mixed"), ("right-wrist", 5, "parkinson")):
            sink = InfluxSink(InfluxConfig(url=url, database=db, spool_dir=spool))
            opts = SimOptions(name=name, duration_s=hours * 3600, speed=None, seed=seed,
                              profile=profile, start_wall_ns=t0_ns, frame_loss=0.005)
            async with SimBand(opts) as src, Session([sink], live=False) as s:
                await s.run(aiter(src))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", default="http://127.0.0.1:8086")
    p.add_argument("--db", default="twitchwatch")
    p.add_argument("--from", dest="start", help="ISO time (UTC)")
    p.add_argument("--to", dest="end", help="ISO time (UTC)")
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("night.png"))
    p.add_argument("--demo", action="store_true",
                   help="replay a simulated 8 h night into a throw-away influxd first")
    a = p.parse_args()
    if a.demo:
        from tests.servers import InfluxServer, find_binary

        binary = find_binary("influxd")
        if binary is None:
            raise SystemExit("--demo needs influxd (apt-get install influxdb)")
        t0 = int(dt.datetime(2026, 1, 1, 22, tzinfo=dt.UTC).timestamp() * 1e9)
        with tempfile.TemporaryDirectory() as d:
            server = InfluxServer(pathlib.Path(d), binary)
            server.start()
            try:
                asyncio.run(_demo_night(server.url, "demo", t0, 8.0))
                render(server.url, "demo", t0 // 10**6, t0 // 10**6 + 8 * 3_600_000, a.out)
            finally:
                server.stop()
        return 0
    if not (a.start and a.end):
        raise SystemExit("give --from and --to (or --demo)")
    def ms(s: str) -> int:
        return int(dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)
    render(a.url, a.db, ms(a.start), ms(a.end), a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
