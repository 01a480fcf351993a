"""The clock model recovers offset and drift, and maps a time the same whenever asked."""

from __future__ import annotations

import numpy as np

from twitchwatch.gateway.ingest.clock_model import ClockModel


def test_drift_and_latency_are_removed():
    rng = np.random.default_rng(3)
    drift_ppm, offset_ns = 40.0, 1_764_000_000_000_000_000
    clock = ClockModel()
    errors = []
    for k in range(2 * 3600 * 5):  # two hours of frames at 5 per second
        device_s = k * 0.2
        true_wall = offset_ns + device_s * (1 + drift_ppm * 1e-6) * 1e9
        latency = rng.uniform(8e6, 60e6)  # 8-60 ms of radio and host delay
        clock.observe(device_s, int(true_wall + latency))
        if k > 3000 and k % 500 == 0:
            errors.append(abs(clock.to_wall_ns(device_s) - true_wall) / 1e6)
    assert max(errors) < 15.0, f"worst mapping error {max(errors):.1f} ms"
    # Without a drift term the error would have grown to 40 ppm * 2 h = 288 ms.


def test_a_time_maps_the_same_now_and_later():
    clock = ClockModel()
    early = {}
    for k in range(3000):
        device_s = k * 0.5
        clock.observe(device_s, int(1e18 + device_s * 1.00005e9 + (k % 7) * 1e6))
        if k % 100 == 0:
            early[device_s] = clock.to_wall_ns(device_s)
    for device_s, wall in early.items():
        assert clock.to_wall_ns(device_s) == wall
