"""One scheduler tick: turn the Temporal Schedule's fire into a `mechanic/scheduler/*` event.

Kept apart from the event workflow so the schedule's history stays tiny and the event gets the
same id, ledger rows and workflow as every other event (EventService, in the activity).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from ratchet.engine.contract import (
        SCHEDULED_START_TIME,
        SCHEDULER_TICK_WORKFLOW,
        UNKNOWN_SHOP,
        SchedulerActivitiesInterface,
        SchedulerTick,
        TickInput,
    )


@workflow.defn(name=SCHEDULER_TICK_WORKFLOW)
class SchedulerTickWorkflow:
    @workflow.run
    async def run(self, tick: SchedulerTick) -> str:
        scheduled_at: datetime = (
            workflow.info().typed_search_attributes.get(SCHEDULED_START_TIME) or workflow.info().start_time
        )
        return await workflow.execute_activity_method(
            SchedulerActivitiesInterface.create_scheduled_event,
            TickInput(shop_id=tick.shop_id, topic=tick.topic, scheduled_at=scheduled_at),
            start_to_close_timeout=timedelta(minutes=1),
            # Keep trying through database or cluster hiccups; the idempotency key makes
            # a late success the same single event.
            schedule_to_close_timeout=timedelta(hours=1),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1), non_retryable_error_types=[UNKNOWN_SHOP]),
        )
