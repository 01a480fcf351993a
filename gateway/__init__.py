"""The twitchwatch gateway: bands in, events out, everything recorded.

Folders follow the data (docs/architecture.md):

    sources/  packets from bands over BLE, a simulated band (synth/), a recording
    ingest/   per band: decode, loss accounting, reordering, clock model -> samples
    pipeline  per band ingest -> DSP -> records; one bounded channel per sink
    sinks/    events file, console, InfluxDB (+ raw samples), MQTT
    store/    the session recording, the InfluxDB spool, line protocol
    inputs/   other devices' recordings, for ``analyze``
    commands/ the ``twitchwatch`` command line (cli.py)

Shared by both sides: ``packets`` (what sources hand over), ``codec`` (the band protocol),
``records`` (what sinks get), ``channel`` (bounded queues), ``backoff``, ``settings``,
``errors``.
"""

from typing import Any

__all__ = ["BandPipeline", "Session", "TwitchwatchError", "main"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: `twitchwatch --help` must not pay for numpy and the DSP.
    if name in ("BandPipeline", "Session"):
        from . import pipeline

        return getattr(pipeline, name)
    if name == "TwitchwatchError":
        from .errors import TwitchwatchError

        return TwitchwatchError
    if name == "main":
        from .cli import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
