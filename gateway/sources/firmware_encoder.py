"""The band firmware's own encoder (``firmware/twproto.py``), for the simulated band.

The firmware is MicroPython source, not a Python package. A wheel carries a copy of that
one file as ``gateway/_firmware/twproto.py`` (see pyproject.toml); a source checkout
loads it from ``firmware/`` directly, so there is one encoder and no second copy in git.
"""

from __future__ import annotations

import importlib.util
import pathlib
from functools import cache
from types import ModuleType

from ..errors import ConfigError

_HERE = pathlib.Path(__file__).resolve().parent
_CANDIDATES = (
    _HERE.parent / "_firmware" / "twproto.py",  # installed from a wheel
    _HERE.parent.parent / "firmware" / "twproto.py",  # source checkout
)


@cache
def twproto() -> ModuleType:
    for path in _CANDIDATES:
        if path.is_file():
            spec = importlib.util.spec_from_file_location("twitchwatch_twproto", path)
            if spec is None or spec.loader is None:
                continue
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise ConfigError("the band firmware's encoder (firmware/twproto.py) is not installed; "
                      "reinstall twitchwatch or run from a source checkout")
