"""A shop's events, newest first, filtered and paged, each with one line per task run: the Events list.

`list_events(session, shop_id, query, after=cursor)` reads one page in three queries (the events,
their event and task runs, their action-run counts), whatever the ledger's size: the events are
read by walking `ix_events_shop_created` backwards from the cursor (keyset pagination, never
OFFSET), and the filters that look at runs (Errors, Waiting, state, task) select the matching
event ids through the runs' own indexes.
"""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, String, cast, exists, func, or_, select, tuple_
from sqlmodel import Session, col

from ratchet.core.runs import RunKind, RunState
from ratchet.errors import InvalidInput
from ratchet.store.tables import Event, Run

Tab = Literal["all", "errors", "waiting"]
TABS: tuple[Tab, ...] = ("all", "errors", "waiting")
# Runs not yet performed: the Waiting tab (scheduled for later, or due and queued).
WAITING_STATES = (RunState.unscheduled, RunState.scheduled, RunState.due)
PAGE_SIZE = 50


@dataclass(frozen=True)
class EventQuery:
    """What the Events list shows: a tab and filters, every one of them a query-string parameter."""

    tab: Tab = "all"
    # A topic, or a topic prefix ending in a slash (matching every topic that starts with it).
    topic: str | None = None
    task_id: str | None = None
    state: RunState | None = None
    since: datetime | None = None
    until: datetime | None = None
    # Text inside the event's data (an order id, an email address), or an event id.
    search: str | None = None
    # Mechanic's "hide events that did nothing": every run succeeded and no action ran.
    hide_idle: bool = False

    def conditions(self, shop_id: str) -> list[ColumnElement[bool]]:
        """The WHERE conditions on `events` selecting the shop's events this query shows."""
        where: list[ColumnElement[bool]] = [col(Event.shop_id) == shop_id]
        if self.tab == "errors":
            where.append(_has_run(shop_id, col(Run.state) == RunState.failed))
        elif self.tab == "waiting":
            where.append(_has_run(shop_id, col(Run.state).in_(WAITING_STATES)))
        if self.state is not None:
            where.append(_has_run(shop_id, col(Run.state) == self.state))
        if self.task_id:
            where.append(col(Event.id).in_(select(col(Run.event_id)).where(col(Run.task_id) == self.task_id)))
        if self.topic:
            topic = self.topic
            where.append(
                col(Event.topic).startswith(topic, autoescape=True)
                if topic.endswith("/")
                else col(Event.topic) == topic
            )
        if self.since is not None:
            where.append(col(Event.created_at) >= self.since)
        if self.until is not None:
            where.append(col(Event.created_at) < self.until)
        if self.search:
            data = cast(col(Event.data), String)
            where.append(or_(col(Event.id) == self.search, data.contains(self.search, autoescape=True)))
        if self.hide_idle:
            did_something = or_(col(Run.kind) == RunKind.action, col(Run.state) != RunState.succeeded)
            where.append(exists().where(col(Run.event_id) == col(Event.id), did_something))
        return where


def _has_run(shop_id: str, condition: ColumnElement[bool]) -> ColumnElement[bool]:
    # Through ix_runs_shop_state: the matching runs are few next to the shop's events.
    return col(Event.id).in_(select(col(Run.event_id)).where(col(Run.shop_id) == shop_id, condition))


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last event's creation time and id (the list's sort key)."""

    created_at: datetime
    event_id: str

    def encode(self) -> str:
        """The cursor as the `after` query-string parameter carries it."""
        return base64.urlsafe_b64encode(f"{self.created_at.isoformat()}|{self.event_id}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """The cursor an `after` parameter carries; InvalidInput for anything else."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            created, _, event_id = raw.partition("|")
            created_at = datetime.fromisoformat(created)
        except ValueError as exc:
            raise InvalidInput("after: not a page cursor of this list") from exc
        if not event_id or created_at.tzinfo is None:
            raise InvalidInput("after: not a page cursor of this list")
        return cls(created_at, event_id)


@dataclass(frozen=True)
class TaskRunLine:
    """One task run as an Events row lists it: its state, task and how many action runs it made."""

    run_id: str
    task_id: str | None
    task_name: str | None
    state: RunState
    actions: int


@dataclass(frozen=True)
class EventRow:
    """One event as the Events list shows it."""

    id: str
    topic: str
    source: str
    created_at: datetime | None
    run_at: datetime | None
    # The event run's state (None for an event whose event run is not recorded yet).
    state: RunState | None
    task_runs: list[TaskRunLine] = field(default_factory=list)


@dataclass(frozen=True)
class EventPage:
    """One page of the Events list."""

    rows: list[EventRow]
    # The cursor of the next (older) page, None on the last page.
    next_cursor: Cursor | None


def list_events(
    session: Session, shop_id: str, query: EventQuery, *, after: Cursor | None = None, limit: int = PAGE_SIZE
) -> EventPage:
    """One page of the shop's events matching `query`, newest first, older than `after`."""
    where = query.conditions(shop_id)
    if after is not None:
        # A row-value comparison, which both databases answer with a range scan of the index.
        where.append(tuple_(col(Event.created_at), col(Event.id)) < tuple_(after.created_at, after.event_id))
    statement = (
        select(col(Event.id), col(Event.topic), col(Event.source), col(Event.created_at), col(Event.run_at))
        .where(*where)
        .order_by(col(Event.created_at).desc(), col(Event.id).desc())
        .limit(limit + 1)
    )
    found = session.connection().execute(statement).all()
    rows = event_rows(session, [tuple(r) for r in found[:limit]])
    last = rows[-1] if len(found) > limit else None
    return EventPage(rows, Cursor(last.created_at, last.id) if last is not None and last.created_at else None)


def event_rows(session: Session, events: list[tuple[Any, ...]]) -> list[EventRow]:
    """`(id, topic, source, created_at, run_at)` tuples with their event-run state and task-run lines."""
    ids = [e[0] for e in events]
    if not ids:
        return []
    connection = session.connection()
    runs = connection.execute(
        select(col(Run.id), col(Run.event_id), col(Run.kind), col(Run.state), col(Run.task_id), col(Run.task_name))
        .where(col(Run.event_id).in_(ids), col(Run.kind).in_((RunKind.event, RunKind.task)))
        .order_by(col(Run.enqueued_at), col(Run.position))
    ).all()
    counted = connection.execute(
        select(col(Run.parent_id), func.count())
        .where(col(Run.event_id).in_(ids), col(Run.kind) == RunKind.action)
        .group_by(col(Run.parent_id))
    ).all()
    actions = Counter({parent_id: count for parent_id, count in counted if parent_id})
    states: dict[str, RunState] = {}
    lines: dict[str, list[TaskRunLine]] = {event_id: [] for event_id in ids}
    for run_id, event_id, kind, state, task_id, task_name in runs:
        if kind == RunKind.event:
            states[event_id] = state
        else:
            lines[event_id].append(TaskRunLine(run_id, task_id, task_name, state, actions[run_id]))
    return [EventRow(e[0], e[1], e[2], e[3], e[4], states.get(e[0]), lines[e[0]]) for e in events]
