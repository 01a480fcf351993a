"""twitchwatch DSP: a streaming classifier of night-time movements (pure numpy/scipy).

``Analyzer`` is the one entry point of the live gateway, ``replay`` and ``analyze``;
``synth_night`` makes labelled synthetic recordings (tests, benchmarks, the simulated band).
"""

from typing import TYPE_CHECKING, Any

from .analyzer import Analyzer
from .config import AnalyzerConfig
from .types import EVENT_TYPES, Epoch, Event, Output, Retraction, SleepOnset

if TYPE_CHECKING:
    from .synth import SynthRecording, iter_synth_night, synth_night

__all__ = ["EVENT_TYPES", "Analyzer", "AnalyzerConfig", "Epoch", "Event", "Output",
           "Retraction", "SleepOnset", "SynthRecording", "iter_synth_night", "synth_night"]


def __getattr__(name: str) -> Any:
    # the generator loads on first use: the analyzer (live, analyze) never needs it
    if name in ("SynthRecording", "iter_synth_night", "synth_night"):
        from . import synth

        return getattr(synth, name)
    raise AttributeError(f"module 'dsp' has no attribute {name!r}")
