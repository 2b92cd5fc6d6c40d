"""One event as its detail page shows it, read in one session.

The event run, its task runs and their action runs, every attempt, retry eligibility, and the
parent and child events: five queries.

Retry eligibility is judged by the very rules a retry is refused by (`contract.retry_refusal`
over the ledger's runs, as ratchet/services/retries.py judges them), so a button is shown only
where the retry would be accepted; the retry itself stays the authority (a refusal that comes
from a moment's difference is shown in place).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from ratchet.core.runs import RunKind
from ratchet.engine.contract import retry_refusal
from ratchet.errors import NotFound
from ratchet.services.event_listing import WAITING_STATES, EventRow, event_rows
from ratchet.services.retries import tracked_runs
from ratchet.store.tables import Event, Run, RunAttempt


@dataclass(frozen=True)
class RunNode:
    """A run with its attempts, whether a manual retry would be accepted (`refusal` None) and its child runs."""

    run: Run
    attempts: list[RunAttempt]
    refusal: str | None
    children: list[RunNode] = field(default_factory=list)

    @property
    def retryable(self) -> bool:
        """A manual retry would be accepted now."""
        return self.run.state.terminal and self.refusal is None

    @property
    def waited_ms(self) -> float | None:
        """Time between being due (its run_at, or when it was queued if later) and starting."""
        run = self.run
        due = max((t for t in (run.run_at, run.enqueued_at) if t is not None), default=None)
        if due is None or run.started_at is None:
            return None
        return max(0.0, (run.started_at - due).total_seconds() * 1000)


@dataclass(frozen=True)
class EventDetail:
    """An event with its runs as a tree (event run; task runs with their action runs) and related events."""

    event: Event
    event_run: RunNode | None
    task_runs: list[RunNode]
    parent: EventRow | None
    children: list[EventRow]

    @property
    def runs(self) -> list[RunNode]:
        """Every run: the event run, then each task run followed by its action runs."""
        nodes = [self.event_run] if self.event_run else []
        for task_run in self.task_runs:
            nodes += [task_run, *task_run.children]
        return nodes

    @property
    def settled(self) -> bool:
        """Every run has finished (succeeded or failed)."""
        return bool(self.runs) and all(node.run.state.terminal for node in self.runs)

    @property
    def completed_at(self) -> datetime | None:
        """When its last run finished, once every run has."""
        if not self.settled:
            return None
        return max((n.run.stopped_at for n in self.runs if n.run.stopped_at is not None), default=None)

    @property
    def waiting(self) -> bool:
        """Some run is scheduled or queued and not yet started: the event can be cancelled."""
        return any(node.run.state in WAITING_STATES for node in self.runs)

    @property
    def filtered_by(self) -> str | None:
        """The event filter that dropped it (Mechanic's "Skipped by event filter")."""
        result: Any = self.event_run.run.result if self.event_run else None
        return result.get("filtered_by") if isinstance(result, dict) else None


def event_detail(session: Session, shop_id: str, event_id: str) -> EventDetail:
    """The event and all its runs; NotFound for an event of another shop or none."""
    event = session.get(Event, event_id)
    if event is None or event.shop_id != shop_id:
        raise NotFound(f"unknown event {event_id!r}")
    rows = list(
        session.exec(select(Run).where(Run.event_id == event_id).order_by(col(Run.enqueued_at), col(Run.position)))
    )
    attempts: dict[str, list[RunAttempt]] = defaultdict(list)
    if rows:
        found = session.exec(
            select(RunAttempt).where(col(RunAttempt.run_id).in_([r.id for r in rows])).order_by(col(RunAttempt.attempt))
        )
        for attempt in found:
            attempts[attempt.run_id].append(attempt)
    tracked = tracked_runs(rows)
    nodes = {r.id: RunNode(r, attempts[r.id], retry_refusal(tracked, r.id)) for r in rows}
    for row in rows:
        if row.parent_id in nodes and row.kind == RunKind.action:
            nodes[row.parent_id].children.append(nodes[row.id])
    event_run = next((nodes[r.id] for r in rows if r.kind == RunKind.event), None)
    task_runs = [nodes[r.id] for r in rows if r.kind == RunKind.task]
    return EventDetail(event, event_run, task_runs, _parent(session, event), _children(session, event))


def _summary(event: Event) -> tuple[Any, ...]:
    return (event.id, event.topic, event.source, event.created_at, event.run_at)


def _parent(session: Session, event: Event) -> EventRow | None:
    parent = session.get(Event, event.parent_id) if event.parent_id else None
    return event_rows(session, [_summary(parent)])[0] if parent is not None else None


def _children(session: Session, event: Event) -> list[EventRow]:
    children = session.exec(
        select(Event).where(Event.parent_id == event.id).order_by(col(Event.created_at), col(Event.id))
    )
    return event_rows(session, [_summary(child) for child in children])


def event_export(detail: EventDetail) -> dict[str, Any]:
    """The event and every run with its attempts, as Download JSON gives it (Mechanic's event export)."""
    return {
        "event": detail.event.model_dump(mode="json"),
        "runs": [
            {**node.run.model_dump(mode="json"), "attempt_log": [a.model_dump(mode="json") for a in node.attempts]}
            for node in detail.runs
        ],
        "parent_id": detail.event.parent_id,
        "child_event_ids": [child.id for child in detail.children],
    }
