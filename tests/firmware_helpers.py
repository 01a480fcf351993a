"""Running MicroPython-side test scripts (tests/mpy) under the real unix port."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
MPY_TESTS = ROOT / "tests" / "mpy"
FIRMWARE = ROOT / "firmware"
HEAP = "-X", "heapsize=96M"  # the flash model (2 MiB) and per-sample counts of a night


def tool(name: str) -> str:
    beside = pathlib.Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found: install the dev extra (pip install -e '.[dev]')")
    return found


def start_sim(*scenarios: str) -> subprocess.Popen[str]:
    """tests/mpy/run_sim.py in its own interpreter, running in the background."""
    return subprocess.Popen(
        [tool("micropython"), *HEAP, str(MPY_TESTS / "run_sim.py"), *scenarios],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def collect(proc: subprocess.Popen[str], timeout_s: float) -> dict[str, dict]:
    out, err = proc.communicate(timeout=timeout_s)
    if proc.returncode != 0:
        pytest.fail(f"run_sim.py exited {proc.returncode}:\n{err}\n{out[-2000:]}")
    results = {}
    for line in out.splitlines():
        if line.startswith("{"):
            d = json.loads(line)
            results[d["scenario"]] = d
    return results
