"""The band's own encoder, ``firmware/twproto.py``, loaded by path.

``firmware/`` is MicroPython code, not a Python package; the emulated band must send
bytes made by the very encoder the band runs.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from types import ModuleType

ROOT = pathlib.Path(__file__).resolve().parents[2]
TWPROTO_PATH = ROOT / "firmware" / "twproto.py"


def _load() -> ModuleType:
    name = "twitchwatch_firmware_twproto"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, TWPROTO_PATH)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {TWPROTO_PATH}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


twproto = _load()
