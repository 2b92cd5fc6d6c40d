"""The retry desk: manual retries asked for by signal, whether or not the event's workflow is open.

The Web UI and `temporal workflow signal` can only signal a running workflow, and an event's
workflow closes once its runs settle. This one workflow (id `ratchet-retries`, started by every
worker) stays open and hands each `retry` signal to an activity that applies Mechanic's rules
and reopens the event's workflow (ratchet/services/retries.py); the activity's result in the
history says what became of the request.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from ratchet.engine.contract import (
        RETRY_DESK_WORKFLOW,
        RETRY_SIGNAL,
        RetryDeskActivitiesInterface,
        RetryRequest,
    )

# Continue as new past this many history events, whatever the server suggests, so a busy desk's
# history stays quick to replay.
HISTORY_LIMIT = 2000


@workflow.defn(name=RETRY_DESK_WORKFLOW)
class RetryDeskWorkflow:
    def __init__(self) -> None:
        self._requests: list[RetryRequest] = []

    @workflow.signal(name=RETRY_SIGNAL)
    def retry(self, req: RetryRequest) -> None:
        self._requests.append(req)

    @workflow.run
    async def run(self) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self._requests))
            req = self._requests.pop(0)
            await workflow.execute_activity_method(
                RetryDeskActivitiesInterface.retry_requested_run,
                req,
                start_to_close_timeout=timedelta(minutes=1),
                # Only an unreachable database or Temporal fails the activity: keep trying.
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
                summary=f"retry run {req.run_id}",
            )
            info = workflow.info()
            if not self._requests and (
                info.is_continue_as_new_suggested() or info.get_current_history_length() > HISTORY_LIMIT
            ):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new()
