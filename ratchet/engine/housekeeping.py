"""Housekeeping Schedules: one Temporal Schedule per chore, starting its workflow at a fixed interval.

The retention pass (ratchet/engine/retention.py) and idle-grant renewal
(ratchet/engine/grant_renewal.py) run this way: being Schedules, they survive worker and server
restarts and show on the Web UI's Schedules page; a fire while the previous pass still runs is
skipped. Intervals are real time, like every Schedule's.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)


async def ensure_interval_schedule(
    client: Client, schedule_id: str, workflow: str, every: timedelta, task_queue: str
) -> None:
    """Create the schedule if it is missing (every worker calls this at start; the first one creates it).

    Args:
        client: The Temporal client.
        schedule_id: The schedule's id, also the id its workflows start with.
        workflow: The registered workflow type it starts.
        every: How often.
        task_queue: The workers' task queue.
    """
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(workflow, id=schedule_id, task_queue=task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    with contextlib.suppress(ScheduleAlreadyRunningError):
        await client.create_schedule(schedule_id, schedule)
