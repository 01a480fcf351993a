"""The one rate-limited logger every boundary check reports through."""

from __future__ import annotations

import logging

from twitchwatch.gateway.ratelog import RateLimitedLog


def test_the_rate_limited_log_says_it_once_then_counts():
    lines: list[str] = []

    class H(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("test.ratelog")
    logger.addHandler(H())
    now = [0.0]
    rl = RateLimitedLog(logger, every_s=60.0, clock=lambda: now[0])
    for _ in range(1000):
        rl.warning("k", "bad thing %d", 1)
    now[0] = 61.0
    rl.warning("k", "bad thing %d", 2)
    rl.warning("other", "another thing")
    rl.warning("k", "bad thing %d", 3)
    rl.flush()
    assert lines == ["bad thing 1", "bad thing 2 (and 999 more like it in the last 61 s)",
                     "another thing", "k: 1 more occurrence(s) not shown above"]
