"""Shop status (spec 10.3): what is running, what waits and for how long, and who is waiting.

Counts come from the run ledger (the user's view, the same one `ratchet runs` shows):
waiting = Due runs, running = Started runs, scheduled = Scheduled runs (offsets, run_at,
retry back-off); queue lag = now − the oldest Due run's max(run_at, enqueued_at). Temporal
adds what only it knows: the shop's scheduler schedules and their next fire times.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, type_coerce
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from ratchet.core.clock import utcnow
from ratchet.core.runs import RunKind, RunState
from ratchet.engine.schedules import SCHEDULER_TOPICS, schedule_id
from ratchet.services.bulk_operations import running_operations
from ratchet.services.shop_connection import connection_status
from ratchet.services.shops import UnknownShop
from ratchet.store.database import Store
from ratchet.store.tables import Run, Shop, Task, UTCDateTime

TOP_N = 10


def _by_kind(rows: Sequence[tuple[Any, int]]) -> dict[str, int]:
    counts = {kind.value: 0 for kind in RunKind}
    for kind, count in rows:
        counts[RunKind(kind).value] = int(count)
    return {"total": sum(counts.values()), **counts}


def ledger_status(store: Store, shop_id: str, now: datetime | None = None) -> dict[str, Any]:
    """The ledger's part of the status: runs by state, queue lag, what waits most, running bulk operations."""
    now = now or utcnow()
    with store.session() as session:
        if session.get(Shop, shop_id) is None:
            raise UnknownShop(f"unknown shop {shop_id!r}")
        in_shop = Run.shop_id == shop_id
        due = (Run.shop_id == shop_id) & (Run.state == RunState.due)

        def per_kind(state: RunState) -> dict[str, int]:
            rows = session.exec(
                select(Run.kind, func.count()).where(in_shop, Run.state == state).group_by(Run.kind)
            ).all()
            return _by_kind(list(rows))

        # The moment a Due run became performable: the later of when it was due and when it was queued.
        ready_at = case(
            (col(Run.enqueued_at).is_(None), Run.run_at),
            (col(Run.run_at).is_(None), Run.enqueued_at),
            (col(Run.run_at) > col(Run.enqueued_at), Run.run_at),
            else_=Run.enqueued_at,
        )
        oldest = session.exec(select(type_coerce(func.min(ready_at), UTCDateTime())).where(due)).one()
        scheduled = session.exec(select(func.count()).where(in_shop, Run.state == RunState.scheduled)).one()
        enabled_tasks = session.exec(
            select(func.count()).select_from(Task).where(Task.shop_id == shop_id, Task.enabled)
        ).one()
        return {
            "shop": shop_id,
            "generated_at": now.isoformat(),
            "running": per_kind(RunState.started),
            "waiting": per_kind(RunState.due),
            "scheduled": int(scheduled),
            "queue_lag_seconds": max(0, round((now - oldest).total_seconds())) if oldest else 0,
            "top_waiting": _top_waiting(session, shop_id),
            "enabled_tasks": int(enabled_tasks),
            "bulk_operations": [dataclasses.asdict(op) for op in running_operations(session, shop_id)],
        }


def _top_waiting(session: Session, shop_id: str) -> dict[str, list[dict[str, Any]]]:
    """The tasks, actions and event topics with the most Due runs."""
    due = (col(Run.shop_id) == shop_id) & (col(Run.state) == RunState.due)
    count = func.count().label("count")

    def most_due(kind: RunKind, *columns: Any) -> Sequence[Any]:
        statement = sa_select(*columns, count).where(due, col(Run.kind) == kind).group_by(*columns)
        return session.execute(statement.order_by(count.desc()).limit(TOP_N)).all()

    tasks = most_due(RunKind.task, col(Run.task_id), col(Run.task_name))
    actions = most_due(RunKind.action, col(Run.action_type), col(Run.task_id))
    topics = most_due(RunKind.event, col(Run.topic))
    return {
        "tasks": [{"id": tid, "name": name, "count": int(n)} for tid, name, n in tasks],
        "actions": [{"type": kind, "task_id": tid, "count": int(n)} for kind, tid, n in actions],
        "event_topics": [{"topic": topic, "count": int(n)} for topic, n in topics],
    }


async def schedules_status(client: Client, shop_id: str) -> list[dict[str, Any]]:
    """The shop's scheduler schedules with their next fire time (absent ones are skipped)."""

    async def one(topic: str) -> dict[str, Any] | None:
        try:
            description = await client.get_schedule_handle(schedule_id(shop_id, topic)).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return None
            raise
        upcoming = description.info.next_action_times
        return {
            "topic": topic,
            "schedule_id": description.id,
            "time_zone": description.schedule.spec.time_zone_name,
            "next_run_at": upcoming[0].isoformat() if upcoming else None,
            "last_run_at": description.info.recent_actions[-1].scheduled_at.isoformat()
            if description.info.recent_actions
            else None,
        }

    found = await asyncio.gather(*(one(topic) for topic in SCHEDULER_TOPICS))
    return [entry for entry in found if entry is not None]


async def shop_status(
    store: Store, shop_id: str, client: Client | None = None, *, public_url: str | None = None
) -> dict[str, Any]:
    """The shop's status: runs by state and queue lag, its Shopify connection, its scheduler schedules.

    Args:
        store: The ledger.
        shop_id: The shop.
        client: Temporal, for the scheduler schedules; None leaves them out.
        public_url: Where Shopify reaches this installation (RATCHET_PUBLIC_URL), shown with the
            connection; None says webhooks cannot be registered.
    """
    status = await asyncio.to_thread(ledger_status, store, shop_id)
    status["shopify"] = await asyncio.to_thread(connection_status, store, shop_id, public_url)
    if client is not None:
        status["schedules"] = await schedules_status(client, shop_id)
    return status
