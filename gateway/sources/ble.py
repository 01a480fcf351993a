"""BleSource: bands over Bluetooth LE, as one async iterator of ``Packet``.

    cfg = load_band_config("gateway.toml")
    async with BleSource.from_config(cfg) as source:
        async for packet in source:
            ...

One task per band (``BandLink``) scans, connects, streams and reconnects; all of them
feed one bounded channel. The source owns those tasks: leaving the ``async with``
cancels them, waits for them, and so disconnects every band. See docs/ble.md.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any

from ..channel import Channel, Closed, Policy
from ..errors import TwitchwatchError
from ..packets import Packet
from .ble_bonds import BondRecord, BondRegistry
from .ble_config import BandSelector, BleConfig, BleOptions
from .ble_link import BandLink
from .ble_scan import BleBackend

log = logging.getLogger(__name__)


class BleSource:
    """Packets from one or several bands.

    Queue policy: one channel of ``options.queue_size`` packets, drop-oldest when full
    (live data: the newest matters most). Drops are counted in ``dropped``; the sample
    indices of the frames that survive show the pipeline exactly which samples went.

    A band that is away is retried forever with capped backoff. Iteration ends only if
    Bluetooth itself is unusable (no adapter on the first scan), by raising
    ``BluetoothUnavailableError`` once the packets already queued have been read.

    Only bonded bands are streamed (docs/security.md): each selector must match one band
    in the bonds file (``twitchwatch pair``), else ``NotPairedError`` at construction.
    """

    def __init__(self, bands: Sequence[BandSelector | str], *,
                 options: BleOptions | None = None, backend: BleBackend | None = None,
                 bonds: BondRegistry | None = None, seed: int | None = None,
                 **option_overrides: Any) -> None:
        selectors = [b if isinstance(b, BandSelector) else BandSelector.parse(b)
                     for b in bands]
        opts = replace(options or BleOptions(), **option_overrides)
        # BleConfig checks what a config file would: at least one band, no duplicates.
        self.config = BleConfig(tuple(selectors), opts, "BleSource")
        self.options = opts
        self.backend = backend
        self.bonds = bonds if bonds is not None else BondRegistry(opts.state_dir)
        records = [_bond_of(s, self.bonds) for s in selectors]
        self._channel: Channel[Packet] = Channel("ble", opts.queue_size, Policy.DROP_OLDEST)
        rng = random.Random(seed)
        self.links = [BandLink(s, opts, self._emit, bond=r, backend=backend,
                               rng=random.Random(rng.random()))
                      for s, r in zip(selectors, records, strict=True)]
        self._tasks: list[asyncio.Task[None]] = []
        self._failure: BaseException | None = None
        self._warned_drop = False

    @classmethod
    def from_config(cls, cfg: BleConfig, backend: BleBackend | None = None,
                    **option_overrides: Any) -> BleSource:
        return cls(cfg.bands, options=cfg.options, backend=backend, **option_overrides)

    # -- lifetime ---------------------------------------------------------------------

    async def __aenter__(self) -> BleSource:
        if self._tasks:
            raise RuntimeError("BleSource is not reentrant")
        self._tasks = [asyncio.create_task(self._run(link), name=f"ble-{link.key}")
                       for link in self.links]
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        for t in self._tasks:
            t.cancel()
        # Each link disconnects its band in its own finally block.
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._channel.close()

    async def _run(self, link: BandLink) -> None:
        try:
            await link.run()
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.error("band %s: giving up: %s", link.key, e)
            if self._failure is None:
                self._failure = e
            self._channel.close()

    # -- iteration --------------------------------------------------------------------

    def __aiter__(self) -> BleSource:
        return self

    async def __anext__(self) -> Packet:
        batch = await self._channel.get_batch(1, 0)
        if batch:
            return batch[0]
        if self._failure is not None:
            raise self._failure
        raise StopAsyncIteration

    def _emit(self, p: Packet) -> None:
        before = self._channel.dropped
        try:
            self._channel.put_nowait(p)
        except Closed:
            return  # shutting down: the consumer has stopped reading
        if self._channel.dropped != before and not self._warned_drop:
            self._warned_drop = True
            log.warning("BLE queue full (%d packets): dropping the oldest; the consumer "
                        "is not keeping up", self._channel.maxsize)

    # -- stats ------------------------------------------------------------------------

    @property
    def dropped(self) -> int:
        """Packets dropped because the consumer did not keep up."""
        return self._channel.dropped

    def stats(self) -> dict[str, Any]:
        return {"queue": self._channel.stats(),
                "bands": {link.key: link.stats.as_dict() for link in self.links}}


class NotPairedError(TwitchwatchError):
    """A configured band has no bond with this gateway."""


def _bond_of(selector: BandSelector, bonds: BondRegistry) -> BondRecord:
    found = bonds.matching(selector)
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotPairedError(
            f"band {selector.key} ({selector}) is not paired with this gateway (no entry in "
            f"{bonds.path}): run `twitchwatch pair {selector.name or selector.address}` "
            "while the band's pairing window is open (docs/hardware.md, \"Pairing\")")
    raise NotPairedError(
        f"band {selector.key} ({selector}) matches {len(found)} bonded bands "
        f"({', '.join(r.address for r in found)}): select it by address in [[band]]")
