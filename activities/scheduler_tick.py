"""The scheduler tick's activity: create the scheduler event (`EventService.create`), once per tick."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from ratchet.engine.contract import CREATE_SCHEDULED_EVENT, UNKNOWN_SHOP, SchedulerActivitiesInterface, TickInput
from ratchet.engine.schedules import tick_idempotency_key
from ratchet.services.events import EventService, NewEvent
from ratchet.services.shops import UnknownShop


class SchedulerActivities(SchedulerActivitiesInterface):
    def __init__(self, events: EventService) -> None:
        self.events = events

    @activity.defn(name=CREATE_SCHEDULED_EVENT)
    async def create_scheduled_event(self, tick: TickInput) -> str:
        try:
            created = await self.events.create(
                NewEvent(
                    shop_id=tick.shop_id,
                    topic=tick.topic,
                    data=None,  # spec 2.3: scheduler events carry no data
                    source="mechanic",
                    idempotency_key=tick_idempotency_key(tick.shop_id, tick.topic, tick.scheduled_at),
                    created_at=tick.scheduled_at,  # event.created_at is the tick's time
                )
            )
        except UnknownShop as exc:
            # The shop is gone; its schedules go at the next sync. Retrying cannot help.
            raise ApplicationError(str(exc), type=UNKNOWN_SHOP, non_retryable=True) from exc
        return created.id

    def all(self) -> list[Callable[..., Any]]:
        return [self.create_scheduled_event]
