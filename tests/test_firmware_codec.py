"""The firmware's encoder against the shared vectors under MicroPython and CPython, every
firmware module through mpy-cross, and the ``twitchwatch firmware`` command."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from twitchwatch.gateway.commands import firmware as fwcmd
from twitchwatch.gateway.errors import ConfigError

from .firmware_helpers import FIRMWARE, MPY_TESTS, ROOT, tool

MODULES = sorted(p.name for p in FIRMWARE.glob("*.py"))


def _env() -> dict[str, str]:
    import os
    # twproto from firmware/: MicroPython's path variable, and CPython's.
    return {**os.environ, "MICROPYPATH": f"{FIRMWARE}:.frozen", "PYTHONPATH": str(FIRMWARE)}


def _check_twproto(interpreter: list[str], vectors_path: str | None = None) -> str:
    path = vectors_path or str(ROOT / "tests" / "vectors" / "protocol_v1.json")
    res = subprocess.run([*interpreter, str(MPY_TESTS / "check_twproto.py"), path],
                         cwd=FIRMWARE, capture_output=True, text=True, env=_env(), timeout=600)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_twproto_vectors_under_micropython():
    out = _check_twproto([tool("micropython")])
    assert out.strip().splitlines()[-1].startswith("PASS"), out


def test_twproto_vectors_under_cpython():
    out = _check_twproto([sys.executable])
    assert out.strip().splitlines()[-1].startswith("PASS"), out


def test_check_script_fails_on_a_wrong_vector(tmp_path, vectors):
    # The check above can fail: one changed byte in a vector makes it say FAIL.
    v = dict(vectors)
    frames = [dict(f) for f in v["frames"]]
    frames[0]["hex"] = ("00" if frames[0]["hex"][:2] != "00" else "01") + frames[0]["hex"][2:]
    v["frames"] = frames
    bad = tmp_path / "bad.json"
    import json
    bad.write_text(json.dumps(v))
    out = _check_twproto([tool("micropython")], str(bad))
    assert out.strip().splitlines()[-1].startswith("FAIL"), out


@pytest.mark.parametrize("native", [False, True], ids=["bytecode", "xtensawin"])
@pytest.mark.parametrize("module", MODULES)
def test_every_firmware_module_compiles(module, native, tmp_path):
    cmd = [tool("mpy-cross"), "-o", str(tmp_path / "out.mpy")]
    if native:
        cmd += ["-march=xtensawin", "-X", "emit=native"]
    res = subprocess.run([*cmd, module], cwd=FIRMWARE, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr
    data = (tmp_path / "out.mpy").read_bytes()
    assert data[0] == ord("M") and data[1] == 6  # .mpy v6: MicroPython >= 1.22


def _args(**kw) -> argparse.Namespace:
    base = {"src": None, "out": None, "native": False, "mpy_cross": None}
    base.update(kw)
    return argparse.Namespace(**base)


def test_build_command_compiles_all_but_main(tmp_path, capsys):
    assert fwcmd.run_build(_args(out=tmp_path)) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    expected = sorted(("main.py" if m == "main.py" else m[:-3] + ".mpy") for m in MODULES)
    assert names == expected
    assert (tmp_path / "main.py").read_bytes() == (FIRMWARE / "main.py").read_bytes()
    assert f"{len(MODULES)} files" in capsys.readouterr().out


def test_build_from_the_console_entry_point(tmp_path):
    res = subprocess.run([sys.executable, "-m", "twitchwatch", "firmware", "build", "--native",
                          "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "band.mpy").stat().st_size > 0


def test_missing_tools_are_config_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))  # nothing beside it
    monkeypatch.setenv("PATH", str(tmp_path))
    for name in ("mpy-cross", "mpremote"):
        with pytest.raises(ConfigError, match=f"{name} not found"):
            fwcmd.find_tool(name, None)
    with pytest.raises(ConfigError, match="not found"):
        fwcmd.find_tool("mpy-cross", "/no/such/mpy-cross")
    with pytest.raises(ConfigError, match="mpy-cross not found"):
        fwcmd.run_build(_args(out=tmp_path / "out"))


def test_src_without_main_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"main\.py"):
        fwcmd.find_source(tmp_path)


def test_deploy_dry_run_prints_the_mpremote_steps(tmp_path, capsys):
    args = _args(out=tmp_path, port="/dev/ttyUSB9", mpremote=tool("mpremote"), dry_run=True)
    assert fwcmd.run_deploy(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert "connect /dev/ttyUSB9 exec" in lines[0] and "'band.py'" in lines[0]
    assert "connect /dev/ttyUSB9 cp" in lines[1] and lines[1].endswith(" :")
    assert str(tmp_path / "band.mpy") in lines[1] and str(tmp_path / "main.py") in lines[1]
    assert lines[2].endswith("connect /dev/ttyUSB9 reset")


def test_deploy_reports_a_failing_mpremote(tmp_path):
    fake = tmp_path / "mpremote"
    fake.write_text("#!/bin/sh\necho 'no device' >&2\nexit 1\n")
    fake.chmod(0o755)
    args = _args(out=tmp_path / "b", port="/dev/ttyUSB9", mpremote=str(fake), dry_run=False)
    with pytest.raises(ConfigError, match="mpremote failed"):
        fwcmd.run_deploy(args)
