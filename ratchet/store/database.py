"""Database access: one engine per process, one session per unit of work.

SQLite (embedded default) and PostgreSQL (`RATCHET_DATABASE_URL`) behave the same here; writes
that activities repeat on retry or replay go through `insert_ignore` / keyed updates so they
never duplicate a row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Dialect, Select, Table, bindparam, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, MultipleResultsFound, OperationalError, StatementError
from sqlalchemy.orm import configure_mappers
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session, SQLModel, create_engine

from ratchet.config import DEFAULT_SHOP
from ratchet.core.clock import utcnow
from ratchet.store import migrations
from ratchet.store.secrets import keyring
from ratchet.store.tables import Shop

ModelT = TypeVar("ModelT", bound=SQLModel)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a table model (SQLModel sets `__table__` without declaring it)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]  # set by SQLModel on table=True classes


class PreparedStatement:
    """A Core statement compiled once for a dialect and run straight on the DB-API cursor.

    For the engine's hot path, a few keyed statements per run: SQLAlchemy's execution pipeline
    (cache-key walk, parameter construction, result wrapping) cost about four times what the
    database does for such a statement (measured: a run's begin-attempt transaction took 210 µs
    of CPU through `Connection.execute`, 40 µs on the bare cursor). The SQL, the bind and result
    processors are SQLAlchemy's own for the dialect, so values are stored and read back exactly
    as the ORM and Core paths store and read them, except that None always binds as SQL NULL
    (a JSON column's None too, as an omitted column would be). It runs in the connection's
    transaction (beginning one if none is open), and database errors arrive wrapped as
    SQLAlchemy's (`sqlalchemy.exc.OperationalError`, `IntegrityError`, …) as from `execute`.
    """

    def __init__(self, statement: ClauseElement, dialect: Dialect, column_keys: Sequence[str] | None = None) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(column_keys) if column_keys else None)
        assert isinstance(compiled, SQLCompiler)
        # Defaults SQLAlchemy would compute at execution (and renamed binds) are not applied
        # here: prepared statements name every value they write.
        if compiled.insert_prefetch or compiled.update_prefetch or compiled.escaped_bind_names:
            raise ValueError(f"not preparable (needs execution-time defaults): {compiled.string}")
        self.statement = statement
        self.sql = compiled.string
        binds = compiled.binds
        self._positional = compiled.positional
        self._names = list(compiled.positiontup or ()) if compiled.positional else list(binds)
        # Literal values the statement carries (`.values(state=...)`); the rest come per call.
        self._fixed = {name: bind.value for name, bind in binds.items() if not bind.required}
        # SQLAlchemy's own cached processors for the dialect (what `execute` applies).
        self._binders = [(name, binds[name].type._cached_bind_processor(dialect)) for name in self._names]
        self._columns = [(column.name, column.type) for column in getattr(statement, "exported_columns", ())]
        self._readers: list[tuple[str, Callable[[Any], Any] | None]] | None = None
        self._dialect = dialect

    def _bind(self, params: dict[str, Any]) -> Any:
        values = []
        for name, process in self._binders:
            value = params[name] if name in params else self._fixed[name]
            values.append(process(value) if process is not None and value is not None else value)
        return values if self._positional else dict(zip(self._names, values, strict=True))

    def _read(self, cursor: Any) -> list[dict[str, Any]]:
        # Whether rows come back is the statement's (SELECT, RETURNING): psycopg builds
        # `cursor.description` anew at each access, a measured 30 µs a statement.
        if not self._columns:
            return []
        if self._readers is None:
            # Result processors may depend on the driver's column types, known from the first cursor.
            self._readers = [
                (name, type_._cached_result_processor(self._dialect, description[1]))
                for (name, type_), description in zip(self._columns, cursor.description, strict=True)
            ]
        readers = self._readers
        return [
            {
                name: (read(value) if read is not None else value)
                for (name, read), value in zip(readers, row, strict=True)
            }
            for row in cursor.fetchall()
        ]

    def execute(self, conn: Connection, params: dict[str, Any]) -> PreparedResult:
        """Run once with `params` (by bind name); the rows it returned (SELECT, RETURNING) and its row count.

        Inside `reads_ahead`, a read it sent already with the same parameters answers instead.
        """
        ahead = _reads_ahead.get()
        # Only the statements sent ahead are looked up: a write's parameters may hold JSON values
        # (dicts, lists), which cannot key a lookup.
        sent = ahead.get(id(self)) if ahead is not None else None
        if sent is not None:
            found = sent.pop(_frozen(params), None)
            if found is not None:
                return found
        return self._run(conn, self._bind(params), params, many=False)

    def executemany(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Run once per row (INSERTs of rows with the same keys)."""
        self._run(conn, [self._bind(row) for row in rows], rows, many=True)

    def _run(self, conn: Connection, bound: Any, params: Any, *, many: bool) -> PreparedResult:
        if not conn.in_transaction():
            conn.begin()
        cursor = conn.connection.cursor()
        try:
            self._send(conn, cursor, bound, many)
            return PreparedResult(self._read(cursor), cursor.rowcount)
        except self._dialect.loaded_dbapi.Error as exc:
            raise self._wrapped(conn, cursor, params, exc) from exc
        finally:
            cursor.close()

    def _send(self, conn: Connection, cursor: Any, bound: Any, many: bool) -> None:
        # Listeners of SQLAlchemy's cursor events (logging, benchmarks/sql_counts.py) see these
        # statements as they see `execute`'s.
        listened = conn._has_events or conn.engine._has_events
        if listened:
            conn.dispatch.before_cursor_execute(conn, cursor, self.sql, bound, None, many)
        if many:
            cursor.executemany(self.sql, bound)
        else:
            cursor.execute(self.sql, bound)
        if listened:
            conn.dispatch.after_cursor_execute(conn, cursor, self.sql, bound, None, many)

    def _wrapped(self, conn: Connection, cursor: Any, params: Any, exc: Any) -> StatementError:
        """The driver's error as SQLAlchemy's; a dead connection must not go back to the pool (as with `execute`)."""
        gone = self._dialect.is_disconnect(exc, conn.connection.dbapi_connection, cursor)
        if gone:
            conn.invalidate(exc)
        return DBAPIError.instance(
            self.sql, params, exc, self._dialect.loaded_dbapi.Error, connection_invalidated=gone, dialect=self._dialect
        )


@dataclass(slots=True)
class PreparedResult:
    rows: list[dict[str, Any]]
    rowcount: int

    def one_or_none(self) -> dict[str, Any] | None:
        if len(self.rows) > 1:
            raise MultipleResultsFound("more than one row where at most one was expected")
        return self.rows[0] if self.rows else None


_prepared: dict[tuple[Hashable, str], PreparedStatement] = {}


def prepared(
    conn: Connection, key: Hashable, build: Callable[[], ClauseElement], column_keys: Sequence[str] | None = None
) -> PreparedStatement:
    """The statement `build` makes, built and compiled once per process and dialect under `key`.

    `column_keys`: for an INSERT, the columns its rows carry (part of what `key` must name).
    """
    dialect = conn.dialect
    statement = _prepared.get((key, dialect.name))
    if statement is None:
        statement = _prepared[(key, dialect.name)] = PreparedStatement(build(), dialect, column_keys)
    return statement


@dataclass(frozen=True)
class Read:
    """A prepared read a unit is about to run: its statement (key and builder, as for `prepared`) and parameters."""

    key: Hashable
    build: Callable[[], ClauseElement]
    params: dict[str, Any]

    def statement(self, conn: Connection) -> PreparedStatement:
        return prepared(conn, self.key, self.build)

    def execute(self, conn: Connection) -> PreparedResult:
        return self.statement(conn).execute(conn, self.params)


def _frozen(params: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(params.items()))


# The results `reads_ahead` fetched for the block running in this thread, by statement, then parameters.
_reads_ahead: ContextVar[dict[int, dict[tuple[tuple[str, Any], ...], PreparedResult]] | None] = ContextVar(
    "reads_ahead", default=None
)


@contextmanager
def reads_ahead(conn: Connection, reads: Sequence[Read]) -> Iterator[None]:
    """Send `reads` together before the block runs them, one by one, as it would without.

    On PostgreSQL they go in one pipeline, one round trip for all instead of one each, and each
    `PreparedStatement.execute` in the block with the same statement and parameters takes its
    result (once). Only for reads nothing in the block writes before it runs them, on a connection
    that autocommits (`Store.reading`, `Store.unit`): they see what was committed when they were
    sent. On SQLite, whose statements cost no round trip, nothing is sent ahead.
    """
    if conn.dialect.name != "postgresql" or len(reads) < 2:
        yield
        return
    statements = [read.statement(conn) for read in reads]
    results = _pipelined(conn, [(statement, read.params) for statement, read in zip(statements, reads, strict=True)])
    sent: dict[int, dict[tuple[tuple[str, Any], ...], PreparedResult]] = {}
    for statement, read, result in zip(statements, reads, results, strict=True):
        sent.setdefault(id(statement), {})[_frozen(read.params)] = result
    token = _reads_ahead.set(sent)
    try:
        yield
    finally:
        _reads_ahead.reset(token)


def _pipelined(conn: Connection, calls: list[tuple[PreparedStatement, dict[str, Any]]]) -> list[PreparedResult]:
    """Run prepared statements in one psycopg pipeline: sent together, their results read after one sync."""
    cursors: list[tuple[PreparedStatement, Any, dict[str, Any]]] = []
    try:
        with conn.connection.dbapi_connection.pipeline():  # type: ignore[union-attr]  # psycopg's Connection
            for statement, params in calls:
                cursor = conn.connection.cursor()
                cursors.append((statement, cursor, params))
                statement._send(conn, cursor, statement._bind(params), many=False)
        return [PreparedResult(statement._read(cursor), cursor.rowcount) for statement, cursor, _ in cursors]
    except conn.dialect.loaded_dbapi.Error as exc:
        statement, cursor, params = cursors[-1]
        raise statement._wrapped(conn, cursor, params, exc) from exc
    finally:
        for _, cursor, _ in cursors:
            cursor.close()


def row_read(model: type[SQLModel], *key: Any) -> Read:
    """The read of the row of `model` with primary key `key` (what `read_row` runs)."""
    table = table_of(model)

    def build() -> Select[Any]:
        columns = list(table.primary_key.columns)
        return select(table).where(*(c == bindparam(f"pk_{i}") for i, c in enumerate(columns)))

    return Read(("read_row", table.name), build, {f"pk_{i}": v for i, v in enumerate(key)})


def read_row(conn: Connection, model: type[ModelT], *key: Any) -> ModelT | None:
    """The row with primary key `key` as a detached, unvalidated model (no ORM session).

    For the engine's hot path, which reads a few rows per run and never writes through them.
    """
    found = row_read(model, *key).execute(conn).one_or_none()
    return None if found is None else detached(model, found)


@cache
def _field_names(model: type[SQLModel]) -> frozenset[str]:
    return frozenset(model.model_fields)


def detached(model: type[ModelT], columns: dict[str, Any]) -> ModelT:
    """A detached, unvalidated model over a row's columns (taken, not copied): `model_construct`'s result.

    A row with every field of the model (a `select(table)`) becomes the model's field values as
    they are, in a fifth of `model_construct`'s time (measured 1.5 against 7.9 µs for a run),
    which looks up aliases and defaults field by field; the engine builds a dozen per event.
    Any other row goes through `model_construct`, which fills the defaults.
    """
    if columns.keys() != _field_names(model):
        return cast(ModelT, model.model_construct(**columns))
    built = model.__new__(model)  # SQLModel's __new__ sets pydantic's private attributes
    object.__setattr__(built, "__dict__", columns)
    object.__setattr__(built, "__pydantic_fields_set__", set(columns))
    return built


@contextmanager
def atomic(conn: Connection) -> Iterator[None]:
    """The block's statements as one transaction, on a connection of `Store.unit`.

    On PostgreSQL, where that connection autocommits each statement, the block gets a transaction
    of its own (the driver's: committed at the end, rolled back on error); on SQLite the unit is
    one transaction already.
    """
    driver = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql" and getattr(driver, "autocommit", False):
        with driver.transaction():  # type: ignore[union-attr]  # psycopg's Connection
            yield
    else:
        yield


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

# A pooled server connection unused for longer than this is pinged before it is handed out.
PING_IDLE_AFTER_SECONDS = 10.0


def _ping_idle_connections(engine: Engine) -> None:
    """Hand out no dead connection after a database restart or an idle timeout, without a round trip per checkout.

    Only connections idle for PING_IDLE_AFTER_SECONDS are pinged (`pool_pre_ping` pings every
    checkout, eight per event on the engine's hot path). A dead one is replaced (the pool
    retries the checkout); a connection that dies while in use fails its statement, as with
    `pool_pre_ping`.
    """

    @sa_event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @sa_event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < PING_IDLE_AFTER_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError(f"pooled connection is gone: {exc}") from exc
        if not alive:
            raise DisconnectionError("pooled connection is gone")


class UnitFailedInside(Exception):
    """A unit inside `Store.one_transaction` failed: the block's writes were rolled back, all of them."""


@dataclass
class _SharedTransaction:
    """The transaction every unit, read and session in a `Store.one_transaction` block joins."""

    conn: Connection
    failed: bool = False
    """A unit inside raised (even if the block caught it): the transaction must not commit."""


# The `Store.one_transaction` block running in this thread, if any.
_shared: ContextVar[_SharedTransaction | None] = ContextVar("shared_transaction", default=None)


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
        """SQLite only: the same database, but a write that finds it locked fails at once.

        It fails with `is_lock_wait` instead of waiting, for callers that must never block their thread.
        """
        assert self.is_sqlite
        return self._create_engine(self.url, 0)

    @cached_property
    def autocommit_engine(self) -> Engine:
        """PostgreSQL only: the same database through a pool of its own whose connections autocommit.

        For `reading` and `unit`, the engine's hot path: switching a pooled connection to autocommit
        and back at each checkout cost a measured 30–45 µs of the worker's CPU per unit.
        """
        assert not self.is_sqlite
        return self._create_engine(self.url, SQLITE_BUSY_TIMEOUT_MS, isolation_level="AUTOCOMMIT")

    @staticmethod
    def _create_engine(url: str, busy_timeout_ms: int, **options: Any) -> Engine:
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
        engine = create_engine(url, pool_size=10, max_overflow=20, **options)
        _ping_idle_connections(engine)
        return engine

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
    def reading(self) -> Iterator[Connection]:
        """A connection for a unit of reads that writes nothing; each statement sees what is committed.

        On PostgreSQL it runs outside any transaction (autocommit): no BEGIN and ROLLBACK round
        trips, and no ROLLBACK, which makes psycopg drop every statement it has prepared on the
        connection. SQLite's reads run outside a transaction anyway.
        """
        shared = _shared.get()
        if shared is not None:
            yield shared.conn
            return
        with (self.engine if self.is_sqlite else self.autocommit_engine).connect() as conn:
            yield conn

    @contextmanager
    def one_transaction(self) -> Iterator[None]:
        """SQLite: every `unit`, `reading` and `session` in the block (in this thread) joins one transaction.

        For steps of the engine's hot path that touch nothing but the ledger (an event run, a local
        action): a commit is most of what a short SQLite unit costs (measured 142 µs each, against
        27 µs a statement), and such a step's units otherwise commit two or three times. The block
        commits once at its end and is rolled back as a whole on error. A unit inside that fails
        rolls back the whole block too, even when the block catches its error: the block then
        raises `UnitFailedInside`, so nothing commits half a unit.

        Reads inside see the block's own writes. SQLite's write lock is held from the block's first
        write to its end. On PostgreSQL the block changes nothing: there each record is one
        autocommitted statement already (`unit`).
        """
        if not self.is_sqlite or _shared.get() is not None:
            yield
            return
        with self.engine.connect() as conn:
            shared = _SharedTransaction(conn)
            token = _shared.set(shared)
            try:
                with conn.begin():
                    yield
                    if shared.failed:
                        raise UnitFailedInside("a unit inside the transaction failed; its writes are rolled back")
            finally:
                _shared.reset(token)

    @contextmanager
    def unit(self) -> Iterator[Connection]:
        """A unit of ledger work (one step of a run): committed at the end, rolled back on error.

        On PostgreSQL the connection autocommits: the ledger writes each of its records as one
        statement (ratchet/store/ledger.py), atomic by itself, so a unit pays no BEGIN and COMMIT
        round trips; a record that needs several statements runs them in `atomic`. On SQLite, whose
        statements cost no round trip, the unit is one transaction; inside `one_transaction` it
        joins that block's, which commits for it.
        """
        shared = _shared.get()
        if shared is not None:
            with _failing(shared):
                yield shared.conn
            return
        if not self.is_sqlite:
            with self.autocommit_engine.connect() as conn:
                yield conn
            return
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on error (inside `one_transaction`, with that block)."""
        shared = _shared.get()
        if shared is not None:
            # The session writes in the shared transaction; its commit only flushes (`rollback_only`).
            with (
                _failing(shared),
                Session(shared.conn, expire_on_commit=False, join_transaction_mode="rollback_only") as session,
            ):
                yield session
                session.commit()
            return
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
        if "autocommit_engine" in self.__dict__:
            self.autocommit_engine.dispose()


@contextmanager
def _failing(shared: _SharedTransaction) -> Iterator[None]:
    """Mark the shared transaction failed when the block raises."""
    try:
        yield
    except BaseException:
        shared.failed = True
        raise


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
