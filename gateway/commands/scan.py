"""``twitchwatch scan``: the bands in range, strongest first, with their signal strength.

Uses the same scanning code as ``run`` does before every (re)connect, so a band that
shows here is one ``run`` can find.
"""

from __future__ import annotations

import argparse
import sys

from .numbers import number


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("scan", help="list the bands in range, with RSSI",
                       description="List twitchwatch bands advertising nearby.")
    p.add_argument("--timeout", type=number(float, 0, 3600, lo_open=True), default=5.0, metavar="S",
                   help="how long to listen, in seconds (default 5)")
    p.add_argument("--all", action="store_true",
                   help="list every BLE device, not only twitchwatch bands")
    p.add_argument("--adapter", default=None, help="BlueZ adapter, e.g. hci1")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from ..errors import ConfigError
    from ..sources.ble_scan import resolve_backend, scan

    if not args.timeout > 0:
        raise ConfigError(f"--timeout {args.timeout}: need a number of seconds > 0")
    backend = resolve_backend()  # tests inject the emulated radio; else bleak's own
    found = asyncio.run(scan(args.timeout, backend=backend, adapter=args.adapter,
                             all_devices=args.all))
    if not found:
        what = "BLE devices" if args.all else "twitchwatch bands"
        print(f"no {what} found in {args.timeout:g} s", file=sys.stderr)
        return 1
    rows = [(s.name or "-", s.address, f"{s.rssi}", "band" if s.is_band else "")
            for s in found]
    width = max(len("NAME"), *(len(r[0]) for r in rows))
    addr_w = max(len("ADDRESS"), *(len(r[1]) for r in rows))
    print(f"{'NAME':<{width}}  {'ADDRESS':<{addr_w}}  RSSI" + ("  KIND" if args.all else ""))
    for name, address, rssi, kind in rows:
        line = f"{name:<{width}}  {address:<{addr_w}}  {rssi:>4}"
        print(line + (f"  {kind}" if args.all else ""))
    return 0
