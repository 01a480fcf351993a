"""Packet sources: async context managers that are async iterators of ``Packet``."""
