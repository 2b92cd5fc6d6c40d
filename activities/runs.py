"""The run activities: a thin Temporal adapter over the perform service (ratchet/services/perform.py).

This module owns only what is Temporal's: the attempt number (cumulative across manual retries
and throttle waits), heartbeats, and how a failure tells Temporal what to do next — a transient
error (`ratchet.errors.is_retryable`) is re-raised with Mechanic's exact next delay (30/76/152/
308 s, scaled); a permanent one, or the fifth attempt, is recorded Failed and stops Temporal's
retries. What each attempt does, and every ledger write, is the service's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from ratchet.config import Settings
from ratchet.core.runs import MAX_ATTEMPTS, RETRY_DELAYS_SECONDS
from ratchet.engine import telemetry
from ratchet.engine.contract import (
    FAIL_RUNS,
    NOTE_RUN,
    PERFORM_ACTION_RUN,
    PERFORM_EVENT_RUN,
    PERFORM_TASK_RUN,
    RUN_FAILED,
    ActionRunOutcome,
    EventRunOutcome,
    FailRunsInput,
    RunActivitiesInterface,
    RunInput,
    RunNoteInput,
    RunOutcome,
    TaskRunOutcome,
)
from ratchet.errors import RatchetError, is_retryable
from ratchet.services.perform import Attempt, FailedAttempt, PerformService, RenderProgress, Throttled
from ratchet.store import ledger

OutcomeT = TypeVar("OutcomeT", bound=RunOutcome)

HEARTBEAT_AFTER_SECONDS = 5.0


def retry_delay(settings: Settings, budget_attempt: int) -> timedelta:
    """Delay after the `budget_attempt`-th failed attempt (1-based) of an automatic budget."""
    return settings.scaled(RETRY_DELAYS_SECONDS[budget_attempt - 1])


def numbered(inp: RunInput) -> Attempt:
    """This activity attempt as an attempt of the run: numbered across manual retries and throttle waits."""
    info = activity.info()
    return Attempt(
        run_id=inp.run_id,
        shop_id=inp.shop_id,
        number=inp.attempt_base + info.attempt,
        enqueued_at=info.current_attempt_scheduled_time,
        # Only the first attempt of a manual retry counts it (later ones are its automatic retries).
        manual_retry_note=inp.manual_retry_note if info.attempt == 1 and inp.budget_used == 0 else None,
        shopify_gated=inp.shopify_gated,
    )


class _Heartbeat:
    """Heartbeats an attempt every HEARTBEAT_AFTER_SECONDS from a loop timer, until stopped.

    Long runs heartbeat so a killed worker's attempt is retried within the heartbeat timeout;
    short runs (the common case) end before the first beat and pay only for one timer, not a
    task. A render stops heartbeating once its Shopify calls stop making progress, so Temporal
    times out a stuck render while one paging through a big catalogue runs as long as it needs.
    """

    def __init__(self, progress: RenderProgress | None) -> None:
        self._progress = progress
        # The timer's callback runs in this activity's context (call_later copies it).
        self._timer = asyncio.get_running_loop().call_later(HEARTBEAT_AFTER_SECONDS, self._beat)

    def _beat(self) -> None:
        if self._progress is not None and self._progress.stalled():
            return
        activity.heartbeat()
        self._timer = asyncio.get_running_loop().call_later(HEARTBEAT_AFTER_SECONDS, self._beat)

    def stop(self) -> None:
        self._timer.cancel()


class RunActivities(RunActivitiesInterface):
    """The event workflow's activities.

    Args:
        settings: scales Mechanic's retry delays and Shopify's waits (RATCHET_TIME_SCALE).
        perform: performs and records each attempt.
    """

    def __init__(self, settings: Settings, perform: PerformService) -> None:
        self.settings = settings
        self.perform = perform

    # -- the run kinds -----------------------------------------------------------------------------

    @activity.defn(name=PERFORM_EVENT_RUN)
    async def perform_event_run(self, inp: RunInput) -> EventRunOutcome:
        attempt = numbered(inp)
        return await self._settle(inp, attempt, EventRunOutcome, self.perform.event_run(attempt))

    @activity.defn(name=PERFORM_TASK_RUN)
    async def perform_task_run(self, inp: RunInput) -> TaskRunOutcome:
        attempt, progress = numbered(inp), RenderProgress()
        return await self._settle(inp, attempt, TaskRunOutcome, self.perform.task_run(attempt, progress), progress)

    @activity.defn(name=PERFORM_ACTION_RUN)
    async def perform_action_run(self, inp: RunInput) -> ActionRunOutcome:
        attempt = numbered(inp)
        return await self._settle(inp, attempt, ActionRunOutcome, self.perform.action_run(attempt))

    # -- what Temporal does next -------------------------------------------------------------------

    async def _settle(
        self,
        inp: RunInput,
        attempt: Attempt,
        outcome_type: type[OutcomeT],
        step: Awaitable[OutcomeT | FailedAttempt | Throttled],
        progress: RenderProgress | None = None,
    ) -> OutcomeT:
        """Heartbeat while the service performs the attempt, then answer the workflow or Temporal's retries."""
        heartbeat = _Heartbeat(progress)
        try:
            done = await step
        finally:
            heartbeat.stop()
        # The attempt's place in the automatic budget (5 attempts), which throttle waits do not spend.
        budget_attempt = inp.budget_used + activity.info().attempt
        if isinstance(done, Throttled):
            # Not an attempt: the run waits in Due and the workflow asks again after the wait.
            telemetry.throttle_wait(activity.info().activity_type.removeprefix("perform_").removesuffix("_run"))
            return outcome_type(
                attempts=attempt.number - 1,
                throttle_wait_seconds=self.settings.scaled(max(done.seconds, 1.0)).total_seconds(),
                budget_used=budget_attempt - 1,
            )
        if isinstance(done, FailedAttempt):
            raise await self._record_failure(done, budget_attempt) from done.error
        return done

    async def _record_failure(self, failed: FailedAttempt, budget_attempt: int) -> ApplicationError:
        """Classify the failed attempt, have it recorded, and return the error that tells Temporal what follows.

        The failure is logged here, once; the error is BENIGN so the SDK does not log it again
        with a traceback.
        """
        run, message = failed.run, failed.message
        # Ratchet raises RatchetError on purpose (task errors, remote failures); anything else is a bug.
        bug = None if isinstance(failed.error, RatchetError) else failed.error
        if not is_retryable(failed.error) or budget_attempt >= MAX_ATTEMPTS:
            telemetry.attempt_failed(run, run.attempts, message, retry_in_seconds=None, exc=bug)
            await self.perform.fail(failed)
            return ApplicationError(
                message,
                {"attempts": run.attempts},
                type=RUN_FAILED,
                non_retryable=True,
                category=ApplicationErrorCategory.BENIGN,
            )
        delay = retry_delay(self.settings, budget_attempt)
        telemetry.attempt_failed(run, run.attempts, message, retry_in_seconds=delay.total_seconds(), exc=bug)
        await self.perform.schedule_retry(failed, delay)
        return ApplicationError(
            message, type=type(failed.error).__name__, next_retry_delay=delay, category=ApplicationErrorCategory.BENIGN
        )

    # -- bookkeeping the workflow asks for ---------------------------------------------------------

    @activity.defn(name=FAIL_RUNS)
    async def fail_runs(self, inp: FailRunsInput) -> None:
        await self.perform.fail_runs(inp.run_ids, inp.reason)

    @activity.defn(name=NOTE_RUN)
    async def note_run(self, inp: RunNoteInput) -> None:
        with contextlib.suppress(ledger.RunNotFound):
            await self.perform.note(inp.run_id, inp.note)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.perform_event_run,
            self.perform_task_run,
            self.perform_action_run,
            self.fail_runs,
            self.note_run,
        ]
