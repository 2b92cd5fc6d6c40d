"""The `ratchet` app: every command group mounted, and the one place errors become exit codes.

Errors print one readable line on stderr and exit non-zero. Every process leaves through
`os._exit` once output is flushed: the Temporal SDK can abort at interpreter exit
(temporalio/sdk-python#300), which must never turn a success into a failure.
"""

from __future__ import annotations

import os
import sys

import click
import typer

from ratchet.errors import RatchetError
from starter.cli import (
    accounts,
    db,
    events,
    filters,
    globals,
    key,
    runs,
    schedules,
    secrets,
    shops,
    system,
    tasks,
    webhooks,
)

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="Ratchet: Mechanic-compatible automation on Temporal."
)
system.register(app)
for group, name in (
    (shops.app, "shop"),
    (tasks.app, "task"),
    (events.app, "event"),
    (runs.app, "runs"),
    (filters.app, "filter"),
    (webhooks.app, "webhook"),
    (schedules.app, "schedule"),
    (db.app, "db"),
    (globals.app, "globals"),
    (secrets.app, "secrets"),
    (accounts.app, "accounts"),
    (key.app, "key"),
):
    app.add_typer(group, name=name)


def main(argv: list[str] | None = None) -> None:
    code = 0
    try:
        result = app(args=argv, standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except RatchetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 1
    except (typer.Exit, SystemExit) as exc:
        code = int(getattr(exc, "exit_code", getattr(exc, "code", 0)) or 0)
    except (typer.Abort, KeyboardInterrupt):
        code = 130
    except click.ClickException as exc:
        # A usage error from the argument parser (bad option value, missing argument).
        print(f"error: {exc.format_message()}", file=sys.stderr)
        code = exc.exit_code
    except Exception as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
