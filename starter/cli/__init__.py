"""The `ratchet` command line: one module per command group, all calling the Python API (starter.api).

`main` (the console script) and `app` live in starter/cli/main.py; the options, connection and
printing every group shares live in starter/cli/common.py. No group imports another.
"""

from starter.cli.main import app, main

__all__ = ["app", "main"]
