"""Ingest: one band's packets in, time-ordered samples out, every loss counted.

    packets ─► BandIngest: decode ─► seq accounting ─► reboot check ─► clock model
                               └──► Reorderer (holes wait for backlog) ─► SampleBlock

Synchronous and deterministic: live, replay and ``analyze`` run the same code.
"""

from .band_ingest import BandIngest, SampleBlock
from .clock_model import ClockModel
from .counters import LinkCounters, SeqTracker
from .from_recording import iter_recording_samples
from .reorder import HOLD_S, Reorderer

__all__ = ["HOLD_S", "BandIngest", "ClockModel", "LinkCounters", "Reorderer", "SampleBlock",
           "SeqTracker", "iter_recording_samples"]
