# Runs the unmodified firmware (firmware/main.py) on the real MicroPython unix port,
# inside the hardware models of tests/mpy/models, on simulated time.
#
#   micropython -X heapsize=96M tests/mpy/run_sim.py SCENARIO [SCENARIO...]
#
# Prints one JSON line per scenario: {"scenario": ..., measured figures...}. The pytest
# wrappers (tests/test_firmware_sim.py) assert on them; docs/firmware.md quotes them.
import sys

_here = sys.argv[0].rsplit("/", 1)[0] if "/" in sys.argv[0] else "."
_root = _here + "/../.."
# The models must come first: they shadow the built-in time, select and machine.
sys.path[:0] = [_here + "/models", _here, _root + "/firmware"]

import gc  # noqa: E402
import json  # noqa: E402

import asyncio  # noqa: E402
import bluetooth  # noqa: E402
import machine  # noqa: E402
import micropython  # noqa: E402
import sim  # noqa: E402
import vfs  # noqa: E402
from flashdev import Flash  # noqa: E402
from imu_models import ICM42688, MPUFamily  # noqa: E402
from sink import Sink  # noqa: E402

S = 1_000_000  # us per second
central = bluetooth.central
META_UUID = bluetooth.UUID("7a1e0003-5c2b-4d0e-9a6f-747761746368")


_flash = []
_bond_flash = []
BOND_FLASH_BYTES = 64 * 1024  # on the band: the same littlefs as /ring; here its own


def _console_to_sim():
    # The band's console is its display (passkeys): the owner - the model central - reads
    # it from sim.console. The line still goes to stdout as on the band.
    import pairing
    pairing.say = sim.say


def _mount(flash, path, mkfs):
    try:
        vfs.umount(path)
    except BaseException:  # OSError, or PowerCut from a dead chip
        pass
    if mkfs:
        vfs.VfsLfs2.mkfs(flash)
    vfs.mount(vfs.VfsLfs2(flash), path)


def teardown():
    """Close the last run's files while its flash is still the mounted one: a littlefs file
    finalised by a later GC would flush into a stale model, inside the collector."""
    if _flash:
        _flash[0].timed = False
    import band
    if band.app is not None:
        band.app.ring.close()
        band.app = None
    del _flash[:]
    gc.collect()


def provision_bond():
    """The band and the model central bonded before this run (a normal night: the band was
    paired once, at set-up). Written with the firmware's own store, as a pairing would."""
    import bonds
    import config
    store = bonds.BondStore(config.BOND_FILE, config.MAX_BONDS)
    ltk = bytes(range(16, 32))
    blob = bluetooth.make_sec_blob(central.key7(), ltk, True)
    store.set(bluetooth.SEC_OUR, central.key7(), blob)
    store.set(bluetooth.SEC_PEER, central.key7(), blob)
    store.commit()
    store.save()
    central.ltk = ltk
    central.ltk_auth = True


def setup(imu="icm", flash_bytes=2 * 1024 * 1024, timed_flash=True, present=True, who=None,
          bonded=True):
    teardown()
    sim.reset()
    machine.reset_models()
    bluetooth._ble.__init__()
    central.reset()
    asyncio.new_event_loop()
    _console_to_sim()
    flash = Flash(flash_bytes, timed=timed_flash)
    _flash.append(flash)
    _mount(flash, "/ring", True)
    del _bond_flash[:]
    _bond_flash.append(Flash(BOND_FLASH_BYTES, timed=timed_flash))
    _mount(_bond_flash[0], "/bond", True)
    if bonded:
        provision_bond()
    if imu == "icm":
        dev = ICM42688(int_pin=19)
    else:
        dev = MPUFamily(who=who or (0x19 if imu == "mpu6886" else 0x68))
    if imu == "mpu6500":
        dev = MPUFamily(who=0x70)
    dev.present = present
    machine.attach(0, 0x68, dev)
    return dev, flash


def boot(end_s, max_samples, check_content=True):
    """Run main.py until end_s of simulated time; return the central's sink."""
    sim.end_us = int(end_s * S)
    sink = Sink(max_samples, check_content)
    central.sink = sink
    if "main" in sys.modules:
        del sys.modules["main"]
    try:
        import main  # noqa: F401
    except (sim.SimEnd, sim.PowerCut):
        pass
    return sink


def meta():
    import struct
    v = central.read(META_UUID)
    return struct.unpack("<BBBBHBBbbbbbbBBI", v)


def heap_probe(at_s, out):
    def probe(_):
        gc.collect()
        out.append((at_s, gc.mem_alloc(), gc.mem_free()))
    sim.at(int(at_s * S), probe)


def _tx_window():
    import config
    return config.TX_WINDOW


def summary(name, sink, dev, extra=None):
    st = sink.status()
    upto = sink.end
    r = {
        "scenario": name,
        "sim_s": sim.now_us / S,
        "produced": dev.serial,
        "received_end": upto,
        "missing": sink.missing(upto),
        "dup_samples": sink.dup_samples,
        "dup_backlog": sink.dup_backlog,
        "frames": sink.frames,
        "backlog_frames": sink.backlog_frames,
        "loss_frames": sink.loss_frames,
        "malformed": sink.malformed,
        "seq_errors": sink.seq_errors,
        "content_errors": sink.content_errors,
        "first_content_error": sink.first_content_error,
        "max_count": sink.max_count,
        "periods": sorted(sink.periods.items()),
        "ranges": sorted(sink.ranges.items()),
        "imu_lost": dev.lost_total,
        "imu_overflows": dev.overflows,
        "connects": central.connects,
        "disconnects": central.disconnects,
        "lost_in_controller": central.lost_in_controller,
        "enomem": central.enomem,
        "max_queued": central.max_queued,
        "status": st,
        "status_notifications": sink.status_notifications,
        "sim_events": sim.events_run,
        "live_lag_spread_ms": (sink.lag_max_us - sink.lag_min_us) // 1000,
        "first_live": sink.first_live,
        "loss_at": sink.loss_at[:50],
        "max_notify_per_s": sink.max_per_s,
        "max_time_err_us": sink.max_time_err_us,
        "tx_window": _tx_window(),
    }
    if extra:
        r.update(extra)
    return r


# --- scenarios -------------------------------------------------------------------------


def sc_disconnect(imu="icm"):
    """One-minute link drop mid-stream: every sample exactly once, backlog behind live."""
    dev, _ = setup(imu)
    central.start(1 * S)
    central.drop(120 * S, 60 * S)
    out = {}

    def probe(_):
        out["status_replaying"] = central.sink.status()

    sim.at(183 * S, probe)  # 3 s after the band is back in range
    sink = boot(300, 40_000)
    return summary("disconnect_" + imu, sink, dev, out)


def sc_hangup():
    """The central hangs up with notifications in flight: re-sent, so none lost."""
    dev, _ = setup("icm")
    central.start(1 * S)
    for k in range(5):
        central.hang_up((30 + 40 * k) * S + 7_000, 5 * S)
    sink = boot(260, 40_000)
    return summary("hangup", sink, dev)


def sc_mid_notify():
    """The link dies inside gatts_notify, three times: ENOTCONN, then the disconnect."""
    dev, _ = setup("icm")
    central.start(1 * S)
    for k in range(3):
        central.die_in_notify((20 + 30 * k) * S, 5 * S)
    sink = boot(120, 20_000)
    return summary("mid_notify", sink, dev, {"died_in_notify": central.died_in_notify})


def sc_window_too_small():
    """A controller queue deeper than the band's TX_WINDOW: a drop loses frames silently.
    Shows that the exactly-once count can fail."""
    dev, _ = setup("icm")
    central.tx_queue = 40  # while the radio is silent, 40 frames pile up in the controller
    central.start(1 * S)
    central.drop(60 * S, 20 * S)
    sink = boot(150, 30_000)
    return summary("window_too_small", sink, dev)


def sc_slow_link():
    """A slow central (one packet per 100 ms event, 3 buffers): ENOMEM backoff, no loss."""
    dev, _ = setup("mpu6050")
    central.interval_us = 100_000
    central.per_event = 1
    central.tx_queue = 3
    central.start(1 * S)
    central.drop(60 * S, 30 * S)
    sink = boot(240, 40_000)
    return summary("slow_link", sink, dev)


def sc_mtu23():
    """A central that never exchanges the MTU: no frames, MTU_TOO_SMALL, samples kept;
    after a reconnect with an exchange the backlog arrives."""
    dev, _ = setup("icm")
    central.mtu_offer = None
    central.start(1 * S)
    out = {}

    def check(_):
        out["status_at_mtu23"] = Sink(10).status()
        out["frames_at_mtu23"] = central.sink.frames
        central.mtu_offer = 185

    sim.at(40 * S, check)
    central.hang_up(41 * S, 2 * S)
    sink = boot(120, 20_000)
    return summary("mtu23", sink, dev, out)


def sc_control():
    """Control writes: STOP/START, SET_RATE, SET_RANGE, TIME_SYNC and malformed commands."""
    dev, _ = setup("icm")
    central.start(1 * S)
    out = {}
    central.write(10 * S, b"\x02")  # STOP
    central.write(20 * S, b"\x01")  # START

    def probe(key):
        def f(_):
            st = central.sink.status()
            out[key] = {"state": st["state"], "last_error": st["last_error"],
                        "since_sync_s": st["since_sync_s"]}
        return f

    sim.at(15 * S, probe("stopped"))
    central.write(30 * S, b"\x03\xc8\x00")  # SET_RATE 200
    central.write(40 * S, b"\x04\x13")  # +/-16 g, +/-500 deg/s
    central.write(50 * S, b"\x05" + (1_767_225_600_000_000).to_bytes(8, "little"))
    sim.at(55 * S, probe("after_sync"))
    central.write(60 * S, b"\x09")  # unknown opcode
    sim.at(61 * S, probe("bad_opcode"))
    central.write(62 * S, b"\x03\x2c\x01")  # SET_RATE 300: not a rate
    sim.at(63 * S, probe("bad_rate"))
    central.write(64 * S, b"\x03\x64\x00")  # back to 100 Hz
    sink = boot(90, 40_000)
    meta_now = meta()
    out["meta_rate_hz"] = meta_now[4]
    out["meta_ranges"] = meta_now[5]
    out["meta_part"] = meta_now[13]
    out["meta_ring_capacity"] = meta_now[15]
    return summary("control", sink, dev, out)


def sc_overflow(imu="icm"):
    """The CPU is blocked 2.5 s (a long flash operation): the FIFO overflows; the frame
    after the gap carries LOSS and its index skips exactly the lost samples."""
    dev, _ = setup(imu)
    central.start(1 * S)
    import time
    sim.at(30 * S, lambda _: time.sleep_ms(2500))
    sink = boot(60, 10_000)
    runs = sink.missing_runs(sink.end)
    return summary("overflow_" + imu, sink, dev, {"missing_runs": runs})


def sc_no_imu():
    """No IMU answers at boot (NACK): IMU_ERROR and last_error 3; it appears later and the
    band starts sampling without a reboot."""
    dev, _ = setup("icm", present=False)
    central.start(1 * S)
    out = {}

    def probe(_):
        out["status_without_imu"] = central.sink.status()
        out["frames_without_imu"] = central.sink.frames
        dev.present = True

    sim.at(10 * S, probe)
    sink = boot(40, 10_000, check_content=False)
    return summary("no_imu", sink, dev, out)


def sc_wrong_imu():
    """A part with an unsupported WHO_AM_I (MPU6500, 0x70) is refused, not misdriven."""
    dev, _ = setup("mpu6500")
    central.start(1 * S)
    sink = boot(10, 1000, check_content=False)
    return summary("wrong_imu", sink, dev, {"meta_part": meta()[13]})


def sc_hour():
    """An hour of streaming with link drops and ENOMEM: heap after collect, start vs end."""
    dev, _ = setup("icm")
    central.start(1 * S)
    central.tx_queue = 4
    probes = []
    for k in range(13):
        heap_probe(60 + 300 * k, probes)
    for k in range(6):
        central.drop((200 + 600 * k) * S, (30 + 10 * k) * S)
    sink = boot(3700, 400_000, check_content=False)
    return summary("hour", sink, dev, {"heap": probes})


def sc_night():
    """8 h at 100 Hz with accel + gyro and link drops, two longer than the ring holds."""
    dev, flash = setup("icm")
    central.start(2 * S)
    drops = [(1800, 60), (5400, 600), (9000, 1800), (14400, 20), (18000, 3600),
             (23000, 300), (26000, 45)]
    for t, d in drops:
        central.drop(t * S, d * S)
    hours = 8
    sink = boot(hours * 3600, hours * 3600 * 101 + 1000, check_content=False)
    m = meta()
    cap_samples = m[15]
    runs = sink.missing_runs(sink.end)
    return summary("night", sink, dev, {
        "drops_s": drops, "ring_capacity_samples": cap_samples, "missing_runs": runs,
        "flash_erases": flash.erases, "flash_mb_programmed": flash.bytes_programmed / 1e6,
    })


def sc_alloc(imu="icm", mtu=247):
    """The sampling and send paths under micropython.heap_lock(): any allocation raises.

    Every 100 ms from 20 s on, the probe runs what the sampler and the sender tasks run:
    drain the FIFO into blocks, then offer one live or backlog frame. A link drop at 30 s
    makes backlog to replay; mtu < 247 makes frames that are parts of blocks."""
    dev, _ = setup(imu, timed_flash=False)
    central.mtu_offer = mtu
    central.start(1 * S)
    import band as band_mod
    out = {"sample_calls": 0, "live_sends": 0, "backlog_sends": 0, "alloc_errors": [],
           "unlocked_file_opens": 0}
    sim.end_us = 120 * S
    b = band_mod.Band()
    band_mod.app = b
    central.sink = Sink(20_000)

    def hot(_):
        if b.imu is None:
            return
        ring = b.ring
        if b.live and not b.ready.n and not b.bl_n and ring.pending() and (
                ring.r // ring.seg != ring._rf_seg or ring.r % ring.seg >= ring._rf_seen):
            # The next backlog record is in a file the ring has not opened yet: opening
            # it allocates (a file object, once per RING_SEG_RECORDS records).
            out["unlocked_file_opens"] += 1
            b._send_backlog(b._spf())
        for what in ("sample", "send"):
            err = None
            micropython.heap_lock()
            try:
                if what == "sample":
                    b._sample_once()
                    out["sample_calls"] += 1
                elif b.live and b.ready.n:
                    b._send_live(b._spf())
                    out["live_sends"] += 1
                elif b.live and b._send_backlog(b._spf()) != 2:
                    out["backlog_sends"] += 1
            except MemoryError as e:
                err = e
            finally:
                micropython.heap_unlock()
            if err is not None:
                out["alloc_errors"].append(what)
                sys.print_exception(err)

    for k in range(1000):
        sim.at(20 * S + k * 100_000, hot)
    central.drop(30 * S, 10 * S)
    try:
        asyncio.run(b.run())
    except sim.SimEnd:
        pass
    return summary("alloc_%s_mtu%d" % (imu, mtu), central.sink, dev, out)


def sc_i2c_glitch():
    """The IMU stops answering for 3 s mid-stream (a loose wire): IMU_ERROR, re-detection,
    and the index skips the samples missed, with LOSS, instead of running behind."""
    dev, _ = setup("icm")
    central.start(1 * S)
    out = {}

    def cut(_):
        dev.present = False

    def probe(_):
        out["status_during"] = central.sink.status()

    def back(_):
        dev.present = True

    sim.at(20 * S, cut)
    sim.at(22 * S, probe)
    sim.at(23 * S, back)
    sink = boot(60, 10_000)
    out["offsets"] = sorted(sink.offsets.items())
    out["missing_runs"] = sink.missing_runs(sink.end)
    return summary("i2c_glitch", sink, dev, out)


def sc_gatt():
    """What a scanning central sees: advertising payload, GATT table, standard services."""
    dev, _ = setup("icm")
    central.mtu_offer = None
    out = {}

    def look(_):
        ble = bluetooth._ble
        out["adv_hex"] = ble.adv.hex() if ble.adv is not None else None
        out["gap_name"] = ble.gap_name.decode()
        out["uuids"] = sorted(str(u.v) if not isinstance(u.v, int) else "%04x" % u.v
                              for u in ble.uuids.values())
        out["services"] = [str(u.v) if not isinstance(u.v, int) else "%04x" % u.v
                           for u in ble.services]
        out["values"] = {("%04x" % u.v if isinstance(u.v, int) else u.v): ble.values[h].hex()
                         for h, u in ble.uuids.items()}

    sim.at(3 * S, look)
    sink = boot(4, 1000)
    return summary("gatt", sink, dev, out)


# --- bonding and link security (docs/security.md) ----------------------------------------

META_TW = META_UUID
STRANGER_ADDR = b"\x5c\xf3\x70\x00\x00"


def stranger(last, **kw):
    """Another host in radio range: its own address, no key, bluetoothctl-like agent."""
    d = {"addr": STRANGER_ADDR + bytes([last]), "ltk": None, "ltk_auth": False,
         "io": bluetooth.IO_KEYBOARD_DISPLAY, "mitm": True, "bond": True, "secure": True,
         "pair_allowed": True, "typed": None}
    d.update(kw)
    return d


def switch_to(at_s, ident):
    """At at_s the connected central hangs up and another one (ident) starts connecting."""
    def go(_):
        if central.conn >= 0:
            central.want = False
            central._disconnect(False)
        central.assume(ident)
        central._want(True)
    sim.at(int(at_s * S), go)


def press(at_s, hold_s):
    """The owner holds the band's BOOT button (GPIO0, low while pressed)."""
    sim.at(int(at_s * S), lambda _: machine.pins[0].value(0))
    sim.at(int((at_s + hold_s) * S), lambda _: machine.pins[0].value(1))


def at(at_s, fn):
    sim.at(int(at_s * S), lambda _: fn())


def sec_state():
    import band
    link = band.app.link
    sec = link.sec
    return {"trusted": link.trusted, "window": sec.window_open(), "peers": sec.store.peers(),
            "bonds_made": sec.bonds_made, "pairings_refused": sec.pairings_refused,
            "pairings_failed": sec.pairings_failed, "untrusted_dropped": sec.untrusted_dropped,
            "ctl_refused": link.ctl_refused, "saves": sec.store.saves,
            "bond_file_bytes": _file_size(_bond_path())}


def central_state():
    return {"connected": central.conn >= 0, "enc": central.enc, "auth": central.auth,
            "has_key": central.ltk is not None, "pairings": central.pairings,
            "pair_failures": central.pair_failures, "repeat_pairings": central.repeat_pairings,
            "key_missing": central.key_missing, "encryptions": central.encryptions,
            "att_errors": list(central.att_errors)}


def _bond_path():
    import config
    return config.BOND_FILE


def _file_size(path):
    import os
    try:
        return os.stat(path)[6]
    except OSError:
        return -1


def _console():
    return [[t // 1000, m] for t, m in sim.console]


def sc_sec_unbonded(gated=True):
    """The bonded gateway is away; strangers try: a plain client (reads, writes, waits for
    notifications), Just Works, a passkey pairing outside the window, and two that use the
    gateway's own address without its key (repeat pairing). Then the gateway comes back."""
    dev, _ = setup("icm")
    import blelink
    own_gate = blelink.Link.trusted
    if not gated:
        # Negative control: the firmware's own notification gate removed. Shows that the
        # model delivers notifications to anyone, as gatts_notify does on the ESP32.
        blelink.Link.trusted = property(lambda self: self.conn >= 0)
    gw = central.identity()
    central.start(1 * S)
    out = {}
    at(29.99, lambda: out.__setitem__("before", (central.sink.frames,
                                                  central.sink.status_notifications)))
    switch_to(30, stranger(1, secure=False))
    at(33, lambda: out.__setitem__("plain_read_meta", central.att_read(META_TW)[0]))
    central.write(int(33.1 * S), b"\x02")  # STOP
    at(33.2, lambda: out.__setitem__("plain", central_state()))
    at(45, lambda: out.__setitem__("plain_later", central_state()))
    switch_to(50, stranger(2, io=bluetooth.IO_NO_INPUT_OUTPUT, mitm=False))
    at(50.35, lambda: out.__setitem__("justworks", central_state()))
    at(50.36, lambda: out.__setitem__("justworks_read_meta", central.att_read(META_TW)[0]))
    switch_to(65, stranger(3))
    at(70, lambda: out.__setitem__("passkey_closed", central_state()))
    switch_to(80, dict(gw, ltk=None, pair_allowed=True))
    at(90, lambda: out.__setitem__("spoof_passkey", central_state()))
    switch_to(95, dict(gw, ltk=None, io=bluetooth.IO_NO_INPUT_OUTPUT, mitm=False,
                       pair_allowed=True))
    at(100, lambda: out.__setitem__("spoof_justworks", central_state()))
    at(129.99, lambda: out.__setitem__("after", (central.sink.frames,
                                                  central.sink.status_notifications)))
    at(129.99, lambda: out.__setitem__("sec_before_gw", sec_state()))
    switch_to(130, gw)
    sink = boot(200, 40_000)
    out["gateway"] = central_state()
    out["sec"] = sec_state()
    out["console"] = _console()
    blelink.Link.trusted = own_gate
    return summary("sec_unbonded" if gated else "sec_ungated", sink, dev, out)


def sc_sec_reboot():
    """First pairing on a fresh band, then the band reboots: the bond comes back from
    its file, the gateway re-encrypts without pairing, data flows again."""
    dev, _ = setup("icm", bonded=False)
    central.start(1 * S)
    out = {}
    at(24, lambda: out.__setitem__("before", dict(sec_state(), irk=bluetooth._ble.own_irk.hex(),
                                                   irk_saved=bluetooth._ble.irk_saved)))
    sink1 = boot(25, 10_000)
    out["frames_before"] = sink1.frames
    out["central_before"] = central_state()
    n_console = len(sim.console)
    reboot()
    at(59, lambda: out.__setitem__("after", dict(sec_state(), irk=bluetooth._ble.own_irk.hex(),
                                                  irk_saved=bluetooth._ble.irk_saved)))
    sink = boot(60, 10_000, check_content=False)  # indices restart at boot
    out["frames_after"] = sink.frames
    out["central_after"] = central_state()
    out["console_after_reboot"] = [m for _, m in sim.console[n_console:]]
    return summary("sec_reboot", sink, dev, out)


def reboot():
    """The band resets (power cycle): RAM gone, flash kept and mounted again."""
    import band
    if band.app is not None:
        try:
            band.app.ring.close()
        except BaseException:
            pass
        band.app = None
    bluetooth._ble.__init__()  # the stack restarts with the chip
    central.band_reset()
    old = _bond_flash.pop()
    new = old.clone()
    old.dead = True  # unplugged: what stale handles of the old boot flush reaches nothing
    _bond_flash.append(new)
    sim.power_cut = False
    _mount(new, "/bond", False)
    asyncio.new_event_loop()


def sc_sec_window():
    """The pairing window: closed after its time, opened by holding BOOT, closed by a bond
    and by three failed pairings."""
    dev, _ = setup("icm", bonded=False)
    gw = central.identity()
    central.secure = False
    out = {}
    switch_to(125, dict(gw, pair_allowed=True))  # the window (open at boot) closed at 120 s
    at(135, lambda: out.__setitem__("late", central_state()))
    press(140, 3.5)
    at(144, lambda: out.__setitem__("window_after_press", sec_state()["window"]))
    switch_to(150, dict(gw, pair_allowed=True))
    at(160, lambda: out.__setitem__("paired", dict(central_state(), **sec_state())))
    switch_to(165, stranger(11))
    at(175, lambda: out.__setitem__("after_bond", central_state()))
    press(180, 3.5)
    switch_to(186, stranger(12, typed=-1))  # types a wrong passkey, three times
    central.pair(int(192 * S))
    central.pair(int(198 * S))
    at(204, lambda: out.__setitem__("guessing", dict(central_state(), **sec_state())))
    switch_to(206, stranger(13))
    at(216, lambda: out.__setitem__("after_failures", central_state()))
    sink = boot(230, 30_000, check_content=False)
    out["sec"] = sec_state()
    out["console"] = _console()
    return summary("sec_window", sink, dev, out)


def sc_sec_store():
    """At most MAX_BONDS bonds: a fifth central is refused; BOOT held 10 s clears them."""
    dev, _ = setup("icm", bonded=False)
    import config
    out = {"max_bonds": config.MAX_BONDS, "peers": [], "sizes": []}
    for k in range(config.MAX_BONDS + 1):
        t = 5 + 25 * k
        if k:
            press(t, 3.5)
        switch_to(t + 5, stranger(0x20 + k))
        at(t + 20, lambda: (out["peers"].append(sec_state()["peers"]),
                            out["sizes"].append(sec_state()["bond_file_bytes"])))
    at(5 + 25 * config.MAX_BONDS + 20, lambda: out.__setitem__("fifth", central_state()))
    press(140, 10.5)
    at(152, lambda: out.__setitem__("cleared", sec_state()))
    sink = boot(155, 30_000, check_content=False)
    out["console"] = _console()
    return summary("sec_store", sink, dev, out)


def _bonds_on_flash():
    """What the next boot will find: the firmware's store loaded from the flash."""
    import os

    import bonds
    import config
    tmp_left = _file_size(config.BOND_FILE + ".tmp") >= 0
    st = bonds.BondStore(config.BOND_FILE, config.MAX_BONDS)
    keys = sorted(e[1].hex() for e in st.entries if e[0] == bonds.SEC_PEER)
    return {"damaged": st.damaged, "peers": st.peers(), "peer_keys": keys,
            "tmp_left": tmp_left, "irk": any(e[0] == bonds.SEC_OWN_IRK for e in st.entries),
            "files": sorted(os.listdir("/bond"))}


def _pair_two(cut_after):
    """Bond central A, then cut the power cut_after flash operations into B's bonding."""
    setup("icm", bonded=False)
    a = stranger(0x30)
    b = stranger(0x31)
    central.assume(a)
    central.start(1 * S)
    press(10, 3.5)
    flash = _bond_flash[0]
    ops = {}

    def arm(_):
        ops["start"] = flash.ops
        flash.cut_after = cut_after

    sim.at(15 * S, arm)
    switch_to(15, b)
    boot(40, 10_000, check_content=False)
    ops["used"] = flash.ops - ops["start"]
    cut = flash.dead
    reboot()
    st = _bonds_on_flash()
    st["cut"] = cut
    st["ops"] = ops["used"]
    st["a"] = central.key7().hex() if False else (bytes([0]) + bytes(reversed(a["addr"]))).hex()
    st["b"] = (bytes([0]) + bytes(reversed(b["addr"]))).hex()
    return st


def sc_sec_powercut():
    """Power cut at every flash operation of a bond save: the next boot finds the old
    bonds or the new ones, never a damaged or empty store."""
    full = _pair_two(-1)  # no cut: how many flash operations B's bonding takes
    runs = [dict(_pair_two(k), k=k) for k in range(full["ops"])]
    return {"scenario": "sec_powercut", "uncut": full, "runs": runs}


SCENARIOS = {
    "disconnect": sc_disconnect,
    "disconnect_mpu": lambda: sc_disconnect("mpu6050"),
    "disconnect_mpu6886": lambda: sc_disconnect("mpu6886"),
    "hangup": sc_hangup,
    "mid_notify": sc_mid_notify,
    "window_too_small": sc_window_too_small,
    "slow_link": sc_slow_link,
    "mtu23": sc_mtu23,
    "control": sc_control,
    "overflow": sc_overflow,
    "overflow_mpu": lambda: sc_overflow("mpu6050"),
    "no_imu": sc_no_imu,
    "wrong_imu": sc_wrong_imu,
    "hour": sc_hour,
    "night": sc_night,
    "alloc": sc_alloc,
    "i2c_glitch": sc_i2c_glitch,
    "gatt": sc_gatt,
    "alloc_mpu_mtu100": lambda: sc_alloc("mpu6050", 100),
    "sec_unbonded": sc_sec_unbonded,
    "sec_ungated": lambda: sc_sec_unbonded(gated=False),
    "sec_reboot": sc_sec_reboot,
    "sec_window": sc_sec_window,
    "sec_store": sc_sec_store,
    "sec_powercut": sc_sec_powercut,
}

if __name__ == "__main__":
    names = sys.argv[1:] or sorted(SCENARIOS)
    for name in names:
        res = SCENARIOS[name]()
        print(json.dumps(res))
