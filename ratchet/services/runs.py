"""Reading runs as users see them: the `RunView` list rows and the `RunDetail` of one run.

Retrying a run is in ratchet/services/retries.py.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from ratchet.core.runs import RunKind, RunState
from ratchet.errors import Conflict, NotFound
from ratchet.services.bulk_operations import operations_of_run
from ratchet.services.tasks import find_task
from ratchet.store import ledger
from ratchet.store.database import Store
from ratchet.store.tables import Event, Run, RunAttempt


class RunView(BaseModel):
    """A run as `ratchet runs list --json` prints it."""

    id: str
    kind: RunKind
    state: RunState
    topic: str
    event_id: str
    parent_id: str | None
    task_id: str | None
    task_name: str | None
    action_type: str | None
    attempts: int
    run_at: datetime | None
    enqueued_at: datetime | None
    started_at: datetime | None
    stopped_at: datetime | None
    elapsed_time_ms: int | None
    ok: bool | None
    error: str | None

    @classmethod
    def of(cls, run: Run) -> RunView:
        """The view of a ledger row."""
        return cls.model_validate(run, from_attributes=True)


class RunDetail(RunView):
    """One run with its options, result, notes and every attempt, as `ratchet runs show` prints it."""

    subscription: str | None
    action_options: Any
    action_meta: Any
    result: Any
    result_meta: Any
    manual_retries: int
    # Task runs: the task version the latest attempt rendered (each attempt's is in `attempt_log`).
    task_version: int | None = None
    notes: list[dict[str, Any]]
    attempt_log: list[dict[str, Any]]
    # Bulk operations a `shopify` action run started, with their current status.
    bulk_operations: list[dict[str, Any]] = []


def list_runs(
    store: Store,
    shop_id: str,
    *,
    kind: RunKind | None = None,
    state: RunState | None = None,
    task: str | None = None,
    event_id: str | None = None,
    limit: int = 200,
) -> list[RunView]:
    """The shop's runs, newest first.

    Args:
        store: The ledger.
        shop_id: The shop whose runs to list.
        kind: Only event, task or action runs.
        state: Only runs in this state.
        task: Only the runs of this task (its name or id), and their action runs.
        event_id: Only one event's whole tree: its event run, task runs and action runs.
        limit: At most this many runs.
    """
    with store.session() as session:
        query = select(Run).where(Run.shop_id == shop_id)
        if kind is not None:
            query = query.where(Run.kind == kind)
        if state is not None:
            query = query.where(Run.state == state)
        if task is not None:
            query = query.where(Run.task_id == find_task(session, shop_id, task).id)
        if event_id is not None:
            if session.get(Event, event_id) is None:
                raise NotFound(f"unknown event {event_id!r}")
            query = query.where(Run.event_id == event_id)
        query = query.order_by(col(Run.enqueued_at).desc(), col(Run.run_at).desc(), col(Run.position)).limit(limit)
        return [RunView.of(r) for r in session.exec(query)]


# `runs list` prints ids cut to 8 characters; shorter prefixes would be ambiguous too often.
MIN_ID_PREFIX = 8


def find_run(session: Session, shop_id: str, ref: str) -> Run:
    """A run by its id, or by a unique prefix of it (what `runs list` prints)."""
    run = session.get(Run, ref)
    if run is not None and run.shop_id == shop_id:
        return run
    if len(ref) >= MIN_ID_PREFIX:
        found = session.exec(
            select(Run).where(Run.shop_id == shop_id, col(Run.id).startswith(ref, autoescape=True)).limit(2)
        ).all()
        if len(found) == 1:
            return found[0]
        if found:
            raise Conflict(f"run id {ref!r} is ambiguous: give more of it (`ratchet runs list --wide`)")
    raise NotFound(f"unknown run {ref!r}")


def add_run_note(store: Store, run_id: str, note: str) -> None:
    """Something an operator should see on `ratchet runs show` (an ignored retry signal, say)."""
    with store.engine.begin() as conn:
        ledger.add_note(conn, run_id, note)


def get_run(store: Store, shop_id: str, run_ref: str) -> RunDetail:
    """A run by id or unique id prefix, with its attempts and bulk operations."""
    with store.session() as session:
        run = find_run(session, shop_id, run_ref)
        attempts = session.exec(select(RunAttempt).where(RunAttempt.run_id == run.id).order_by(col(RunAttempt.attempt)))
        return RunDetail(
            **RunView.of(run).model_dump(),
            subscription=run.subscription,
            action_options=run.action_options,
            action_meta=run.action_meta,
            result=run.result,
            result_meta=run.result_meta,
            manual_retries=run.manual_retries,
            task_version=run.task_version,
            notes=run.notes or [],
            attempt_log=[a.model_dump(mode="json") for a in attempts],
            bulk_operations=[dataclasses.asdict(op) for op in operations_of_run(session, run.id)],
        )
