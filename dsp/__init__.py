"""twitchwatch DSP: a streaming classifier of night-time movements (pure numpy/scipy).

``Analyzer`` is the one entry point of the live gateway, ``replay`` and ``analyze``.
(The synthetic-night generator lives in ``twitchwatch.gateway.synth``.)
"""

from .analyzer import Analyzer
from .config import AnalyzerConfig
from .types import EVENT_TYPES, Epoch, Event, Output, Retraction, SleepOnset

__all__ = ["EVENT_TYPES", "Analyzer", "AnalyzerConfig", "Epoch", "Event", "Output",
           "Retraction", "SleepOnset"]
