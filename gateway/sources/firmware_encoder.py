"""The band firmware's own encoder (``firmware/twproto.py``), for the simulated band.

The firmware is MicroPython source, not a Python package: ``twitchwatch/firmware`` holds
it both in a source checkout (the repository's ``firmware/``) and in an installed wheel,
so there is one encoder, loaded from that file, and no second copy.
"""

from __future__ import annotations

import importlib.util
import pathlib
from functools import cache
from types import ModuleType

from ..errors import ConfigError

# twitchwatch/gateway/sources/ -> twitchwatch/ (a wheel) or the repository root (a checkout)
FIRMWARE_DIR = pathlib.Path(__file__).resolve().parents[2] / "firmware"


@cache
def twproto() -> ModuleType:
    path = FIRMWARE_DIR / "twproto.py"
    spec = importlib.util.spec_from_file_location("twitchwatch_twproto", path)
    if not path.is_file() or spec is None or spec.loader is None:
        raise ConfigError(f"the band firmware's encoder ({path}) is not there; reinstall "
                          "twitchwatch or run from a source checkout")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
