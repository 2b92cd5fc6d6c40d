"""Both supported databases, for tests that must behave the same on each: SQLite and PostgreSQL.

The PostgreSQL server at 127.0.0.1:5432 is shared by concurrent test runs (and by branches whose
schemas differ), so each test session creates its own database there from the `test` database and
drops it at the end; no run ever reads or migrates another run's tables. Within a session the stores
are shared: tests write under their own shop ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from psycopg import sql

from ratchet.core.clock import utcnow
from ratchet.store.database import Store
from ratchet.store.tables import Shop

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"
POSTGRES_MAINTENANCE_DB = "test"  # where the session's own database is created from and dropped


def _maintenance(statement: sql.Composed) -> None:
    # CREATE/DROP DATABASE cannot run inside a transaction.
    with psycopg.connect(f"{POSTGRES_SERVER}/{POSTGRES_MAINTENANCE_DB}", autocommit=True) as connection:
        connection.execute(statement)


@contextmanager
def scratch_postgres_database() -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database, dropped (with its connections) on exit."""
    name = f"ratchet_test_{uuid.uuid4().hex[:16]}"
    _maintenance(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        _maintenance(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this session, dropped when the session ends."""
    with scratch_postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_store(postgres_url: str) -> Iterator[Store]:
    store = Store(postgres_url)
    store.create_schema()
    yield store
    store.dispose()


@pytest.fixture(scope="session")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('stores') / 'ratchet.db'}")
    store.create_schema()
    yield store
    store.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_store(request: pytest.FixtureRequest) -> Store:
    """The test runs once on each supported database."""
    store: Store = request.getfixturevalue(f"{request.param}_store")
    return store


def add_shop(store: Store) -> str:
    """A new shop of its own in `store` (the stores are shared within a session); its id."""
    shop_id = f"shop-{uuid.uuid4().hex[:10]}"
    with store.session() as session:
        store.insert_ignore(session, Shop, [{"id": shop_id, "timezone": "UTC", "created_at": utcnow()}])
    return shop_id
