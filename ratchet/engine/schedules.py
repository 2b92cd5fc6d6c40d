"""`mechanic/scheduler/*` topics as Temporal Schedules: one per (shop, topic) that an enabled task needs.

Timing (spec 2.3): calendars in the shop's IANA zone, so ticks follow local wall-clock time
through DST changes: N-minute topics fire at local minutes divisible by N, `hourly` at :00,
`daily`/weekdays at local midnight, `monthly` at local midnight on the 1st. A local time that
a DST change skips (e.g. midnight in zones that spring forward at 00:00) fires at the first
instant after the gap, as Temporal's calendar does.

Each tick starts `SchedulerTickWorkflow`, whose activity creates the event through
EventService with the idempotency key `schedule:{shop}:{topic}:{scheduled time}`: a tick that
is delivered twice (trigger retries, catch-up after a restart) is still one event.

Overlap: ALLOW_ALL, since each tick's workflow ends as soon as the event exists and two ticks
must never suppress each other.

Catch-up (missed fires while the cluster was down): each schedule catches up ticks no older
than its own period, capped at a day — so after an outage every topic fires at most its most
recent missed tick (late, keeping its scheduled time in the idempotency key), and never a
burst of stale 10-minute ticks. Like Mechanic, there is no back-fill beyond that.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import select
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import Priority
from temporalio.service import RPCError, RPCStatusCode

from ratchet.core.runs import PRIORITY_EVENT
from ratchet.core.subscriptions import TopicError, parse_subscription
from ratchet.engine.contract import SCHEDULER_TICK_WORKFLOW, SchedulerTick
from ratchet.store.database import Store
from ratchet.store.tables import Shop, Task

_EVERY_HOUR = [ScheduleRange(0, 23)]
_DAY = timedelta(days=1)
_WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")  # Temporal: Sunday = 0


def _every_minutes(n: int) -> ScheduleCalendarSpec:
    return ScheduleCalendarSpec(minute=[ScheduleRange(0, 59, n)], hour=_EVERY_HOUR, comment=f"every {n} minutes")


# topic → (calendar in the shop's zone, catch-up window)
SCHEDULER_TOPICS: dict[str, tuple[ScheduleCalendarSpec, timedelta]] = {
    **{f"mechanic/scheduler/{n}min": (_every_minutes(n), timedelta(minutes=n)) for n in (10, 15, 20, 30)},
    "mechanic/scheduler/hourly": (
        ScheduleCalendarSpec(hour=_EVERY_HOUR, comment="every hour at :00"),
        timedelta(hours=1),
    ),
    "mechanic/scheduler/daily": (ScheduleCalendarSpec(comment="daily at 00:00"), _DAY),
    **{
        f"mechanic/scheduler/{day}": (
            ScheduleCalendarSpec(day_of_week=[ScheduleRange(i)], comment=f"{day} at 00:00"),
            _DAY,
        )
        for i, day in enumerate(_WEEKDAYS)
    },
    "mechanic/scheduler/monthly": (
        ScheduleCalendarSpec(day_of_month=[ScheduleRange(1)], comment="the 1st at 00:00"),
        _DAY,
    ),
}


def schedule_id(shop_id: str, topic: str) -> str:
    return f"scheduler/{shop_id}/{topic.rsplit('/', 1)[1]}"


def tick_idempotency_key(shop_id: str, topic: str, scheduled_at: datetime) -> str:
    return f"schedule:{shop_id}:{topic}:{scheduled_at.isoformat()}"


def build_schedule(shop_id: str, topic: str, time_zone: str, task_queue: str) -> Schedule:
    calendar, catchup = SCHEDULER_TOPICS[topic]
    return Schedule(
        action=ScheduleActionStartWorkflow(
            SCHEDULER_TICK_WORKFLOW,
            SchedulerTick(shop_id=shop_id, topic=topic),
            # Temporal appends the tick's scheduled time, so each tick's workflow id is unique
            # and a re-delivered tick collides with its first delivery.
            id=schedule_id(shop_id, topic),
            task_queue=task_queue,
            priority=Priority(priority_key=PRIORITY_EVENT, fairness_key=shop_id),
            static_summary=f"{topic} · {shop_id}",
        ),
        spec=ScheduleSpec(calendars=[calendar], time_zone_name=time_zone),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL, catchup_window=catchup),
    )


def wanted_topics(tasks: list[Task]) -> set[str]:
    """Scheduler topics at least one enabled task subscribes to, with any offset."""
    topics: set[str] = set()
    for task in tasks:
        if not task.enabled:
            continue
        for line in task.subscriptions or []:
            try:
                topic = parse_subscription(line).topic
            except TopicError:
                continue  # saved subscriptions are validated elsewhere; a bad line schedules nothing
            if topic in SCHEDULER_TOPICS:
                topics.add(topic)
    return topics


@dataclass
class SyncResult:
    shop_id: str
    time_zone: str | None = None
    active: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def _load(store: Store, shop_id: str) -> tuple[Shop | None, list[Task]]:
    with store.session() as session:
        shop = session.get(Shop, shop_id)
        tasks = list(session.exec(select(Task).where(Task.shop_id == shop_id))) if shop else []
        return shop, tasks


async def sync_schedules(client: Client, store: Store, shop_id: str, *, task_queue: str) -> SyncResult:
    """Make the shop's schedules match its enabled tasks and time zone (idempotent; safe to repeat)."""
    shop, tasks = await asyncio.to_thread(_load, store, shop_id)
    wanted = wanted_topics(tasks) if shop else set()
    result = SyncResult(shop_id, shop.timezone if shop else None, active=sorted(wanted))

    async def converge(topic: str) -> None:
        handle = client.get_schedule_handle(schedule_id(shop_id, topic))
        if topic in wanted:
            assert shop is not None
            desired = build_schedule(shop_id, topic, shop.timezone, task_queue)
            try:
                await client.create_schedule(handle.id, desired)
                result.created.append(topic)
            except ScheduleAlreadyRunningError:
                # Replace spec, action and policy; the schedule's run history and state stay.
                def replace(current: ScheduleUpdateInput) -> ScheduleUpdate:
                    desired.state = current.description.schedule.state
                    return ScheduleUpdate(schedule=desired)

                await handle.update(replace)
            return
        try:
            await handle.delete()
            result.deleted.append(topic)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise

    # Thirteen independent calls: concurrently, so a task save costs one round trip, not thirteen.
    await asyncio.gather(*(converge(topic) for topic in SCHEDULER_TOPICS))
    return result


def _shop_ids(store: Store) -> list[str]:
    with store.session() as session:
        return list(session.exec(select(Shop.id)))


async def sync_all_schedules(client: Client, store: Store, *, task_queue: str) -> list[SyncResult]:
    """Every shop's schedules; run at worker start so changes made offline are caught up."""
    return [
        await sync_schedules(client, store, shop_id, task_queue=task_queue)
        for shop_id in await asyncio.to_thread(_shop_ids, store)
    ]
