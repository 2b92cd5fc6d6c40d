"""Creating events: the ledger rows and the event workflow, as one idempotent step.

`EventService.create` is the one way an event is made: by the ingress (Shopify deliveries and
Mechanic webhooks), the CLI and Python API, follow-ups, the Event action, scheduler ticks and
bulk operation reports. So duplicates are rejected the same way everywhere: the event id derives
from the idempotency key, the workflow id from the event id, and Temporal's id-reuse policy
refuses a second workflow with that id even after the first has closed.

Callers that know the event's fields pass a `NewEvent`. A request whose fields are only known
once the database has been read (a Shopify delivery, verified against its shop's secret:
ratchet/ingress/shopify_deliveries.py) implements `EventRequest` and reads them on the
connection that then writes the event, so verifying and writing are one transaction.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Select, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from temporalio.client import Client
from temporalio.common import (
    Priority,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from ratchet.config import Settings
from ratchet.core.clock import utcnow
from ratchet.core.runs import PRIORITY_EVENT, RunKind, RunState
from ratchet.core.subscriptions import BUTTON_TOPICS, validate_topic
from ratchet.engine.contract import EVENT_WORKFLOW, RUN_STATE, SHOP_ID, TASK_NAMES, TOPIC, EventWorkflowInput
from ratchet.errors import InvalidInput
from ratchet.services.shops import UnknownShop
from ratchet.store import ledger
from ratchet.store.database import Store, detached, is_lock_wait, prepared, table_of
from ratchet.store.tables import Event, Run, Shop

SHOPS = table_of(Shop)
EVENTS = table_of(Event)
RUNS = table_of(Run)
# An event's row names every column (the prepared INSERT writes them all).
EVENT_ROW_COLUMNS = tuple(column.name for column in EVENTS.columns)
# Requests up to this size are written on the event loop when SQLite's write lock is free:
# measured on the ingress, the thread hop cost more than the write.
INLINE_WRITE_BYTES = 64 * 1024


def _shop_exists() -> Select[Any]:
    return select(SHOPS.c.id).where(SHOPS.c.id == bindparam("b_id"))


@dataclass(frozen=True)
class NewEvent:
    """An event to create, every field known: what `EventService.create` takes from most callers."""

    shop_id: str
    topic: str
    data: Any = None
    """`event.data`, any JSON value."""
    source: str = "user"
    """`event.source`: "user", "shopify", "mechanic" (follow-ups, scheduler ticks), "webhook:{id}" or "email"."""
    parent_id: str | None = None
    """The event whose run caused this one (follow-ups, the Event action)."""
    task_ids: list[str] | None = None
    """Only these tasks receive the event (run buttons, follow-ups for the originating task)."""
    run_at: datetime | None = None
    """When the event run starts; a past time means now. Scaled by RATCHET_TIME_SCALE."""
    idempotency_key: str | None = None
    """The same key makes the same event id: a repeat is answered as a duplicate, never a second event."""
    webhook_request_id: str | None = None
    """A Mechanic webhook's request id (`event.webhook_request_id`)."""
    created_at: datetime | None = None
    """Defaults to now; scheduler ticks pass their scheduled time (spec 2.3)."""

    @property
    def received_bytes(self) -> int | None:
        """Unknown: its data never crossed the wire as one body, so it is written off the event loop."""
        return None

    def read(self, conn: Connection) -> NewEvent:
        """Itself, once its shop is known to exist."""
        if not prepared(conn, "shop_exists", _shop_exists).execute(conn, {"b_id": self.shop_id}).rows:
            raise UnknownShop(f"unknown shop {self.shop_id!r}")
        return self


class EventRequest(Protocol):
    """What `EventService.create` makes an event from: a `NewEvent`, or a request that reads its fields."""

    @property
    def received_bytes(self) -> int | None:
        """The request's size as it arrived, when known; small ones may be written on the event loop."""
        ...

    def read(self, conn: Connection) -> NewEvent:
        """The event's fields, read on the connection that then writes the event.

        Raises to refuse the event (UnknownShop, a bad signature): nothing is written.
        """
        ...


@dataclass(frozen=True)
class CreatedEvent:
    """What `EventService.create` answers."""

    id: str
    workflow_id: str
    duplicate: bool
    """An event with this id existed already (a repeated idempotency key); nothing new was made."""


@dataclass(frozen=True)
class _WrittenEvent:
    """An event's ledger row (every column of `events`), its event run's id, and whether it was new."""

    row: dict[str, Any]
    event_run_id: str
    inserted: bool

    @property
    def state(self) -> RunState:
        """The event run's first state, and the workflow's first RunState."""
        return RunState.scheduled if self.row["run_at"] else RunState.due


def _event_and_run_statement() -> Any:
    """PostgreSQL: the event's INSERT and its event run's as one statement, one round trip.

    The run is inserted from the event the CTE inserted, so a duplicate event (its id taken)
    inserts neither; the statement's row count says which happened.
    """
    event = (
        pg_insert(EVENTS)
        .values({column.name: bindparam(column.name, type_=column.type) for column in EVENTS.columns})
        .on_conflict_do_nothing()
        .returning(EVENTS.c.id)
        .cte("new_event")
    )
    run = select(*(ledger.typed_value(f"r_{name}", RUNS.c[name].type) for name in ledger.RUN_COLUMNS)).select_from(
        event
    )
    return pg_insert(RUNS).from_select(list(ledger.RUN_COLUMNS), run)


def event_workflow_options(
    settings: Settings, event: Mapping[str, Any], state: RunState, task_names: Sequence[str] = ()
) -> dict[str, Any]:
    """What every start of an event's workflow carries, first or reopened for a retry.

    Queue, search attributes (`state` is the RunState to show), priority and the Web UI's summary.
    """
    shop_id, topic = event["shop_id"], event["topic"]
    attributes = [
        SearchAttributePair(SHOP_ID, shop_id),
        SearchAttributePair(TOPIC, topic),
        SearchAttributePair(RUN_STATE, state.value),
    ]
    if task_names:
        attributes.append(SearchAttributePair(TASK_NAMES, list(task_names)))
    return {
        "task_queue": settings.temporal.task_queue,
        "search_attributes": TypedSearchAttributes(attributes),
        "priority": Priority(priority_key=PRIORITY_EVENT, fairness_key=shop_id),
        "static_summary": f"{topic} · {shop_id}",
        "static_details": f"event {event['id']}\nsource: {event['source']}"
        + (f"\nparent event: {event['parent_id']}" if event["parent_id"] else ""),
    }


def event_id_for(shop_id: str, idempotency_key: str | None) -> str:
    if idempotency_key is None:
        return str(uuid.uuid4())
    return ledger.derived_id("event", shop_id, idempotency_key)


def parse_when(value: str | datetime | None) -> datetime | None:
    """A `run_at` as users give it: ISO 8601 or Unix seconds; a time without a zone is UTC."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidInput(f"invalid time {value!r}: use ISO 8601 (2026-11-23T10:00:00Z) or Unix seconds") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


class EventService:
    """Creates events: `create` is the one way, for every caller.

    Args:
        executor: where writes run off the event loop (the ingress passes its delivery threads);
            None for asyncio's default executor.
    """

    def __init__(self, settings: Settings, store: Store, client: Client, executor: Executor | None = None) -> None:
        self.settings = settings
        self.store = store
        self.client = client
        self.executor = executor

    async def create(self, request: EventRequest) -> CreatedEvent:
        """Write the event and its event run, then start its workflow; answer once it has started.

        Args:
            request: a `NewEvent`, or an `EventRequest` that reads the event's fields on the
                connection that writes it.

        Returns:
            The event's id and workflow id; `duplicate` when its idempotency key had made it
            already.

        Raises InvalidInput (a bad topic, a run-button topic without its task), UnknownShop,
        whatever `request.read` raises, or the workflow start's failure, in which case the rows
        are removed again: without its workflow the event would never run.
        """
        written = await self._write(request)
        return await self._start(written)

    async def _write(self, request: EventRequest) -> _WrittenEvent:
        size = request.received_bytes
        if self.store.is_sqlite and size is not None and size <= INLINE_WRITE_BYTES:
            # Right here when no other writer holds the lock; otherwise on a thread, which waits
            # for the lock so the event loop never does.
            try:
                return self._write_on(self.store.no_wait_engine, request)
            except OperationalError as exc:
                if not is_lock_wait(exc):
                    raise
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, self._write_on, self.store.engine, request
        )

    def _write_on(self, engine: Engine, request: EventRequest) -> _WrittenEvent:
        if not self.store.is_sqlite:
            # Autocommit: the request's reads, then the event and its run as one statement.
            with self.store.unit() as conn:
                return self._write_rows(conn, request)
        with engine.begin() as conn:
            return self._write_rows(conn, request)

    def _write_rows(self, conn: Connection, request: EventRequest) -> _WrittenEvent:
        row = self._row(request.read(conn))
        written = _WrittenEvent(row, ledger.derived_id("event-run", row["id"]), inserted=True)
        event_run = ledger.new_run_row(
            run_id=written.event_run_id,
            kind=RunKind.event,
            event=detached(Event, dict(row)),
            parent_id=None,
            state=written.state,
            run_at=row["run_at"] or row["created_at"],
        )
        # A concurrent or repeated copy of the same event (same idempotency key) inserts nothing.
        if conn.dialect.name == "postgresql":
            statement = prepared(conn, "insert_event_and_run", _event_and_run_statement)
            params = {**row, **{f"r_{name}": value for name, value in event_run.items()}}
            inserted = bool(statement.execute(conn, params).rowcount)
        else:
            insert_event = prepared(
                conn,
                "insert_event",
                lambda: sqlite_insert(EVENTS).on_conflict_do_nothing(),
                column_keys=EVENT_ROW_COLUMNS,
            )
            inserted = bool(insert_event.execute(conn, row).rowcount)
            if inserted:
                ledger.insert_runs(conn, [event_run])
        return written if inserted else dataclasses.replace(written, inserted=False)

    def _row(self, event: NewEvent) -> dict[str, Any]:
        """The event's ledger row as it will be written: topic checked, ids derived, `run_at` scaled."""
        topic = validate_topic(event.topic)
        if topic in BUTTON_TOPICS and not event.task_ids:
            raise InvalidInput(
                f"{topic} events reach only the task whose run button made them; use `ratchet task run TASK`"
            )
        event_id = event_id_for(event.shop_id, event.idempotency_key)
        now = utcnow()
        run_at = event.run_at
        if run_at is not None:
            # A past run_at means "now"; a future one is a wait, and waits scale for tests.
            run_at = now + (run_at - now) * self.settings.time_scale if run_at > now else None
        return {
            "id": event_id,
            "shop_id": event.shop_id,
            "topic": topic,
            "data": event.data,
            "source": event.source,
            "parent_id": event.parent_id,
            "task_ids": event.task_ids,
            "webhook_request_id": event.webhook_request_id,
            "workflow_id": ledger.event_workflow_id(event.shop_id, event_id),
            "created_at": event.created_at or now,
            "run_at": run_at,
        }

    async def _start(self, written: _WrittenEvent) -> CreatedEvent:
        """Start the written event's workflow; a duplicate is refused by its id. Removes the rows if the start fails."""
        row = written.row
        event_id, workflow_id = row["id"], row["workflow_id"]
        try:
            await self.client.start_workflow(
                EVENT_WORKFLOW,
                EventWorkflowInput(
                    event_id=event_id,
                    event_run_id=written.event_run_id,
                    shop_id=row["shop_id"],
                    topic=row["topic"],
                    run_at=row["run_at"],
                    time_scale=self.settings.time_scale,
                    closes_when_settled=True,
                ),
                id=workflow_id,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                **event_workflow_options(self.settings, row, written.state),
            )
        except WorkflowAlreadyStartedError:
            return CreatedEvent(event_id, workflow_id, duplicate=True)
        except BaseException:
            if written.inserted:
                # Nothing half-created: without its workflow the event would never run.
                await asyncio.to_thread(self._delete, event_id, written.event_run_id)
            raise
        return CreatedEvent(event_id, workflow_id, duplicate=not written.inserted)

    def _delete(self, event_id: str, event_run_id: str) -> None:
        with self.store.session() as session:
            for model, key in ((Run, event_run_id), (Event, event_id)):
                row = session.get(model, key)
                if row is not None:
                    session.delete(row)
