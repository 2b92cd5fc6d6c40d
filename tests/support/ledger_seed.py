"""Events and runs written straight into the ledger, for read-side tests that need many or precise rows.

The rows are what the engine writes (same tables, same ids and states); tests that need the engine to
have done the work use the `api` fixture instead.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ratchet.core.clock import utcnow
from ratchet.core.runs import RunKind, RunState
from ratchet.store import ledger
from ratchet.store.database import Store
from ratchet.store.tables import Event, Run


@dataclass(frozen=True)
class SeededTaskRun:
    """A task run to seed: its state, how many action runs it made and their state, its error and result."""

    task_name: str
    state: RunState = RunState.succeeded
    actions: int = 0
    action_state: RunState = RunState.succeeded
    error: str | None = None
    result: Any = None
    task_id: str | None = None
    action_options: list[Any] = field(default_factory=list)


def seed_event(
    store: Store,
    shop_id: str,
    topic: str = "user/test/event",
    *,
    data: Any = None,
    created_at: datetime | None = None,
    task_runs: tuple[SeededTaskRun, ...] = (),
    run_at: datetime | None = None,
    parent_id: str | None = None,
    source: str = "user",
) -> str:
    """One event with its event run (Succeeded unless a task run is still waiting), task runs and action runs."""
    event_id = str(uuid.uuid4())
    created = created_at or utcnow()
    event = Event(
        id=event_id,
        shop_id=shop_id,
        topic=topic,
        data=data,
        source=source,
        parent_id=parent_id,
        workflow_id=ledger.event_workflow_id(shop_id, event_id),
        created_at=created,
        run_at=run_at or created,
    )
    rows: list[Run] = [_run(event, RunKind.event, ledger.derived_id("event-run", event_id), None, RunState.succeeded)]
    for position, spec in enumerate(task_runs):
        task_run = _run(event, RunKind.task, str(uuid.uuid4()), rows[0].id, spec.state, position)
        task_run.task_id, task_run.task_name, task_run.error = spec.task_id, spec.task_name, spec.error
        task_run.result = spec.result
        task_run.subscription = topic
        rows.append(task_run)
        for index in range(spec.actions):
            action = _run(event, RunKind.action, str(uuid.uuid4()), task_run.id, spec.action_state, index)
            action.task_id, action.task_name, action.action_type = spec.task_id, spec.task_name, "echo"
            action.action_options = spec.action_options[index] if index < len(spec.action_options) else {"n": index}
            rows.append(action)
    with store.session() as session:
        session.add(event)
        session.add_all(rows)
        session.commit()
    return event_id


def _run(event: Event, kind: RunKind, run_id: str, parent_id: str | None, state: RunState, position: int = 0) -> Run:
    at = event.created_at or utcnow()
    return Run(
        id=run_id,
        kind=kind,
        shop_id=event.shop_id,
        event_id=event.id,
        parent_id=parent_id,
        topic=event.topic,
        state=state,
        ok=state == RunState.succeeded if state.terminal else None,
        attempts=1 if state.terminal else 0,
        position=position,
        run_at=at,
        enqueued_at=at,
        started_at=at if state.terminal else None,
        stopped_at=at + timedelta(milliseconds=20) if state.terminal else None,
        elapsed_time_ms=20 if state.terminal else None,
    )
