"""Prepared statements (the engine's hot path) store and read values exactly as the ORM does, on both databases."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from sqlalchemy import Select, bindparam, select
from sqlalchemy.exc import IntegrityError, OperationalError

from ratchet.core.clock import utcnow
from ratchet.core.runs import RunKind, RunState
from ratchet.store import database, ledger
from ratchet.store.database import Store, is_lock_wait, prepared, read_row, table_of
from ratchet.store.tables import Event, Run, Shop

RUNS = table_of(Run)


def _event(store: Store) -> Event:
    event = Event(
        id=str(uuid.uuid4()), shop_id="default", topic="user/a/b", data=None, workflow_id="w", created_at=utcnow()
    )
    with store.session() as session:
        session.add(event)
    return event


def _runs_by_parent() -> Select[Any]:
    return select(RUNS).where(RUNS.c.parent_id == bindparam("b_parent")).order_by(RUNS.c.position)


def test_rows_written_prepared_read_back_through_the_orm(db_store: Store) -> None:
    event = _event(db_store)
    run_at = datetime(2026, 5, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    row = ledger.new_run_row(
        run_id=str(uuid.uuid4()),
        kind=RunKind.action,
        event=event,
        parent_id=event.id,
        state=RunState.due,
        run_at=run_at,
        action_type="echo",
        action_options={"nested": [1, "two", None], "ünïcode": True},
        perform_event=False,
        position=3,
    )
    with db_store.engine.begin() as conn:
        ledger.insert_runs(conn, [row])
    with db_store.session() as session:
        stored = session.get(Run, row["id"])
    assert stored is not None
    assert stored.run_at == run_at and stored.run_at.tzinfo == UTC
    assert stored.action_options == {"nested": [1, "two", None], "ünïcode": True}
    assert stored.state == RunState.due and stored.kind == RunKind.action
    assert stored.perform_event is False and stored.position == 3
    assert stored.result is None and stored.notes == []


def test_rows_read_prepared_match_the_orm(db_store: Store) -> None:
    event = _event(db_store)
    with db_store.session() as session:
        session.add(Shop(id="prepared-shop", timezone="Asia/Tokyo", access_token="shpat_secret", created_at=utcnow()))
        session.add(
            Run(
                id="prepared-run",
                kind=RunKind.task,
                shop_id="default",
                event_id=event.id,
                parent_id=event.id,
                topic=event.topic,
                state=RunState.failed,
                ok=False,
                result={"a": [1.5, {"b": None}]},
                started_at=utcnow(),
            )
        )
    with db_store.session() as session:
        orm_run, orm_shop = session.get(Run, "prepared-run"), session.get(Shop, "prepared-shop")
    with db_store.engine.connect() as conn:
        run, shop = read_row(conn, Run, "prepared-run"), read_row(conn, Shop, "prepared-shop")
        children = prepared(conn, "test_runs_by_parent", _runs_by_parent).execute(conn, {"b_parent": event.id})
    assert run is not None and orm_run is not None and shop is not None and orm_shop is not None
    assert run.model_dump() == orm_run.model_dump()
    assert run.ok is False and run.started_at is not None and run.started_at.tzinfo == UTC
    # Encrypted at rest, decrypted on read, as through the ORM.
    assert shop.access_token == orm_shop.access_token == "shpat_secret"
    assert [child["id"] for child in children.rows] == ["prepared-run"]


def test_a_prepared_write_is_part_of_the_callers_transaction(db_store: Store) -> None:
    event = _event(db_store)
    row = ledger.new_run_row(
        run_id=str(uuid.uuid4()), kind=RunKind.task, event=event, parent_id=event.id, state=RunState.due, run_at=None
    )
    with db_store.engine.connect() as conn:
        ledger.insert_runs(conn, [row])
        conn.rollback()
    with db_store.engine.connect() as conn:
        assert read_row(conn, Run, row["id"]) is None
        ledger.insert_runs(conn, [row])
        ledger.mark_waiting(conn, row["id"], RunState.scheduled, run_at=utcnow())
        conn.commit()
    with db_store.session() as session:
        stored = session.get(Run, row["id"])
    assert stored is not None and stored.state == RunState.scheduled


def test_database_errors_arrive_as_sqlalchemy_errors(db_store: Store) -> None:
    event = _event(db_store)
    with pytest.raises(IntegrityError), db_store.engine.begin() as conn:
        columns = tuple(event.model_dump())
        statement = prepared(conn, "test_plain_insert_event", lambda: table_of(Event).insert(), column_keys=columns)
        statement.execute(conn, event.model_dump())


def test_a_locked_sqlite_database_is_recognised(sqlite_store: Store) -> None:
    event = _event(sqlite_store)
    row = ledger.new_run_row(
        run_id=str(uuid.uuid4()), kind=RunKind.task, event=event, parent_id=event.id, state=RunState.due, run_at=None
    )
    holding, release = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:
        with sqlite_store.engine.begin() as conn:
            ledger.insert_runs(conn, [{**row, "id": str(uuid.uuid4())}])
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    try:
        assert holding.wait(10)
        with pytest.raises(Exception) as raised, sqlite_store.no_wait_engine.begin() as conn:
            ledger.insert_runs(conn, [row])
        assert is_lock_wait(raised.value)
    finally:
        release.set()
        holder.join()


def test_a_pooled_connection_killed_while_idle_is_replaced(
    postgres_store: Store, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Idle for longer than the threshold at once, so the next checkout pings it.
    monkeypatch.setattr(database, "PING_IDLE_AFTER_SECONDS", 0.0)
    store = Store(postgres_url)  # a pool of its own, with the schema postgres_store made
    try:
        with store.reading() as conn:
            killed = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (killed,))
        with store.reading() as conn:
            assert read_row(conn, Shop, "default") is not None
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != killed
    finally:
        store.dispose()


def test_a_statement_on_a_dead_connection_discards_it(postgres_store: Store, postgres_url: str) -> None:
    store = Store(postgres_url)
    try:
        with store.reading() as conn:
            killed = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with psycopg.connect(postgres_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (killed,))
            with pytest.raises(OperationalError) as raised:
                read_row(conn, Shop, "default")
            assert raised.value.connection_invalidated
        # The next unit of work gets a live connection, not the dead one back from the pool.
        with store.reading() as conn:
            assert read_row(conn, Shop, "default") is not None
    finally:
        store.dispose()
