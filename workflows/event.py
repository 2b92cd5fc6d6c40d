"""The event workflow: one per event, running its event run, task runs and action runs.

Deterministic and small: every read and write happens in activities (activities/runs.py). The
workflow orders the runs (task runs after the event run and their offsets, action runs after
their task run, sequenced or not), gives each activity its priority (actions > tasks > events)
and the shop as fairness key, mirrors the runs' states to search attributes, and closes once
every run has settled. The ledger keeps the runs; a manual retry of a closed event starts the
workflow again under the same id with the ledger's runs (update-with-start, in
ratchet/services/retries.py), so an idle event costs Temporal nothing while its runs stay
retryable for the retention window.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import Priority, RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from ratchet.core.runs import (
        MAX_ATTEMPTS,
        PRIORITY_ACTION,
        PRIORITY_EVENT,
        PRIORITY_TASK,
        RETRY_DELAYS_SECONDS,
        RUN_HEARTBEAT_TIMEOUT_SECONDS,
        SHOPIFY_GATED_ACTION_TYPES,
        THROTTLE_GIVE_UP_SECONDS,
        RunKind,
        RunState,
        summary_state,
    )
    from ratchet.engine.contract import (
        CLOSE_WHEN_SETTLED,
        EVENT_WORKFLOW,
        RETRY_INELIGIBLE,
        RETRY_RUN_IN_FLIGHT,
        RETRY_SIGNAL,
        RETRY_UPDATE,
        RUN_FAILED,
        RUN_STATE,
        RUNS_QUERY,
        TASK_NAMES,
        EventRunOutcome,
        EventWorkflowInput,
        FailRunsInput,
        PlannedActionRun,
        PlannedTaskRun,
        RetryAccepted,
        RetryRequest,
        RunActivitiesInterface,
        RunInput,
        RunNoteInput,
        RunOutcome,
        TaskRunOutcome,
        TrackedRun,
        retry_refusal,
    )


Bookkeeping = FailRunsInput | RunNoteInput

# How long a retry signal for a run still in flight waits for that run's outcome.
SIGNAL_SETTLE_WAIT = timedelta(seconds=5)

_TIMEOUTS = {
    RunKind.event: timedelta(minutes=2),
    # A render lives as long as its Shopify calls make progress (the activity stops heartbeating
    # when they stall); this only bounds a render that pages forever.
    RunKind.task: timedelta(hours=6),
    RunKind.action: timedelta(minutes=10),
}
_PRIORITIES = {RunKind.event: PRIORITY_EVENT, RunKind.task: PRIORITY_TASK, RunKind.action: PRIORITY_ACTION}
_ACTIVITIES = {
    RunKind.event: RunActivitiesInterface.perform_event_run,
    RunKind.task: RunActivitiesInterface.perform_task_run,
    RunKind.action: RunActivitiesInterface.perform_action_run,
}


@workflow.defn(name=EVENT_WORKFLOW)
class EventWorkflow:
    @workflow.init
    def __init__(self, inp: EventWorkflowInput) -> None:
        # Runs given in the input (a reopened or continued workflow) are known before any
        # handler runs: update-with-start delivers the retry in the workflow's first task.
        self._runs: dict[str, TrackedRun] = {r.id: r for r in inp.runs or ()}
        self._in_flight = 0
        self._published: tuple[str, tuple[str, ...]] | None = None
        self._input = inp

    # -- main ------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: EventWorkflowInput) -> None:
        attrs = workflow.info().typed_search_attributes
        self._published = (attrs.get(RUN_STATE) or "", tuple(attrs.get(TASK_NAMES) or ()))
        if inp.runs is None:
            delayed = inp.run_at is not None and inp.run_at > workflow.now()
            self._add(
                TrackedRun(
                    id=inp.event_run_id, kind=RunKind.event, state=RunState.scheduled if delayed else RunState.due
                )
            )
            self._spawn(self._event_run(delayed))
        while True:
            await workflow.wait_condition(lambda: self._in_flight == 0)
            await workflow.wait_condition(workflow.all_handlers_finished)
            if self._in_flight:
                continue
            self._publish()
            if inp.closes_when_settled or workflow.patched(CLOSE_WHEN_SETTLED) or not await self._legacy_idle_wait(inp):
                return

    async def _legacy_idle_wait(self, inp: EventWorkflowInput) -> bool:
        """How workflows started before CLOSE_WHEN_SETTLED wait: open and idle, serving retries.

        False once the retention window passes; continues as new past the history limit.
        """
        info = workflow.info()
        if info.is_continue_as_new_suggested() or info.get_current_history_length() > inp.history_limit:
            workflow.continue_as_new(inp.model_copy(update={"runs": list(self._runs.values())}))
        try:
            await workflow.wait_condition(
                lambda: self._in_flight > 0, timeout=timedelta(days=inp.retention_days * inp.time_scale)
            )
        except TimeoutError:
            return False
        return True

    # -- run chains ------------------------------------------------------------------------------

    async def _event_run(self, delayed: bool, retry_note: str | None = None) -> None:
        if delayed and self._input.run_at is not None:
            await self._sleep(self._input.run_at - workflow.now(), summary="event run_at")
        outcome = await self._perform(self._input.event_run_id, retry_note)
        if not isinstance(outcome, EventRunOutcome):
            return
        self._runs[self._input.event_run_id].produced = len(outcome.task_runs)
        for planned in outcome.task_runs:
            self._add(
                TrackedRun(
                    id=planned.run_id,
                    kind=RunKind.task,
                    state=RunState.scheduled if planned.delay_seconds > 0 else RunState.due,
                    parent_id=self._input.event_run_id,
                    task_id=planned.task_id,
                    task_name=planned.task_name,
                )
            )
            self._spawn(self._task_run(planned))

    async def _task_run(
        self, planned: PlannedTaskRun | None, run_id: str | None = None, retry_note: str | None = None
    ) -> None:
        if planned is not None:
            run_id = planned.run_id
            if planned.delay_seconds > 0:
                # The subscription offset: a durable timer, visible in the UI with its line.
                await self._sleep(timedelta(seconds=planned.delay_seconds), summary=f"offset {planned.subscription}")
                self._set_state(run_id, RunState.due)
        assert run_id is not None
        outcome = await self._perform(run_id, retry_note)
        if not isinstance(outcome, TaskRunOutcome):
            return
        view = self._runs[run_id]
        view.produced = len(outcome.action_runs)
        for planned_action in outcome.action_runs:
            follower = outcome.in_sequence and planned_action.position > 0
            self._add(
                TrackedRun(
                    id=planned_action.run_id,
                    kind=RunKind.action,
                    state=RunState.unscheduled if follower else RunState.due,
                    parent_id=run_id,
                    task_id=view.task_id,
                    task_name=view.task_name,
                    action_type=planned_action.action_type,
                )
            )
        if outcome.in_sequence:
            await self._action_sequence(outcome.action_runs, outcome.halt_on_error)
        else:
            await asyncio.gather(*(self._perform(a.run_id) for a in outcome.action_runs))

    async def _action_sequence(self, actions: list[PlannedActionRun], halt_on_error: bool) -> None:
        for index, action in enumerate(actions):
            self._set_state(action.run_id, RunState.due)
            await self._perform(action.run_id)
            if halt_on_error and self._runs[action.run_id].state == RunState.failed:
                rest = [a.run_id for a in actions[index + 1 :]]
                if rest:
                    reason = f"halted: action run {action.run_id} ({action.action_type}) failed earlier in the sequence"
                    await self._bookkeep(RunActivitiesInterface.fail_runs, FailRunsInput(run_ids=rest, reason=reason))
                    for run_id in rest:
                        self._set_state(run_id, RunState.failed)
                return

    async def _perform(self, run_id: str, retry_note: str | None = None) -> RunOutcome | None:
        """Run one run's activity with Mechanic's retry budget; its outcome, or None when it ended Failed.

        The activity retries within the budget itself (Temporal's retries, with Mechanic's
        delays); a Shopify rate limit sends the run back to Due here, without spending an attempt.
        """
        view = self._runs[run_id]
        inp = RunInput(
            run_id=run_id,
            shop_id=self._input.shop_id,
            shopify_gated=view.kind == RunKind.task
            or (view.kind == RunKind.action and view.action_type in SHOPIFY_GATED_ACTION_TYPES),
            attempt_base=view.attempts,
            manual_retry_note=retry_note,
        )
        throttled_for = 0.0
        while True:
            self._set_state(run_id, RunState.started)
            try:
                outcome = await self._execute(view, inp)
            except ActivityError as err:
                await self._ended_failed(view, inp, err)
                return None
            view.attempts = outcome.attempts
            if outcome.throttle_wait_seconds <= 0:
                self._set_state(run_id, RunState.succeeded)
                return outcome
            # The shop's Shopify limits are exhausted: wait in Due without spending an attempt.
            throttled_for += outcome.throttle_wait_seconds
            if throttled_for > THROTTLE_GIVE_UP_SECONDS * self._input.time_scale:
                await self._record_failed(
                    run_id, f"Shopify API rate limit did not recover within {THROTTLE_GIVE_UP_SECONDS // 60} minutes"
                )
                self._set_state(run_id, RunState.failed)
                return None
            self._set_state(run_id, RunState.due)
            await self._sleep(timedelta(seconds=outcome.throttle_wait_seconds), summary="Shopify rate limit")
            started_an_attempt = outcome.budget_used > inp.budget_used or outcome.attempts > inp.attempt_base
            inp = inp.model_copy(
                update={
                    "attempt_base": outcome.attempts,
                    "budget_used": outcome.budget_used,
                    "manual_retry_note": None if started_an_attempt else inp.manual_retry_note,
                }
            )

    async def _execute(self, view: TrackedRun, inp: RunInput) -> RunOutcome:
        """The run's activity, with what is left of its automatic budget, its priority and fairness key."""
        scale = self._input.time_scale
        outcome: RunOutcome = await workflow.execute_activity_method(
            _ACTIVITIES[view.kind],
            inp,
            start_to_close_timeout=_TIMEOUTS[view.kind],
            heartbeat_timeout=timedelta(seconds=RUN_HEARTBEAT_TIMEOUT_SECONDS),
            retry_policy=RetryPolicy(
                # Exact delays come from the activity's next_retry_delay; these only shape
                # retries after crashes or timeouts, kept close to Mechanic's schedule.
                initial_interval=timedelta(seconds=RETRY_DELAYS_SECONDS[0] * scale),
                backoff_coefficient=2.0,
                maximum_interval=timedelta(seconds=RETRY_DELAYS_SECONDS[-1] * scale),
                maximum_attempts=MAX_ATTEMPTS - inp.budget_used,
                non_retryable_error_types=[RUN_FAILED],
            ),
            priority=Priority(priority_key=_PRIORITIES[view.kind], fairness_key=self._input.shop_id),
            summary=self._summary(view),
        )
        return outcome

    async def _ended_failed(self, view: TrackedRun, inp: RunInput, err: ActivityError) -> None:
        """The run's last attempt failed: the activity recorded it, unless it crashed or timed out."""
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type == RUN_FAILED:
            view.attempts = int(cause.details[0]["attempts"]) if cause.details else view.attempts + 1
        else:
            # Timed out or crashed on its last attempt: the activity could not record it.
            view.attempts = inp.attempt_base + MAX_ATTEMPTS - inp.budget_used
            await self._record_failed(view.id, str(cause) if cause else str(err))
        self._set_state(view.id, RunState.failed)

    async def _record_failed(self, run_id: str, reason: str) -> None:
        await self._bookkeep(RunActivitiesInterface.fail_runs, FailRunsInput(run_ids=[run_id], reason=reason))

    def _summary(self, view: TrackedRun) -> str:
        if view.kind == RunKind.event:
            return f"event run {self._input.topic}"
        if view.kind == RunKind.task:
            return f"task run {view.task_name}"
        return f"action {view.action_type} ({view.task_name})"

    async def _bookkeep(
        self, activity: Callable[[RunActivitiesInterface, Any], Awaitable[None]], arg: Bookkeeping
    ) -> None:
        await workflow.execute_activity_method(
            activity,
            arg,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)),
            priority=Priority(priority_key=PRIORITY_ACTION),
        )

    # -- manual retries --------------------------------------------------------------------------

    def _start_retry(self, req: RetryRequest) -> RetryAccepted:
        view = self._runs[req.run_id]
        view.produced = 0
        self._set_state(req.run_id, RunState.due)
        self._spawn(self._retry(view, req))
        return RetryAccepted(run_id=req.run_id, kind=view.kind)

    async def _retry(self, view: TrackedRun, req: RetryRequest) -> None:
        note = f"manual retry{': ' + req.reason if req.reason else ''}"
        if view.kind == RunKind.event:
            await self._event_run(delayed=False, retry_note=note)
        elif view.kind == RunKind.task:
            await self._task_run(None, run_id=view.id, retry_note=note)
        else:
            await self._perform(view.id, retry_note=note)

    @workflow.signal(name=RETRY_SIGNAL)
    async def retry_signal(self, req: RetryRequest) -> None:
        """Retry from the Web UI or `temporal workflow signal`; ineligible requests are noted, not run."""
        view = self._runs.get(req.run_id)
        if view is not None and not view.state.terminal:
            # The ledger shows a run finished a moment before this workflow hears of it; a
            # signal sent in that moment is judged once the run's outcome has arrived.
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: view.state.terminal, timeout=SIGNAL_SETTLE_WAIT)
        reason = retry_refusal(self._runs, req.run_id)
        if reason is None:
            self._start_retry(req)
            return
        if req.run_id in self._runs:
            self._spawn(
                self._bookkeep(
                    RunActivitiesInterface.note_run,
                    RunNoteInput(run_id=req.run_id, note=f"ignored retry signal: {reason}"),
                )
            )

    @workflow.update(name=RETRY_UPDATE)
    async def retry_update(self, req: RetryRequest) -> RetryAccepted:
        return self._start_retry(req)

    @retry_update.validator
    def validate_retry(self, req: RetryRequest) -> None:
        reason = retry_refusal(self._runs, req.run_id)
        if reason is not None:
            view = self._runs.get(req.run_id)
            in_flight = view is not None and not view.state.terminal
            raise ApplicationError(reason, type=RETRY_RUN_IN_FLIGHT if in_flight else RETRY_INELIGIBLE)

    @workflow.query(name=RUNS_QUERY)
    def runs_query(self) -> list[TrackedRun]:
        return list(self._runs.values())

    # -- bookkeeping -----------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._in_flight += 1

        async def tracked() -> None:
            try:
                await coro
            finally:
                self._in_flight -= 1

        asyncio.create_task(tracked())  # noqa: RUF006  (the workflow event loop keeps every task alive until the run completes; _in_flight counts them)

    def _add(self, view: TrackedRun) -> None:
        self._runs[view.id] = view

    def _set_state(self, run_id: str, state: RunState) -> None:
        self._runs[run_id].state = state

    async def _sleep(self, duration: timedelta, summary: str) -> None:
        """A durable wait; the search attributes show what the event waits on first."""
        self._publish()
        await workflow.sleep(duration, summary=summary)

    def _publish(self) -> None:
        """Mirror the summary state to search attributes.

        Called when the workflow starts waiting (timers, rate limits) and when its work settles,
        not on every transition: each upsert is a history event and a visibility write, and
        Started/Due flickers of a few milliseconds are not worth either. The ledger and the
        `runs` query have the live state of every run.
        """
        state = summary_state(r.state for r in self._runs.values()).value
        names = tuple(sorted({r.task_name for r in self._runs.values() if r.task_name}))
        if self._published == (state, names):
            return
        updates: list[SearchAttributeUpdate[Any]] = [RUN_STATE.value_set(state)]
        if names and (self._published is None or self._published[1] != names):
            updates.append(TASK_NAMES.value_set(list(names)))
        self._published = (state, names)
        workflow.upsert_search_attributes(updates)
