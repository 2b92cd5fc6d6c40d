"""Creating events: the ledger row and the event workflow, as one idempotent step.

Every path that makes an event (CLI, starter API, ingress, event/perform/error follow-ups) goes
through `EventService.create_event`, so duplicates are rejected the same way everywhere: the
event id derives from the idempotency key, the workflow id from the event id, and Temporal's
id-reuse policy refuses a second workflow with that id even after the first has closed.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
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
from ratchet.engine.contract import EVENT_WORKFLOW, RUN_STATE, SHOP_ID, TOPIC, EventWorkflowInput
from ratchet.errors import InvalidInput
from ratchet.services.shops import UnknownShop
from ratchet.store import ledger
from ratchet.store.database import Store, dialect_insert, table_of
from ratchet.store.tables import Event, Run, Shop

SHOPS = table_of(Shop)
EVENTS = table_of(Event)


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
        topic = validate_topic(topic)
        event_id = event_id_for(shop_id, idempotency_key)
        workflow_id = ledger.event_workflow_id(shop_id, event_id)
        now = utcnow()
        if run_at is not None:
            # A past run_at means "now"; a future one is a wait, and waits scale for tests.
            run_at = now + (run_at - now) * self.settings.time_scale if run_at > now else None
        event_run_id = ledger.derived_id("event-run", event_id)
        inserted = await asyncio.to_thread(
            self._insert,
            Event(
                id=event_id,
                shop_id=shop_id,
                topic=topic,
                data=data,
                source=source,
                parent_id=parent_id,
                task_ids=task_ids,
                webhook_request_id=webhook_request_id,
                workflow_id=workflow_id,
                created_at=created_at or now,
                run_at=run_at,
            ),
            event_run_id,
        )
        state = RunState.scheduled if run_at else RunState.due
        try:
            await self.client.start_workflow(
                EVENT_WORKFLOW,
                EventWorkflowInput(
                    event_id=event_id,
                    event_run_id=event_run_id,
                    shop_id=shop_id,
                    topic=topic,
                    run_at=run_at,
                    time_scale=self.settings.time_scale,
                    history_limit=self.settings.history_limit,
                    retention_days=self.settings.retention_days,
                ),
                id=workflow_id,
                task_queue=self.settings.temporal.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(SHOP_ID, shop_id),
                        SearchAttributePair(TOPIC, topic),
                        SearchAttributePair(RUN_STATE, state.value),
                    ]
                ),
                priority=Priority(priority_key=PRIORITY_EVENT, fairness_key=shop_id),
                static_summary=f"{topic} · {shop_id}",
                static_details=f"event {event_id}\nsource: {source}"
                + (f"\nparent event: {parent_id}" if parent_id else ""),
            )
        except WorkflowAlreadyStartedError:
            return CreatedEvent(event_id, workflow_id, duplicate=True)
        except BaseException:
            if inserted:
                # Nothing half-created: without its workflow the event would never run.
                await asyncio.to_thread(self._delete, event_id, event_run_id)
            raise
        return CreatedEvent(event_id, workflow_id, duplicate=not inserted)

    def _insert(self, event: Event, event_run_id: str) -> bool:
        """Write the event and its event run; False when the event already exists.

        Three keyed Core statements in one transaction: ingress pays this on every request.
        """
        with self.store.engine.begin() as conn:
            if conn.execute(select(SHOPS.c.id).where(SHOPS.c.id == event.shop_id)).first() is None:
                raise UnknownShop(f"unknown shop {event.shop_id!r}")
            # A concurrent or repeated copy of the same event (same idempotency key) inserts nothing.
            inserted = conn.execute(
                dialect_insert(conn)(EVENTS).values(event.model_dump()).on_conflict_do_nothing()
            ).rowcount
            if not inserted:
                return False
            ledger.insert_runs(
                conn,
                [
                    ledger.new_run_row(
                        run_id=event_run_id,
                        kind=RunKind.event,
                        event=event,
                        parent_id=None,
                        state=RunState.scheduled if event.run_at else RunState.due,
                        run_at=event.run_at or event.created_at,
                    )
                ],
            )
        return True

    def _delete(self, event_id: str, event_run_id: str) -> None:
        with self.store.session() as session:
            for model, key in ((Run, event_run_id), (Event, event_id)):
                row = session.get(model, key)
                if row is not None:
                    session.delete(row)
