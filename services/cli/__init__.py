"""``alstream``: one command-line tool for running, feeding and trying the stack."""
