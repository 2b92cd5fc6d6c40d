"""The durable side of idle-grant renewal: the daily `ratchet-grant-renewal` Schedule (ratchet/engine/housekeeping.py)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client

from ratchet.config import Settings
from ratchet.engine.contract import GRANT_RENEWAL_WORKFLOW
from ratchet.engine.housekeeping import ensure_interval_schedule

GRANT_RENEWAL_SCHEDULE_ID = "ratchet-grant-renewal"
GRANT_RENEWAL_INTERVAL = timedelta(days=1)


async def ensure_grant_renewal_schedule(client: Client, settings: Settings) -> None:
    """Create the schedule if it is missing (every worker calls this; the first one creates it)."""
    await ensure_interval_schedule(
        client, GRANT_RENEWAL_SCHEDULE_ID, GRANT_RENEWAL_WORKFLOW, GRANT_RENEWAL_INTERVAL, settings.temporal.task_queue
    )
