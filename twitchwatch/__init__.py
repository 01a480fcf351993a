"""twitchwatch: night-time myoclonic jerks, tremor and hypnic jerks from a wrist band.

One namespace over the repository's top-level folders (symbolic links here, real folders
in an installed wheel):

- ``twitchwatch.gateway``: the asyncio gateway and the ``twitchwatch`` command;
- ``twitchwatch.dsp``: the streaming classifier, pure numpy/scipy;
- ``twitchwatch.firmware``: the band's MicroPython sources (data: never imported here);
- ``twitchwatch.dashboards``: the Grafana dashboards and their builder.

``python -m twitchwatch`` runs the command line.
"""

from typing import Any

__all__ = ["__version__"]


def __getattr__(name: str) -> Any:
    # Looked up on first use: every import of a subpackage runs this file.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("twitchwatch")
        except PackageNotFoundError:  # a source tree that was never installed
            return "0+unknown"
    raise AttributeError(f"module 'twitchwatch' has no attribute {name!r}")
