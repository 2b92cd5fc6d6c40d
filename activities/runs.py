"""Activities that perform event runs, task runs and action runs, and keep the ledger.

Each activity records its own attempt (Started → Succeeded | Scheduled-for-retry | Failed) so
the ledger needs no extra round trips from the workflow. Failures are classified here: a
transient error is re-raised with Mechanic's exact next delay (30/76/152/308 s, scaled); a
permanent one, or the fifth attempt, records Failed and stops Temporal's retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from sqlmodel import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from ratchet.actions.base import ActionContext, ActionError, get_handler
from ratchet.actions.shopify import GraphQLRequest
from ratchet.config import Settings
from ratchet.core.api_versions import effective_api_version
from ratchet.core.bulk_operations import BULK_OPERATION_TOPIC
from ratchet.core.clock import utcnow
from ratchet.core.routing import match_tasks
from ratchet.core.runs import MAX_ATTEMPTS, RETRY_DELAYS_SECONDS, RunKind, RunState
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
    PlannedActionRun,
    PlannedTaskRun,
    RunActivitiesInterface,
    RunInput,
    RunNoteInput,
    RunOutcome,
    TaskRunOutcome,
)
from ratchet.engine.schedules import sync_schedules
from ratchet.errors import RatchetError, Unavailable, is_retryable
from ratchet.liquid.errors import shopify_read_failure
from ratchet.services import followups
from ratchet.services.bulk_operations import render_objects
from ratchet.services.event_filters import FilterError, rejecting_filter
from ratchet.services.render_context import event_object, shop_object, task_object
from ratchet.services.shop_cache import CacheView
from ratchet.services.shop_connection import apply_shop_update
from ratchet.shopify.bulk_results import ResultsUnavailable
from ratchet.shopify.client import (
    ShopifyConfig,
    ShopifyThrottled,
    is_transient,
    make_liquid_shopify_callable,
)
from ratchet.shopify.throttle import seconds_until_available
from ratchet.store import ledger
from ratchet.store.database import Store
from ratchet.store.tables import Event, Run, Shop, Task

OutcomeT = TypeVar("OutcomeT", bound=RunOutcome)

HEARTBEAT_AFTER_SECONDS = 5.0
SHOP_UPDATE_TOPIC = "shopify/shop/update"


# A render is alive while its Shopify calls keep answering: one call (30 s HTTP timeout) plus an
# in-place throttle wait (at most 60 s) plus the render's own time limit (20 s) fit in this.
RENDER_STALL_SECONDS = 120.0


class RenderProgress:
    """When the render last showed progress; written from the render thread, read by the heartbeat."""

    def __init__(self) -> None:
        self.last = time.monotonic()

    def mark(self) -> None:
        self.last = time.monotonic()

    def stalled(self) -> bool:
        return time.monotonic() - self.last > RENDER_STALL_SECONDS


class TransientReadError(Unavailable):
    """A Shopify read during the render failed in a way another attempt may not (5xx, transport)."""


class PermanentRunError(RatchetError):
    """A failure that retrying cannot fix (disabled task, Liquid error, error object, …)."""


class TaskUnavailableError(PermanentRunError):
    """The run's task was disabled or deleted: the run fails instantly and raises no error event (spec 9)."""


def retry_delay(settings: Settings, budget_attempt: int) -> timedelta:
    """Delay after the `budget_attempt`-th failed attempt (1-based) of an automatic budget."""
    return settings.scaled(RETRY_DELAYS_SECONDS[budget_attempt - 1])


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__


class RunActivities(RunActivitiesInterface):
    def __init__(self, settings: Settings, store: Store, services: dict[str, Any] | None = None) -> None:
        self.settings = settings
        self.store = store
        self.services = services or {}

    # -- the attempt protocol shared by every run kind -------------------------------------------

    async def _attempt(
        self,
        inp: RunInput,
        outcome_type: type[OutcomeT],
        body: Callable[[Run, int], Awaitable[OutcomeT]],
        progress: RenderProgress | None = None,
    ) -> OutcomeT:
        info = activity.info()
        budget_attempt = inp.budget_used + info.attempt
        attempt = inp.attempt_base + info.attempt

        def throttled(seconds: float) -> OutcomeT:
            # Not an attempt: the run waits in Due and the workflow asks again after the wait.
            return outcome_type(
                attempts=attempt - 1,
                throttle_wait_seconds=self.settings.scaled(max(seconds, 1.0)).total_seconds(),
                budget_used=budget_attempt - 1,
            )

        if inp.shopify_gated:
            wait = await asyncio.to_thread(
                seconds_until_available, self.store, inp.shop_id, time_scale=self.settings.time_scale
            )
            if wait > 0:
                await asyncio.to_thread(ledger.mark_waiting, self.store, inp.run_id, RunState.due)
                return throttled(wait)
        retry_note = inp.manual_retry_note if info.attempt == 1 and inp.budget_used == 0 else None
        run = await asyncio.to_thread(
            ledger.begin_attempt, self.store, inp.run_id, attempt, info.current_attempt_scheduled_time, retry_note
        )
        heartbeat = asyncio.create_task(self._heartbeat(progress))
        try:
            return await body(run, attempt)
        except ApplicationError:
            raise
        except ShopifyThrottled as exc:
            wait = max(
                exc.retry_after_seconds,
                await asyncio.to_thread(
                    seconds_until_available, self.store, inp.shop_id, time_scale=self.settings.time_scale
                ),
            )
            note = f"Shopify rate limit reached; waiting {wait:.0f} s without spending an attempt"
            await asyncio.to_thread(ledger.withdraw_attempt, self.store, inp.run_id, attempt, note)
            return throttled(wait)
        except Exception as exc:
            raise await self._record_failure(inp.run_id, exc, attempt, budget_attempt) from exc
        finally:
            heartbeat.cancel()

    async def _record_failure(self, run_id: str, exc: Exception, attempt: int, budget_attempt: int) -> ApplicationError:
        """Record the failed attempt and return the error that tells Temporal what to do next."""
        message = _describe(exc)
        permanent = not is_retryable(exc)
        result = exc.result if isinstance(exc, ActionError) else None
        if permanent or budget_attempt >= MAX_ATTEMPTS:
            result_meta = getattr(exc, "result_meta", None)
            await asyncio.to_thread(ledger.fail, self.store, run_id, message, result, result_meta)
            # Follow-ups of a terminal failure: mechanic/actions/perform and mechanic/errors/*.
            await followups.emit_followups(
                self.store, self.services.get("events"), run_id, report_error=not isinstance(exc, TaskUnavailableError)
            )
            return ApplicationError(message, {"attempts": attempt}, type=RUN_FAILED, non_retryable=True)
        delay = retry_delay(self.settings, budget_attempt)
        await asyncio.to_thread(ledger.schedule_retry, self.store, run_id, message, delay)
        return ApplicationError(message, type=type(exc).__name__, next_retry_delay=delay)

    @staticmethod
    async def _heartbeat(progress: RenderProgress | None) -> None:
        # Long runs heartbeat so a killed worker's attempt is retried within the heartbeat
        # timeout; short runs (the common case) never pay for a heartbeat call. A render stops
        # heartbeating once its Shopify calls stop making progress, so Temporal times out a stuck
        # render while one paging through a big catalogue runs as long as it needs.
        await asyncio.sleep(HEARTBEAT_AFTER_SECONDS)
        while progress is None or not progress.stalled():
            activity.heartbeat()
            await asyncio.sleep(HEARTBEAT_AFTER_SECONDS)

    # -- event runs --------------------------------------------------------------------------------

    @activity.defn(name=PERFORM_EVENT_RUN)
    async def perform_event_run(self, inp: RunInput) -> EventRunOutcome:
        async def body(run: Run, attempt: int) -> EventRunOutcome:
            if run.topic == SHOP_UPDATE_TOPIC:
                await self._refresh_shop(run)
            planned = await asyncio.to_thread(self._event_run, run)
            return EventRunOutcome(task_runs=planned, attempts=attempt)

        return await self._attempt(inp, EventRunOutcome, body)

    async def _refresh_shop(self, run: Run) -> None:
        """`shopify/shop/update` carries the shop itself: refresh the snapshot, move schedules with the zone."""

        def apply() -> bool:
            with self.store.session() as session:
                event = session.get(Event, run.event_id)
            return event is not None and apply_shop_update(self.store, run.shop_id, event.data)

        events = self.services.get("events")
        if await asyncio.to_thread(apply) and events is not None:
            await sync_schedules(events.client, self.store, run.shop_id, task_queue=self.settings.temporal.task_queue)

    def _event_run(self, run: Run) -> list[PlannedTaskRun]:
        now = utcnow()
        with self.store.session() as session:
            event = session.get(Event, run.event_id)
            shop = session.get(Shop, run.shop_id)
            if event is None or shop is None:
                raise PermanentRunError(f"event {run.event_id} or shop {run.shop_id} no longer exists")
            # Store event filters first (spec 4.6): a dropped event makes no task runs.
            try:
                dropped_by = rejecting_filter(session, self.store, event, shop)
            except FilterError as exc:
                raise PermanentRunError(str(exc)) from exc
            if dropped_by is not None:
                ledger.succeed(session, run, {"task_run_ids": [], "filtered_by": dropped_by})
                return []
            # Retry context: a retried event run sees the current task set and subscriptions.
            tasks = list(session.exec(select(Task).where(Task.shop_id == shop.id)).all())
            matches = match_tasks(event, tasks)
            planned: list[PlannedTaskRun] = []
            rows = []
            for match in matches:
                run_at = match.subscription.run_at(now, shop.timezone, self.settings.time_scale)
                delay = max(0.0, (run_at - now).total_seconds())
                task_run_id = ledger.derived_id(run.id, run.manual_retries, match.task.id, match.subscription.line)
                rows.append(
                    ledger.new_run_row(
                        run_id=task_run_id,
                        kind=RunKind.task,
                        event=event,
                        parent_id=run.id,
                        state=RunState.scheduled if delay > 0 else RunState.due,
                        run_at=run_at,
                        task=match.task,
                        subscription=match.subscription.line,
                    )
                )
                planned.append(
                    PlannedTaskRun(
                        run_id=task_run_id,
                        task_id=match.task.id,
                        task_name=match.task.name,
                        subscription=match.subscription.line,
                        delay_seconds=delay,
                    )
                )
            self.store.insert_ignore(session, Run, rows)
            ledger.succeed(session, run, {"task_run_ids": [p.run_id for p in planned]})
        return planned

    # -- task runs ---------------------------------------------------------------------------------

    @activity.defn(name=PERFORM_TASK_RUN)
    async def perform_task_run(self, inp: RunInput) -> TaskRunOutcome:
        progress = RenderProgress()

        async def body(run: Run, attempt: int) -> TaskRunOutcome:
            return await asyncio.to_thread(self._task_run, run, attempt, progress)

        return await self._attempt(inp, TaskRunOutcome, body, progress)

    def _load_task(self, session: Any, run: Run) -> Task:
        task = session.get(Task, run.task_id) if run.task_id else None
        if task is None:
            raise TaskUnavailableError(f"task {run.task_name or run.task_id} was deleted")
        if not task.enabled:
            raise TaskUnavailableError(f"task {task.name!r} is disabled")
        return task

    def _task_run(self, run: Run, attempt: int, progress: RenderProgress) -> TaskRunOutcome:
        from ratchet.liquid import RenderRequest, TaskRenderError, render_task

        pools = self.services.get("shopify_pools")
        with self.store.session() as session:
            # Retry context: always the task's latest script and options.
            task = self._load_task(session, run)
            event = session.get(Event, run.event_id)
            shop = session.get(Shop, run.shop_id)
            assert event is not None and shop is not None
            # Read once, at the start: every read of this render and every action it renders uses it.
            api_version = effective_api_version(task.shopify_api_version, shop.shopify_api_version)
            request = RenderRequest(
                script=task.script,
                options=task.options or {},
                event=event_object(session, event),
                task={**task_object(task), "shopify_api_version": api_version},
                shop=shop_object(session, shop),
                cache=CacheView(self.store, shop.id),
                shopify=make_liquid_shopify_callable(
                    self.store,
                    shop,
                    api_version,
                    config=ShopifyConfig.from_settings(self.settings),
                    http=pools.sync_client(shop.id) if pools is not None else None,
                    on_progress=progress.mark,
                ),
                timezone=shop.timezone,
            )
        with contextlib.ExitStack() as open_results:
            if event.topic == BULK_OPERATION_TOPIC:
                # `bulkOperation.objects` reads the result file lazily; it stays open for the render.
                try:
                    bulk_objects = open_results.enter_context(render_objects(self.settings, self.store, event))
                except ResultsUnavailable as exc:
                    raise PermanentRunError(str(exc)) from exc
                request.event["data"] = {**(event.data or {}), "objects": bulk_objects}
            try:
                rendered = render_task(request)
            except TaskRenderError as exc:
                # Shopify reads fail like Mechanic's: outages get the usual retries, everything
                # else (401/403/404, no token, GraphQL errors, limits that never recovered) fails
                # the run at once, naming the query's line.
                read = shopify_read_failure(exc)
                if read is not None and is_transient(read.cause):
                    raise TransientReadError(str(exc)) from exc
                raise PermanentRunError(str(exc)) from exc
        objects = rendered.objects
        if rendered.errors:
            # An error object fails the run and discards every action it rendered.
            raise PermanentRunError("; ".join(_error_text(e) for e in rendered.errors))
        now_rows = []
        planned = []
        with self.store.session() as session:
            event = session.get(Event, run.event_id)
            assert event is not None
            # Loop prevention (spec 4.8): a perform-chain run repeating its predecessor fails.
            loop = followups.perform_loop_error(session, event, objects)
            if loop is not None:
                raise PermanentRunError(loop)
            for position, action in enumerate(rendered.actions):
                action_run_id = ledger.derived_id(run.id, run.manual_retries, position)
                follower = task.perform_action_runs_in_sequence and position > 0
                now_rows.append(
                    ledger.new_run_row(
                        run_id=action_run_id,
                        kind=RunKind.action,
                        event=event,
                        parent_id=run.id,
                        # Sequenced followers have no perform time until their predecessor ends.
                        state=RunState.unscheduled if follower else RunState.due,
                        run_at=None if follower else utcnow(),
                        task=task,
                        action_type=action.type,
                        action_options=action.options,
                        action_meta=action.meta,
                        perform_event=action.perform_event,
                        position=position,
                        shopify_api_version=api_version,
                    )
                )
                planned.append(PlannedActionRun(run_id=action_run_id, action_type=action.type, position=position))
            self.store.insert_ignore(session, Run, now_rows)
            ledger.succeed(session, run, objects)
        return TaskRunOutcome(
            action_runs=planned,
            in_sequence=task.perform_action_runs_in_sequence,
            halt_on_error=task.halt_action_run_sequence_on_error,
            attempts=attempt,
        )

    # -- action runs -------------------------------------------------------------------------------

    @activity.defn(name=PERFORM_ACTION_RUN)
    async def perform_action_run(self, inp: RunInput) -> ActionRunOutcome:
        async def body(run: Run, attempt: int) -> ActionRunOutcome:
            with self.store.session() as session:
                self._load_task(session, run)
                task = session.get(Task, run.task_id)
                shop = session.get(Shop, run.shop_id)
            assert task is not None and shop is not None
            # Retry context: the options captured when the task rendered, never the task's current ones.
            handler = get_handler(run.action_type or "")
            options = handler.validate(run.action_options)
            ctx = ActionContext(
                settings=self.settings,
                store=self.store,
                shop=shop,
                run_id=run.id,
                event_id=run.event_id,
                task_id=run.task_id,
                task_name=run.task_name,
                # Inherited from its task run, not re-read: a version change affects queued task
                # runs only (rows from before this column existed fall back to the current one).
                shopify_api_version=run.shopify_api_version
                or effective_api_version(task.shopify_api_version, shop.shopify_api_version),
                attempt=attempt,
                services=self.services,
            )
            try:
                result = await handler.perform(options, ctx)
            except ActionError as exc:
                exc.result_meta = ctx.result_meta  # type: ignore[attr-defined]  # kept on failed runs too
                raise
            await asyncio.to_thread(self._finish_action, run, result, ctx.result_meta)
            bulk_operations = self.services.get("bulk_operations")
            if bulk_operations is not None and isinstance(options, GraphQLRequest):
                # A started bulk operation is followed until it reports back to this task (never raises).
                await bulk_operations.track_from_action(run, options.query, result, ctx.shopify_api_version)
            # Follow-up of a succeeded action run: mechanic/actions/perform (never raises).
            await followups.emit_followups(self.store, self.services.get("events"), run.id)
            return ActionRunOutcome(attempts=attempt)

        return await self._attempt(inp, ActionRunOutcome, body)

    def _finish_action(self, run: Run, result: Any, result_meta: dict[str, Any]) -> None:
        with self.store.session() as session:
            ledger.succeed(session, run, result, result_meta)

    # -- bookkeeping the workflow asks for ---------------------------------------------------------

    @activity.defn(name=FAIL_RUNS)
    async def fail_runs(self, inp: FailRunsInput) -> None:
        report = await asyncio.to_thread(followups.runs_to_report, self.store, inp.run_ids)
        await asyncio.to_thread(ledger.fail_many, self.store, inp.run_ids, inp.reason)
        # Runs the workflow fails itself (crashed last attempt, Shopify limit never recovered)
        # get the same follow-ups as runs that failed in their activity.
        for run_id in report:
            await followups.emit_followups(self.store, self.services.get("events"), run_id)

    @activity.defn(name=NOTE_RUN)
    async def note_run(self, inp: RunNoteInput) -> None:
        with contextlib.suppress(ledger.RunNotFound):
            await asyncio.to_thread(ledger.add_note, self.store, inp.run_id, inp.note)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.perform_event_run,
            self.perform_task_run,
            self.perform_action_run,
            self.fail_runs,
            self.note_run,
        ]


def _error_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
