"""``twitchwatch pair``: bond the gateway with a band, once; list or forget bonds.

    twitchwatch pair tw-1a2b                  # the band in its pairing window
    twitchwatch pair tw-1a2b --trust-existing # paired with bluetoothctl already
    twitchwatch pair tw-1a2b --replace        # the band lost its bond (reset): pair again
    twitchwatch pair --list
    twitchwatch pair tw-1a2b --forget

``twitchwatch run`` then streams only from bands recorded here (docs/security.md). The
passkey is typed into the Bluetooth agent (bluetoothctl on Linux), never given to this
command: docs/hardware.md, "Pairing".
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from .numbers import number

if TYPE_CHECKING:
    from ..sources.ble_config import BandSelector


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "pair", help="bond with a band (once), list or forget bonds",
        description="Bond with a band in its pairing window (LE Secure Connections, passkey "
                    "shown on the band's USB console and typed into your Bluetooth agent), "
                    "check the bond, and record the band's identity for `twitchwatch run`.")
    p.add_argument("band", nargs="?", metavar="BAND",
                   help="name (tw-1a2b) or address; default: the only [[band]] in --config")
    p.add_argument("--config", metavar="FILE", help="TOML settings ([ble], [[band]])")
    p.add_argument("--adapter", default=None, help="BlueZ adapter, e.g. hci1")
    p.add_argument("--timeout", type=number(float, 0, 3600, lo_open=True), default=None,
                   metavar="S",
                   help="how long to look for the band, in seconds (default: "
                        "[ble] scan_timeout_s, 10)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--trust-existing", action="store_true",
                      help="do not pair: the stack already holds a bond (bluetoothctl); "
                           "check it and record the band")
    what.add_argument("--replace", action="store_true",
                      help="remove the stack's old bond first, then pair (after the band "
                           "lost its bond)")
    what.add_argument("--forget", action="store_true",
                      help="drop the band's record and the stack's bond")
    what.add_argument("--list", action="store_true", help="list the bonded bands")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    import asyncio

    from .. import settings as config
    from ..errors import ConfigError
    from ..sources.ble_bonds import BondRegistry
    from ..sources.ble_config import parse_band_selectors, parse_ble_options
    from ..sources.ble_pair import BandNotFoundError, forget_band, pair_band, summary
    from ..sources.ble_scan import resolve_backend

    settings = config.load(args)
    opts = parse_ble_options(settings.raw, source=args.config or "--config")
    registry = BondRegistry(opts.state_dir)
    if args.list:
        if not len(registry):
            print(f"no bonded bands ({registry.path})")
            return 0
        for r in registry:
            print(f"{r.name or '-'}  {r.address}  paired {r.paired_at} ({r.how}): {summary(r)}")
        return 0
    timeout_s = opts.scan_timeout_s if args.timeout is None else args.timeout
    if not timeout_s > 0:
        raise ConfigError(f"--timeout {timeout_s}: need a number of seconds > 0")
    selector = _selector(args.band, parse_band_selectors(settings.raw, args.config or ""))
    adapter = args.adapter or opts.adapter
    backend = resolve_backend()

    def out(line: str) -> None:
        print(line, flush=True)

    try:
        if args.forget:
            asyncio.run(forget_band(selector, registry, backend=backend, adapter=adapter,
                                    scan_timeout_s=timeout_s, out=out))
        else:
            asyncio.run(pair_band(selector, registry, backend=backend, adapter=adapter,
                                  scan_timeout_s=timeout_s,
                                  trust_existing=args.trust_existing, replace=args.replace,
                                  out=out))
    except BandNotFoundError as e:
        print(f"twitchwatch pair: {e}", file=sys.stderr)
        return 1
    return 0


def _selector(band: str | None, configured: tuple[BandSelector, ...]) -> BandSelector:
    from ..errors import ConfigError
    from ..sources.ble_config import BandSelector

    if band:
        return BandSelector.parse(band)
    if len(configured) == 1:
        return configured[0]
    raise ConfigError("which band? give its name or address (`twitchwatch scan` lists them)"
                      + (f"; --config has {len(configured)} [[band]] entries"
                         if configured else ""))
