"""One retention pass, started by the `ratchet-retention` Temporal Schedule (see ratchet/engine/retention.py)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from ratchet.engine.contract import RETENTION_WORKFLOW, PurgeOutcome, RetentionActivitiesInterface


@workflow.defn(name=RETENTION_WORKFLOW)
class RetentionWorkflow:
    @workflow.run
    async def run(self) -> PurgeOutcome:
        return await workflow.execute_activity_method(
            RetentionActivitiesInterface.purge_expired,
            # A first pass over a large backlog runs long; it heartbeats after every batch.
            start_to_close_timeout=timedelta(hours=1),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
        )
