"""twitchwatch DSP: a streaming classifier of night-time movements (pure numpy/scipy)."""

from .analyzer import Analyzer
from .types import EVENT_TYPES, Epoch, Event, Output

__all__ = ["EVENT_TYPES", "Analyzer", "Epoch", "Event", "Output"]
