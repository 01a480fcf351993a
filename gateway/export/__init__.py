"""Clinical exchange: a night as EDF+ (motion channels and annotations) or as CSV events.

``write_edf`` needs the samples (``SampleStore``, the ``samples`` callback of
``report.load``); without them it writes an annotation-only EDF+ file.
"""

from .csvfile import COLUMNS, write_events_csv
from .edf import BandSamples, SampleStore, edf_annotations, write_edf

__all__ = ["COLUMNS", "BandSamples", "SampleStore", "edf_annotations", "write_edf",
           "write_events_csv"]
