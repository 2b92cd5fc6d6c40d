"""The bulk operation monitor: one workflow per Shopify bulk operation a task started.

Id `bulk-operation/{shop}/{operation number}`, reuse policy REJECT_DUPLICATE: the action run that
saw the operation start and the ingress receiving `bulk_operations/finish` both start it (the
ingress with signal-with-start), whichever comes first, and neither can start it twice.

It waits for the `finished` signal or, as a fallback, its polling timer (20 s, growing by 1.5x
to a 10-minute cap, scaled by RATCHET_TIME_SCALE), checks the operation, and once it is
COMPLETED, FAILED, CANCELED or EXPIRED collects the result file, reports the one
`mechanic/shopify/bulk_operation` event, and stays for the retention window before deleting the
file. Deterministic: every read and write is an activity (activities/bulk_operations.py).
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import Priority, RetryPolicy

with workflow.unsafe.imports_passed_through():
    from ratchet.core.bulk_operations import UNTRACKED_GRACE_SECONDS, poll_interval_seconds
    from ratchet.core.runs import PRIORITY_ACTION, PRIORITY_EVENT, RETENTION_SECONDS
    from ratchet.engine.contract import (
        BULK_FINISHED_SIGNAL,
        BULK_OPERATION_GONE,
        BULK_OPERATION_WORKFLOW,
        BULK_STATUS_QUERY,
        BulkMonitorInput,
        BulkOperationActivitiesInterface,
        BulkOperationRef,
    )

# Activity failures that retrying cannot fix: the shop is gone.
NON_RETRYABLE = [BULK_OPERATION_GONE]


@workflow.defn(name=BULK_OPERATION_WORKFLOW)
class BulkOperationWorkflow:
    def __init__(self) -> None:
        self._finish_signals = 0
        self._status: str | None = None
        self._time_scale = 1.0
        self._retention_seconds = float(RETENTION_SECONDS)

    @workflow.signal(name=BULK_FINISHED_SIGNAL)
    def finished(self) -> None:
        self._finish_signals += 1

    @workflow.query(name=BULK_STATUS_QUERY)
    def status(self) -> str | None:
        return self._status

    @workflow.run
    async def run(self, inp: BulkMonitorInput) -> str | None:
        self._time_scale = inp.time_scale
        self._retention_seconds = inp.retention_days * 24 * 3600
        ref = BulkOperationRef(shop_id=inp.shop_id, gid=inp.gid)
        if not await self._until_terminal(inp, ref):
            return None
        count = await workflow.execute_activity_method(
            BulkOperationActivitiesInterface.collect,
            ref,
            # Result files can be hundreds of MB; the download heartbeats and resumes after a crash.
            start_to_close_timeout=timedelta(hours=2),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(maximum_interval=self._scaled(300), non_retryable_error_types=NON_RETRYABLE),
            priority=Priority(priority_key=PRIORITY_EVENT, fairness_key=inp.shop_id),
            summary=f"download results of {inp.gid}",
        )
        event_id = await workflow.execute_activity_method(
            BulkOperationActivitiesInterface.report,
            ref,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=RetryPolicy(maximum_interval=self._scaled(300), non_retryable_error_types=NON_RETRYABLE),
            priority=Priority(priority_key=PRIORITY_ACTION, fairness_key=inp.shop_id),
            summary="create mechanic/shopify/bulk_operation",
        )
        workflow.set_current_details(f"status {self._status}, {count} object(s), reported as event {event_id}")
        # The task run may be retried for as long as its event is; the file goes with it.
        await workflow.sleep(self._scaled(self._retention_seconds), summary="retention")
        await workflow.execute_activity_method(
            BulkOperationActivitiesInterface.delete_results,
            ref,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
            summary="delete results",
        )
        return event_id

    async def _until_terminal(self, inp: BulkMonitorInput, ref: BulkOperationRef) -> bool:
        """Check the operation until it is terminal (True), or until it turns out no task started it (False).

        Woken by the finish webhook's signal or by the poll timer; continues as new when the
        history grows long, carrying the poll count.
        """
        polls = inp.polls
        waited_for_record = False
        while True:
            signals_seen = self._finish_signals
            check = await workflow.execute_activity_method(
                BulkOperationActivitiesInterface.check,
                ref,
                start_to_close_timeout=timedelta(minutes=2),
                retry_policy=RetryPolicy(maximum_interval=self._scaled(300), non_retryable_error_types=NON_RETRYABLE),
                priority=Priority(priority_key=PRIORITY_EVENT, fairness_key=inp.shop_id),
                summary=f"check {inp.gid}",
            )
            if not check.tracked:
                # The finish webhook can overtake the action run that records the operation.
                if waited_for_record:
                    workflow.set_current_details(f"{inp.gid} was not started by a task; nothing to report")
                    return False
                waited_for_record = True
                await workflow.sleep(self._scaled(UNTRACKED_GRACE_SECONDS), summary="waiting for the action run")
                continue
            self._status = check.status
            workflow.set_current_details(f"status {check.status} after {polls + 1} check(s)")
            if check.terminal:
                return True
            polls += 1
            if self._finish_signals == signals_seen:
                # Woken early by the finish webhook; otherwise the poll timer decides.
                interval = self._scaled(poll_interval_seconds(polls - 1))

                def signalled(seen: int = signals_seen) -> bool:
                    return self._finish_signals > seen

                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(signalled, timeout=interval, timeout_summary="next poll")
            info = workflow.info()
            if info.is_continue_as_new_suggested() or info.get_current_history_length() > inp.history_limit:
                workflow.continue_as_new(inp.model_copy(update={"polls": polls}))

    def _scaled(self, seconds: float) -> timedelta:
        """A real-world wait as this deployment waits it; never under Temporal's ~1 s timer floor."""
        return timedelta(seconds=max(1.0, seconds * self._time_scale))
