"""mechanic/scheduler/* topics: Temporal Schedules per (shop, topic), in the shop's zone, one event per tick.

Real wall-clock ticks are never awaited: `trigger()` fires a tick now, and `describe()` shows
the spec and the next fire times the server computed in the shop's zone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select
from temporalio.client import Client, ScheduleActionStartWorkflow, ScheduleOverlapPolicy
from temporalio.service import RPCError, RPCStatusCode

from activities.scheduler_tick import SchedulerActivities
from ratchet.core.runs import RunKind, RunState
from ratchet.engine.contract import TickInput
from ratchet.engine.schedules import SCHEDULER_TOPICS, schedule_id, sync_schedules, tick_idempotency_key
from ratchet.services.events import EventService, event_id_for
from ratchet.store.tables import Event
from starter.api import Ratchet
from tests.support.tasks import add_task
from tests.support.waiting import eventually, of_kind, settled, wait_for_runs
from workflows.scheduler_tick import SCHEDULED_START_TIME

ALL_TOPICS = list(SCHEDULER_TOPICS)


async def _exists(client: Client, shop: str, topic: str) -> bool:
    try:
        await client.get_schedule_handle(schedule_id(shop, topic)).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def _events(api: Ratchet, shop: str, topic: str) -> list[Event]:
    with api.store.session() as session:
        return list(session.exec(select(Event).where(Event.shop_id == shop, Event.topic == topic)))


async def test_schedules_follow_enabled_tasks_and_the_shop_time_zone(api: Ratchet, shop: str) -> None:
    await api.shops.set(shop, timezone_name="America/New_York")
    daily = await add_task(
        api, "Nightly", '{% action "echo", x: 1 %}', ["mechanic/scheduler/daily+2.hours", "user/x/y"]
    )
    await add_task(api, "Frequent", '{% action "echo", x: 2 %}', ["mechanic/scheduler/10min"])
    assert [t for t in ALL_TOPICS if await _exists(api.client, shop, t)] == [
        "mechanic/scheduler/10min",
        "mechanic/scheduler/daily",
    ]

    description = await api.client.get_schedule_handle(schedule_id(shop, "mechanic/scheduler/daily")).describe()
    schedule = description.schedule
    assert schedule.spec.time_zone_name == "America/New_York"
    assert schedule.policy.overlap == ScheduleOverlapPolicy.ALLOW_ALL
    assert schedule.policy.catchup_window == timedelta(days=1)
    assert isinstance(schedule.action, ScheduleActionStartWorkflow)
    assert schedule.action.task_queue == api.settings.temporal.task_queue

    # A time zone change moves every schedule of the shop.
    await api.shops.set(shop, timezone_name="Asia/Kolkata")
    for topic in ("mechanic/scheduler/10min", "mechanic/scheduler/daily"):
        described = await api.client.get_schedule_handle(schedule_id(shop, topic)).describe()
        assert described.schedule.spec.time_zone_name == "Asia/Kolkata"

    # Disabling the last subscriber removes the schedule; re-enabling brings it back.
    await api.tasks.disable(daily.id)
    assert not await _exists(api.client, shop, "mechanic/scheduler/daily")
    assert await _exists(api.client, shop, "mechanic/scheduler/10min")
    await api.tasks.enable(daily.id)
    assert await _exists(api.client, shop, "mechanic/scheduler/daily")

    # Re-syncing is idempotent.
    again = await sync_schedules(api.client, api.store, shop, task_queue=api.settings.temporal.task_queue)
    assert again.created == [] and again.active == ["mechanic/scheduler/10min", "mechanic/scheduler/daily"]


def _every_minutes(n: int) -> Callable[[datetime], bool]:
    return lambda t: t.minute % n == 0 and t.second == 0


def _weekday_midnight(weekday: int) -> Callable[[datetime], bool]:
    return lambda t: (t.weekday(), t.hour, t.minute) == (weekday, 0, 0)


EXPECTED: dict[str, Callable[[datetime], bool]] = {
    **{f"mechanic/scheduler/{n}min": _every_minutes(n) for n in (10, 15, 20, 30)},
    "mechanic/scheduler/hourly": lambda t: (t.minute, t.second) == (0, 0),
    "mechanic/scheduler/daily": lambda t: (t.hour, t.minute) == (0, 0),
    **{
        f"mechanic/scheduler/{day}": _weekday_midnight(i)
        for i, day in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
    },
    "mechanic/scheduler/monthly": lambda t: (t.day, t.hour, t.minute) == (1, 0, 0),
}


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"])
async def test_every_topic_fires_at_local_wall_clock_times(api: Ratchet, shop: str, zone: str) -> None:
    # New York has DST, Kolkata a half-hour offset, Lord Howe a half-hour DST shift.
    await api.shops.set(shop, timezone_name=zone)
    await add_task(api, "Everything", '{% action "echo", x: 1 %}', ALL_TOPICS)
    assert set(EXPECTED) == set(SCHEDULER_TOPICS)
    for topic, expected in EXPECTED.items():
        info = (await api.client.get_schedule_handle(schedule_id(shop, topic)).describe()).info
        times = [t.astimezone(ZoneInfo(zone)) for t in info.next_action_times]
        assert times, topic
        assert all(expected(t) for t in times), (topic, times)


async def test_a_triggered_tick_is_one_scheduler_event_that_runs_subscribers(api: Ratchet, shop: str) -> None:
    await add_task(
        api, "Hourly", '{% action "echo", topic: event.topic, data: event.data %}', ["mechanic/scheduler/hourly"]
    )
    await add_task(api, "Bystander", '{% action "echo", x: 1 %}', ["mechanic/scheduler/daily"])
    await api.client.get_schedule_handle(schedule_id(shop, "mechanic/scheduler/hourly")).trigger()

    (event,) = await eventually(lambda: _events(api, shop, "mechanic/scheduler/hourly"))
    assert event.data is None and event.source == "mechanic"
    # The event id derives from the tick's nominal time, which the schedule stamps on the tick workflow.
    sid = schedule_id(shop, "mechanic/scheduler/hourly")

    async def ticks() -> list:
        return [w async for w in api.client.list_workflows(f"TemporalScheduledById='{sid}'")]

    (tick,) = await eventually(ticks)  # visibility is eventually consistent
    scheduled_at = tick.typed_search_attributes.get(SCHEDULED_START_TIME)
    assert scheduled_at is not None
    assert event.id == event_id_for(shop, tick_idempotency_key(shop, "mechanic/scheduler/hourly", scheduled_at))
    assert event.created_at == scheduled_at  # event.created_at is the tick's time (spec 2.3)
    runs = await wait_for_runs(api, event.id, settled(1))
    assert [r.task_name for r in of_kind(runs, RunKind.task)] == ["Hourly"]
    (action,) = of_kind(runs, RunKind.action)
    assert action.state == RunState.succeeded
    assert (await api.runs.get(action.id)).result == {"topic": "mechanic/scheduler/hourly", "data": None}


async def test_a_redelivered_tick_is_still_one_event(api: Ratchet, shop: str) -> None:
    activities = SchedulerActivities(EventService(api.settings, api.store, api.client))
    tick = TickInput(
        shop_id=shop,
        topic="mechanic/scheduler/10min",
        scheduled_at=datetime(2026, 11, 23, 10, 10, tzinfo=ZoneInfo("UTC")),
    )
    first = await activities.create_scheduled_event(tick)
    second = await activities.create_scheduled_event(tick)
    later = await activities.create_scheduled_event(
        tick.model_copy(update={"scheduled_at": tick.scheduled_at + timedelta(minutes=10)})
    )
    assert first == second != later
    assert len(await _events(api, shop, "mechanic/scheduler/10min")) == 2
