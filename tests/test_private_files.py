"""Health data on disk: 0600 files in 0700 directories, whatever the umask, and an
existing file tightened (gateway/private_files.py)."""

from __future__ import annotations

import os
import stat

import pytest

from twitchwatch.gateway.private_files import (
    open_private,
    private_dir,
    private_fd,
    write_private,
)


def _mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)  # the usual default, under which open() gives 0644
    try:
        yield
    finally:
        os.umask(old)


def test_private_dir_makes_every_missing_level_0700(tmp_path, umask_022):
    (tmp_path / "exists").mkdir(mode=0o755)
    d = private_dir(tmp_path / "exists" / "a" / "b" / "c")
    assert d.is_dir()
    assert _mode(tmp_path / "exists") == 0o755, "an existing directory is not ours to change"
    for p in (tmp_path / "exists" / "a", tmp_path / "exists" / "a" / "b", d):
        assert _mode(p) == 0o700, p
    private_dir(d)  # idempotent


def test_private_dir_under_a_file_is_an_oserror(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OSError):
        private_dir(tmp_path / "f" / "sub")


@pytest.mark.parametrize("mode", ["w", "a", "x", "wb", "ab"])
def test_open_private_creates_0600(tmp_path, umask_022, mode):
    p = tmp_path / "new" / "file"
    with open_private(p, mode) as f:
        f.write(b"x" if "b" in mode else "x")
    assert _mode(p) == 0o600
    assert _mode(p.parent) == 0o700
    assert p.read_bytes() == b"x"


def test_an_existing_0644_file_is_tightened_and_kept(tmp_path, umask_022):
    p = tmp_path / "events.jsonl"
    p.write_text("old\n")
    os.chmod(p, 0o644)
    with open_private(p, "a") as f:
        f.write("new\n")
    assert _mode(p) == 0o600
    assert p.read_text() == "old\nnew\n"
    fd = private_fd(p, os.O_WRONLY | os.O_APPEND)
    os.close(fd)
    assert _mode(p) == 0o600


def test_write_private_is_atomic_and_private(tmp_path, umask_022):
    p = tmp_path / "r" / "report.json"
    write_private(p, "first")
    os.chmod(p, 0o644)
    write_private(p, b"second")
    assert p.read_text() == "second" and _mode(p) == 0o600
    assert sorted(x.name for x in p.parent.iterdir()) == ["report.json"], "no temp left"


def test_write_private_failure_leaves_no_temp_file(tmp_path):
    p = tmp_path / "d" / "target"
    private_dir(p)  # a directory where the file should go: os.replace must fail
    with pytest.raises(OSError):
        write_private(p, "x")
    assert sorted(x.name for x in p.parent.iterdir()) == ["target"]


def test_bad_mode_is_refused(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        open_private(tmp_path / "x", "r")


def _walk_modes(root) -> list[tuple[str, int]]:
    """Every directory and file below ``root`` with a mode that is not private."""
    bad = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            p = os.path.join(dirpath, name)
            if _mode(p) != 0o700:
                bad.append((p, oct(_mode(p))))
        for name in filenames:
            p = os.path.join(dirpath, name)
            if _mode(p) != 0o600:
                bad.append((p, oct(_mode(p))))
    return bad


def test_a_session_leaves_only_private_files(tmp_path, umask_022):
    """run (recording, events, labels, InfluxDB spool for a server that is not there),
    replay and analyze --out: everything under the output directory is 0600 / 0700."""
    import subprocess
    import sys

    from bench.servers import free_port

    out = tmp_path / "nested" / "out"
    conf = tmp_path / "c.toml"
    conf.write_text(f'[influxdb]\nurl = "http://127.0.0.1:{free_port()}"\n'
                    "drain_timeout_s = 0.5\nretry_first_s = 0.1\n")
    cmd = [sys.executable, "-m", "twitchwatch"]
    r = subprocess.run([*cmd, "run", "--hours", "0.05", "--fast", "--quiet", "--config",
                        str(conf), "--out", str(out)], capture_output=True, text=True,
                       timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rec = next(out.glob("*.twrec"))
    assert {p.suffix for p in out.iterdir()} >= {".twrec", ".jsonl", ".json"}
    assert list((out / "influx-spool").glob("*.lp")), "nothing spooled: the test tests less"
    r = subprocess.run([*cmd, "replay", str(rec), "--quiet"], capture_output=True, text=True,
                       timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([*cmd, "analyze", str(rec), "--format", "jsonl", "--epochs", "--out",
                        str(out / "reports" / "a")], capture_output=True, text=True,
                       timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert list((out / "reports" / "a").glob("*.jsonl"))
    assert _walk_modes(tmp_path / "nested") == []
    assert _mode(tmp_path / "nested") == 0o700
