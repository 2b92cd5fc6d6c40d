"""`ratchet db upgrade|current|revision`: the database schema (ratchet.store.migrations).

`ratchet dev`, `ratchet worker` and `ratchet serve` upgrade the schema when they start; `db upgrade`
is for operators who prefer to run it themselves (e.g. before rolling out new workers). These
commands work on the store directly, not through the Python API: connecting the API upgrades the
schema, and `db current` must report the revision as it is.
"""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from ratchet.config import load_settings
from ratchet.store import migrations
from ratchet.store.database import Store

app = typer.Typer(no_args_is_help=True, help="The database schema: migrations.")


def _open_store() -> tuple[Store, str]:
    """The configured database, not yet upgraded, and its URL as printable (no password)."""
    store = Store(load_settings().effective_database_url)
    return store, make_url(store.url).render_as_string(hide_password=True)


@app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database (RATCHET_DATABASE_URL) to the newest schema; a no-op when it is there."""
    store, shown = _open_store()
    try:
        before = migrations.current_revision(store.engine)
        store.create_schema()
        after = migrations.current_revision(store.engine)
    finally:
        store.dispose()
    print(f"{shown}: {before or 'no schema revision'} → {after}" if before != after else f"{shown}: {after} (head)")


@app.command("current")
def db_current() -> None:
    """Print the database's schema revision and whether it is the newest."""
    store, shown = _open_store()
    try:
        current = migrations.current_revision(store.engine)
    finally:
        store.dispose()
    head = migrations.head_revision()
    if current == head:
        print(f"{shown}: {current} (head)")
    else:
        print(f"{shown}: {current or 'no schema revision'} (head is {head}: run `ratchet db upgrade`)")


@app.command("revision")
def db_revision(
    message: Annotated[str, typer.Option("--message", "-m", help="What the migration changes.")],
) -> None:
    """For developers: write a migration for what changed in ratchet/store/tables.py."""
    print(migrations.new_revision(message))
