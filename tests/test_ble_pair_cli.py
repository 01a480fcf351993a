"""``twitchwatch pair`` and ``twitchwatch run`` as the user types them, against emulated
bands whose key stores persist between the commands (tests/ble/cli_world.py), and the
bonds file itself."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import stat
import subprocess
import sys
import threading
import time

import pytest

from tests.ble import cli_world
from tests.ble.cli_world import DIR_ENV, GENUINE, IMPOSTOR
from twitchwatch.gateway.cli import main
from twitchwatch.gateway.codec import decode_frame
from twitchwatch.gateway.packets import Kind
from twitchwatch.gateway.sources import ble_scan
from twitchwatch.gateway.sources.ble_bonds import BondFileError, BondRecord, BondRegistry
from twitchwatch.gateway.store.recording import read_recording

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture
def world_dir(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
              ble_backend) -> pathlib.Path:
    d = tmp_path / "world"
    d.mkdir()
    monkeypatch.setenv(DIR_ENV, str(d))
    return d


def pair(*args: str, world: str = "secure") -> int:
    """``twitchwatch pair`` in this process, its radio the emulated ``world``."""
    ble_scan.inject_backend(getattr(cli_world, world))
    return main(["pair", *args, "--timeout", "3"])


def test_pair_bonds_lists_checks_and_forgets(world_dir, capsys) -> None:
    assert pair("tw-1a2b") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"found tw-1a2b at {GENUINE}")
    assert out[-2].startswith(f"bonded with tw-1a2b ({GENUINE}): LE Secure Connections, "
                              "passkey (MITM-protected) key, LTK fingerprint ")
    reg = BondRegistry()
    assert out[-1] == f"stored in {reg.path}"
    assert stat.S_IMODE(reg.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(reg.dir.stat().st_mode) == 0o700
    (rec,) = list(reg)
    assert rec.address == GENUINE and rec.authenticated and rec.secure_connections

    assert main(["pair", "--list"]) == 0
    listed = capsys.readouterr().out
    assert f"tw-1a2b  {GENUINE}  paired" in listed and "(pair)" in listed

    # The stack holds the bond now (the world's BlueZ store persisted across runs).
    assert pair("tw-1a2b") == 2
    assert "already holds a bond" in capsys.readouterr().err
    assert pair("tw-1a2b", "--trust-existing") == 0
    assert BondRegistry().get(GENUINE).how == "trust-existing"  # type: ignore[union-attr]
    capsys.readouterr()

    assert pair("tw-1a2b", "--forget") == 0
    out = capsys.readouterr().out
    assert f"forgot tw-1a2b ({GENUINE})" in out and "hold BOOT 10 s" in out
    assert len(BondRegistry()) == 0
    keys = json.loads((world_dir / "gateway-bluez.json").read_text())
    assert all(not v for v in keys.values())  # the stack's bond went too


def test_pair_without_an_agent_explains(world_dir, capsys) -> None:
    assert pair("tw-1a2b", world="secure_no_agent") == 2
    err = capsys.readouterr().err
    assert err.startswith("twitchwatch pair: ")
    assert "bluetoothctl" in err and "Traceback" not in err
    assert len(BondRegistry()) == 0


def test_pair_a_band_not_in_range(world_dir, capsys) -> None:
    assert pair("tw-9999") == 1
    assert "no band tw-9999 advertised within 3 s" in capsys.readouterr().err


def _read_until(stream, needle: str, lines: list[str], found: threading.Event) -> None:
    for line in stream:
        lines.append(line)
        if needle in line:
            found.set()
    found.set()  # the stream ended: let the waiter look at what came


def _live_frame_recorded(out: pathlib.Path) -> bool:
    for rec in out.glob("*.twrec"):
        for p in read_recording(rec):
            if p.kind is Kind.DATA and not decode_frame(p.payload).backlog:
                return True
    return False


def test_run_streams_from_the_paired_band_and_refuses_the_impostor(world_dir, tmp_path,
                                                                    capsys) -> None:
    assert pair("tw-1a2b") == 0
    capsys.readouterr()
    (tmp_path / "gw.toml").write_text('[ble]\nscan_timeout_s = 2.0\n\n'
                                      '[[band]]\nname = "tw-1a2b"\n')
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.ble.run_cli", "secure_spoofed", "-v", "run",
         "--config", str(tmp_path / "gw.toml"), "--out", str(tmp_path / "out"), "--quiet"],
        cwd=tmp_path, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    streaming = threading.Event()
    reader = threading.Thread(target=_read_until, daemon=True,
                              args=(proc.stderr, "band tw-1a2b: streaming", lines, streaming))
    reader.start()
    try:
        assert streaming.wait(120), "".join(lines)  # a failure bound, not a measurement
        deadline = time.monotonic() + 60  # the recording is flushed every 0.5 s
        while not _live_frame_recorded(tmp_path / "out"):
            assert proc.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0, "".join(lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(10)
    text = "".join(lines)
    assert text.count(f"ignoring {IMPOSTOR} advertising as 'tw-1a2b'") == 1, text
    assert "Traceback" not in text
    (rec,) = (tmp_path / "out").glob("*.twrec")
    packets = list(read_recording(rec))
    connected = [p.link_info() for p in packets
                 if p.kind is Kind.LINK and p.link_info()["event"] == "connected"]
    assert connected and {c["address"] for c in connected} == {GENUINE}
    metas = [p.payload for p in packets if p.kind is Kind.META]
    assert metas and all(m[14] == 1 for m in metas)  # the impostor's says part 4
    assert any(p.kind is Kind.DATA for p in packets)


def test_bonds_file_is_checked_where_it_is_read(tmp_path) -> None:
    reg = BondRegistry(tmp_path / "s")
    assert len(reg) == 0 and not reg.path.exists()
    reg.put(BondRecord("f0:00:00:00:1a:2b", "tw-1a2b", BondRecord.now(), "pair",
                       authenticated=True))
    assert BondRegistry(tmp_path / "s").get("F0:00:00:00:1A:2B").authenticated  # type: ignore[union-attr]
    assert not (tmp_path / "s" / "bonds.json.tmp").exists()
    bad = {
        "[]": "not a format-1 bonds file",
        '{"format": 1, "bands": [{"address": "nope", "name": null, "paired_at": "x", '
        '"how": "pair"}]}': "is not an address",
        '{"format": 1, "bands": [{"address": "F0:00:00:00:1A:2B", "paired_at": "x", '
        '"how": "pair", "key": "00"}]}': "unknown fields",
        "{" * 100_000: "not a bonds file",
        "\xff\xfe": "not a bonds file",
    }
    for text, complaint in bad.items():
        reg.path.write_text(text, encoding="latin-1")
        with pytest.raises(BondFileError, match=complaint):
            BondRegistry(tmp_path / "s")


def test_bonds_file_and_dir_are_made_private(tmp_path) -> None:
    d = tmp_path / "shared"
    d.mkdir(mode=0o755)
    d.chmod(0o755)
    reg = BondRegistry(d)
    reg.put(BondRecord("F0:00:00:00:1A:2B", "tw-1a2b", BondRecord.now(), "pair"))
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    reg.path.chmod(0o644)  # someone loosened it
    BondRegistry(d)
    assert stat.S_IMODE(reg.path.stat().st_mode) == 0o600
    # A stale temporary file from a crash is replaced, not written through.
    tmp = reg.path.with_name("bonds.json.tmp")
    tmp.write_text("junk")
    tmp.chmod(0o666)
    reg.put(BondRecord("F0:00:00:00:3C:4D", "tw-3c4d", BondRecord.now(), "pair"))
    assert stat.S_IMODE(reg.path.stat().st_mode) == 0o600 and not tmp.exists()
    assert [r.name for r in BondRegistry(d)] == ["tw-1a2b", "tw-3c4d"]


def test_run_with_a_band_never_paired_says_what_to_do(world_dir, tmp_path, capsys,
                                                     monkeypatch) -> None:
    ble_scan.inject_backend(cli_world.secure)
    (tmp_path / "gw.toml").write_text('[[band]]\nname = "tw-1a2b"\n')
    rc = main(["run", "--config", str(tmp_path / "gw.toml"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("twitchwatch run: band tw-1a2b (tw-1a2b) is not paired with this "
                          "gateway") and "run `twitchwatch pair tw-1a2b`" in err
