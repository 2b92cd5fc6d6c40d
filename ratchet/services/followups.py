"""Events a finished run causes, and the perform-chain loop guard.

* `mechanic/actions/perform` (spec 8): after an action run reaches a terminal state, a child of
  the event its task run handled, for the originating task only.
* `mechanic/errors/event|task|action` (spec 9): after a run fails for good.
* Loop prevention (spec 4.8): a task run answering `mechanic/actions/perform` that renders
  exactly what its predecessor rendered would repeat forever, so it fails instead.

Follow-ups are created by `EventService.create` with keys derived from the run id and its
attempt count: a replayed activity finds the event it already made, while a manual retry (more
attempts) makes a new one.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection
from sqlmodel import Session, col, select

from ratchet.core.runs import RunKind, RunState
from ratchet.core.subscriptions import ERROR_TOPICS, TopicError, parse_subscriptions
from ratchet.services.events import EventService, NewEvent
from ratchet.services.render_context import task_object
from ratchet.store import ledger
from ratchet.store.database import read_row
from ratchet.store.tables import Event, Run, Task

if TYPE_CHECKING:
    from ratchet.store.database import Store

PERFORM_TOPIC = "mechanic/actions/perform"
# Mechanic makes these events itself; tasks can tell them from user events by `event.source`.
FOLLOWUP_SOURCE = "mechanic"
# Echo only reflects its options, so reporting it would tell the task nothing (spec 8).
NO_PERFORM_EVENT_TYPES = frozenset({"echo"})
_ERROR_TOPIC = {
    RunKind.event: "mechanic/errors/event",
    RunKind.task: "mechanic/errors/task",
    RunKind.action: "mechanic/errors/action",
}
# Shown when a run recorded no Shopify usage, so tasks can read the fields unconditionally.
_EMPTY_RESULT_META = {
    "shopify_admin_api_time_ms": 0,
    "shopify_admin_graphql_api_cost": 0,
    "shopify_admin_rest_api_requests_count": 0,
    "shopify_admin_graphql_api_requests_count": 0,
}

log = logging.getLogger(__name__)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def run_record(run: Run) -> dict[str, Any]:
    """The run object of `action.run` and of error payloads (spec 1.5)."""
    return {
        "id": run.id,
        "ok": run.ok,
        "error": run.error,
        "result": run.result,
        "result_meta": {**_EMPTY_RESULT_META, **(run.result_meta or {})},
        "attempts": run.attempts,
        "run_at": _iso(run.run_at),
        "enqueued_at": _iso(run.enqueued_at),
        "started_at": _iso(run.started_at),
        "stopped_at": _iso(run.stopped_at),
        "elapsed_time_ms": run.elapsed_time_ms,
    }


def perform_event_data(run: Run) -> dict[str, Any]:
    """`event.data` of mechanic/actions/perform, i.e. the `action` variable (spec 8)."""
    return {"type": run.action_type, "options": run.action_options, "meta": run.action_meta, "run": run_record(run)}


def _subscribes_to(task: Task, topic: str) -> bool:
    try:
        return any(sub.topic == topic for sub in parse_subscriptions(task.subscriptions or []))
    except TopicError:
        return False


def _event_run(session: Session, event_id: str) -> Run | None:
    return session.exec(select(Run).where(Run.event_id == event_id, Run.kind == RunKind.event)).first()


def error_event_data(session: Session, run: Run, event: Event, task: Task | None) -> dict[str, Any]:
    """`event.data` of mechanic/errors/* (spec 9): `task` only for task and action errors, `action` only for action errors."""
    event_run = run if run.kind == RunKind.event else _event_run(session, event.id)
    data: dict[str, Any] = {
        "message": run.error,
        "event": {
            "id": event.id,
            "topic": event.topic,
            "source": event.source,
            "created_at": _iso(event.created_at),
            "webhook_request_id": event.webhook_request_id,
            "flow_action_run_id": None,
            "run": run_record(event_run) if event_run is not None else None,
        },
    }
    if run.kind == RunKind.event or task is None:
        return data
    task_run = run if run.kind == RunKind.task else session.get(Run, run.parent_id) if run.parent_id else None
    data["task"] = {**task_object(task), "run": run_record(task_run) if task_run is not None else None}
    if run.kind == RunKind.action:
        data["action"] = perform_event_data(run)
    return data


def may_report_success(run: Run) -> bool:
    """Whether a succeeded action run can have a follow-up at all, judged without reading anything."""
    return run.kind == RunKind.action and run.perform_event and run.action_type not in NO_PERFORM_EVENT_TYPES


def plan_followups(session: Session, run: Run, *, report_error: bool) -> list[NewEvent]:
    """The follow-up events of a run that has just reached a terminal state."""
    event = session.get(Event, run.event_id)
    if event is None or not run.state.terminal:
        return []
    task = session.get(Task, run.task_id) if run.task_id else None
    planned: list[NewEvent] = []
    if (
        run.kind == RunKind.action
        and run.perform_event
        and run.action_type not in NO_PERFORM_EVENT_TYPES
        # Checked now, not when the task rendered: the task's current subscriptions decide (spec 8 Rec).
        and task is not None
        and task.enabled
        and _subscribes_to(task, PERFORM_TOPIC)
    ):
        planned.append(
            NewEvent(
                shop_id=run.shop_id,
                topic=PERFORM_TOPIC,
                data=perform_event_data(run),
                source=FOLLOWUP_SOURCE,
                parent_id=event.id,
                task_ids=[task.id],
                idempotency_key=f"perform:{run.id}:{run.attempts}",
            )
        )
    # An error handler's own failure is not reported again: that is how error events would loop.
    if run.state == RunState.failed and report_error and event.topic not in ERROR_TOPICS:
        topic = _ERROR_TOPIC[run.kind]
        planned.append(
            NewEvent(
                shop_id=run.shop_id,
                topic=topic,
                data=error_event_data(session, run, event, task),
                source=FOLLOWUP_SOURCE,
                parent_id=event.id,
                # Routing (ratchet.routing) lets a task with other subscriptions see only its own errors.
                task_ids=[run.task_id] if run.kind != RunKind.event and run.task_id else None,
                idempotency_key=f"error:{run.id}:{run.attempts}",
            )
        )
    return planned


def _plan(store: Store, run_id: str, report_error: bool) -> list[NewEvent]:
    with store.session() as session:
        return plan_followups(session, ledger.get_run(session, run_id), report_error=report_error)


async def emit_followups(store: Store, events: EventService | None, run_id: str, *, report_error: bool = True) -> None:
    """Create a finished run's follow-up events. Never raises.

    The run's own outcome is already recorded and its side effect done; failing here would make
    the engine perform the run again (a second email, a second mutation). A follow-up that
    cannot be created is logged and noted on the run instead.
    """
    try:
        planned = await asyncio.to_thread(_plan, store, run_id, report_error)
        if planned and events is None:
            raise RuntimeError("this worker provides no events service")
        for followup in planned:
            assert events is not None
            await events.create(followup)
    except Exception as exc:
        log.exception("follow-up events of run %s were not created", run_id)
        note = f"follow-up event not created: {type(exc).__name__}: {exc}"
        try:
            await asyncio.to_thread(_add_note, store, run_id, note)
        except Exception:
            log.exception("could not note the failure on run %s", run_id)


def _add_note(store: Store, run_id: str, note: str) -> None:
    with store.engine.begin() as conn:
        ledger.add_note(conn, run_id, note)


def runs_to_report(store: Store, run_ids: list[str]) -> list[str]:
    """Of runs the workflow is about to fail, those that were ever due.

    Followers of a halted action sequence are still Unscheduled: they never ran, and the
    failure that halted them is reported by the run that failed. Runs that crashed on their
    last attempt or gave up waiting for Shopify's rate limit were due, and are reported.
    """
    with store.session() as session:
        return [
            run.id
            for run in session.exec(select(Run).where(col(Run.id).in_(run_ids)))
            if run.state != RunState.unscheduled
        ]


# -- loop prevention (spec 4.8) ------------------------------------------------------------------


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def perform_loop_error(conn: Connection, event: Event, objects: list[Any]) -> str | None:
    """Why this task run must fail as a perform loop, or None.

    The predecessor is the task run that produced the action this perform event reports; when
    this run rendered the same objects, the chain would only repeat itself.
    """
    if event.topic != PERFORM_TOPIC or not isinstance(event.data, dict):
        return None
    reported = event.data.get("run")
    action_run = (
        read_row(conn, Run, reported.get("id"))
        if isinstance(reported, dict) and isinstance(reported.get("id"), str)
        else None
    )
    if action_run is None or action_run.kind != RunKind.action or action_run.parent_id is None:
        return None
    predecessor = read_row(conn, Run, action_run.parent_id)
    if predecessor is None or predecessor.kind != RunKind.task or predecessor.state != RunState.succeeded:
        return None
    if canonical_json(predecessor.result) != canonical_json(objects):
        return None
    return (
        f"action loop prevented: this task run rendered the same objects as task run {predecessor.id}, "
        f"whose {action_run.action_type} action it is responding to (mechanic/actions/perform)"
    )
