"""Database access: one engine per process, one session per unit of work.

SQLite (embedded default) and PostgreSQL (`RATCHET_DATABASE_URL`) behave the same here; writes
that activities repeat on retry or replay go through `insert_ignore` / keyed updates so they
never duplicate a row.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Select, Table, bindparam, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import configure_mappers
from sqlmodel import Session, SQLModel, create_engine

from ratchet.config import DEFAULT_SHOP
from ratchet.core.clock import utcnow
from ratchet.store import migrations
from ratchet.store.secrets import keyring
from ratchet.store.tables import Shop

ModelT = TypeVar("ModelT", bound=SQLModel)
StatementT = TypeVar("StatementT")


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a table model (SQLModel sets `__table__` without declaring it)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]  # set by SQLModel on table=True classes


_statements: dict[Hashable, Any] = {}


def prebuilt(key: Hashable, build: Callable[[], StatementT]) -> StatementT:
    """The statement `build` makes, built once per process under `key`.

    SQLAlchemy caches a statement's compiled form by its cache key, but computing that key walks
    the statement on every call, and building the statement costs more again: measured, a
    run's begin-attempt step took 505 µs of CPU built per call and 138 µs built once. Statements
    on the engine's hot path are built here once, with `bindparam`s for every value.
    """
    statement = _statements.get(key)
    if statement is None:
        statement = _statements[key] = build()
    return cast(StatementT, statement)


def read_row(conn: Connection, model: type[ModelT], *key: Any) -> ModelT | None:
    """The row with primary key `key` as a detached model, read with one Core statement (no ORM session).

    For the engine's hot path, which reads a few rows per run and never writes through them.
    """
    table = table_of(model)

    def build() -> Select[Any]:
        columns = list(table.primary_key.columns)
        return select(table).where(*(c == bindparam(f"pk_{i}") for i, c in enumerate(columns)))

    statement = prebuilt(("read_row", table.name), build)
    row = conn.execute(statement, {f"pk_{i}": v for i, v in enumerate(key)}).one_or_none()
    return None if row is None else cast(ModelT, model.model_construct(**row._mapping))


def dialect_insert(bind: Engine | Connection) -> Any:
    """INSERT with ON CONFLICT for the bind's database (both dialects spell it the same way)."""
    return dialect_insert_for(bind.dialect.name)


def dialect_insert_for(dialect: str) -> Any:
    return pg_insert if dialect == "postgresql" else sqlite_insert


def is_lock_wait(exc: BaseException) -> bool:
    """SQLite's "database is locked": another writer holds the lock (and this one would not wait)."""
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)


def _normalise_url(url: str) -> str:
    # Users paste libpq-style URLs; we ship psycopg 3, so name its driver explicitly.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# How long a SQLite writer waits for another's lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 30_000


class Store:
    def __init__(self, url: str) -> None:
        self.url = _normalise_url(url)
        self.engine: Engine = self._create_engine(self.url, SQLITE_BUSY_TIMEOUT_MS)
        # Models built by read_row/model_construct need configured mappers to read their
        # attributes; a process whose first reads are Core (`ratchet serve`) would fail without.
        configure_mappers()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @cached_property
    def no_wait_engine(self) -> Engine:
        """SQLite only: the same database, but a write that finds it locked fails at once
        (`is_lock_wait`) instead of waiting — for callers that must never block their thread."""
        assert self.is_sqlite
        return self._create_engine(self.url, 0)

    @staticmethod
    def _create_engine(url: str, busy_timeout_ms: int) -> Engine:
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000})

            @sa_event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                # WAL lets the CLI read while workers write; busy_timeout makes concurrent
                # writers (several worker processes) wait instead of failing.
                cursor = dbapi_conn.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
                cursor.close()

            return engine
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)

    def create_schema(self) -> None:
        """Bring the schema to the newest migration (creating it on an empty database)."""
        migrations.upgrade(self.engine)
        with self.session() as session:
            # Insert-or-keep: processes starting together must not fail on each other's row.
            self.insert_ignore(session, Shop, [{"id": DEFAULT_SHOP, "timezone": "UTC", "created_at": utcnow()}])

    def drop_schema(self) -> None:
        with self.engine.begin() as connection:
            SQLModel.metadata.drop_all(connection)
            # Otherwise the next create_schema would believe the dropped tables are at head.
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def insert_ignore(
        self, session: Session | Connection, model: type[SQLModel], rows: Sequence[dict[str, Any]]
    ) -> None:
        """Insert rows, silently keeping any that already exist (by primary key)."""
        if not rows:
            return
        table = table_of(model)
        session.execute(dialect_insert(self.engine)(table).values(list(rows)).on_conflict_do_nothing())

    def dispose(self) -> None:
        self.engine.dispose()


_stores: dict[str, Store] = {}


def get_store(url: str) -> Store:
    """The process-wide store for a URL (engines pool connections; create one per process)."""
    store = _stores.get(url)
    if store is None:
        # Fail at start, not at the first secret a webhook or action needs: a missing or
        # malformed RATCHET_SECRET_KEY is one clear error before anything runs.
        keyring()
        store = Store(url)
        store.create_schema()
        _stores[url] = store
    return store


__all__ = ["Store", "get_store"]
