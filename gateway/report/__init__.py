"""The neurologist's night report: one self-contained HTML page per night (and a PDF).

``load`` makes ``Night`` objects from a recording, a samples file or an events file
(``load_influx``: from InfluxDB); ``write_night`` / ``write_trends`` write the pages;
``ReportSink`` collects a night during ``run``. matplotlib loads only when a page is drawn.
"""

from .collect import NightBuilder, ReportSink
from .load import LoadOptions, SampleCallback, load, stem
from .make import write_night, write_run_report, write_trends
from .night_model import CLASS_NAME, STATE_NAME, Night, NightEvent, Onset, resolve_tz
from .pdf import ReportError
from .summary import Summary, sleep_states, state_at, summarise

__all__ = ["CLASS_NAME", "STATE_NAME", "LoadOptions", "Night", "NightBuilder", "NightEvent",
           "Onset", "ReportError", "ReportSink", "SampleCallback", "Summary", "load",
           "resolve_tz", "sleep_states", "state_at", "stem", "summarise", "write_night",
           "write_run_report", "write_trends"]
