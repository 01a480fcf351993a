"""A compressed night with link drops: nothing lost that the band's ring could hold.

12 device-minutes at 60x: band-side disconnects, out-of-range periods, one outage longer
than a deliberately small ring, and a little loss on air. Each event waits for the link to
be back before the next one's gap starts (``link_back``), so the events are the seed's,
however long a loaded machine takes to reconnect. The full 8-hour figure in
docs/ble.md comes from the same code: ``python -m tests.ble.night --hours 8``.
"""

from __future__ import annotations

import pytest

from tests.ble.night import simulate_night


@pytest.mark.slow
async def test_compressed_night_loses_only_what_the_ring_could_not_hold() -> None:
    r = await simulate_night(hours=0.2, time_scale=60.0, seed=5, ring_capacity=30_000,
                             drop_prob=0.002, every_min=(1.0, 2.5), away_min=(0.2, 1.0),
                             long_away_min=4.0, link_back=True)
    assert r.produced >= 0.2 * 3600 * 200 * 0.99
    assert r.lost_unexplained == 0  # the figure the issue asks for
    assert r.duplicates == 0 and r.bad_values == 0 and r.queue_dropped == 0
    assert r.received + r.air_dropped + r.ring_dropped == r.produced
    assert r.ring_dropped > 0 and r.ring_peak == 30_000  # the long outage overflowed it ...
    assert r.air_dropped > 0  # ... and the air lost a few notifications
    # Every drop was followed by exactly one reconnect. (How many drops a seed gives
    # depends on the machine: the schedule runs on the wall clock at 60x, and a graceful
    # band-side disconnect waits for bumble to drain its queue, which takes 0.5-3 s of
    # wall time under load, i.e. minutes of the schedule.)
    assert r.reconnects == r.away_periods + r.brief_disconnects >= 2
    assert r.backlog_samples > 30_000  # the ring was replayed after each outage
