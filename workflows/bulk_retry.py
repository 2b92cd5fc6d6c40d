"""A bulk retry: the failed runs a query chose, retried a batch at a time at a bounded rate.

Started by ratchet/services/bulk_retries.py with the ledger already holding its runs
(`bulk_retry_items`); each batch is one activity that retries through the same validated
update as any manual retry and records what became of each run. Durable timers pace the
batches, so a bulk retry outlives the browser that started it and carries on where it was
after a worker or server restart. The `progress` query and the `cancel` signal are for the
Temporal Web UI and `temporal workflow query|signal`; the console reads the ledger.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from ratchet.engine.contract import (
        BULK_RETRY_CANCEL_SIGNAL,
        BULK_RETRY_PROGRESS_QUERY,
        BULK_RETRY_WORKFLOW,
        BulkRetryActivitiesInterface,
        BulkRetryBatch,
        BulkRetryFinish,
        BulkRetryInput,
        BulkRetryProgress,
    )

# Continue as new past this many history events, so a long bulk retry's history stays quick to replay.
HISTORY_LIMIT = 2000


@workflow.defn(name=BULK_RETRY_WORKFLOW)
class BulkRetryWorkflow:
    @workflow.init
    def __init__(self, inp: BulkRetryInput) -> None:
        self._input = inp
        self._next = inp.next_position
        self._retried = inp.retried
        self._refused = inp.refused
        self._cancelled = False

    @workflow.run
    async def run(self, inp: BulkRetryInput) -> BulkRetryProgress:
        while self._next < inp.total and not self._cancelled:
            started = workflow.now()
            count = min(inp.batch_size, inp.total - self._next)
            outcome = await workflow.execute_activity_method(
                BulkRetryActivitiesInterface.retry_bulk_batch,
                BulkRetryBatch(bulk_retry_id=inp.bulk_retry_id, first_position=self._next, count=count),
                start_to_close_timeout=timedelta(minutes=5),
                # Only an unreachable database or Temporal fails a batch: keep trying.
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
                summary=f"retry runs {self._next + 1}-{self._next + count} of {inp.total}",
            )
            self._next += count
            self._retried += outcome.retried
            self._refused += outcome.refused
            # The rate bound: a batch takes at least seconds_per_batch, however fast its retries were.
            rest = timedelta(seconds=inp.seconds_per_batch * inp.time_scale) - (workflow.now() - started)
            if self._next < inp.total and rest > timedelta(0) and not self._cancelled:
                await workflow.sleep(rest, summary="bulk retry rate")
            if workflow.info().get_current_history_length() > HISTORY_LIMIT:
                workflow.continue_as_new(
                    inp.model_copy(
                        update={"next_position": self._next, "retried": self._retried, "refused": self._refused}
                    )
                )
        state = "cancelled" if self._cancelled else "completed"
        await workflow.execute_activity_method(
            BulkRetryActivitiesInterface.finish_bulk_retry,
            BulkRetryFinish(bulk_retry_id=inp.bulk_retry_id, state=state),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
        )
        return self.progress()

    @workflow.query(name=BULK_RETRY_PROGRESS_QUERY)
    def progress(self) -> BulkRetryProgress:
        return BulkRetryProgress(
            total=self._input.total,
            done=self._next,
            retried=self._retried,
            refused=self._refused,
            cancelled=self._cancelled,
        )

    @workflow.signal(name=BULK_RETRY_CANCEL_SIGNAL)
    def cancel(self) -> None:
        """Stop before the next batch; runs already retried stay retried."""
        self._cancelled = True
