"""Run-ledger writes and reads. Every write is keyed so an activity replay rewrites, never duplicates."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Enum, String, Table, bindparam, cast, delete, func, null, select, union_all, update
from sqlmodel import Session

from ratchet.core.clock import utcnow
from ratchet.core.runs import RunKind, RunState
from ratchet.errors import NotFound
from ratchet.store.database import atomic, detached, dialect_insert_for, prepared, table_of
from ratchet.store.tables import Event, Run, RunAttempt, Task, UTCDateTime

RATCHET_NAMESPACE = uuid.UUID("6f1d3b7e-0c55-4a4e-9d0b-5b3c2f9a7e21")


def derived_id(*parts: object) -> str:
    """A stable id for a child row, so a re-executed activity produces the same ids."""
    return str(uuid.uuid5(RATCHET_NAMESPACE, "/".join(str(p) for p in parts)))


def event_workflow_id(shop_id: str, event_id: str) -> str:
    return f"event/{shop_id}/{event_id}"


def elapsed_ms(start: datetime | None, stop: datetime) -> int | None:
    return int((stop - start).total_seconds() * 1000) if start else None


class RunNotFound(NotFound):
    pass


def get_run(session: Session, run_id: str) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise RunNotFound(f"unknown run {run_id!r}")
    return run


# The hot path below is prepared statements on a caller's connection (`prepared`: built and
# compiled once, run on the DB-API cursor), not the ORM: each run's attempt costs a handful of
# keyed statements and no statement building. Callers own the units (`Store.unit`: one per step
# the ledger must show). On PostgreSQL each record of an attempt (its beginning, its outcome with
# the child runs it planned) is one statement, its parts joined by data-modifying CTEs, so that a
# unit costs one round trip per record and no BEGIN or COMMIT; SQLite, which has no such CTEs and
# no round trips, runs the parts as separate statements in the unit's transaction.
RUNS = table_of(Run)
ATTEMPTS = table_of(RunAttempt)


def _note(notes: list[dict[str, Any]] | None, note: str) -> list[dict[str, Any]]:
    return [*(notes or []), {"at": utcnow().isoformat(), "note": note}]


def _begin_statement() -> Any:
    now = bindparam("b_now", type_=UTCDateTime())
    return (
        update(RUNS)
        .where(RUNS.c.id == bindparam("b_run_id"))
        .values(
            state=RunState.started,
            started_at=now,
            stopped_at=None,
            elapsed_time_ms=None,
            attempts=bindparam("b_attempt"),
            error=None,
            # Set again by a task run once it has read its task (`_close`).
            task_version=None,
            run_at=func.coalesce(RUNS.c.run_at, now),
            # The time Temporal scheduled this attempt, else the first time the run was queued.
            enqueued_at=func.coalesce(bindparam("b_enqueued_at", type_=UTCDateTime()), RUNS.c.enqueued_at, now),
        )
        .returning(RUNS)
    )


# An attempt row as an attempt begins it (and as a replay of that attempt begins it again).
_ATTEMPT_CLEARED: dict[str, Any] = {"stopped_at": None, "ok": None, "error": None, "retry_at": None}


def _on_attempt_conflict(upsert: Any) -> Any:
    return upsert.on_conflict_do_update(
        index_elements=["run_id", "attempt"], set_={"started_at": upsert.excluded.started_at, **_ATTEMPT_CLEARED}
    )


def _attempt_upsert_statement(dialect: str) -> Any:
    upsert = dialect_insert_for(dialect)(ATTEMPTS).values(
        run_id=bindparam("b_run_id"),
        attempt=bindparam("b_attempt"),
        started_at=bindparam("b_now", type_=UTCDateTime()),
        **_ATTEMPT_CLEARED,
    )
    return _on_attempt_conflict(upsert)


def _begin_merged_statement() -> Any:
    """PostgreSQL: the run's UPDATE … RETURNING and the attempt upsert as one statement.

    The attempt row is inserted from the updated run, so an unknown run writes nothing.
    """
    began = _begin_statement().cte("began")
    row = select(
        began.c.id,
        bindparam("b_attempt", type_=ATTEMPTS.c.attempt.type),
        bindparam("b_now", type_=UTCDateTime()),
        *(null().label(name) for name in _ATTEMPT_CLEARED),
    )
    upsert = dialect_insert_for("postgresql")(ATTEMPTS).from_select(
        ["run_id", "attempt", "started_at", *_ATTEMPT_CLEARED], row
    )
    return select(began).add_cte(_on_attempt_conflict(upsert).cte("attempt"))


def begin_attempt(
    conn: Connection, run_id: str, attempt: int, enqueued_at: datetime | None, manual_retry_note: str | None = None
) -> Run:
    """Mark a run Started for `attempt` (cumulative) and record the attempt; returns the run as updated.

    The first attempt of a manual retry also counts the retry (which keys the ids of the new
    child runs) and discards the previous result, as Mechanic does. An UPDATE … RETURNING and an
    attempt upsert (one statement on PostgreSQL), the same whenever the attempt is replayed.
    """
    params = {"b_run_id": run_id, "b_attempt": attempt, "b_now": utcnow(), "b_enqueued_at": enqueued_at}
    if manual_retry_note is None and conn.dialect.name == "postgresql":
        columns = prepared(conn, "begin_attempt_merged", _begin_merged_statement).execute(conn, params).one_or_none()
        if columns is None:
            raise RunNotFound(f"unknown run {run_id!r}")
        return detached(Run, columns)
    with atomic(conn):
        columns = prepared(conn, "begin_attempt", _begin_statement).execute(conn, params).one_or_none()
        if columns is None:
            raise RunNotFound(f"unknown run {run_id!r}")
        if manual_retry_note is not None:
            # Rare (an operator's retry): built per call.
            columns["notes"] = _note(columns["notes"], manual_retry_note)
            columns.update(manual_retries=columns["manual_retries"] + 1, result=None, ok=None)
            conn.execute(
                update(RUNS)
                .where(RUNS.c.id == run_id)
                .values(notes=columns["notes"], manual_retries=RUNS.c.manual_retries + 1, result=None, ok=None)
            )
        dialect = conn.dialect.name
        prepared(conn, "attempt_upsert", lambda: _attempt_upsert_statement(dialect)).execute(conn, params)
    # A detached, unvalidated model over the row's columns: what callers read, without an ORM session.
    return detached(Run, columns)


def rendering_version(run: Run, version: int) -> None:
    """Note the task version an attempt renders on its run (as begin_attempt returned it).

    The attempt's outcome records it (`_close`). The model is detached (no ORM state, which
    SQLModel's attribute setter needs), so the value goes to its fields directly.
    """
    run.__dict__["task_version"] = version


def _insert_runs_statement(dialect: str) -> Any:
    return dialect_insert_for(dialect)(RUNS).on_conflict_do_nothing()


def insert_runs(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert child runs, keeping any that exist already (a replayed activity writes the same ids).

    Rows come from `new_run_row`, all with every column, so they go as one executemany.
    """
    if rows:
        dialect = conn.dialect.name
        statement = prepared(conn, "insert_runs", lambda: _insert_runs_statement(dialect), column_keys=RUN_COLUMNS)
        statement.executemany(conn, rows)


def _update_row(conn: Connection, table: Table, key: dict[str, Any], values: dict[str, Any]) -> int:
    """UPDATE one row of `table` by `key` with a prepared statement; the number of rows it changed.

    One statement is built per (table, key columns, value columns) and bound by prefixed names
    (`k_` for the key, `b_` for the values), which never collide with the columns themselves.
    """
    key_columns, value_columns = tuple(key), tuple(sorted(values))
    statement = prepared(
        conn,
        ("update", table.name, key_columns, value_columns),
        lambda: (
            update(table)
            .where(*(table.c[name] == bindparam(f"k_{name}") for name in key_columns))
            .values({name: bindparam(f"b_{name}") for name in value_columns})
        ),
    )
    params = {**{f"k_{k}": v for k, v in key.items()}, **{f"b_{k}": v for k, v in values.items()}}
    return statement.execute(conn, params).rowcount


def typed_value(name: str, type_: Any) -> Any:
    """A run row's value in a SELECT that feeds an INSERT: typed, as a VALUES row would be by its column.

    Strings bind with their type already (`::VARCHAR`; a CAST to VARCHAR(n) would truncate where an
    INSERT fails); enums, booleans and the rest are cast, since a UNION's branches leave PostgreSQL
    no column to infer them from.
    """
    value = bindparam(name, type_=type_)
    plain_string = issubclass(type_._type_affinity, String) and not isinstance(type_, Enum)
    return value if plain_string else cast(value, type_)


def _close_merged_statement(value_columns: tuple[str, ...], attempt_columns: tuple[str, ...], children: int) -> Any:
    """PostgreSQL: the run's UPDATE, its attempt's and the INSERT of its child runs as one statement.

    The attempt and the children are written only if the run's row was (the statement returns its
    id): an unknown run writes nothing, as a rolled-back unit would.
    """
    closed = (
        update(RUNS)
        .where(RUNS.c.id == bindparam("k_id"))
        .values({name: bindparam(f"b_{name}") for name in value_columns})
        .returning(RUNS.c.id)
        .cte("closed")
    )
    attempt = (
        update(ATTEMPTS)
        .where(ATTEMPTS.c.run_id == closed.c.id, ATTEMPTS.c.attempt == bindparam("k_attempt"))
        .values({name: bindparam(f"a_{name}") for name in attempt_columns})
        .cte("closed_attempt")
    )
    statement = select(closed.c.id).add_cte(attempt)
    if children:
        was_closed = select(closed.c.id).exists()
        rows = [
            select(*(typed_value(f"c{i}_{name}", RUNS.c[name].type) for name in RUN_COLUMNS)).where(was_closed)
            for i in range(children)
        ]
        insert = dialect_insert_for("postgresql")(RUNS).from_select(list(RUN_COLUMNS), union_all(*rows))
        statement = statement.add_cte(insert.on_conflict_do_nothing().cte("children"))
    return statement


def _close(
    conn: Connection,
    run: Run,
    values: dict[str, Any],
    attempt: dict[str, Any],
    children: list[dict[str, Any]] | None = None,
) -> None:
    """End the attempt `run` describes (as begin_attempt returned it): the run's row, its attempt row, its children.

    A task run's attempt also records the task version it rendered (`run.task_version`, set
    when the attempt read its task). `children` are the child runs the attempt planned
    (`new_run_row`), inserted with the outcome, never without it.
    """
    if run.task_version is not None:
        values = {**values, "task_version": run.task_version}
        attempt = {**attempt, "task_version": run.task_version}
    attempt = {"stopped_at": values["stopped_at"], **attempt}
    children = children or []
    if conn.dialect.name == "postgresql":
        value_columns, attempt_columns = tuple(sorted(values)), tuple(sorted(attempt))
        statement = prepared(
            conn,
            ("close", value_columns, attempt_columns, len(children)),
            lambda: _close_merged_statement(value_columns, attempt_columns, len(children)),
        )
        params = {"k_id": run.id, "k_attempt": run.attempts}
        params.update({f"b_{name}": value for name, value in values.items()})
        params.update({f"a_{name}": value for name, value in attempt.items()})
        for i, row in enumerate(children):
            params.update({f"c{i}_{name}": row[name] for name in RUN_COLUMNS})
        if not statement.execute(conn, params).rows:
            raise RunNotFound(f"unknown run {run.id!r}")
        return
    with atomic(conn):
        insert_runs(conn, children)
        if _update_row(conn, RUNS, {"id": run.id}, values) == 0:
            raise RunNotFound(f"unknown run {run.id!r}")
        _update_row(conn, ATTEMPTS, {"run_id": run.id, "attempt": run.attempts}, attempt)


def succeed(
    conn: Connection, run: Run, result: Any, result_meta: Any = None, children: list[dict[str, Any]] | None = None
) -> None:
    """Record success for the attempt `run` describes, with the child runs it planned (`new_run_row`); no reads.

    Children that exist already (a replayed attempt writes the same ids) are kept.
    """
    _finish(conn, run, RunState.succeeded, None, result, result_meta, children)


def fail(conn: Connection, run: Run, error: str, result: Any = None, result_meta: Any = None) -> None:
    """Record the attempt `run` describes as the run's last: Failed."""
    _finish(conn, run, RunState.failed, error, result, result_meta)


def _finish(
    conn: Connection,
    run: Run,
    state: RunState,
    error: str | None,
    result: Any,
    result_meta: Any,
    children: list[dict[str, Any]] | None = None,
) -> None:
    ok = state == RunState.succeeded
    now = utcnow()
    values: dict[str, Any] = {
        "state": state,
        "ok": ok,
        "result": result,
        "error": error,
        "stopped_at": now,
        "elapsed_time_ms": elapsed_ms(run.started_at, now),
    }
    if result_meta:
        values["result_meta"] = result_meta
    _close(conn, run, values, {"ok": ok, "error": error, "retry_at": None}, children)


def schedule_retry(conn: Connection, run: Run, error: str, delay: timedelta) -> datetime:
    """Between attempts a run shows Scheduled with its next run_at."""
    now = utcnow()
    retry_at = now + delay
    values: dict[str, Any] = {
        "state": RunState.scheduled,
        "ok": False,
        "error": error,
        "run_at": retry_at,
        "stopped_at": now,
        "elapsed_time_ms": elapsed_ms(run.started_at, now),
    }
    _close(conn, run, values, {"ok": False, "error": error, "retry_at": retry_at})
    return retry_at


def mark_waiting(
    conn: Connection, run_id: str, state: RunState, run_at: datetime | None = None, error: str | None = None
) -> None:
    """Due (waiting for capacity) or Scheduled (waiting for a time) without spending an attempt."""
    values: dict[str, Any] = {"state": state}
    if run_at is not None:
        values["run_at"] = run_at
    if error is not None:
        values["error"] = error
    if _update_row(conn, RUNS, {"id": run_id}, values) == 0:
        raise RunNotFound(f"unknown run {run_id!r}")


def _notes(conn: Connection, run_id: str) -> list[dict[str, Any]] | None:
    row = conn.execute(select(RUNS.c.notes).where(RUNS.c.id == run_id)).one_or_none()
    if row is None:
        raise RunNotFound(f"unknown run {run_id!r}")
    notes: list[dict[str, Any]] | None = row.notes
    return notes


def withdraw_attempt(conn: Connection, run_id: str, attempt: int, note: str) -> None:
    """A Shopify throttle answer is a wait, not an attempt: forget it and show the run Due."""
    with atomic(conn):
        notes = _note(_notes(conn, run_id), note)
        conn.execute(
            update(RUNS)
            .where(RUNS.c.id == run_id)
            .values(attempts=attempt - 1, state=RunState.due, started_at=None, notes=notes)
        )
        conn.execute(delete(ATTEMPTS).where(ATTEMPTS.c.run_id == run_id, ATTEMPTS.c.attempt == attempt))


def fail_many(conn: Connection, run_ids: list[str], reason: str) -> list[Run]:
    """Fail these runs; returns them as failed (for the operator's log lines)."""
    rows = conn.execute(
        update(RUNS)
        .where(RUNS.c.id.in_(run_ids))
        .values(state=RunState.failed, ok=False, error=reason, stopped_at=utcnow())
        .returning(RUNS)
    )
    return [detached(Run, dict(row._mapping)) for row in rows]


def add_note(conn: Connection, run_id: str, note: str) -> None:
    notes = _note(_notes(conn, run_id), note)
    conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(notes=notes))


# Every column of a new run, so that rows of any kind insert together as one executemany (the
# prepared INSERT names every column; what a run leaves empty is SQL NULL).
RUN_COLUMNS = tuple(column.name for column in RUNS.columns)
_NEW_RUN_DEFAULTS: dict[str, Any] = {
    **dict.fromkeys(RUN_COLUMNS),
    "attempts": 0,
    "manual_retries": 0,
    "position": 0,
    "perform_event": True,
}


def new_run_row(
    *,
    run_id: str,
    kind: RunKind,
    event: Event,
    parent_id: str | None,
    state: RunState,
    run_at: datetime | None,
    task: Task | None = None,
    **extra: Any,
) -> dict[str, Any]:
    unknown = extra.keys() - _NEW_RUN_DEFAULTS.keys()
    if unknown:
        raise TypeError(f"not run columns: {sorted(unknown)}")
    row: dict[str, Any] = {
        **_NEW_RUN_DEFAULTS,
        "id": run_id,
        "kind": kind,
        "shop_id": event.shop_id,
        "event_id": event.id,
        "parent_id": parent_id,
        "topic": event.topic,
        "task_id": task.id if task else None,
        "task_name": task.name if task else None,
        "state": state,
        "run_at": run_at,
        "enqueued_at": utcnow() if state == RunState.due else None,
        "notes": [],
    }
    row.update(extra)
    return row
