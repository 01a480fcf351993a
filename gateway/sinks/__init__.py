"""Sinks: where records go. Each is an async context manager with ``write(batch)``."""
