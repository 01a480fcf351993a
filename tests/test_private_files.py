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
