"""``python -m tests.ble.run_cli WORLD ARGS...``: the ``twitchwatch`` command in a process
of its own whose radio is the emulated ``tests.ble.cli_world.WORLD``. Test-only: the
product has no variable or flag that picks a backend (docs/security.md)."""

from __future__ import annotations

import sys

from tests.ble import cli_world
from twitchwatch.gateway.cli import main
from twitchwatch.gateway.sources import ble_scan

if __name__ == "__main__":
    ble_scan.inject_backend(getattr(cli_world, sys.argv[1]))
    sys.exit(main(sys.argv[2:]))
