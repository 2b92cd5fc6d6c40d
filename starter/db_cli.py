"""`ratchet db upgrade|current|revision`: the database schema (ratchet.store.migrations).

`ratchet dev`, `ratchet worker` and `ratchet serve` upgrade the schema when they start; `db upgrade`
is for operators who prefer to run it themselves (e.g. before rolling out new workers).
Registered onto the main Typer app by `register` (called at the bottom of starter/cli.py).
"""

# No `from __future__ import annotations`: Typer reads these annotations at runtime.

from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from ratchet.config import load_settings
from ratchet.store import migrations
from ratchet.store.database import Store


def _open_store() -> tuple[Store, str]:
    """The configured database, not yet upgraded, and its URL as printable (no password)."""
    url = load_settings().effective_database_url
    store = Store(url)
    return store, make_url(store.url).render_as_string(hide_password=True)


def register(app: typer.Typer) -> None:
    db_app = typer.Typer(no_args_is_help=True, help="The database schema: migrations.")
    app.add_typer(db_app, name="db")

    @db_app.command("upgrade")
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

    @db_app.command("current")
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

    @db_app.command("revision")
    def db_revision(
        message: Annotated[str, typer.Option("--message", "-m", help="What the migration changes.")],
    ) -> None:
        """For developers: write a migration for what changed in ratchet/store/tables.py."""
        print(migrations.new_revision(message))
