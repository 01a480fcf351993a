"""Capped exponential backoff with jitter: BLE reconnects, InfluxDB and MQTT retries.

Jitter matters with several bands: after the gateway's adapter resets, every band
drops at once, and without it they would all rescan and connect in lock step.

Own code, not tenacity (bench/bench_libraries.py): the three loops need the delay as a
number before they wait (the BLE link reports it in a LINK packet; InfluxDB and MQTT wait
on their stop event, not a sleep), a reset after a healthy session, and a seedable jitter
for reproducible tests. tenacity's wait strategies take the RetryCallState of its own
retry loop, and importing it costs 30-230 ms here; this is 40 lines.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    initial_s: float = 1.0
    max_s: float = 60.0
    factor: float = 2.0
    jitter: float = 0.5  # delays fall in [base * (1 - jitter), base]
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0  # consecutive failures since the last healthy session

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ValueError(f"backoff: need 0 < initial_s ({self.initial_s}) "
                             f"<= max_s ({self.max_s})")
        if self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError(f"backoff: factor {self.factor} < 1 or jitter {self.jitter} "
                             "outside [0, 1)")

    def next_delay_s(self) -> float:
        """Count one more failure and return how long to wait before the next try."""
        self.attempt += 1
        # The exponent is capped so that a band missing for a week cannot overflow a float.
        base = min(self.max_s, self.initial_s * self.factor ** min(self.attempt - 1, 64))
        return base * (1.0 - self.jitter * self.rng.random())

    def reset(self) -> None:
        self.attempt = 0
