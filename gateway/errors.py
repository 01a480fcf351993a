"""The gateway's exception tree. Every error names the input it could not use."""

from __future__ import annotations


class TwitchwatchError(Exception):
    """Base of every error the gateway raises on purpose."""


class ConfigError(TwitchwatchError):
    """A setting, file or command-line value that cannot be used."""


class ProtocolError(TwitchwatchError):
    """Bytes from a band that do not follow docs/protocol.md."""


class FrameError(ProtocolError):
    """A malformed data frame. ``reason`` is one of codec.REJECT_REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


class RecordingError(TwitchwatchError):
    """A recording file that cannot be read at all (a damaged tail only warns)."""


class SinkError(TwitchwatchError):
    """A sink that cannot start (bad URL, refused credentials)."""
