"""One idle-grant pass, started by the `ratchet-grant-renewal` Temporal Schedule (see ratchet/engine/grant_renewal.py)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from ratchet.engine.contract import GRANT_RENEWAL_WORKFLOW, GrantRenewalActivitiesInterface, GrantRenewalOutcome


@workflow.defn(name=GRANT_RENEWAL_WORKFLOW)
class GrantRenewalWorkflow:
    @workflow.run
    async def run(self) -> GrantRenewalOutcome:
        return await workflow.execute_activity_method(
            GrantRenewalActivitiesInterface.renew_idle_grants,
            # Each renewal is one token request (30 s timeout) under a lease; a few shops at most.
            start_to_close_timeout=timedelta(minutes=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5), maximum_attempts=5),
        )
