"""Performing runs: each whole attempt of an event run, a task run or an action run, and its ledger record.

The run activities (activities/runs.py) number the attempts, heartbeat and turn failures into
Mechanic's retry schedule; everything an attempt *does* happens here, in one direction:

1. begin, in a worker thread: the run shows Started with its attempt row, or, when the shop's
   Shopify limits are exhausted, it waits in Due without spending an attempt (`Throttled`);
2. the step's blocking part, in that same thread (one thread hop per attempt: the hop is a
   measured share of a short run's CPU):
   * event run: store event filters, then routing (`ratchet.core.routing`) to the enabled tasks'
     subscriptions, recording one task run per match (Scheduled when its offset is still ahead);
     a `shopify/shop/update` event first refreshes the shop's snapshot;
   * task run: the task's latest script and options rendered against the event, shop and cache,
     recording one action run per action object (sequenced followers stay Unscheduled);
   * action run: the handler of its type, its options as captured when the task rendered, and
     its context;
3. back on the event loop: the action handler performs, and its result is recorded; then what
   the step started is followed (moved schedules, a started bulk operation, follow-up events). A
   local action (`ratchet.actions.base.LocalAction`: echo, cache) performs and is recorded in
   step 2's thread instead.

A step answers the contract's outcome for the workflow, `Throttled` (also when Shopify answers
THROTTLED mid-attempt: the attempt is withdrawn), or `FailedAttempt`, which the activity
classifies and hands back to `fail` or `schedule_retry`. Each commit is what the ledger must show
on its own: Started before any work, then the outcome together with the child runs it planned. A
step that touches nothing but the store (an event run; an action run up to its remote call, all of
a local one) first runs with its begin as one transaction on SQLite, Started and outcome together
(`Store.one_transaction`: a commit is most of a short step's cost); should it fail, it is rolled
back whole and run again as above.
Reads and writes are SQLAlchemy Core statements keyed by deterministic ids, so a replayed attempt
rewrites the same rows and never duplicates one.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Select, bindparam, select

from ratchet.actions.base import SECRET_FIELDS, ActionContext, ActionError, ActionHandler, LocalAction, get_handler
from ratchet.actions.shopify import GraphQLRequest
from ratchet.config import Settings
from ratchet.core.api_versions import effective_api_version
from ratchet.core.bulk_operations import BULK_OPERATION_TOPIC
from ratchet.core.clock import utcnow
from ratchet.core.routing import match_tasks
from ratchet.core.runs import RunKind, RunState
from ratchet.engine import telemetry
from ratchet.engine.contract import (
    ActionRunOutcome,
    EventRunOutcome,
    PlannedActionRun,
    PlannedTaskRun,
    TaskRunOutcome,
)
from ratchet.engine.schedules import sync_schedules
from ratchet.errors import PermanentRunError, TaskUnavailableError, TransientReadError
from ratchet.liquid import RenderRequest, RenderResult, TaskRenderError, render_task
from ratchet.liquid.errors import shopify_read_failure
from ratchet.services import followups
from ratchet.services.bulk_operations import BulkOperationService, render_objects
from ratchet.services.event_filters import FilterError, rejecting_filter, shop_filters_read
from ratchet.services.events import EventService
from ratchet.services.globals import shop_globals, shop_globals_read
from ratchet.services.render_context import event_object, shop_object, task_object
from ratchet.services.runs import add_run_note
from ratchet.services.secrets import Resolved, secret_references, secret_references_read
from ratchet.services.secrets import resolve as resolve_secrets
from ratchet.services.shop_cache import CacheView
from ratchet.services.shop_connection import apply_shop_update
from ratchet.shopify.bulk_results import ResultsUnavailable
from ratchet.shopify.client import (
    ShopifyConfig,
    ShopifyThrottled,
    is_transient,
    make_liquid_shopify_callable,
)
from ratchet.shopify.pools import ShopifyPools
from ratchet.shopify.throttle import wait_seconds
from ratchet.store import ledger
from ratchet.store.database import Read, Store, detached, read_row, reads_ahead, row_read, table_of
from ratchet.store.tables import Event, Run, Shop, ShopifyConnection, ShopifyThrottleState, Task

log = logging.getLogger("ratchet.runs")

StepT = TypeVar("StepT")
OutcomeT = TypeVar("OutcomeT", EventRunOutcome, TaskRunOutcome, ActionRunOutcome)

SHOP_UPDATE_TOPIC = "shopify/shop/update"

# A render is alive while its Shopify calls keep answering: one call (30 s HTTP timeout) plus an
# in-place throttle wait (at most 60 s) plus the render's own time limit (20 s) fit in this.
RENDER_STALL_SECONDS = 120.0


class RenderProgress:
    """When the render last showed progress; written from the render thread, read by the heartbeat."""

    def __init__(self) -> None:
        self.last = time.monotonic()

    def mark(self) -> None:
        """A Shopify call of the render answered."""
        self.last = time.monotonic()

    def stalled(self) -> bool:
        """Whether the render's Shopify calls stopped answering (RENDER_STALL_SECONDS without progress)."""
        return time.monotonic() - self.last > RENDER_STALL_SECONDS


@dataclass(frozen=True)
class Attempt:
    """One attempt of a run, as the activity numbered it."""

    run_id: str
    shop_id: str
    number: int
    """Cumulative across manual retries and throttle waits: the run's `attempts` once it begins."""
    enqueued_at: datetime | None
    """When Temporal scheduled the attempt: where its queue lag starts."""
    manual_retry_note: str | None
    """Given on the first attempt of a manual retry, which it counts and notes on the run."""
    shopify_gated: bool
    """Whether the attempt waits out the shop's exhausted Shopify limits before it begins."""


@dataclass(frozen=True)
class Throttled:
    """The shop's Shopify limits are exhausted: no attempt was spent; ask again after `seconds` (Shopify time)."""

    seconds: float


@dataclass(frozen=True)
class FailedAttempt:
    """An attempt that failed after it began: the run as begun and what the step raised."""

    run: Run
    error: Exception

    @property
    def message(self) -> str:
        """The run's error: the exception's text, or its class name when it has none."""
        return str(self.error).strip() or type(self.error).__name__


@dataclass(frozen=True)
class _Begun(Generic[StepT]):
    """A begun attempt and what the blocking part of its step made."""

    run: Run
    made: StepT


@dataclass(frozen=True)
class _Routed:
    """What an event run's blocking part made."""

    task_runs: list[PlannedTaskRun]
    shop_zone_moved: bool
    """A `shopify/shop/update` moved the shop's time zone: its schedules must follow."""


@dataclass(frozen=True)
class _PreparedAction:
    """An action run ready to perform: its handler, validated options and context.

    `secrets` holds the secret values its options resolved, which nothing recorded may show.
    """

    handler: ActionHandler
    options: Any
    context: ActionContext
    secrets: Resolved


@dataclass(frozen=True)
class _Performed:
    """An action run's action was performed and its result recorded."""


@dataclass(frozen=True)
class _TaskRender:
    """A task run's render, read in one unit: the task, its event, the request and the API version."""

    task: Task
    event: Event
    request: RenderRequest
    api_version: str | None


class PerformService:
    """Performs each attempt of a run, including its one thread hop and the action handler call.

    Args:
        events: creates follow-up events and reaches Temporal (schedules of a moved shop).
        shopify_pools: the worker's Shopify connections, for renders and actions.
        bulk_operations: follows the bulk operations `shopify` actions start.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        events: EventService,
        shopify_pools: ShopifyPools,
        bulk_operations: BulkOperationService,
    ) -> None:
        self.settings = settings
        self.store = store
        self.events = events
        self.shopify_pools = shopify_pools
        self.bulk_operations = bulk_operations

    # -- the three steps ----------------------------------------------------------------------------

    async def event_run(self, attempt: Attempt) -> EventRunOutcome | FailedAttempt | Throttled:
        """Filter and route the event; record and return the task runs it makes."""
        begun = await asyncio.to_thread(self._begin_then, attempt, self._route_event, store_only=True)
        if not isinstance(begun, _Begun):
            return begun
        if begun.made.shop_zone_moved:
            await self._move_schedules(begun.run)
        return self._succeeded(begun.run, EventRunOutcome(task_runs=begun.made.task_runs, attempts=attempt.number))

    async def task_run(self, attempt: Attempt, progress: RenderProgress) -> TaskRunOutcome | FailedAttempt | Throttled:
        """Render the task's latest script against the event; record and return the action runs it makes.

        Args:
            attempt: the attempt, as the activity numbered it.
            progress: marked by each answer of the render's Shopify calls (read by the heartbeat).
        """
        begun = await asyncio.to_thread(self._begin_then, attempt, functools.partial(self._render_task, progress))
        if not isinstance(begun, _Begun):
            return begun
        return self._succeeded(begun.run, begun.made)

    async def action_run(self, attempt: Attempt) -> ActionRunOutcome | FailedAttempt | Throttled:
        """Perform the action with the options its task rendered, record the result, follow what it started.

        A local action (`LocalAction`: echo, cache) is performed and recorded in the thread hop
        that began the attempt; any other on the event loop, then recorded in a second hop.
        """
        begun = await asyncio.to_thread(self._begin_then, attempt, self._prepare_or_perform_local, store_only=True)
        if not isinstance(begun, _Begun):
            return begun
        run = begun.run
        if isinstance(begun.made, _PreparedAction):
            performed = await self._perform_on_loop(run, attempt, begun.made)
            if not isinstance(performed, _Performed):
                return performed
        # mechanic/actions/perform, when the run's task subscribes to it.
        if followups.may_report_success(run):
            await followups.emit_followups(self.store, self.events, run.id)
        return self._succeeded(run, ActionRunOutcome(attempts=attempt.number))

    async def _perform_on_loop(
        self, run: Run, attempt: Attempt, action: _PreparedAction
    ) -> _Performed | FailedAttempt | Throttled:
        """Perform an action on the event loop and record its result; follow a bulk operation it started."""
        try:
            # Stored results keep no resolved secret value (spec 7.2); nor do errors, below.
            result = action.secrets.redact(await action.handler.perform(action.options, action.context))
            await asyncio.to_thread(self._record_success, run, result, action.context.result_meta)
        except ShopifyThrottled as exc:
            return await asyncio.to_thread(self._withdraw, run, attempt, exc.retry_after_seconds)
        except Exception as exc:
            return FailedAttempt(run, action.secrets.scrub(exc))
        if isinstance(action.options, GraphQLRequest):
            # A started bulk operation is followed until it reports back to this task (never raises).
            await self.bulk_operations.track_from_action(
                run, action.options.query, result, action.context.shopify_api_version
            )
        return _Performed()

    # -- the attempt record ------------------------------------------------------------------------

    def _begin_then(
        self, attempt: Attempt, step: Callable[[Run, Attempt], StepT], *, store_only: bool = False
    ) -> _Begun[StepT] | FailedAttempt | Throttled:
        """Begin the attempt, then run the blocking part of its step, in the caller's one worker thread.

        A `store_only` step, which reads and writes nothing but the store (routing, preparing an
        action, a local action), first runs with its begin as one transaction on SQLite (on
        PostgreSQL each record commits as one statement anyway).
        """
        if store_only and self.store.is_sqlite:
            done = self._in_one_transaction(attempt, step)
            if done is not None:
                return done
        begun = self._begin(attempt)
        if isinstance(begun, Throttled):
            return begun
        telemetry.attempt_started(begun, attempt.number, attempt.enqueued_at)
        try:
            return _Begun(begun, step(begun, attempt))
        except ShopifyThrottled as exc:
            return self._withdraw(begun, attempt, exc.retry_after_seconds)
        except Exception as exc:  # the activity decides what follows
            return FailedAttempt(begun, exc)

    def _in_one_transaction(
        self, attempt: Attempt, step: Callable[[Run, Attempt], StepT]
    ) -> _Begun[StepT] | Throttled | None:
        """Begin the attempt and run its step as one transaction (`Store.one_transaction`): one commit on SQLite.

        The ledger shows the run's Started and its outcome together. None when anything failed:
        all of it was rolled back, and the caller runs the attempt again in units of its own, which
        record Started before whatever fails.
        """
        try:
            with self.store.one_transaction():
                begun = self._begin(attempt)
                if isinstance(begun, Throttled):
                    return begun
                made = step(begun, attempt)
        except Exception:
            return None
        telemetry.attempt_started(begun, attempt.number, attempt.enqueued_at)
        return _Begun(begun, made)

    def _begin(self, attempt: Attempt) -> Run | Throttled:
        """Start the attempt (Started, attempt row), or report the shop throttled without spending one."""
        with self.store.unit() as conn:
            if attempt.shopify_gated:
                wait = self._shop_wait(conn, attempt.shop_id)
                if wait > 0:
                    ledger.mark_waiting(conn, attempt.run_id, RunState.due)
                    return Throttled(wait)
            return ledger.begin_attempt(
                conn, attempt.run_id, attempt.number, attempt.enqueued_at, attempt.manual_retry_note
            )

    def _withdraw(self, run: Run, attempt: Attempt, retry_after_seconds: float) -> Throttled:
        """Shopify answered THROTTLED/429 mid-attempt: the attempt is forgotten and the run waits in Due."""
        with self.store.unit() as conn:
            wait = max(retry_after_seconds, self._shop_wait(conn, run.shop_id))
            note = f"Shopify rate limit reached; waiting {wait:.0f} s without spending an attempt"
            ledger.withdraw_attempt(conn, run.id, attempt.number, note)
        return Throttled(wait)

    def _shop_wait(self, conn: Connection, shop_id: str) -> float:
        state = read_row(conn, ShopifyThrottleState, shop_id)
        return 0.0 if state is None else wait_seconds(state, utcnow(), time_scale=self.settings.time_scale)

    @staticmethod
    def _succeeded(run: Run, outcome: OutcomeT) -> OutcomeT:
        telemetry.run_finished(run, RunState.succeeded, outcome.attempts)
        return outcome

    async def fail(self, failed: FailedAttempt) -> None:
        """The failed attempt was the run's last: record Failed, then its follow-ups (mechanic/errors/*, perform).

        A failed action keeps what its remote side answered (`ActionError.result`, `result_meta`).
        A run whose task was disabled or deleted raises no error event (spec 9).
        """
        run, error = failed.run, failed.error
        action_error = error if isinstance(error, ActionError) else None

        def record() -> None:
            with self.store.unit() as conn:
                ledger.fail(
                    conn,
                    run,
                    failed.message,
                    action_error.result if action_error else None,
                    action_error.result_meta if action_error else None,
                )

        await asyncio.to_thread(record)
        telemetry.run_finished(run, RunState.failed, run.attempts)
        report_error = not isinstance(error, TaskUnavailableError)
        await followups.emit_followups(self.store, self.events, run.id, report_error=report_error)

    async def schedule_retry(self, failed: FailedAttempt, delay: timedelta) -> None:
        """Another attempt follows the failed one after `delay`: the run shows Scheduled until then."""

        def record() -> None:
            with self.store.unit() as conn:
                ledger.schedule_retry(conn, failed.run, failed.message, delay)

        await asyncio.to_thread(record)

    async def fail_runs(self, run_ids: list[str], reason: str) -> None:
        """Runs the workflow fails itself (crashed last attempt, Shopify limit never recovered, halted sequence).

        They get the same follow-ups as runs that failed in their activity, except followers of a
        halted sequence, which never ran.
        """
        report = await asyncio.to_thread(followups.runs_to_report, self.store, run_ids)

        def record() -> list[Run]:
            with self.store.engine.begin() as conn:
                return ledger.fail_many(conn, run_ids, reason)

        for run in await asyncio.to_thread(record):
            telemetry.run_finished(run, RunState.failed, run.attempts)
        for run_id in report:
            await followups.emit_followups(self.store, self.events, run_id)

    async def note(self, run_id: str, note: str) -> None:
        """Add `note` to the run's notes (an ignored retry signal, say)."""
        await asyncio.to_thread(add_run_note, self.store, run_id, note)

    # -- event runs --------------------------------------------------------------------------------

    def _route_event(self, run: Run, attempt: Attempt) -> _Routed:
        """An event run's blocking part: a shop update's refresh, filters, routing, the task-run rows."""
        # `shopify/shop/update` carries the shop itself: its snapshot (and zone) first, so routing
        # computes offsets in the shop's new zone.
        zone_moved = run.topic == SHOP_UPDATE_TOPIC and self._refresh_shop(run)
        now = utcnow()
        with self.store.unit() as conn, reads_ahead(conn, _route_reads(run)):
            event = read_row(conn, Event, run.event_id)
            shop = read_row(conn, Shop, run.shop_id)
            if event is None or shop is None:
                raise PermanentRunError(f"event {run.event_id} or shop {run.shop_id} no longer exists")
            # Store event filters first (spec 4.6): a dropped event makes no task runs.
            try:
                dropped_by = rejecting_filter(conn, self.store, event, shop)
            except FilterError as exc:
                raise PermanentRunError(str(exc)) from exc
            if dropped_by is not None:
                ledger.succeed(conn, run, {"task_run_ids": [], "filtered_by": dropped_by})
                return _Routed([], zone_moved)
            planned, rows = self._plan_task_runs(conn, run, event, shop, now)
            ledger.succeed(conn, run, {"task_run_ids": [p.run_id for p in planned]}, children=rows)
        return _Routed(planned, zone_moved)

    def _plan_task_runs(
        self, conn: Connection, run: Run, event: Event, shop: Shop, now: datetime
    ) -> tuple[list[PlannedTaskRun], list[dict[str, Any]]]:
        """One task run per matching subscription of the shop's enabled tasks: the plan and its rows."""
        # Retry context: a retried event run sees the current task set and subscriptions.
        tasks = [detached(Task, row) for row in _shop_tasks_read(shop.id).execute(conn).rows]
        planned: list[PlannedTaskRun] = []
        rows = []
        for match in match_tasks(event, tasks):
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
        return planned, rows

    def _refresh_shop(self, run: Run) -> bool:
        """Apply a `shopify/shop/update` event's shop to the snapshot; whether the shop's zone moved."""
        with self.store.reading() as conn:
            event = read_row(conn, Event, run.event_id)
        return event is not None and apply_shop_update(self.store, run.shop_id, event.data)

    async def _move_schedules(self, run: Run) -> None:
        """The shop's zone moved: its scheduler events follow. Never raises.

        The event run is recorded already; a sync that fails is logged and noted on the run, and
        every shop's schedules are synced again when a worker starts.
        """
        try:
            await sync_schedules(
                self.events.client, self.store, run.shop_id, task_queue=self.settings.temporal.task_queue
            )
        except Exception as exc:
            log.exception("schedules of shop %s did not follow its new time zone", run.shop_id)
            note = f"schedules not moved to the shop's new time zone yet ({type(exc).__name__}: {exc}); synced again at the next worker start"
            with contextlib.suppress(Exception):
                await asyncio.to_thread(add_run_note, self.store, run.id, note)

    # -- task runs ---------------------------------------------------------------------------------

    def _render_task(self, progress: RenderProgress, run: Run, attempt: Attempt) -> TaskRunOutcome:
        """A task run's blocking part: read, render (no connection held), record the action runs."""
        with self.store.reading() as conn, reads_ahead(conn, _render_reads(run)):
            render = self._task_render(conn, run, progress)
        rendered = _render(self.settings, self.store, render)
        rows, planned = _action_run_rows(run, render, rendered)
        task, event = render.task, render.event
        with self.store.unit() as conn:
            # Loop prevention (spec 4.8): a perform-chain run repeating its predecessor fails.
            loop = followups.perform_loop_error(conn, event, rendered.objects)
            if loop is not None:
                raise PermanentRunError(loop)
            ledger.succeed(conn, run, rendered.objects, children=rows)
        return TaskRunOutcome(
            action_runs=planned,
            in_sequence=task.perform_action_runs_in_sequence,
            halt_on_error=task.halt_action_run_sequence_on_error,
            attempts=attempt.number,
        )

    def _task_render(self, conn: Connection, run: Run, progress: RenderProgress) -> _TaskRender:
        """What the render reads, in one unit: the task's latest script and options (the retry context)."""
        task = _available_task(conn, run)
        # What this attempt renders; the ledger records it with the attempt's outcome.
        ledger.rendering_version(run, task.version)
        event = read_row(conn, Event, run.event_id)
        shop = read_row(conn, Shop, run.shop_id)
        if event is None or shop is None:
            raise PermanentRunError(f"event {run.event_id} or shop {run.shop_id} no longer exists")
        # Read once, at the start: every read of this render and every action it renders uses it.
        api_version = effective_api_version(task.shopify_api_version, shop.shopify_api_version)
        request = RenderRequest(
            script=task.script,
            options=task.options or {},
            event=event_object(conn, event),
            task={**task_object(task), "shopify_api_version": api_version},
            shop=shop_object(conn, shop),
            cache=CacheView(self.store, shop.id),
            shopify=make_liquid_shopify_callable(
                self.store,
                shop,
                api_version,
                config=ShopifyConfig.from_settings(self.settings),
                http=self.shopify_pools.sync_client(shop.id),
                on_progress=progress.mark,
            ),
            timezone=shop.timezone,
            globals=shop_globals(conn, shop.id),
            secrets=secret_references(conn, shop.id),
        )
        return _TaskRender(task, event, request, api_version)

    # -- action runs -------------------------------------------------------------------------------

    def _prepare_action(self, run: Run, attempt: Attempt) -> _PreparedAction:
        """An action run's blocking part: handler, options and context; its task must still be enabled."""
        with self.store.reading() as conn, reads_ahead(conn, [*_task_reads(run), row_read(Shop, run.shop_id)]):
            task = _available_task(conn, run)
            shop = read_row(conn, Shop, run.shop_id)
        if shop is None:
            raise PermanentRunError(f"shop {run.shop_id} no longer exists")
        # Retry context: the options captured when the task rendered, never the task's current ones.
        handler = get_handler(run.action_type or "")
        # Secrets resolve here, in the activity, just before validation (http.md: validation sees
        # the values); the ledger's options keep the references.
        secrets = resolve_secrets(self.store, run.shop_id, run.action_options, SECRET_FIELDS.get(handler.type, ()))
        scrubbed: Exception | None = None
        try:
            options = handler.validate(secrets.options)
        except Exception as exc:
            scrubbed = secrets.scrub(exc)
            if scrubbed is exc:
                raise
        if scrubbed is not None:
            raise scrubbed  # outside the handler: no cause or context that could hold a value
        context = ActionContext(
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
            attempt=attempt.number,
            manual_retries=run.manual_retries,
            events=self.events,
            shopify_pools=self.shopify_pools,
        )
        return _PreparedAction(handler, options, context, secrets)

    def _prepare_or_perform_local(self, run: Run, attempt: Attempt) -> _PreparedAction | _Performed:
        """An action run's blocking part; a `LocalAction` is also performed and its result recorded, in this thread."""
        action = self._prepare_action(run, attempt)
        if not isinstance(action.handler, LocalAction):
            return action
        failed: Exception | None = None
        try:
            result = action.secrets.redact(action.handler.perform_local(action.options, action.context))
            self._record_success(run, result, action.context.result_meta)
        except Exception as exc:
            failed = action.secrets.scrub(exc)
        if failed is not None:
            raise failed  # outside the handler: no context that could hold a secret value
        return _Performed()

    def _record_success(self, run: Run, result: Any, result_meta: dict[str, Any]) -> None:
        with self.store.unit() as conn:
            ledger.succeed(conn, run, result, result_meta)


def _shop_tasks_statement() -> Select[Any]:
    tasks = table_of(Task)
    return select(tasks).where(tasks.c.shop_id == bindparam("b_shop_id"))


def _shop_tasks_read(shop_id: str) -> Read:
    return Read("shop_tasks", _shop_tasks_statement, {"b_shop_id": shop_id})


# What each step reads first, sent ahead together (`reads_ahead`: one round trip on PostgreSQL).


def _task_reads(run: Run) -> list[Read]:
    return [row_read(Task, run.task_id)] if run.task_id else []


def _route_reads(run: Run) -> list[Read]:
    """An event run's: its event and shop, the shop's filters and tasks."""
    return [
        row_read(Event, run.event_id),
        row_read(Shop, run.shop_id),
        shop_filters_read(run.shop_id),
        _shop_tasks_read(run.shop_id),
    ]


def _render_reads(run: Run) -> list[Read]:
    """A task run's: its task, event and shop, the shop's connection, globals and secret references."""
    return [
        *_task_reads(run),
        row_read(Event, run.event_id),
        row_read(Shop, run.shop_id),
        row_read(ShopifyConnection, run.shop_id),
        shop_globals_read(run.shop_id),
        secret_references_read(run.shop_id),
    ]


def _available_task(conn: Connection, run: Run) -> Task:
    task = read_row(conn, Task, run.task_id) if run.task_id else None
    if task is None:
        raise TaskUnavailableError(f"task {run.task_name or run.task_id} was deleted")
    if not task.enabled:
        raise TaskUnavailableError(f"task {task.name!r} is disabled")
    return task


def _render(settings: Settings, store: Store, render: _TaskRender) -> RenderResult:
    """Run the task's Liquid; its failures become the run's, classified for Mechanic's retries."""
    event = render.event
    with contextlib.ExitStack() as open_results:
        if event.topic == BULK_OPERATION_TOPIC:
            # `bulkOperation.objects` reads the result file lazily; it stays open for the render.
            try:
                bulk_objects = open_results.enter_context(render_objects(settings, store, event))
            except ResultsUnavailable as exc:
                raise PermanentRunError(str(exc)) from exc
            render.request.event["data"] = {**(event.data or {}), "objects": bulk_objects}
        try:
            rendered = render_task(render.request)
        except TaskRenderError as exc:
            # Shopify reads fail like Mechanic's: outages get the usual retries, everything
            # else (401/403/404, no token, GraphQL errors, limits that never recovered) fails
            # the run at once, naming the query's line.
            read = shopify_read_failure(exc)
            if read is not None and is_transient(read.cause):
                raise TransientReadError(str(exc)) from exc
            raise PermanentRunError(str(exc)) from exc
    if rendered.errors:
        # An error object fails the run and discards every action it rendered.
        raise PermanentRunError("; ".join(_error_text(e) for e in rendered.errors))
    return rendered


def _action_run_rows(
    run: Run, render: _TaskRender, rendered: RenderResult
) -> tuple[list[dict[str, Any]], list[PlannedActionRun]]:
    """One action run per rendered action object: its row and its place in the workflow's plan."""
    task = render.task
    rows = []
    planned = []
    for position, action in enumerate(rendered.actions):
        action_run_id = ledger.derived_id(run.id, run.manual_retries, position)
        follower = task.perform_action_runs_in_sequence and position > 0
        rows.append(
            ledger.new_run_row(
                run_id=action_run_id,
                kind=RunKind.action,
                event=render.event,
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
                shopify_api_version=render.api_version,
            )
        )
        planned.append(PlannedActionRun(run_id=action_run_id, action_type=action.type, position=position))
    return rows, planned


def _error_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
