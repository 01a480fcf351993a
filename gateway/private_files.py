"""Files that hold health data: 0600 files in 0700 directories, whatever the umask.

Recordings, events, the InfluxDB spool, labels, reports: everything the gateway writes
about a person's night goes through these helpers, so that no other user of the machine
can read it. Three traps they avoid (docs/security.md, "Files"):

- ``open(path, "w")`` creates 0666 & ~umask, i.e. 0644 under the usual umask 022;
- ``os.makedirs(path, mode=0o700)`` applies the mode to the last directory only (the
  intermediate ones get the umask's default, 0755);
- a mode passed to ``os.open`` applies only when the call creates the file: an existing
  0644 file stays 0644. Files opened here are ``fchmod``-ed to 0600 when they are not.

Directories that already exist are left as they are (``--out /tmp`` must not change
/tmp); only the directories these helpers create are 0700. What they hold is 0600 in any
case.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pathlib
import stat
import tempfile
from typing import IO, Any

__all__ = ["DIR_MODE", "FILE_MODE", "open_private", "private_dir", "private_fd",
           "private_tmp", "write_private"]

FILE_MODE = 0o600
DIR_MODE = 0o700

_FLAGS = {
    "w": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
    "a": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
    "x": os.O_WRONLY | os.O_CREAT | os.O_EXCL,
    "r+": os.O_RDWR | os.O_CREAT,
    "a+": os.O_RDWR | os.O_CREAT | os.O_APPEND,
}


def private_dir(path: str | os.PathLike[str]) -> pathlib.Path:
    """Make ``path`` and any missing parents, each created 0700; returns the path.

    Directories that exist already are not changed. Raises OSError (e.g. EACCES, ENOSPC,
    or a parent that is a file: NotADirectoryError / FileExistsError).
    """
    p = pathlib.Path(path)
    missing: list[pathlib.Path] = []
    q = p
    while not q.is_dir():
        if q.exists():  # a file where a directory should be: say that, not "File exists"
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(q))
        missing.append(q)
        if q.parent == q:
            break
        q = q.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, DIR_MODE)
        except FileExistsError:
            if not d.is_dir():
                raise
            continue  # made meanwhile by someone else: not ours to change
        os.chmod(d, DIR_MODE)  # the umask may have taken bits off (never adds them)
    return p


def private_fd(path: str | os.PathLike[str], flags: int) -> int:
    """``os.open(path, flags | O_CREAT, 0o600)``, its directory made private if missing,
    and an existing file brought to 0600. Returns the file descriptor."""
    p = pathlib.Path(path)
    private_dir(p.parent)
    fd = os.open(p, flags | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
    try:
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) != FILE_MODE:
            os.fchmod(fd, FILE_MODE)  # an existing file keeps its mode otherwise
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_private(path: str | os.PathLike[str], mode: str = "a", *,
                 encoding: str | None = "utf-8") -> IO[Any]:
    """Like ``open`` for writing ("w", "a", "x", "r+", "a+", with an optional "b"), but the
    file is 0600 and its missing directories 0700. Text mode unless "b" is in ``mode``."""
    binary = "b" in mode
    base = mode.replace("b", "")
    if base not in _FLAGS:
        raise ValueError(f"open_private: mode {mode!r} (use w, a, x, r+ or a+, with b)")
    fd = private_fd(path, _FLAGS[base])
    pymode = {"w": "w", "a": "a", "x": "w", "r+": "r+", "a+": "a+"}[base] + \
        ("b" if binary else "")
    try:
        if binary:
            return os.fdopen(fd, pymode)
        return os.fdopen(fd, pymode, encoding=encoding)
    except BaseException:
        os.close(fd)
        raise


def private_tmp(path: str | os.PathLike[str]) -> pathlib.Path:
    """An empty 0600 temporary sibling of ``path`` (its directory made private if
    missing), for a writer that takes a file name (a browser, a library) and is renamed
    into place when it is done; the caller removes it on failure."""
    p = pathlib.Path(path)
    fd, tmp = tempfile.mkstemp(dir=private_dir(p.parent), prefix=f".{p.name}.",
                               suffix=".tmp")
    os.close(fd)
    return pathlib.Path(tmp)


def write_private(path: str | os.PathLike[str], data: bytes | str, *,
                  durable: bool = True) -> pathlib.Path:
    """Write a whole file atomically: a 0600 temporary file in the same directory,
    (fsync'd if ``durable``), renamed over ``path`` (then the directory fsync'd). A crash
    leaves the old file or the new one, never half of it; a failure removes the
    temporary file. Returns the path."""
    p = pathlib.Path(path)
    d = private_dir(p.parent)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=f".{p.name}.", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return p
