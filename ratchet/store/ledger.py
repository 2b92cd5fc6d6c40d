"""Run-ledger writes and reads. Every write is keyed so an activity replay rewrites, never duplicates."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, literal, update
from sqlmodel import Session, col, select

from ratchet.core.clock import utcnow
from ratchet.core.runs import RunKind, RunState
from ratchet.errors import NotFound
from ratchet.store.database import Store
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


def begin_attempt(
    store: Store, run_id: str, attempt: int, enqueued_at: datetime | None, manual_retry_note: str | None = None
) -> Run:
    """Mark a run Started for `attempt` (cumulative) and record the attempt.

    The first attempt of a manual retry also counts the retry (which keys the ids of the new
    child runs) and discards the previous result, as Mechanic does. Written as two statements
    (an UPDATE … RETURNING and an attempt upsert): this runs for every attempt of every run.
    """
    now = utcnow()
    values: dict[str, Any] = {
        "state": RunState.started,
        "started_at": now,
        "stopped_at": None,
        "elapsed_time_ms": None,
        "attempts": attempt,
        "error": None,
        "run_at": func.coalesce(Run.run_at, literal(now, UTCDateTime())),
        "enqueued_at": literal(enqueued_at, UTCDateTime())
        if enqueued_at
        else func.coalesce(Run.enqueued_at, literal(now, UTCDateTime())),
    }
    if manual_retry_note is not None:
        values.update(manual_retries=Run.manual_retries + 1, result=None, ok=None)
    with store.session() as session:
        run = (
            session.execute(
                update(Run).where(col(Run.id) == run_id).values(**values).returning(Run),
                execution_options={"synchronize_session": False},
            )
            .scalars()
            .one_or_none()
        )
        if run is None:
            raise RunNotFound(f"unknown run {run_id!r}")
        if manual_retry_note is not None:
            run.notes = [*(run.notes or []), {"at": now.isoformat(), "note": manual_retry_note}]
            session.add(run)
        store.upsert(
            session,
            RunAttempt,
            {
                "run_id": run_id,
                "attempt": attempt,
                "started_at": now,
                "stopped_at": None,
                "ok": None,
                "error": None,
                "retry_at": None,
            },
            keys=("run_id", "attempt"),
        )
    return run


def _close_attempt(
    session: Session,
    run_id: str,
    attempt: int,
    now: datetime,
    ok: bool,
    error: str | None,
    retry_at: datetime | None = None,
) -> None:
    session.execute(
        update(RunAttempt)
        .where(col(RunAttempt.run_id) == run_id, col(RunAttempt.attempt) == attempt)
        .values(stopped_at=now, ok=ok, error=error, retry_at=retry_at)
    )


def succeed(session: Session, run: Run, result: Any, result_meta: Any = None) -> None:
    """Record success for the attempt `run` describes (as begin_attempt returned it); no reads."""
    now = utcnow()
    values: dict[str, Any] = {
        "state": RunState.succeeded,
        "ok": True,
        "result": result,
        "error": None,
        "stopped_at": now,
        "elapsed_time_ms": elapsed_ms(run.started_at, now),
    }
    if result_meta:
        values["result_meta"] = result_meta
    session.execute(update(Run).where(col(Run.id) == run.id).values(**values))
    _close_attempt(session, run.id, run.attempts, now, True, None)


def fail(store: Store, run_id: str, error: str, result: Any = None, result_meta: Any = None) -> None:
    now = utcnow()
    with store.session() as session:
        run = get_run(session, run_id)
        run.result_meta = result_meta or run.result_meta
        run.state = RunState.failed
        run.ok = False
        run.error = error
        run.result = result
        run.stopped_at = now
        run.elapsed_time_ms = elapsed_ms(run.started_at, now)
        session.add(run)
        _close_attempt(session, run.id, run.attempts, now, False, error)


def schedule_retry(store: Store, run_id: str, error: str, delay: timedelta) -> datetime:
    """Between attempts a run shows Scheduled with its next run_at."""
    now = utcnow()
    retry_at = now + delay
    with store.session() as session:
        run = get_run(session, run_id)
        run.state = RunState.scheduled
        run.ok = False
        run.error = error
        run.run_at = retry_at
        run.stopped_at = now
        run.elapsed_time_ms = elapsed_ms(run.started_at, now)
        session.add(run)
        _close_attempt(session, run.id, run.attempts, now, False, error, retry_at)
    return retry_at


def mark_waiting(
    store: Store, run_id: str, state: RunState, run_at: datetime | None = None, error: str | None = None
) -> None:
    """Due (waiting for capacity) or Scheduled (waiting for a time) without spending an attempt."""
    with store.session() as session:
        run = get_run(session, run_id)
        run.state = state
        if run_at is not None:
            run.run_at = run_at
        if error is not None:
            run.error = error
        session.add(run)


def withdraw_attempt(store: Store, run_id: str, attempt: int, note: str) -> None:
    """A Shopify throttle answer is a wait, not an attempt: forget it and show the run Due."""
    with store.session() as session:
        run = get_run(session, run_id)
        run.attempts = attempt - 1
        run.state = RunState.due
        run.started_at = None
        run.notes = [*(run.notes or []), {"at": utcnow().isoformat(), "note": note}]
        session.add(run)
        row = session.get(RunAttempt, (run_id, attempt))
        if row is not None:
            session.delete(row)


def fail_many(store: Store, run_ids: list[str], reason: str) -> None:
    now = utcnow()
    with store.session() as session:
        for run in session.exec(select(Run).where(col(Run.id).in_(run_ids))):
            run.state, run.ok, run.error, run.stopped_at = RunState.failed, False, reason, now
            session.add(run)


def add_note(store: Store, run_id: str, note: str) -> None:
    with store.session() as session:
        run = get_run(session, run_id)
        run.notes = [*(run.notes or []), {"at": utcnow().isoformat(), "note": note}]
        session.add(run)


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
    now = utcnow()
    row: dict[str, Any] = {
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
        "enqueued_at": now if state == RunState.due else None,
        "attempts": 0,
        "manual_retries": 0,
        "position": 0,
        "perform_event": True,
        "notes": [],
    }
    row.update(extra)
    return row
