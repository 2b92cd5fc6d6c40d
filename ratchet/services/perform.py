"""Performing runs: what an event run, a task run and an action run do, and the ledger record of each attempt.

The Temporal side (activities/runs.py) numbers the attempts, heartbeats and turns failures into
Mechanic's retry schedule; everything a run *does* lives here:

* event run: store event filters, then routing (`ratchet.core.routing`) to the enabled tasks'
  subscriptions, recording one task run per match (Scheduled when its offset is still ahead);
* task run: the task's latest script and options rendered against the event, shop and cache,
  recording one action run per action object (sequenced followers stay Unscheduled);
* action run: the handler of its type with the options captured when the task rendered (and,
  for a `shopify` action that started a bulk operation, the monitor that reports it back).

Each step opens one database connection and commits what the ledger must show on its own:
Started (with its attempt row) before any work, then the outcome together with the child runs
it planned. Reads and writes are SQLAlchemy Core statements keyed by deterministic ids, so
a replayed attempt rewrites the same rows and never duplicates one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, bindparam, select

from ratchet.actions.base import ActionContext, ActionHandler, get_handler
from ratchet.actions.shopify import GraphQLRequest
from ratchet.config import Settings
from ratchet.core.api_versions import effective_api_version
from ratchet.core.bulk_operations import BULK_OPERATION_TOPIC
from ratchet.core.clock import utcnow
from ratchet.core.routing import match_tasks
from ratchet.core.runs import RunKind, RunState
from ratchet.engine import telemetry
from ratchet.engine.contract import PlannedActionRun, PlannedTaskRun
from ratchet.engine.schedules import sync_schedules
from ratchet.errors import RatchetError, Unavailable
from ratchet.liquid.errors import shopify_read_failure
from ratchet.services import followups
from ratchet.services.bulk_operations import BulkOperationService, render_objects
from ratchet.services.event_filters import FilterError, rejecting_filter
from ratchet.services.events import EventService
from ratchet.services.render_context import event_object, shop_object, task_object
from ratchet.services.runs import add_run_note
from ratchet.services.shop_cache import CacheView
from ratchet.services.shop_connection import apply_shop_update
from ratchet.shopify.bulk_results import ResultsUnavailable
from ratchet.shopify.client import ShopifyConfig, is_transient, make_liquid_shopify_callable
from ratchet.shopify.pools import ShopifyPools
from ratchet.shopify.throttle import wait_seconds
from ratchet.store import ledger
from ratchet.store.database import Store, prepared, read_row, table_of
from ratchet.store.tables import Event, Run, Shop, ShopifyThrottleState, Task

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


@dataclass(frozen=True)
class Throttled:
    """The shop's Shopify limits are exhausted: no attempt was spent; ask again after `seconds` (Shopify time)."""

    seconds: float


@dataclass(frozen=True)
class ActionPlan:
    """What a task run rendered: its action runs, and how the workflow must perform them."""

    action_runs: list[PlannedActionRun]
    in_sequence: bool
    halt_on_error: bool


@dataclass
class PreparedAction:
    """An action run ready to perform: its handler, validated options and context."""

    handler: ActionHandler
    options: Any
    context: ActionContext


class PerformService:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        events: EventService | None = None,
        shopify_pools: ShopifyPools | None = None,
        bulk_operations: BulkOperationService | None = None,
        action_services: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.events = events
        self.shopify_pools = shopify_pools
        self.bulk_operations = bulk_operations
        # Handed to action handlers (ActionContext.services), e.g. "events" for child events.
        self.action_services = action_services or {}

    # -- the attempt record ------------------------------------------------------------------------

    def begin(
        self,
        run_id: str,
        shop_id: str,
        attempt: int,
        enqueued_at: datetime | None,
        manual_retry_note: str | None,
        *,
        shopify_gated: bool,
    ) -> Run | Throttled:
        """Start `attempt` of a run (Started, attempt row), or report the shop throttled without spending one.

        Blocking: the caller runs it in the same worker thread as the step that follows, so an
        attempt costs one thread hop, not two.
        """
        with self.store.engine.connect() as conn:
            if shopify_gated:
                wait = self._shop_wait(conn, shop_id)
                if wait > 0:
                    ledger.mark_waiting(conn, run_id, RunState.due)
                    conn.commit()
                    return Throttled(wait)
            run = ledger.begin_attempt(conn, run_id, attempt, enqueued_at, manual_retry_note)
            conn.commit()
            return run

    async def withdraw(self, run: Run, attempt: int, retry_after_seconds: float) -> Throttled:
        """Shopify answered THROTTLED/429 mid-attempt: the attempt is forgotten and the run waits in Due."""

        def withdraw() -> Throttled:
            with self.store.engine.connect() as conn:
                wait = max(retry_after_seconds, self._shop_wait(conn, run.shop_id))
                note = f"Shopify rate limit reached; waiting {wait:.0f} s without spending an attempt"
                ledger.withdraw_attempt(conn, run.id, attempt, note)
                conn.commit()
            return Throttled(wait)

        return await asyncio.to_thread(withdraw)

    def _shop_wait(self, conn: Connection, shop_id: str) -> float:
        state = read_row(conn, ShopifyThrottleState, shop_id)
        return 0.0 if state is None else wait_seconds(state, utcnow(), time_scale=self.settings.time_scale)

    async def fail(
        self, run: Run, message: str, *, result: Any = None, result_meta: Any = None, report_error: bool = True
    ) -> None:
        """The attempt was the run's last: record Failed, then its follow-ups (mechanic/errors/*, perform)."""

        def record() -> None:
            with self.store.engine.begin() as conn:
                ledger.fail(conn, run, message, result, result_meta)

        await asyncio.to_thread(record)
        await followups.emit_followups(self.store, self.events, run.id, report_error=report_error)

    async def schedule_retry(self, run: Run, message: str, delay: timedelta) -> None:
        """The attempt failed and another follows after `delay`: the run shows Scheduled until then."""

        def record() -> None:
            with self.store.engine.begin() as conn:
                ledger.schedule_retry(conn, run, message, delay)

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
        await asyncio.to_thread(add_run_note, self.store, run_id, note)

    # -- event runs --------------------------------------------------------------------------------

    @staticmethod
    def refreshes_shop(run: Run) -> bool:
        """Whether the event run must refresh the shop (and perhaps its schedules) before routing."""
        return run.topic == SHOP_UPDATE_TOPIC

    async def event_run(self, run: Run) -> list[PlannedTaskRun]:
        """Filter and route the event; record and return the task runs it makes."""
        if self.refreshes_shop(run):
            await self._refresh_shop(run)
        return await asyncio.to_thread(self.route_event, run)

    async def _refresh_shop(self, run: Run) -> None:
        """`shopify/shop/update` carries the shop itself: refresh the snapshot, move schedules with the zone."""

        def apply() -> bool:
            with self.store.reading() as conn:
                event = read_row(conn, Event, run.event_id)
            return event is not None and apply_shop_update(self.store, run.shop_id, event.data)

        if await asyncio.to_thread(apply) and self.events is not None:
            await sync_schedules(
                self.events.client, self.store, run.shop_id, task_queue=self.settings.temporal.task_queue
            )

    def route_event(self, run: Run) -> list[PlannedTaskRun]:
        """The blocking part of an event run (everything but a shop refresh): filters, routing, the task-run rows."""
        now = utcnow()
        with self.store.engine.connect() as conn:
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
                conn.commit()
                return []
            # Retry context: a retried event run sees the current task set and subscriptions.
            tasks = [
                Task.model_construct(**row)
                for row in prepared(conn, "shop_tasks", _shop_tasks_statement)
                .execute(conn, {"b_shop_id": shop.id})
                .rows
            ]
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
            ledger.insert_runs(conn, rows)
            ledger.succeed(conn, run, {"task_run_ids": [p.run_id for p in planned]})
            conn.commit()
        return planned

    # -- task runs ---------------------------------------------------------------------------------

    def task_run(self, run: Run, progress: RenderProgress) -> ActionPlan:
        """Render the task's latest script; record and return the action runs it made (blocking)."""
        from ratchet.liquid import RenderRequest, TaskRenderError, render_task

        with self.store.reading() as conn:
            # Retry context: always the task's latest script and options.
            task = _available_task(conn, run)
            event = read_row(conn, Event, run.event_id)
            shop = read_row(conn, Shop, run.shop_id)
            if event is None or shop is None:
                raise PermanentRunError(f"event {run.event_id} or shop {run.shop_id} no longer exists")
            # Read once, at the start: every read of this render and every action it renders uses it.
            api_version = effective_api_version(task.shopify_api_version, shop.shopify_api_version)
            render = RenderRequest(
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
                    http=self.shopify_pools.sync_client(shop.id) if self.shopify_pools is not None else None,
                    on_progress=progress.mark,
                ),
                timezone=shop.timezone,
            )
        # No connection is held while Liquid runs (and perhaps pages through Shopify).
        with contextlib.ExitStack() as open_results:
            if event.topic == BULK_OPERATION_TOPIC:
                # `bulkOperation.objects` reads the result file lazily; it stays open for the render.
                try:
                    bulk_objects = open_results.enter_context(render_objects(self.settings, self.store, event))
                except ResultsUnavailable as exc:
                    raise PermanentRunError(str(exc)) from exc
                render.event["data"] = {**(event.data or {}), "objects": bulk_objects}
            try:
                rendered = render_task(render)
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
        rows = []
        planned = []
        for position, action in enumerate(rendered.actions):
            action_run_id = ledger.derived_id(run.id, run.manual_retries, position)
            follower = task.perform_action_runs_in_sequence and position > 0
            rows.append(
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
        with self.store.engine.connect() as conn:
            # Loop prevention (spec 4.8): a perform-chain run repeating its predecessor fails.
            loop = followups.perform_loop_error(conn, event, rendered.objects)
            if loop is not None:
                raise PermanentRunError(loop)
            ledger.insert_runs(conn, rows)
            ledger.succeed(conn, run, rendered.objects)
            conn.commit()
        return ActionPlan(
            action_runs=planned,
            in_sequence=task.perform_action_runs_in_sequence,
            halt_on_error=task.halt_action_run_sequence_on_error,
        )

    # -- action runs -------------------------------------------------------------------------------

    def prepare_action(self, run: Run, attempt: int) -> PreparedAction:
        """The handler, options and context of an action run; its task must still be enabled (blocking)."""
        with self.store.reading() as conn:
            task = _available_task(conn, run)
            shop = read_row(conn, Shop, run.shop_id)
        if shop is None:
            raise PermanentRunError(f"shop {run.shop_id} no longer exists")
        # Retry context: the options captured when the task rendered, never the task's current ones.
        handler = get_handler(run.action_type or "")
        options = handler.validate(run.action_options)
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
            attempt=attempt,
            manual_retries=run.manual_retries,
            services=self.action_services,
        )
        return PreparedAction(handler, options, context)

    async def succeed_action(self, run: Run, action: PreparedAction, result: Any) -> None:
        """Record the action run's success, then follow what it started (never raises)."""

        def record() -> None:
            with self.store.engine.begin() as conn:
                ledger.succeed(conn, run, result, action.context.result_meta)

        await asyncio.to_thread(record)
        if self.bulk_operations is not None and isinstance(action.options, GraphQLRequest):
            # A started bulk operation is followed until it reports back to this task.
            await self.bulk_operations.track_from_action(
                run, action.options.query, result, action.context.shopify_api_version
            )
        # mechanic/actions/perform, when the run's task subscribes to it.
        if followups.may_report_success(run):
            await followups.emit_followups(self.store, self.events, run.id)


def _shop_tasks_statement() -> Select[Any]:
    tasks = table_of(Task)
    return select(tasks).where(tasks.c.shop_id == bindparam("b_shop_id"))


def _available_task(conn: Connection, run: Run) -> Task:
    task = read_row(conn, Task, run.task_id) if run.task_id else None
    if task is None:
        raise TaskUnavailableError(f"task {run.task_name or run.task_id} was deleted")
    if not task.enabled:
        raise TaskUnavailableError(f"task {task.name!r} is disabled")
    return task


def _error_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
