"""Raw samples to InfluxDB (opt-in: ``raw_samples``), in a short retention policy.

A sink of its own beside ``InfluxSink`` rather than more records in that sink's channel:
100 samples per second per band is ~40x the per-second points' volume, and with one
shared drop-oldest channel a raw backlog (a stalled disk) would push events and
per-second points out. Here the raw stream has its own bounded channel (the session
makes one per sink), its own drop counter (``Channel.dropped`` of ``influxdb-raw``), its
own spool (``<spool>/raw``, same size bound) and its own requests; what it loses, the
recording still holds.

Everything else is ``InfluxSink``'s: durable writes, replay oldest first, bisection of
refused lines, drain at exit. The lines carry µs timestamps (``precision=u``) and go to
the retention policy ``twitchwatch_raw``, which ``prepare`` creates (or alters to the
configured duration) on 1.x. With the influxdb-client transport (2.x/3.x) the policy
name maps to a bucket the user creates (docs/storage.md).
"""

from __future__ import annotations

import logging
import time

import numpy as np

from ..records import RawSamplesRecord, Record
from ..settings import InfluxConfig, duration_ns
from ..store.lineproto_raw import raw_record_lines
from .influx import RAW_RP, InfluxSink

log = logging.getLogger(__name__)

__all__ = ["RAW_RP", "InfluxRawSink"]
# Samples this close to the end of the retention are not sent either: a batch may wait
# in the spool a little, and the server refuses what has expired by the time it arrives.
EXPIRY_MARGIN_NS = 600 * 10**9


class InfluxRawSink(InfluxSink):
    name = "influxdb-raw"
    accepts: tuple[type, ...] = (RawSamplesRecord,)
    durable = False  # raw samples are in the recording; no event passes through here
    # Records are sample blocks, one per BLE frame (~18 samples at 100 Hz with a gyro):
    # 3,000 are ~9 min of one band. ``write`` returns in milliseconds (it spools when the
    # server is away), so this only fills if the disk stalls; then it drops oldest.
    queue_size = 3_000
    batch_max = 250  # blocks: ~4,500 lines, one request of the size InfluxDB ingests best
    batch_wait_s = 1.0
    precision = "u"

    def __init__(self, cfg: InfluxConfig) -> None:
        super().__init__(cfg, spool_subdir="raw", retention=(RAW_RP, cfg.raw_retention))
        self._keep_ns = duration_ns(cfg.raw_retention)
        self.points_expired = 0  # older than the retention policy keeps: not sent

    async def write(self, batch: list[Record]) -> None:
        blocks = [r for r in batch if isinstance(r, RawSamplesRecord)]
        if self._keep_ns is not None:
            blocks = self._unexpired(blocks, time.time_ns() - self._keep_ns + EXPIRY_MARGIN_NS)
        lines = raw_record_lines(blocks)
        n = self.lines_per_request
        for i in range(0, len(lines), n):  # blocks of 40 samples (no gyro) make more lines
            await self._deliver(lines[i:i + n], RAW_RP)

    def _unexpired(self, blocks: list[RawSamplesRecord], cutoff_ns: int
                   ) -> list[RawSamplesRecord]:
        # A replay of a recording older than the retention: InfluxDB would refuse every
        # line ("points beyond retention policy"), and refused lines are bisected and
        # quarantined one by one. Skip them here instead, counted and logged once.
        out = []
        for b in blocks:
            i = int(np.searchsorted(b.t_ns, cutoff_ns))
            if i:
                if not self.points_expired:
                    log.warning("InfluxDB: raw samples older than the retention policy %s "
                                "(%s) are not sent", RAW_RP, self.cfg.raw_retention)
                self.points_expired += min(i, len(b.t_ns))
            if i == 0:
                out.append(b)
            elif i < len(b.t_ns):
                out.append(RawSamplesRecord(b.band, b.t_ns[i:], b.acc_g[i:],
                                            None if b.gyro_dps is None else b.gyro_dps[i:]))
        return out

    def stats(self) -> dict[str, object]:
        return {**super().stats(), "expired": self.points_expired}
