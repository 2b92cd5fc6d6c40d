"""The durable side of idle-grant renewal: a daily Temporal Schedule.

`ratchet-grant-renewal` starts one GrantRenewalWorkflow a day (skipping a fire while the
previous pass still runs). Being a Schedule, it survives worker and server restarts and shows on
the Web UI's Schedules page; its interval is real time, like every Schedule's.
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

from ratchet.config import Settings
from ratchet.engine.contract import GRANT_RENEWAL_WORKFLOW

GRANT_RENEWAL_SCHEDULE_ID = "ratchet-grant-renewal"
GRANT_RENEWAL_INTERVAL = timedelta(days=1)


async def ensure_grant_renewal_schedule(client: Client, settings: Settings) -> None:
    """Create the schedule if it is missing (every worker calls this; the first one creates it)."""
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            GRANT_RENEWAL_WORKFLOW, id=GRANT_RENEWAL_SCHEDULE_ID, task_queue=settings.temporal.task_queue
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=GRANT_RENEWAL_INTERVAL)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    with contextlib.suppress(ScheduleAlreadyRunningError):
        await client.create_schedule(GRANT_RENEWAL_SCHEDULE_ID, schedule)
