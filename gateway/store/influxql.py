"""InfluxQL text the gateway builds: every identifier goes through ``quote_ident``.

A database or retention policy name comes from the settings; pasted into a query
unquoted (or quoted without escaping) a crafted name ends the statement and starts
another one (``x"; DROP DATABASE "other``). InfluxQL's quoted identifiers may hold any
character but a newline, with ``\\"`` for a double quote and ``\\\\`` for a backslash
(the InfluxQL spec, "Identifiers"; the scanner reads the same escapes as in strings).
"""

from __future__ import annotations

__all__ = ["quote_ident"]


def quote_ident(name: str) -> str:
    """``name`` as a double-quoted InfluxQL identifier. Raises ValueError for a name
    InfluxQL cannot quote (empty, or with a newline)."""
    if not name or "\n" in name or "\r" in name:
        raise ValueError(f"InfluxQL identifier {name!r}: empty or with a line break")
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
