"""The unmodified firmware (firmware/main.py) on the real MicroPython unix port, inside
the hardware models of tests/mpy/models, on simulated time (docs/firmware.md).

Two interpreters run in parallel: every scenario but the night in one, the 8-hour night
in the other. Each test asserts on the figures its scenario measured.
"""

from __future__ import annotations

import pytest

from .firmware_helpers import collect, start_sim

# One minute on an idle machine (the night is 8 h of band time); the bounds below only
# turn a hang into a failure, and are generous because a loaded machine stretches the
# minute (the interpreters need the same CPU time, which they get more slowly).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
SIM_BOUND_S = 1500

QUICK = ("disconnect", "disconnect_mpu", "disconnect_mpu6886", "hangup", "mid_notify",
         "window_too_small",
         "slow_link", "mtu23", "control", "overflow", "overflow_mpu", "no_imu", "wrong_imu",
         "alloc", "alloc_mpu_mtu100", "i2c_glitch", "gatt", "hour")
BLOCK_SAMPLES = 18  # six-axis samples in one block / frame at MTU 247


@pytest.fixture(scope="module")
def runs() -> dict[str, dict]:
    night = start_sim("night")
    quick = start_sim(*QUICK)
    results = collect(quick, SIM_BOUND_S)
    results.update(collect(night, SIM_BOUND_S))
    return results


def _clean(r: dict, paced: bool = True) -> None:
    assert r["malformed"] == 0, r
    assert r["seq_errors"] == 0, r
    assert r["content_errors"] == 0, r["first_content_error"]
    if paced:
        assert r["max_notify_per_s"] <= 40, r["max_notify_per_s"]  # docs/protocol.md
    # Consecutive live frames are as far apart in device time as in samples (beyond the
    # sensor's drift): batches are stamped at their read, back-computed per sample.
    assert r["max_time_err_us"] < 50_000, r["max_time_err_us"]


@pytest.mark.parametrize("name", ["disconnect_icm", "disconnect_mpu6050", "disconnect_mpu6886"])
def test_one_minute_disconnect_every_sample_arrives(runs, name):
    r = runs[name]
    _clean(r)
    assert r["connects"] == 2 and r["disconnects"] == 1
    # The controller held frames when the link dropped: without the re-send they were gone.
    assert r["lost_in_controller"] > 0
    assert r["missing"] == 0
    # Only the in-flight window is sent twice, and always flagged BACKLOG.
    assert r["dup_samples"] == r["dup_backlog"]
    assert r["dup_samples"] <= r["tx_window"] * BLOCK_SAMPLES
    assert r["backlog_frames"] * BLOCK_SAMPLES >= 60 * 100  # the minute came as backlog
    assert r["status"]["ring_dropped"] == 0 and r["status"]["ring_waiting"] == 0
    # Nothing left behind but the block being filled when the run ended.
    assert r["produced"] - r["received_end"] <= 2 * BLOCK_SAMPLES
    # Live frames kept flowing, unbothered, while the backlog was replayed.
    assert r["live_lag_spread_ms"] < 300
    assert r["status_replaying"]["state"] & 0x09 == 0x09  # STREAMING, SENDING_BACKLOG
    assert r["status_replaying"]["ring_waiting"] > 0


def test_central_hang_ups_lose_nothing(runs):
    r = runs["hangup"]
    _clean(r)
    assert r["connects"] == 6
    assert r["missing"] == 0
    assert r["dup_samples"] == r["dup_backlog"] <= 5 * r["tx_window"] * BLOCK_SAMPLES


def test_link_dying_inside_notify_loses_nothing(runs):
    r = runs["mid_notify"]
    _clean(r)
    assert r["died_in_notify"] == 3 and r["connects"] == 4
    assert r["missing"] == 0
    assert r["dup_samples"] == r["dup_backlog"] <= 3 * r["tx_window"] * BLOCK_SAMPLES


def test_exactly_once_count_catches_a_window_smaller_than_the_controller(runs):
    # With a controller deeper than TX_WINDOW, frames vanish at a drop and nobody counts
    # them on the band: the central's count is what shows it.
    r = runs["window_too_small"]
    assert r["lost_in_controller"] > r["tx_window"]
    assert r["missing"] > 0
    assert r["status"]["ring_dropped"] == 0


def test_enomem_backoff_loses_no_frame(runs):
    r = runs["slow_link"]
    _clean(r)
    assert r["enomem"] > 100 and r["status"]["retries"] > 100
    assert r["missing"] == 0
    assert r["status"]["ring_dropped"] == 0


def test_mtu_23_streams_nothing_and_keeps_sampling(runs):
    r = runs["mtu23"]
    _clean(r)
    st = r["status_at_mtu23"]
    assert r["frames_at_mtu23"] == 0
    assert st["mtu"] == 23 and st["state"] & 0x02 and not st["state"] & 0x01
    assert st["ring_waiting"] > 3000
    assert r["status"]["mtu"] == 185
    assert r["missing"] == 0 and r["backlog_frames"] > 0
    assert r["max_count"] == (185 - 3 - 20) // 12


def test_control_writes_are_applied(runs):
    r = runs["control"]
    _clean(r)
    assert r["stopped"]["state"] & 0x01 == 0  # STOP: not streaming
    assert dict(r["periods"]).keys() == {5000, 10000}  # SET_RATE 200, then back to 100
    assert dict(r["ranges"]).keys() == {0x32, 0x13}  # default, then SET_RANGE 0x13
    assert r["meta_rate_hz"] == 100 and r["meta_ranges"] == 0x13 and r["meta_part"] == 3
    assert 4 <= r["after_sync"]["since_sync_s"] <= 6 and r["after_sync"]["last_error"] == 0
    assert r["bad_opcode"]["last_error"] == 1
    assert r["bad_rate"]["last_error"] == 2
    assert r["missing"] == 0 and r["dup_samples"] == 0


def test_fifo_overflow_is_counted_exactly_and_flagged(runs):
    r = runs["overflow_icm"]
    _clean(r)
    assert r["imu_lost"] > 0 and r["status"]["overflows"] == 1
    (start, n), = r["missing_runs"]
    assert n == r["imu_lost"]  # the lost-packet counter is exact
    assert [start + n, 0] in r["loss_at"]  # the first sample after the gap has LOSS
    # The batch still in the FIFO predates the refused samples and is stamped so.
    assert r["max_time_err_us"] < 10_000


def test_mpu_overflow_gap_is_measured_from_the_clock(runs):
    r = runs["overflow_mpu6050"]
    _clean(r)  # content check: indices after the gap still match the sensor's samples
    assert r["imu_overflows"] > 0 and r["status"]["overflows"] >= 1
    (start, n), = r["missing_runs"]
    assert n >= r["imu_lost"]  # overwritten, plus the misaligned FIFO content dropped
    assert [start + n, 0] in r["loss_at"]


def test_missing_imu_is_reported_then_picked_up(runs):
    r = runs["no_imu"]
    st = r["status_without_imu"]
    assert st["state"] & 0x04 and st["last_error"] == 3
    assert r["frames_without_imu"] == 0
    assert r["frames"] > 100 and r["missing"] == 0
    assert r["status"]["state"] & 0x04 == 0 and r["status"]["last_error"] == 0


def test_wrong_who_am_i_is_refused(runs):
    r = runs["wrong_imu"]
    assert r["frames"] == 0 and r["meta_part"] == 0
    assert r["status"]["state"] & 0x04 and r["status"]["last_error"] == 3


def test_imu_lost_mid_stream_is_picked_up_with_a_flagged_gap(runs):
    r = runs["i2c_glitch"]
    assert r["status_during"]["state"] & 0x04 and r["status_during"]["last_error"] == 3
    assert r["status"]["last_error"] == 0 and r["frames"] > 250
    (start, n), = r["missing_runs"]
    assert 250 < n < 400  # about 3 s at 100 Hz
    assert [start + n, 0] in r["loss_at"]
    # The gap is measured on the band's clock: the sensor's restart pause (~10 ms) can put
    # the index one sample ahead of the sensor's own count, never behind.
    offsets = dict((o, c) for o, c in r["offsets"])
    assert set(offsets) <= {0, -1, -2} and offsets.get(0, 0) > 50


def test_advertising_and_gatt_table(runs):
    r = runs["gatt"]
    adv = bytes.fromhex(r["adv_hex"])
    fields = {}
    i = 0
    while i < len(adv):
        n = adv[i]
        fields[adv[i + 1]] = adv[i + 2:i + 1 + n]
        i += 1 + n
    assert len(adv) <= 31
    assert fields[0x01] == b"\x06"
    service = "7a1e0001-5c2b-4d0e-9a6f-747761746368"
    assert fields[0x07] == bytes.fromhex(service.replace("-", ""))[::-1]
    assert fields[0x09] == b"tw-c35e" and r["gap_name"] == "tw-c35e"  # model MAC ..:c3:5e
    assert r["services"] == [service, "180f", "180a"]
    ours = {f"7a1e000{k}-5c2b-4d0e-9a6f-747761746368" for k in (2, 3, 4, 5)}
    assert set(r["uuids"]) == ours | {"2a19", "2a29", "2a24", "2a26"}
    v = r["values"]
    assert bytes.fromhex(v["2a29"]) == b"twitchwatch"
    assert bytes.fromhex(v["2a26"]) == b"0.1.0"
    assert b"ICM-42688-P" in bytes.fromhex(v["2a24"])
    meta = bytes.fromhex(v["7a1e0003-5c2b-4d0e-9a6f-747761746368"])
    assert len(meta) == 20 and meta[0] == 1 and meta[4] == 100 and meta[6] == 0x32
    assert meta[7] == 3 and meta[14] == 3  # accel + gyro, ICM-42688-P
    status = bytes.fromhex(v["7a1e0005-5c2b-4d0e-9a6f-747761746368"])
    assert len(status) == 40 and status[4] == 0  # no central yet: not streaming


@pytest.mark.parametrize("name", ["alloc_icm_mtu247", "alloc_mpu6050_mtu100"])
def test_sampling_and_send_paths_do_not_allocate(runs, name):
    r = runs[name]
    _clean(r, paced=False)  # the probe sends on top of the band's own paced sender
    assert r["alloc_errors"] == []
    assert r["sample_calls"] == 1000
    assert r["live_sends"] > 30 and r["backlog_sends"] > 5
    assert r["missing"] == 0


def test_heap_is_flat_over_an_hour(runs):
    r = runs["hour"]
    _clean(r)
    heap = r["heap"]
    assert heap[0][0] == 60 and heap[-1][0] == 3660
    first, last = heap[0][1], heap[-1][1]
    assert last - first < 2048, heap
    assert max(h[1] for h in heap) - first < 4096, heap
    assert r["missing"] == 0 and r["disconnects"] == 6


def test_night_loses_only_what_the_ring_could_not_hold(runs):
    r = runs["night"]
    _clean(r)
    cap = r["ring_capacity_samples"]
    rate_hz = 100
    runs_missing = {start: n for start, n in r["missing_runs"]}
    lives = [first for _, first in r["first_live"]]
    long_outages = 0
    for t, d in r["drops_s"]:
        # Samples of this outage: from the drop to the reconnection's first live sample.
        begin = t * rate_hz
        after = [f for f in lives if f > begin]
        assert after, (t, d)
        end = after[0]
        lost = sum(n for s, n in runs_missing.items() if begin - 1000 <= s < end)
        if (end - begin) < cap:
            assert lost == 0, (t, d, end - begin, cap)
        else:
            long_outages += 1
            # Oldest first: the gap starts at the drop, and the ring kept a full ring.
            (start, n), = [(s, n) for s, n in runs_missing.items() if begin - 1000 <= s < end]
            kept = end - (start + n)
            assert cap - BLOCK_SAMPLES <= kept <= cap + r["tx_window"] * BLOCK_SAMPLES * 2
            assert [start + n, 1] in r["loss_at"]
    assert long_outages == 2
    # Device time of live frames tracks the central's clock over 8 h, across ~27 wraps of
    # ticks_us (2**30 us): a wrap mishandled would shift it by 1073 s.
    assert r["live_lag_spread_ms"] < 1000
    assert r["missing"] == sum(runs_missing.values())
    # The band counts every sample its ring dropped; re-sent copies of the in-flight window
    # that had in fact arrived are the only difference with what the central misses.
    assert r["missing"] <= r["status"]["ring_dropped"]
    assert r["status"]["ring_dropped"] - r["missing"] <= r["dup_samples"] + \
        long_outages * r["tx_window"] * BLOCK_SAMPLES
    assert r["produced"] - r["received_end"] <= 2 * BLOCK_SAMPLES
