# Runs under the MicroPython unix port (and CPython): the firmware encoder against the
# shared vectors. Prints one line per failure and a final "PASS n" or "FAIL n".
import json
import sys

import twproto

path = sys.argv[1] if len(sys.argv) > 1 else "tests/vectors/protocol_v1.json"
with open(path) as f:
    doc = json.load(f)

failures = []
checks = 0


def check(name, got, want):
    global checks
    checks += 1
    if got != want:
        failures.append("%s: got %r want %r" % (name, got, want))


for v in doc["frames"]:
    f = v["fields"]
    got = twproto.encode_frame(f["flags"], f["seq"], f["first_index"], f["t_us"],
                               f["period_us"], f["ranges"], v["values"])
    check("frame " + v["name"], got, bytes.fromhex(v["hex"]))
    # The allocation-free path the band uses: a reused buffer and raw sample bytes.
    buf = bytearray(600)
    n = twproto.pack_frame_into(buf, f["flags"], f["seq"], f["first_index"], f["t_us"],
                                f["period_us"], f["count"], f["ranges"],
                                twproto.pack_samples(v["values"]))
    check("frame_into " + v["name"], bytes(buf[:n]), bytes.fromhex(v["hex"]))
    # The band's header with its clock split into (hi, lo) small ints.
    t_hi, t_lo = f["t_us"] >> 30, f["t_us"] & 0x3FFFFFFF
    m = twproto.pack_header_into(buf, f["flags"], 0, f["first_index"], t_hi, t_lo,
                                 f["period_us"], f["count"], f["ranges"])
    twproto.set_flags_seq(buf, f["flags"], f["seq"])
    check("header_split " + v["name"], (m, bytes(buf[:20])),
          (n, bytes.fromhex(v["hex"])[:20]))

for v in doc["meta"]:
    f = v["fields"]
    got = twproto.encode_meta(f["fw_version"], f["rate_hz"], f["ranges"], f["chan_flags"],
                              f["acc_map"], f["gyro_map"], f["part"], f["wear_flags"],
                              f["ring_capacity"])
    check("meta " + v["name"], got, bytes.fromhex(v["hex"]))

for v in doc["status"]:
    f = v["fields"]
    buf = bytearray(twproto.STATUS_SIZE)
    twproto.pack_status_into(buf, f["battery_pct"], f["battery_mv"], f["state"],
                             f["last_error"], f["mtu"], f["sent"], f["retries"],
                             f["overflows"], f["ring_dropped"], f["ring_waiting"],
                             f["now_us"], f["since_sync_s"])
    check("status " + v["name"], bytes(buf), bytes.fromhex(v["hex"]))

for v in doc["status"]:
    # The status time written from the split clock, as the band does.
    f = v["fields"]
    buf = bytearray(twproto.STATUS_SIZE)
    twproto.pack_status_into(buf, f["battery_pct"], f["battery_mv"], f["state"],
                             f["last_error"], f["mtu"], f["sent"], f["retries"],
                             f["overflows"], f["ring_dropped"], f["ring_waiting"], 0,
                             f["since_sync_s"])
    twproto.pack_t64_into(buf, 28, f["now_us"] >> 30, f["now_us"] & 0x3FFFFFFF)
    check("status_split " + v["name"], bytes(buf), bytes.fromhex(v["hex"]))

for v in doc["control"]:
    check("control " + v["hex"], twproto.decode_control(bytes.fromhex(v["hex"])),
          (v["op"], v["arg"]))

for v in doc["control_bad"]:
    try:
        twproto.decode_control(bytes.fromhex(v["hex"]))
        check("control_bad " + v["hex"], "accepted", v["error"])
    except ValueError as e:
        check("control_bad " + v["hex"], e.args[0], v["error"])

for v in doc["samples_per_frame"]:
    check("samples_per_frame %d/%d" % (v["mtu"], v["channels"]),
          twproto.samples_per_frame(v["mtu"], v["channels"]), v["samples"])

for line in failures:
    print(line)
print(("FAIL %d of %d" % (len(failures), checks)) if failures else "PASS %d" % checks)
