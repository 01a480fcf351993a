"""Bonding and link security of the unmodified firmware, on the real MicroPython unix port
(tests/mpy/run_sim.py), against the NimBLE model of tests/mpy/models/bluetooth.py.

The model does what MicroPython's binding does on an ESP32 (docs/security.md): ATT errors
0x05 / 0x0F for protected characteristics, notifications to anyone whatever the link's
security, secrets as opaque blobs through _IRQ_GET_SECRET / _IRQ_SET_SECRET, a repeat
pairing that deletes the stored bond first. What is asserted is what the firmware makes
of it.
"""

from __future__ import annotations

import pytest

from .firmware_helpers import collect, start_sim

SCENARIOS = ("sec_unbonded", "sec_ungated", "sec_reboot", "sec_window", "sec_store",
             "sec_powercut")
ATT_INSUFFICIENT_AUTHENTICATION = 0x05


@pytest.fixture(scope="module")
def runs() -> dict[str, dict]:
    return collect(start_sim(*SCENARIOS), 300)


def _lines(r: dict) -> list[str]:
    return [m for _, m in r["console"]]


def test_unbonded_centrals_get_no_data_no_reads_and_no_control(runs):
    r = runs["sec_unbonded"]
    # 100 s of strangers while the bonded gateway was away: not one notification.
    assert r["before"] == r["after"], (r["before"], r["after"])
    # A plain client: protected reads and writes are refused by the stack's flags ...
    assert r["plain_read_meta"] == ATT_INSUFFICIENT_AUTHENTICATION
    assert ["write", ATT_INSUFFICIENT_AUTHENTICATION] in r["plain"]["att_errors"]
    assert r["plain"]["connected"]
    # ... and it cannot squat on the band's only connection.
    assert "dropping a central that did not secure the link in 10 s" in _lines(r)
    # Just Works: the link got encrypted, but the key is not authenticated: dropped.
    assert not r["justworks"]["connected"]
    assert "link not trusted: pairing outside the pairing window" in _lines(r)
    # Passkey pairing outside the window: refused before any key exists.
    assert "pairing refused: the pairing window is closed" in _lines(r)
    assert not r["passkey_closed"]["has_key"]
    assert not any("passkey " in line and "type it" in line for line in _lines(r))
    # A stranger using the gateway's own address made the stack delete the bond (repeat
    # pairing) twice; the deletion stayed pending and was rolled back.
    assert r["spoof_justworks"]["repeat_pairings"] == 2
    sec = r["sec_before_gw"]
    assert sec["peers"] == 1 and sec["bonds_made"] == 0 and sec["saves"] == 1
    # The real gateway re-encrypts with its key and streams; nothing was lost meanwhile.
    assert r["gateway"]["enc"] and r["gateway"]["auth"] and r["sec"]["trusted"]
    assert r["frames"] > r["after"][0] + 500
    assert r["missing"] == 0 and r["seq_errors"] == 0 and r["content_errors"] == 0


def test_without_the_firmwares_gate_the_stack_would_notify_strangers(runs):
    # Negative control: the same run with the firmware's own notification gate removed.
    # gatts_notify then reaches the unauthenticated strangers, as on an ESP32.
    r = runs["sec_ungated"]
    assert r["after"][0] - r["before"][0] > 100
    assert r["after"][1] - r["before"][1] > 10


def test_bond_survives_a_reboot(runs):
    r = runs["sec_reboot"]
    before, after = r["before"], r["after"]
    assert before["bonds_made"] == 1 and before["peers"] == 1 and r["frames_before"] > 0
    assert after["peers"] == 1 and after["trusted"] and after["saves"] == 0
    # The gateway did not pair again: it re-encrypted with the key both sides kept.
    assert r["central_after"]["pairings"] == 1
    assert r["central_after"]["encryptions"] == 1 and r["central_after"]["auth"]
    assert r["frames_after"] > 100
    assert not any("pairing window open" in m for m in r["console_after_reboot"])
    # The band's own IRK was generated once, stored, and loaded again.
    assert before["irk_saved"] and after["irk_saved"] and before["irk"] == after["irk"]


def test_pairing_window_opens_and_closes(runs):
    r = runs["sec_window"]
    lines = _lines(r)
    assert lines[0] == "pairing window open for 120 s (no bond yet)"
    assert "pairing window closed (time is up)" in lines
    assert not r["late"]["has_key"]  # tried at 125 s: refused
    assert r["window_after_press"]
    assert r["paired"]["has_key"] and r["paired"]["trusted"] and r["paired"]["peers"] == 1
    assert "pairing window closed (bonded)" in lines
    assert not r["after_bond"]["has_key"]  # the window closed with the first bond
    # Three wrong passkeys close the window: no guessing.
    assert r["guessing"]["pair_failures"] == 3 and not r["guessing"]["window"]
    assert "pairing window closed (3 failed pairings)" in lines
    assert not r["after_failures"]["has_key"]
    assert r["sec"]["peers"] == 1
    # Every passkey shown was fresh.
    shown = [line.split()[2] for line in lines if line.startswith("pairing: passkey ")]
    assert len(shown) == 4 and len(set(shown)) == 4


def test_bond_store_is_bounded_and_can_be_cleared(runs):
    r = runs["sec_store"]
    assert r["peers"] == [1, 2, 3, 4, 4] and r["max_bonds"] == 4
    assert r["sizes"][3] == r["sizes"][4] < 1024  # the fifth left no trace on flash
    assert not r["fifth"]["enc"] and not r["fifth"]["connected"]
    assert "link not trusted: bond store full (4): clear the bonds to add one" in _lines(r)
    cleared = r["cleared"]
    assert cleared["peers"] == 0 and cleared["window"]
    assert "all bonds cleared (BOOT held 10 s)" in _lines(r)


def test_a_power_cut_during_a_bond_write_keeps_the_old_bonds(runs):
    r = runs["sec_powercut"]
    uncut = r["uncut"]
    assert not uncut["cut"] and uncut["peer_keys"] == sorted([uncut["a"], uncut["b"]])
    assert uncut["ops"] >= 4  # a save is several flash operations: each one is cut below
    assert len(r["runs"]) == uncut["ops"]
    for run in r["runs"]:
        assert run["cut"], run
        assert not run["damaged"], run
        # Either the old store or the new one, never half of one, never none.
        assert run["peer_keys"] in ([run["a"]], sorted([run["a"], run["b"]])), run
        assert run["irk"] and run["files"] == ["keys"], run  # the temporary file is gone
    assert any(run["tmp_left"] for run in r["runs"])  # some cuts did leave a .tmp behind
