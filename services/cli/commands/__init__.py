"""Subcommands of ``alstream``, in the order ``--help`` lists them (see services/cli/main.py)."""

COMMANDS = [
    "run", "serve", "ingest", "classify", "review", "eval", "demo", "settings",
    # Delegating to the modules that own them (services/cli/commands/delegate.py):
    "keys", "replay", "lineage", "pin",
]
