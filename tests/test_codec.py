"""The gateway decoder against the shared byte-exact vectors, plus a fuzz of malformed input."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twitchwatch.gateway import codec
from twitchwatch.gateway.errors import FrameError, ProtocolError


def test_frames_decode_to_the_vector_values(vectors):
    for v in vectors["frames"]:
        f = codec.decode_frame(bytes.fromhex(v["hex"]))
        fields = v["fields"]
        assert (f.flags, f.seq, f.first_index, f.t_us, f.period_us, f.count, f.ranges) == (
            fields["flags"], fields["seq"], fields["first_index"], fields["t_us"],
            fields["period_us"], fields["count"], fields["ranges"]), v["name"]
        np.testing.assert_array_equal(f.raw.ravel(), v["values"])
        np.testing.assert_allclose(f.acc_g(), v["acc_g"], rtol=0, atol=1e-12)
        gyro = f.gyro_dps()
        if v["gyro_dps"] is None:
            assert gyro is None
        else:
            np.testing.assert_allclose(gyro, v["gyro_dps"], rtol=0, atol=1e-12)


def test_malformed_vectors_are_rejected_with_their_reason(vectors):
    for v in vectors["malformed"]:
        with pytest.raises(FrameError) as err:
            codec.decode_frame(bytes.fromhex(v["hex"]))
        assert err.value.reason == v["reason"], v["name"]
        assert err.value.reason in codec.REJECT_REASONS


def test_meta_and_status_vectors(vectors):
    for v in vectors["meta"]:
        m = codec.decode_meta(bytes.fromhex(v["hex"]))
        f = v["fields"]
        assert list(m.fw_version) == f["fw_version"]
        assert (m.rate_hz, m.ranges, m.channel_flags) == (f["rate_hz"], f["ranges"],
                                                          f["chan_flags"])
        assert list(m.acc_map) == f["acc_map"] and list(m.gyro_map) == f["gyro_map"]
        assert m.ring_capacity == f["ring_capacity"]
    for v in vectors["status"]:
        s = codec.decode_status(bytes.fromhex(v["hex"]))
        f = v["fields"]
        assert s.battery_pct == (None if f["battery_pct"] == 255 else f["battery_pct"])
        assert (s.mtu, s.notifications_sent, s.ring_waiting, s.device_time_us) == (
            f["mtu"], f["sent"], f["ring_waiting"], f["now_us"])
    assert codec.decode_status(bytes.fromhex(vectors["status"][1]["hex"])).mtu_too_small


def test_control_encoding_matches_vectors(vectors):
    for v in vectors["control"]:
        assert codec.encode_control(v["op"], v["arg"]).hex() == v["hex"]


def test_axis_map_rotates_sensor_axes_into_band_axes(vectors):
    m = codec.decode_meta(bytes.fromhex(vectors["meta"][1]["hex"]))  # map (-2, 1, 3)
    band = m.axis_matrix() @ np.array([0.1, 0.2, 0.9])
    np.testing.assert_allclose(band, [-0.2, 0.1, 0.9])


def test_axis_map_that_repeats_an_axis_is_refused():
    raw = struct.pack("<BBBBHBBbbbbbbBBI", 1, 0, 1, 0, 100, 0x32, 1, 1, 1, 3, 1, 2, 3, 1, 0, 0)
    with pytest.raises(ProtocolError, match="twice"):
        codec.decode_meta(raw)


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_crash_the_decoder(data):
    try:
        f = codec.decode_frame(data)
    except FrameError as e:
        assert e.reason in codec.REJECT_REASONS
    else:
        assert len(data) == 20 + f.raw.size * 2


@settings(max_examples=2000, deadline=None)
@given(st.data())
def test_mutated_valid_frames_decode_or_are_rejected(vectors, data):
    base = bytearray.fromhex(data.draw(st.sampled_from([v["hex"] for v in vectors["frames"]])))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(base) - 1))
        base[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(base)))
    try:
        f = codec.decode_frame(bytes(base[:cut]))
    except FrameError as e:
        assert e.reason in codec.REJECT_REASONS
    else:
        assert f.count >= 1 and f.raw.shape[1] in (3, 6)
