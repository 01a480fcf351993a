"""The ``twitchwatch`` subcommands: one module each, with ``register(subparsers)``."""
