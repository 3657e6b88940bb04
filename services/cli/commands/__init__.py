"""Subcommands of ``alstream``, in the order ``--help`` lists them (see services/cli/main.py)."""

COMMANDS = ["run", "serve", "ingest", "classify", "review", "eval", "demo", "settings"]
