"""One rate-limited log line per kind of trouble: said at once, then summarised.

Everything from outside is checked where it enters, and what fails is counted and
skipped. A band, a recording or a fuzzer can send the same bad thing thousands of times
a second; one line per occurrence would flood the log (1,386 "band restarted" lines from
one fuzzed night) and hide everything else. So each *key* (a kind of trouble: "band b1:
frame rejected: period") logs its first occurrence at once, then at most one line per
``every_s`` saying how many more there were. The counters that go to the run summary and
the link records are kept by the callers; this only decides what reaches the log.

The clock is monotonic (or injected, for tests): rate limiting is about the reader of the
log, not about the data's own time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

EVERY_S = 60.0  # one summary line per key per minute at most
MAX_KEYS = 512  # keys come from fixed reason sets; a bound anyway, against a flood of new ones


class RateLimitedLog:
    """``log.warning(key, msg, *args)``: the first line per key now, then one per ``every_s``
    with the number of occurrences that were not shown."""

    def __init__(self, logger: logging.Logger, every_s: float = EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.every_s = every_s
        self.clock = clock
        self._keys: dict[str, tuple[float, int]] = {}  # key -> (last shown, suppressed)
        self.suppressed = 0  # lines not shown, over all keys

    def warning(self, key: str, msg: str, *args: object, exc_info: bool = False) -> None:
        self.log(logging.WARNING, key, msg, *args, exc_info=exc_info)

    def error(self, key: str, msg: str, *args: object, exc_info: bool = False) -> None:
        self.log(logging.ERROR, key, msg, *args, exc_info=exc_info)

    def log(self, level: int, key: str, msg: str, *args: object,
            exc_info: bool = False) -> bool:
        """Log unless this key was shown less than ``every_s`` ago; True if it was shown."""
        now = self.clock()
        if key not in self._keys and len(self._keys) >= MAX_KEYS:
            key = "(other)"
        seen = self._keys.get(key)
        if seen is not None and now - seen[0] < self.every_s:
            self._keys[key] = (seen[0], seen[1] + 1)
            self.suppressed += 1
            return False
        more = seen[1] if seen is not None else 0
        self._keys[key] = (now, 0)
        if more:
            msg += " (and %d more like it in the last %.0f s)"
            args = (*args, more, now - seen[0]) if seen is not None else args
        self.logger.log(level, msg, *args, exc_info=exc_info)
        return True

    def pending(self) -> dict[str, int]:
        """Occurrences not shown yet, per key (for a summary at the end)."""
        return {k: n for k, (_t, n) in self._keys.items() if n}

    def flush(self) -> None:
        """Say what was held back (at the end of a session), one line per key."""
        for key, n in self.pending().items():
            self.logger.warning("%s: %d more occurrence(s) not shown above", key, n)
            self._keys[key] = (self._keys[key][0], 0)
