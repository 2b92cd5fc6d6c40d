"""Creating events: the ledger row and the event workflow, as one idempotent step.

Every path that makes an event (CLI, starter API, ingress, event/perform/error follow-ups) goes
through `EventService.create_event`, so duplicates are rejected the same way everywhere: the
event id derives from the idempotency key, the workflow id from the event id, and Temporal's
id-reuse policy refuses a second workflow with that id even after the first has closed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, select
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
from ratchet.store.database import Store, dialect_insert_for, prepared, table_of
from ratchet.store.tables import Event, Run, Shop

SHOPS = table_of(Shop)
EVENTS = table_of(Event)
# A pending event's row names every column (the prepared INSERT writes them all).
EVENT_ROW_COLUMNS = tuple(column.name for column in EVENTS.columns)


def _shop_exists() -> Select[Any]:
    return select(SHOPS.c.id).where(SHOPS.c.id == bindparam("b_id"))


@dataclass(frozen=True)
class PendingEvent:
    """An event's ledger row (every column of `events`) and its event run's id, not yet written."""

    row: dict[str, Any]
    event_run_id: str

    @property
    def shop_id(self) -> str:
        return str(self.row["shop_id"])

    @property
    def workflow_id(self) -> str:
        return str(self.row["workflow_id"])

    @property
    def state(self) -> RunState:
        """The event run's first state, and the workflow's first RunState."""
        return RunState.scheduled if self.row["run_at"] else RunState.due


def event_workflow_options(
    settings: Settings, event: Mapping[str, Any], state: RunState, task_names: Sequence[str] = ()
) -> dict[str, Any]:
    """What every start of an event's workflow carries, first or reopened for a retry: queue,
    search attributes (`state` is the RunState to show), priority and the Web UI's summary."""
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


@dataclass(frozen=True)
class CreatedEvent:
    id: str
    workflow_id: str
    duplicate: bool


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
    def __init__(self, settings: Settings, store: Store, client: Client) -> None:
        self.settings = settings
        self.store = store
        self.client = client

    async def send(
        self,
        *,
        shop_id: str,
        topic: str,
        data: Any = None,
        run_at: str | datetime | None = None,
        idempotency_key: str | None = None,
        task_ids: list[str] | None = None,
        source: str = "user",
    ) -> CreatedEvent:
        """An event a user sends (CLI, Python API): button topics only through their task's run button."""
        topic = validate_topic(topic)
        if topic in BUTTON_TOPICS and not task_ids:
            raise InvalidInput(
                f"{topic} events reach only the task whose run button made them; use `ratchet task run TASK`"
            )
        return await self.create(
            shop_id=shop_id,
            topic=topic,
            data=data,
            run_at=parse_when(run_at),
            idempotency_key=idempotency_key,
            task_ids=task_ids,
            source=source,
        )

    async def create_event(self, **fields: Any) -> str:
        """`create`, answering just the event id (what the Event action needs)."""
        return (await self.create(**fields)).id

    async def create(
        self,
        *,
        shop_id: str,
        topic: str,
        data: Any = None,
        parent_id: str | None = None,
        run_at: datetime | None = None,
        task_ids: list[str] | None = None,
        source: str = "user",
        idempotency_key: str | None = None,
        webhook_request_id: str | None = None,
        created_at: datetime | None = None,
    ) -> CreatedEvent:
        """Create the event (ledger rows, then its workflow); `created_at` defaults to now.

        Scheduler ticks pass their scheduled time, so `event.created_at` is the tick's time.
        """
        pending = self.pending(
            shop_id=shop_id,
            topic=topic,
            data=data,
            parent_id=parent_id,
            run_at=run_at,
            task_ids=task_ids,
            source=source,
            idempotency_key=idempotency_key,
            webhook_request_id=webhook_request_id,
            created_at=created_at,
        )
        inserted = await asyncio.to_thread(self._write_in_transaction, pending)
        return await self.start(pending, inserted)

    def pending(
        self,
        *,
        shop_id: str,
        topic: str,
        data: Any = None,
        parent_id: str | None = None,
        run_at: datetime | None = None,
        task_ids: list[str] | None = None,
        source: str = "user",
        idempotency_key: str | None = None,
        webhook_request_id: str | None = None,
        created_at: datetime | None = None,
    ) -> PendingEvent:
        """The event `create` makes from these fields, ids derived, before anything is written."""
        topic = validate_topic(topic)
        event_id = event_id_for(shop_id, idempotency_key)
        now = utcnow()
        if run_at is not None:
            # A past run_at means "now"; a future one is a wait, and waits scale for tests.
            run_at = now + (run_at - now) * self.settings.time_scale if run_at > now else None
        return PendingEvent(
            row={
                "id": event_id,
                "shop_id": shop_id,
                "topic": topic,
                "data": data,
                "source": source,
                "parent_id": parent_id,
                "task_ids": task_ids,
                "webhook_request_id": webhook_request_id,
                "workflow_id": ledger.event_workflow_id(shop_id, event_id),
                "created_at": created_at or now,
                "run_at": run_at,
            },
            event_run_id=ledger.derived_id("event-run", event_id),
        )

    def write(self, conn: Connection, pending: PendingEvent, *, shop_read: bool = False) -> bool:
        """Write the event and its event run on `conn` (the caller commits); False when the event exists.

        `shop_read`: the caller has read the shop on this connection already (the Shopify
        ingress reads its webhook secret), so its existence needs no second SELECT.
        """
        if (
            not shop_read
            and not prepared(conn, "shop_exists", _shop_exists).execute(conn, {"b_id": pending.shop_id}).rows
        ):
            raise UnknownShop(f"unknown shop {pending.shop_id!r}")
        dialect = conn.dialect.name
        # A concurrent or repeated copy of the same event (same idempotency key) inserts nothing.
        statement = prepared(
            conn,
            "insert_event",
            lambda: dialect_insert_for(dialect)(EVENTS).on_conflict_do_nothing(),
            column_keys=EVENT_ROW_COLUMNS,
        )
        if not statement.execute(conn, pending.row).rowcount:
            return False
        run_at = pending.row["run_at"]
        ledger.insert_runs(
            conn,
            [
                ledger.new_run_row(
                    run_id=pending.event_run_id,
                    kind=RunKind.event,
                    event=Event.model_construct(**pending.row),
                    parent_id=None,
                    state=pending.state,
                    run_at=run_at or pending.row["created_at"],
                )
            ],
        )
        return True

    async def start(self, pending: PendingEvent, inserted: bool) -> CreatedEvent:
        """Start the written event's workflow; a duplicate is refused by its id. Removes the rows if the start fails."""
        row = pending.row
        event_id = row["id"]
        try:
            await self.client.start_workflow(
                EVENT_WORKFLOW,
                EventWorkflowInput(
                    event_id=event_id,
                    event_run_id=pending.event_run_id,
                    shop_id=row["shop_id"],
                    topic=row["topic"],
                    run_at=row["run_at"],
                    time_scale=self.settings.time_scale,
                    closes_when_settled=True,
                ),
                id=pending.workflow_id,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                **event_workflow_options(self.settings, row, pending.state),
            )
        except WorkflowAlreadyStartedError:
            return CreatedEvent(event_id, pending.workflow_id, duplicate=True)
        except BaseException:
            if inserted:
                # Nothing half-created: without its workflow the event would never run.
                await asyncio.to_thread(self._delete, event_id, pending.event_run_id)
            raise
        return CreatedEvent(event_id, pending.workflow_id, duplicate=not inserted)

    def _write_in_transaction(self, pending: PendingEvent) -> bool:
        with self.store.engine.begin() as conn:
            return self.write(conn, pending)

    def _delete(self, event_id: str, event_run_id: str) -> None:
        with self.store.session() as session:
            for model, key in ((Run, event_run_id), (Event, event_id)):
                row = session.get(model, key)
                if row is not None:
                    session.delete(row)
