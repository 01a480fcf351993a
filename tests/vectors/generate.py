"""Regenerate protocol_v1.json from the field values below (run by hand, output committed).

The bytes are built here with plain ``struct`` from docs/protocol.md, not with either
codec, so the vectors pin the document rather than whichever implementation came first.
"""

import json
import pathlib
import struct

HERE = pathlib.Path(__file__).parent


def frame(name, flags, seq, first_index, t_us, period_us, ranges, values):
    ch = 6 if flags & 2 else 3
    count = len(values) // ch
    raw = struct.pack("<BBHIQHBB", 1, flags, seq, first_index, t_us, period_us, count, ranges)
    raw += struct.pack(f"<{len(values)}h", *values)
    a_fs = 2.0 * (1 << (ranges & 15))
    g_fs = 250.0 * (1 << (ranges >> 4))
    rows = [values[i * ch:(i + 1) * ch] for i in range(count)]
    return {
        "name": name, "hex": raw.hex(),
        "fields": {"flags": flags, "seq": seq, "first_index": first_index, "t_us": t_us,
                   "period_us": period_us, "count": count, "ranges": ranges},
        "values": values,
        "acc_g": [[v * a_fs / 32768 for v in r[:3]] for r in rows],
        "gyro_dps": [[v * g_fs / 32768 for v in r[3:]] for r in rows] if ch == 6 else None,
    }


FRAMES = [
    frame("accel_1_sample_8g", 0x01, 0, 0, 0, 10000, 0x02, [0, 0, 4096]),
    frame("accel_3_samples_extremes", 0x01, 65535, 4294967295, 2**64 - 1, 20000, 0x32,
          [32767, -32768, -1, 1, 0, -4096, 12345, -12345, 256]),
    frame("gyro_2_samples_backlog_loss", 0x0F, 4660, 305419896, 1_700_000_000_123_456, 5000,
          0x33, [100, -200, 4096, 16, -16, 0, -4096, 2048, -2048, 32767, -32768, 1]),
    frame("accel_4g_2000dps_flags_acc_gyro", 0x03, 7, 1 << 31, 2**40 + 17, 10000, 0x31,
          [8192, 0, 0, 1638, 0, -1638]),
]


def bad(name, reason, raw):
    return {"name": name, "reason": reason, "hex": bytes(raw).hex()}


good = bytes.fromhex(FRAMES[0]["hex"])
MALFORMED = [
    bad("empty", "short", b""),
    bad("header_only", "short", good[:20]),
    bad("one_byte_short", "short", good[:21]),
    bad("version_2", "version", bytes([2]) + good[1:]),
    bad("version_0", "version", bytes([0]) + good[1:]),
    bad("no_acc_flag", "flags", good[:1] + bytes([0x02]) + good[2:]),
    bad("reserved_flag", "flags", good[:1] + bytes([0x11]) + good[2:]),
    bad("count_zero", "count", good[:18] + bytes([0]) + good[19:]),
    bad("count_absurd", "length", good[:18] + bytes([255]) + good[19:]),
    bad("trailing_byte", "length", good + b"\x00"),
    bad("gyro_flag_accel_payload", "length", good[:1] + bytes([0x03]) + good[2:]),
    bad("period_zero", "period", good[:16] + struct.pack("<H", 0) + good[18:]),
    bad("period_too_long", "period", good[:16] + struct.pack("<H", 65535) + good[18:]),
    bad("accel_range_4", "ranges", good[:19] + bytes([0x04]) + good[20:]),
    bad("gyro_range_4", "ranges", good[:19] + bytes([0x42]) + good[20:]),
]

META = [{
    "name": "mpu6050_wrist",
    "fields": {"fw_version": [0, 1, 0], "rate_hz": 100, "ranges": 0x32, "chan_flags": 0x03,
               "acc_map": [1, 2, 3], "gyro_map": [1, 2, 3], "part": 1, "wear_flags": 1,
               "ring_capacity": 360000},
}, {
    "name": "icm42688_rotated",
    "fields": {"fw_version": [1, 2, 3], "rate_hz": 200, "ranges": 0x32, "chan_flags": 0x03,
               "acc_map": [-2, 1, 3], "gyro_map": [-2, 1, 3], "part": 3, "wear_flags": 2,
               "ring_capacity": 4294967295},
}]
for m in META:
    f = m["fields"]
    m["hex"] = struct.pack("<BBBBHBBbbbbbbBBI", 1, *f["fw_version"], f["rate_hz"], f["ranges"],
                           f["chan_flags"], *f["acc_map"], *f["gyro_map"], f["part"],
                           f["wear_flags"], f["ring_capacity"]).hex()

STATUS = [{
    "name": "streaming",
    "fields": {"battery_pct": 87, "battery_mv": 3987, "state": 1, "last_error": 0, "mtu": 247,
               "sent": 123456, "retries": 12, "overflows": 0, "ring_dropped": 0,
               "ring_waiting": 0, "now_us": 28_800_000_000, "since_sync_s": 42},
}, {
    "name": "mtu_too_small_never_synced",
    "fields": {"battery_pct": 255, "battery_mv": 0, "state": 2, "last_error": 2, "mtu": 23,
               "sent": 0, "retries": 0, "overflows": 3, "ring_dropped": 1000,
               "ring_waiting": 65000, "now_us": 2**63 + 1, "since_sync_s": 4294967295},
}]
for s in STATUS:
    f = s["fields"]
    s["hex"] = struct.pack("<BBHBBHIIIIIQI", 1, f["battery_pct"], f["battery_mv"], f["state"],
                           f["last_error"], f["mtu"], f["sent"], f["retries"], f["overflows"],
                           f["ring_dropped"], f["ring_waiting"], f["now_us"],
                           f["since_sync_s"]).hex()

CONTROL = [
    {"hex": "01", "op": 1, "arg": None},
    {"hex": "02", "op": 2, "arg": None},
    {"hex": struct.pack("<BH", 3, 200).hex(), "op": 3, "arg": 200},
    {"hex": "0432", "op": 4, "arg": 0x32},
    {"hex": struct.pack("<BQ", 5, 1_764_100_000_000_000).hex(), "op": 5,
     "arg": 1_764_100_000_000_000},
]
CONTROL_BAD = [
    {"hex": "", "error": 1}, {"hex": "09", "error": 1}, {"hex": "0100", "error": 2},
    {"hex": struct.pack("<BH", 3, 150).hex(), "error": 2}, {"hex": "0404", "error": 2},
    {"hex": "0505", "error": 2},
]

MTU = [{"mtu": m, "channels": c, "samples": s} for m, c, s in
       [(23, 3, 0), (23, 6, 0), (24, 3, 0), (29, 3, 1), (35, 6, 1), (41, 3, 3), (83, 6, 5),
        (247, 3, 37), (247, 6, 18), (517, 3, 82), (517, 6, 41), (1600, 3, 255)]]

doc = {"protocol": 1, "frames": FRAMES, "malformed": MALFORMED, "meta": META,
       "status": STATUS, "control": CONTROL, "control_bad": CONTROL_BAD,
       "samples_per_frame": MTU}
(HERE / "protocol_v1.json").write_text(json.dumps(doc, indent=1) + "\n")
print("wrote", HERE / "protocol_v1.json")
