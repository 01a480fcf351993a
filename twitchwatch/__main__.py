"""``python -m twitchwatch``: the same as the ``twitchwatch`` command."""

from twitchwatch.gateway.cli import console

console()
