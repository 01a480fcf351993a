"""What the gateway keeps on disk and how it writes to InfluxDB.

- ``recording``: every packet of a session, as received (``.twrec``), and its reader;
- ``spool``: line protocol waiting for InfluxDB, durable across restarts;
- ``lineproto`` / ``lineproto_raw``: records and raw samples as InfluxDB line protocol.

Each module is imported on its own (the recording reader needs none of the others).
"""

__all__ = ["lineproto", "lineproto_raw", "recording", "spool"]
