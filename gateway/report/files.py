"""Health data on disk: reports and exports are created 0600 in 0700 directories."""

from __future__ import annotations

import os
import pathlib

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: pathlib.Path) -> pathlib.Path:
    """Create ``path`` and its missing parents as 0700. An existing directory keeps its
    mode: it is the user's, and may be shared on purpose."""
    missing = []
    p = path
    while not p.is_dir():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(d, DIR_MODE)  # mkdir's mode is filtered by the umask
    return path


def private_file(path: pathlib.Path) -> pathlib.Path:
    """A temporary sibling of ``path`` opened 0600, to be renamed into place when done."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.close(fd)
    os.chmod(tmp, FILE_MODE)
    return tmp


def write_private(path: pathlib.Path, data: str | bytes) -> pathlib.Path:
    """Write a whole file 0600, atomically (a reader never sees half a report)."""
    private_dir(path.parent)
    tmp = private_file(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.chmod(path, FILE_MODE)
    return path
