"""A deterministic IMU-like signal, a pure function of the sample index.

The band generates it and the tests recompute it, so a test can check every value of
every sample it receives, not only that the indices add up.
"""

from __future__ import annotations

import numpy as np

ONE_G = 4096  # counts per g at the default +-8 g


def samples(first_index: int, count: int, gyro: bool = True) -> np.ndarray:
    """(count, 6 or 3) int16: gravity on z plus slow wobble, and an index tag on gyro y."""
    i = np.arange(first_index, first_index + count, dtype=np.int64)
    phase = i * (2 * np.pi / 200.0)
    cols = [
        np.round(300 * np.sin(1.3 * phase)),
        np.round(200 * np.cos(0.7 * phase)),
        ONE_G + (i * 37) % 41 - 20,
    ]
    if gyro:
        cols += [
            np.round(120 * np.sin(5.0 * phase)),
            i % 30011 - 15005,  # unique per index within a window: catches misplaced bytes
            (i * 7919) % 2001 - 1000,
        ]
    return np.stack(cols, axis=1).astype("<i2")
