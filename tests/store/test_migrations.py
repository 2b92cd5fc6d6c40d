"""Schema migrations on both databases: old databases keep their rows, head matches the tables, starts race safely."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, text
from sqlmodel import SQLModel, select

from ratchet.core.runs import RunState
from ratchet.store import migrations
from ratchet.store.database import Store
from ratchet.store.tables import CacheEntry, Event, EventFilter, MechanicWebhook, Run, RunAttempt, Shop, Task
from tests.support.stores import scratch_postgres_database

FIXTURES = Path(__file__).parent / "fixtures"
# What tests/store/fixtures/pre_migrations_*.sql hold, table by table ("default" and "acme" shops).
PRE_MIGRATION_ROWS = {Shop: 2, Task: 1, Event: 1, Run: 2, RunAttempt: 1, CacheEntry: 1, EventFilter: 1}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it, of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ratchet.db'}"
    else:
        with scratch_postgres_database() as url:
            yield url


def load_pre_migration_dump(url: str) -> None:
    """Recreate a database exactly as the release before migrations left it."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split("///", 1)[1]) as connection:
            connection.executescript((FIXTURES / "pre_migrations_sqlite.sql").read_text())
    else:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute((FIXTURES / "pre_migrations_postgresql.sql").read_text().encode())


def differences_from_models(store: Store) -> list[object]:
    with store.engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), SQLModel.metadata))


def test_pre_migration_database_is_kept_and_brought_to_head(empty_url: str) -> None:
    load_pre_migration_dump(empty_url)
    store = Store(empty_url)
    try:
        store.create_schema()

        assert migrations.current_revision(store.engine) == migrations.head_revision()
        with store.session() as session:
            counts = {table: session.scalar(select(func.count()).select_from(table)) for table in PRE_MIGRATION_ROWS}
            assert counts == PRE_MIGRATION_ROWS
            acme = session.get(Shop, "acme")
            assert acme is not None and acme.timezone == "America/New_York"
            task = session.exec(select(Task).where(Task.shop_id == "acme")).one()
            assert task.options == {"tag__required": "new"} and task.subscriptions == ["shopify/orders/create"]
            failed = session.get(Run, "44444444-4444-4444-4444-444444444444")
            assert failed is not None and failed.state is RunState.failed and failed.error == "boom"
            assert failed.run_at is not None and failed.run_at.isoformat() == "2025-06-01T12:00:00+00:00"
            assert session.get(MechanicWebhook, "55555555-5555-5555-5555-555555555555") is not None
        # The stamped baseline is exactly what create_all made: nothing left for a migration to do.
        assert differences_from_models(store) == []
    finally:
        store.dispose()


def test_database_made_by_create_all_of_newer_tables_is_brought_to_head(empty_url: str) -> None:
    """Tables that reached main by `create_all` just before migrations did are kept, not re-created."""
    store = Store(empty_url)
    try:
        SQLModel.metadata.create_all(store.engine)
        with store.session() as session:
            session.add(Shop(id="kept", timezone="UTC"))
        store.create_schema()
        assert migrations.current_revision(store.engine) == migrations.head_revision()
        with store.session() as session:
            assert session.get(Shop, "kept") is not None
    finally:
        store.dispose()


def test_migrations_head_matches_the_tables(empty_url: str) -> None:
    """Fails when ratchet/store/tables.py changes without a migration: run `ratchet db revision -m ...`."""
    store = Store(empty_url)
    try:
        store.create_schema()
        assert differences_from_models(store) == []
        with store.session() as session:
            assert session.get(Shop, "default") is not None
    finally:
        store.dispose()


def test_processes_starting_together_migrate_once(empty_url: str) -> None:
    errors: list[BaseException] = []

    def start() -> None:
        store = Store(empty_url)  # an engine of its own, as a separate worker process has
        try:
            store.create_schema()
        except BaseException as error:
            errors.append(error)
        finally:
            store.dispose()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    store = Store(empty_url)
    try:
        with store.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
        assert differences_from_models(store) == []
    finally:
        store.dispose()


def test_database_from_a_newer_release_is_refused_with_what_to_do(empty_url: str) -> None:
    store = Store(empty_url)
    try:
        store.create_schema()
        with store.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'f00dfacef00d'"))
        with pytest.raises(migrations.SchemaError, match="f00dfacef00d, which this version of Ratchet does not know"):
            store.create_schema()
    finally:
        store.dispose()
