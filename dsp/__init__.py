"""twitchwatch DSP: a streaming classifier of night-time movements (pure numpy/scipy).

``Analyzer`` is the one entry point of the live gateway, ``replay`` and ``analyze``;
``synth_night`` makes labelled synthetic recordings (tests, benchmarks, the simulated band).
"""

from .analyzer import Analyzer
from .config import AnalyzerConfig
from .synth import SynthRecording, iter_synth_night, synth_night
from .types import EVENT_TYPES, Epoch, Event, Output, Retraction, SleepOnset

__all__ = ["EVENT_TYPES", "Analyzer", "AnalyzerConfig", "Epoch", "Event", "Output",
           "Retraction", "SleepOnset", "SynthRecording", "iter_synth_night", "synth_night"]
