"""The run activities: a thin Temporal adapter over the perform use case (ratchet/services/perform.py).

This module owns only what is Temporal's: the attempt number (cumulative across manual retries
and throttle waits), heartbeats, and how a failure tells Temporal what to do next — a transient
error (`ratchet.errors.is_retryable`) is re-raised with Mechanic's exact next delay (30/76/152/
308 s, scaled); a permanent one, or the fifth attempt, is recorded Failed and stops Temporal's
retries. What each run does, and every ledger write, is the service's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar, cast

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from ratchet.actions.base import ActionError
from ratchet.config import Settings
from ratchet.core.runs import MAX_ATTEMPTS, RETRY_DELAYS_SECONDS, RunState
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
    PlannedTaskRun,
    RunActivitiesInterface,
    RunInput,
    RunNoteInput,
    RunOutcome,
    TaskRunOutcome,
)
from ratchet.errors import RatchetError, is_retryable
from ratchet.services.perform import (
    PerformService,
    PreparedAction,
    RenderProgress,
    TaskUnavailableError,
    Throttled,
)
from ratchet.shopify.client import ShopifyThrottled
from ratchet.store import ledger
from ratchet.store.database import Store
from ratchet.store.tables import Run

OutcomeT = TypeVar("OutcomeT", bound=RunOutcome)
StepT = TypeVar("StepT")

HEARTBEAT_AFTER_SECONDS = 5.0


def retry_delay(settings: Settings, budget_attempt: int) -> timedelta:
    """Delay after the `budget_attempt`-th failed attempt (1-based) of an automatic budget."""
    return settings.scaled(RETRY_DELAYS_SECONDS[budget_attempt - 1])


@dataclass
class _Begun(Generic[StepT]):
    """A begun attempt and what its blocking step returned or raised (carried out of the worker thread)."""

    run: Run
    value: StepT | None = None
    error: Exception | None = None


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


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


class RunActivities(RunActivitiesInterface):
    def __init__(self, settings: Settings, store: Store, services: dict[str, Any] | None = None) -> None:
        self.settings = settings
        services = services or {}
        self.perform = PerformService(
            settings,
            store,
            events=services.get("events"),
            shopify_pools=services.get("shopify_pools"),
            bulk_operations=services.get("bulk_operations"),
            action_services=services,
        )

    # -- the attempt protocol shared by every run kind -------------------------------------------

    async def _attempt(
        self,
        inp: RunInput,
        outcome_type: type[OutcomeT],
        in_thread: Callable[[Run, int], StepT],
        then: Callable[[Run, int, StepT], Awaitable[OutcomeT]] | None = None,
        progress: RenderProgress | None = None,
    ) -> OutcomeT:
        """One attempt: begin it, run `in_thread` (blocking work) in the same worker thread, then `then`.

        One thread hop per attempt, not one per ledger step: the hop is a measurable share of
        a short run's CPU. Without `then`, what `in_thread` returns is the outcome.
        """
        info = activity.info()
        budget_attempt = inp.budget_used + info.attempt
        attempt = inp.attempt_base + info.attempt

        def throttled(wait: Throttled) -> OutcomeT:
            # Not an attempt: the run waits in Due and the workflow asks again after the wait.
            telemetry.throttle_wait(info.activity_type.removeprefix("perform_").removesuffix("_run"))
            return outcome_type(
                attempts=attempt - 1,
                throttle_wait_seconds=self.settings.scaled(max(wait.seconds, 1.0)).total_seconds(),
                budget_used=budget_attempt - 1,
            )

        retry_note = inp.manual_retry_note if info.attempt == 1 and inp.budget_used == 0 else None

        def begin_then_work() -> Throttled | _Begun[StepT]:
            begun = self.perform.begin(
                inp.run_id,
                inp.shop_id,
                attempt,
                info.current_attempt_scheduled_time,
                retry_note,
                shopify_gated=inp.shopify_gated,
            )
            if isinstance(begun, Throttled):
                return begun
            try:
                return _Begun(begun, value=in_thread(begun, attempt))
            except Exception as exc:  # the attempt failed: recorded below, on the event loop
                return _Begun(begun, error=exc)

        heartbeat = _Heartbeat(progress)
        try:
            begun = await asyncio.to_thread(begin_then_work)
            if isinstance(begun, Throttled):
                return throttled(begun)
            telemetry.attempt_started(begun.run, attempt, info.current_attempt_scheduled_time)
            try:
                if begun.error is not None:
                    raise begun.error
                step = cast(StepT, begun.value)
                outcome = cast(OutcomeT, step) if then is None else await then(begun.run, attempt, step)
            except ApplicationError:
                raise
            except ShopifyThrottled as exc:
                return throttled(await self.perform.withdraw(begun.run, attempt, exc.retry_after_seconds))
            except Exception as exc:
                raise await self._record_failure(begun.run, exc, budget_attempt) from exc
        finally:
            heartbeat.stop()
        telemetry.run_finished(begun.run, RunState.succeeded, attempt)
        return outcome

    async def _record_failure(self, run: Run, exc: Exception, budget_attempt: int) -> ApplicationError:
        """Record the failed attempt and return the error that tells Temporal what to do next.

        The failure is logged here, once; the error is BENIGN so the SDK does not log it again
        with a traceback.
        """
        message = _describe(exc)
        # Ratchet raises RatchetError on purpose (task errors, remote failures); anything else is a bug.
        bug = None if isinstance(exc, RatchetError) else exc
        if not is_retryable(exc) or budget_attempt >= MAX_ATTEMPTS:
            telemetry.attempt_failed(run, run.attempts, message, retry_in_seconds=None, exc=bug)
            await self.perform.fail(
                run,
                message,
                result=exc.result if isinstance(exc, ActionError) else None,
                result_meta=getattr(exc, "result_meta", None),
                report_error=not isinstance(exc, TaskUnavailableError),
            )
            telemetry.run_finished(run, RunState.failed, run.attempts)
            return ApplicationError(
                message,
                {"attempts": run.attempts},
                type=RUN_FAILED,
                non_retryable=True,
                category=ApplicationErrorCategory.BENIGN,
            )
        delay = retry_delay(self.settings, budget_attempt)
        telemetry.attempt_failed(run, run.attempts, message, retry_in_seconds=delay.total_seconds(), exc=bug)
        await self.perform.schedule_retry(run, message, delay)
        return ApplicationError(
            message, type=type(exc).__name__, next_retry_delay=delay, category=ApplicationErrorCategory.BENIGN
        )

    # -- the run kinds -----------------------------------------------------------------------------

    @activity.defn(name=PERFORM_EVENT_RUN)
    async def perform_event_run(self, inp: RunInput) -> EventRunOutcome:
        def route(run: Run, attempt: int) -> list[PlannedTaskRun] | None:
            # A shop/update event refreshes the shop (async: it may move schedules) before routing.
            return None if self.perform.refreshes_shop(run) else self.perform.route_event(run)

        async def outcome(run: Run, attempt: int, routed: list[PlannedTaskRun] | None) -> EventRunOutcome:
            task_runs = routed if routed is not None else await self.perform.event_run(run)
            return EventRunOutcome(task_runs=task_runs, attempts=attempt)

        return await self._attempt(inp, EventRunOutcome, route, outcome)

    @activity.defn(name=PERFORM_TASK_RUN)
    async def perform_task_run(self, inp: RunInput) -> TaskRunOutcome:
        progress = RenderProgress()

        def render(run: Run, attempt: int) -> TaskRunOutcome:
            plan = self.perform.task_run(run, progress)
            return TaskRunOutcome(
                action_runs=plan.action_runs,
                in_sequence=plan.in_sequence,
                halt_on_error=plan.halt_on_error,
                attempts=attempt,
            )

        return await self._attempt(inp, TaskRunOutcome, render, progress=progress)

    @activity.defn(name=PERFORM_ACTION_RUN)
    async def perform_action_run(self, inp: RunInput) -> ActionRunOutcome:
        async def perform(run: Run, attempt: int, action: PreparedAction) -> ActionRunOutcome:
            try:
                result = await action.handler.perform(action.options, action.context)
            except ActionError as exc:
                exc.result_meta = action.context.result_meta  # type: ignore[attr-defined]  # kept on failed runs too
                raise
            await self.perform.succeed_action(run, action, result)
            return ActionRunOutcome(attempts=attempt)

        return await self._attempt(inp, ActionRunOutcome, self.perform.prepare_action, perform)

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
