"""Clinical exchange: a night as EDF+ (motion channels and annotations) or as CSV events.

``write_edf`` needs the samples (``SampleStore``, the ``samples`` callback of
``report.load``); without them it writes an annotation-only EDF+ file.
"""

from .edf_writer import BandSamples, SampleStore, edf_annotations, write_edf
from .events_csv import COLUMNS, write_events_csv

__all__ = ["COLUMNS", "BandSamples", "SampleStore", "edf_annotations", "write_edf",
           "write_events_csv"]
