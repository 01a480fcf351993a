"""Scanning: the library call and ``twitchwatch scan``, against emulated bands.

A scan listens for a fixed time: where a test expects to find bands, that time (SCAN_S)
is generous against a loaded machine (the bands advertise every few tens of ms); where it
expects nothing, a short one decides nothing. ``find_band`` returns as soon as it matches.
"""

from __future__ import annotations

import pytest

from tests.ble import cli_world
from tests.ble.backend import BumbleWorld
from tests.ble.band import BandConfig
from twitchwatch.gateway.cli import main
from twitchwatch.gateway.sources.ble_config import BandSelector
from twitchwatch.gateway.sources.ble_scan import find_band, scan

A, B, STRANGER = "F0:00:00:00:1A:2B", "F0:00:00:00:3C:4D", "F0:00:00:00:99:99"
SCAN_S = 3.0


async def test_scan_lists_bands_with_rssi_and_skips_other_devices() -> None:
    async with BumbleWorld([BandConfig(A), BandConfig(B)],
                           strangers=[(STRANGER, "headphones")]) as world:
        found = await scan(SCAN_S, backend=world.backend)
        assert {(s.name, s.address) for s in found} == {("tw-1a2b", A), ("tw-3c4d", B)}
        # bumble's emulated controller reports every advertisement at -50 dBm
        assert all(s.rssi == -50 and s.is_band for s in found)
        everything = await scan(SCAN_S, backend=world.backend, all_devices=True)
        assert {s.address for s in everything} == {A, B, STRANGER}
        assert [s.is_band for s in everything if s.address == STRANGER] == [False]


async def test_find_band_by_name_or_address_and_not_a_stranger() -> None:
    async with BumbleWorld([BandConfig(A), BandConfig(B)],
                           strangers=[(STRANGER, "tw-9999")]) as world:
        by_name = await find_band(BandSelector(name="tw-3c4d"), 30.0, backend=world.backend)
        assert by_name is not None and by_name.address == B and by_name.rssi == -50
        by_addr = await find_band(BandSelector(address=A.lower()), 30.0,
                                  backend=world.backend)
        assert by_addr is not None and by_addr.name == "tw-1a2b"
        # advertises a band-like name but not the twitchwatch service: never matched
        assert await find_band(BandSelector(name="tw-9999"), 0.3,
                               backend=world.backend) is None
        assert world.scans_started == 3


def test_cli_scan_lists_the_bands(capsys: pytest.CaptureFixture[str], ble_backend) -> None:
    ble_backend(cli_world.backend)
    rc = main(["scan", "--timeout", str(SCAN_S)])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0
    assert out[0].split() == ["NAME", "ADDRESS", "RSSI"]
    assert sorted(line.split() for line in out[1:]) == [
        ["tw-1a2b", A, "-50"], ["tw-3c4d", B, "-50"]]


def test_cli_scan_all(capsys: pytest.CaptureFixture[str], ble_backend) -> None:
    ble_backend(cli_world.backend)
    rc = main(["scan", "--timeout", str(SCAN_S), "--all"])
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert rc == 0
    assert sorted(rows) == [["headphones", STRANGER, "-50"], ["tw-1a2b", A, "-50", "band"],
                            ["tw-3c4d", B, "-50", "band"]]


def test_cli_scan_with_no_band_in_range(capsys: pytest.CaptureFixture[str],
                                        ble_backend) -> None:
    ble_backend(cli_world.empty)
    rc = main(["scan", "--timeout", "0.3"])
    captured = capsys.readouterr()
    assert rc == 1
    assert captured.out == ""
    assert "no twitchwatch bands found in 0.3 s" in captured.err


def test_cli_scan_without_bluetooth_says_so_plainly(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # The platform backend (BlueZ over D-Bus), with the system bus made unreachable.
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/twitchwatch-bus")
    rc = main(["scan", "--timeout", "0.3"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("twitchwatch scan: no Bluetooth adapter available")
    assert "bluetoothd" in err and "Traceback" not in err


def test_cli_scan_rejects_a_bad_backend(capsys: pytest.CaptureFixture[str],
                                        ble_backend) -> None:
    ble_backend(lambda: object())
    rc = main(["scan"])
    assert rc == 2
    assert "BLE backend" in capsys.readouterr().err


def test_no_variable_or_flag_can_make_the_gateway_import_a_module(tmp_path) -> None:
    """The backend hook used to import any module named in TWITCHWATCH_BLE_BACKEND (or
    --ble-backend): whoever sets the environment ran code in the gateway."""
    import os
    import subprocess
    import sys

    marker = tmp_path / "imported"
    (tmp_path / "evil_backend.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
        "backend = None\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}:{os.environ.get('PYTHONPATH', '')}",
           "TWITCHWATCH_BLE_BACKEND": "evil_backend:backend",
           "DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent/twitchwatch-bus"}
    cmd = [sys.executable, "-m", "twitchwatch", "scan", "--timeout", "0.2"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "no Bluetooth adapter" in r.stderr, r.stderr
    r = subprocess.run([*cmd, "--ble-backend", "evil_backend:backend"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "unrecognized arguments" in r.stderr, r.stderr
    assert not marker.exists()
