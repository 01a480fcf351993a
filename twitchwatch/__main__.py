"""``python -m twitchwatch``: the same as the ``twitchwatch`` command."""

import sys

from twitchwatch.gateway.cli import main

sys.exit(main())
