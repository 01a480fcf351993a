"""Readers of recordings made by other devices and tools (CSV, research-device files)."""
