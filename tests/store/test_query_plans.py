"""Every query an event's path and the run commands make can use an index, on SQLite and PostgreSQL.

The statements are captured from a real event (event run → task run → action run, a follow-up
error event, a manual retry), from `runs list/show` and `shop status`, and from the console's
Events list and event detail, then EXPLAINed on
both databases. A full scan of a table that grows with work (runs, attempts, events, cache)
would make every event slower as the ledger grows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, select
from sqlalchemy import event as sa_event
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import col

from ratchet.services.event_detail import event_detail
from ratchet.services.event_listing import EventQuery, list_events
from ratchet.store.database import PreparedResult, PreparedStatement, Store
from ratchet.store.tables import Run
from starter.api import Ratchet
from tests.support.tasks import add_task
from tests.support.waiting import settled, wait_for_runs

GROWING_TABLES = ("runs", "run_attempts", "events", "cache_entries")


@contextmanager
def captured(store: Store) -> Iterator[list[tuple[ClauseElement, dict[str, Any]]]]:
    """SELECT/UPDATE/DELETE statements executed on `store` (from any thread) while the block runs.

    Caught through `Connection.execute` and, the engine's hot path, through prepared statements.
    """
    statements: list[tuple[ClauseElement, dict[str, Any]]] = []

    def record(_conn: Any, clause: Any, multiparams: Any, params: Any, _options: Any) -> None:
        if isinstance(clause, ClauseElement) and not _is_insert(clause):
            statements.append((clause, params or (multiparams[0] if multiparams else {})))

    run_prepared = PreparedStatement.execute
    # PostgreSQL's hot path runs on the store's pool of autocommitting connections.
    engines = [store.engine] if store.is_sqlite else [store.engine, store.autocommit_engine]

    def record_prepared(self: PreparedStatement, conn: Connection, params: dict[str, Any]) -> PreparedResult:
        if conn.engine in engines:
            record(conn, self.statement, (), params, {})
        return run_prepared(self, conn, params)

    for engine in engines:
        sa_event.listen(engine, "before_execute", record)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PreparedStatement, "execute", record_prepared)
        try:
            yield statements
        finally:
            for engine in engines:
                sa_event.remove(engine, "before_execute", record)


def _is_insert(clause: ClauseElement) -> bool:
    return getattr(clause, "is_insert", False)


def _modifying_cte(clause: ClauseElement) -> bool:
    """A statement of the ledger's PostgreSQL path (ratchet/store/ledger.py), joined by data-modifying CTEs.

    SQLite has no such CTEs: with the engine's ledger on PostgreSQL (RATCHET_TEST_LEDGER), they are
    explained there only, and SQLite's own statements are checked when its ledger is SQLite.
    """
    return bool(re.match(r"WITH \w+ AS \s*\((UPDATE|INSERT|DELETE) ", str(clause)))


def full_scans(store: Store, clause: ClauseElement, params: dict[str, Any]) -> list[str]:
    """Growing tables the database would read in full for this statement."""
    compiled = clause.compile(dialect=store.engine.dialect)
    assert isinstance(compiled, SQLCompiler)
    if any(isinstance(value, list | tuple) for value in compiled.params.values()):
        # An IN (…) over a list (the console's reads of a page's events): its values written inline.
        compiled = clause.compile(dialect=store.engine.dialect, compile_kwargs={"literal_binds": True})
        assert isinstance(compiled, SQLCompiler)
    processors: dict[str, Any] = dict(compiled._bind_processors)
    values = {
        name: processors[name](value) if name in processors else value
        for name, value in {**compiled.params, **params}.items()
    }
    with store.engine.connect() as conn:
        if store.engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {compiled}", tuple(values[name] for name in compiled.positiontup or ())
            ).all()
            # "SCAN runs" reads every row; "SEARCH runs USING INDEX …" and covering-index scans do not.
            plan = [str(row[-1]) for row in rows]
            return [line for line in plan if re.match(rf"SCAN ({'|'.join(GROWING_TABLES)})\b(?! USING)", line)]
        # PostgreSQL prefers a sequential scan of a tiny table; forbid it to see whether an index exists.
        conn.exec_driver_sql("SET enable_seqscan = off")
        plan = [row[0] for row in conn.exec_driver_sql(f"EXPLAIN {compiled}", values).all()]
        return [line for line in plan if re.search(rf"Seq Scan on ({'|'.join(GROWING_TABLES)})\b", line)]


@pytest.fixture
async def engine_statements(api: Ratchet) -> list[tuple[ClauseElement, dict[str, Any]]]:
    await add_task(api, "Plans echo", '{% action "echo", x: cache["k"] %}', ["user/plans/go"])
    await add_task(api, "Plans failing", '{% error "no" %}', ["user/plans/go"])
    with captured(api.store) as statements:
        event_id = await api.events.send("user/plans/go", {"n": 1})
        runs = await wait_for_runs(api, event_id, settled(1))
        await api.runs.list(event_id=event_id)
        await api.runs.list(state=runs[0].state)
        await api.runs.get(runs[0].id)
        await api.status.get()
        with api.store.session() as session:  # the console's Events list (its tabs) and event detail
            for query in (EventQuery(), EventQuery(tab="errors"), EventQuery(tab="waiting", hide_idle=True)):
                page = list_events(session, api.settings.shop, query, limit=1)
                list_events(session, api.settings.shop, query, after=page.next_cursor)
            event_detail(session, api.settings.shop, event_id)
    return statements


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
async def test_engine_and_cli_queries_use_indexes(
    engine_statements: list[tuple[ClauseElement, dict[str, Any]]], database: str, request: pytest.FixtureRequest
) -> None:
    store: Store = request.getfixturevalue(f"{database}_store")
    assert full_scans(store, select(Run).where(col(Run.topic) == "unindexed"), {}), "the check must see a full scan"
    assert len(engine_statements) > 10
    # The engine's hot path (prepared statements) is among them: a run's begin-attempt UPDATE.
    assert any("RETURNING" in str(clause) for clause, _ in engine_statements)
    scans = {
        str(clause.compile(dialect=store.engine.dialect)): found
        for clause, params in engine_statements
        if not (database == "sqlite" and _modifying_cte(clause)) and (found := full_scans(store, clause, params))
    }
    assert scans == {}
