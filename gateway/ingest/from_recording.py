"""A recording's samples through the live ingest: what the DSP saw, without a pipeline."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from ..store.recording import ReadStats, read_recording
from .band_ingest import BandIngest


def iter_recording_samples(path: str | os.PathLike[str], stats: ReadStats | None = None
                           ) -> Iterator[tuple[str, Any, Any, Any]]:
    """``(band, t_s, acc_g, gyro_dps or None)`` chunks of a recording, per band in time order.

    The same ingest as the live pipeline (decode, loss accounting, ordering, axis map),
    so ``analyze`` of a recording sees exactly the samples the live DSP saw.
    """
    fronts: dict[str, BandIngest] = {}
    for p in read_recording(path, stats):
        fe = fronts.get(p.band)
        if fe is None:
            fe = fronts[p.band] = BandIngest(p.band)
        for b in fe.push(p):
            yield b.band, b.t_s, b.acc_g, b.gyro_dps
    for fe in fronts.values():
        for b in fe.drain():
            yield b.band, b.t_s, b.acc_g, b.gyro_dps
