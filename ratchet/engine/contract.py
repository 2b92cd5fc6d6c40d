"""The Temporal contract: everything starters, workflows and activities agree on, in one place.

* names: workflow types, activities, the signal, update and query, error types;
* search-attribute keys (typed; their value types also drive registration on a cluster);
* payload models (pydantic, through `ratchet.engine.connection.DATA_CONVERTER`);
* activity interfaces: typed stubs the workflows call by method reference
  (`workflow.execute_activity_method(RunActivitiesInterface.perform_task_run, ...)`), so a
  workflow imports this light module and never the activities' database and network code.
  activities/ implements each interface under the same names; tests/engine/test_contract.py
  checks that they match.

Renaming anything here breaks events in flight: Temporal stores these names in histories.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from temporalio import activity
from temporalio.common import SearchAttributeKey

from ratchet.core.runs import RETENTION_DAYS, RunKind, RunState

# -- workflow types, activities, handlers ------------------------------------------------------------

EVENT_WORKFLOW = "EventWorkflow"
SCHEDULER_TICK_WORKFLOW = "SchedulerTickWorkflow"
BULK_OPERATION_WORKFLOW = "BulkOperationWorkflow"
RETENTION_WORKFLOW = "RetentionWorkflow"
# Registered before the module and class took the name webhook subscriptions; running workflows
# (and their histories) carry the old name, so it stays.
WEBHOOK_SUBSCRIPTIONS_WORKFLOW = "ShopWebhooksWorkflow"
RETRY_DESK_WORKFLOW = "RetryDeskWorkflow"
BULK_RETRY_WORKFLOW = "BulkRetryWorkflow"
GRANT_RENEWAL_WORKFLOW = "GrantRenewalWorkflow"
RETRY_DESK_ID = "ratchet-retries"
"""The one always-open workflow that takes `retry` signals for any run (Web UI, `temporal workflow signal`)."""

PERFORM_EVENT_RUN = "perform_event_run"
PERFORM_TASK_RUN = "perform_task_run"
PERFORM_ACTION_RUN = "perform_action_run"
FAIL_RUNS = "fail_runs"
NOTE_RUN = "note_run"
CREATE_SCHEDULED_EVENT = "create_scheduled_event"
CHECK_BULK_OPERATION = "check_bulk_operation"
COLLECT_BULK_OPERATION_RESULTS = "collect_bulk_operation_results"
REPORT_BULK_OPERATION = "report_bulk_operation"
DELETE_BULK_OPERATION_RESULTS = "delete_bulk_operation_results"
PURGE_EXPIRED = "purge_expired"
RENEW_IDLE_GRANTS = "renew_idle_grants"
RECONCILE_WEBHOOK_SUBSCRIPTIONS = "reconcile_shop_webhooks"  # registered name, kept (see above)
RETRY_REQUESTED_RUN = "retry_requested_run"
RETRY_BULK_BATCH = "retry_bulk_batch"
FINISH_BULK_RETRY = "finish_bulk_retry"

RETRY_SIGNAL = "retry"
CLOSE_WHEN_SETTLED = "close-when-settled"
"""`workflow.patched` id: event workflows started since close once their runs settle; older histories replay their idle
wait for the retention window. Starts now say so in their input (`EventWorkflowInput.closes_when_settled`); the
marker stays for histories recorded with it."""
RETRY_UPDATE = "retry_run"
RUNS_QUERY = "runs"
BULK_FINISHED_SIGNAL = "finished"
"""Sent by the ingress on Shopify's bulk_operations/finish webhook: "look now, don't wait for the poll"."""
BULK_STATUS_QUERY = "status"
RECONCILE_SIGNAL = "reconcile"
BULK_RETRY_PROGRESS_QUERY = "progress"
"""A bulk retry's progress (BulkRetryProgress), for the Web UI and `temporal workflow query`."""
BULK_RETRY_CANCEL_SIGNAL = "cancel"
"""Stops a bulk retry before its next batch."""

# -- error types (ApplicationError.type): compared across processes, never message text --------------

RUN_FAILED = "RunFailed"
"""An activity's run failed for good and the ledger already says so: no more Temporal retries."""
UNKNOWN_SHOP = "UnknownShop"
"""The event's shop no longer exists (a scheduler tick for a deleted shop)."""
RETRY_INELIGIBLE = "RetryIneligible"
"""A manual retry the workflow refuses (the run is not eligible); the message says why."""
RETRY_RUN_IN_FLIGHT = "RetryRunInFlight"
"""A manual retry of a run the workflow still sees in flight, although the ledger may show it finished: the outcome is
on its way, so asking again shortly succeeds."""
BULK_OPERATION_GONE = "BulkOperationGone"
"""A monitored bulk operation's shop is gone or has no Shopify connection: monitoring stops."""
SHOPIFY_CONNECTION_REFUSED = "ShopifyConnectionRefused"
"""Shopify refused the shop's credentials or the shop is gone: reconciling again cannot help."""

# -- search attributes -------------------------------------------------------------------------------

SHOP_ID = SearchAttributeKey.for_keyword("ShopId")
TOPIC = SearchAttributeKey.for_keyword("Topic")
RUN_STATE = SearchAttributeKey.for_keyword("RunState")
TASK_NAMES = SearchAttributeKey.for_keyword_list("TaskNames")
SCHEDULED_START_TIME = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
"""Temporal's own: set by a schedule on each workflow it starts (the tick's nominal time)."""
CUSTOM_SEARCH_ATTRIBUTES: tuple[SearchAttributeKey, ...] = (SHOP_ID, TOPIC, RUN_STATE, TASK_NAMES)
"""Ours, registered on the cluster by `ratchet worker` (the dev server gets them as flags)."""

# -- payloads ----------------------------------------------------------------------------------------


class EventWorkflowInput(BaseModel):
    """How an event workflow starts: the event, its event run, and what the workflow cannot read itself."""

    event_id: str
    event_run_id: str
    shop_id: str
    topic: str
    run_at: datetime | None = None
    """Set when the event was created with a future run_at: the event run waits until then."""
    time_scale: float = 1.0
    """RATCHET_TIME_SCALE of the deployment that created the event; the workflow cannot read the environment
    (determinism), so its waits are scaled by this."""
    closes_when_settled: bool = False
    """Set by every start since workflows close once settled, so their histories carry no `CLOSE_WHEN_SETTLED` patch
    marker (one history event less per event); inputs from earlier starts lack it and ask `workflow.patched` instead."""
    history_limit: int = 4000
    """Read only by workflows started before they closed once settled (`CLOSE_WHEN_SETTLED`): they continue as new past
    this many history events."""
    retention_days: float = RETENTION_DAYS
    """Read only by those earlier workflows too: they stay open, idle, this long after their runs settle."""
    runs: list[TrackedRun] | None = None
    """The event's runs as the ledger has them, when a manual retry reopens the closed workflow (or a legacy workflow
    continues as new): the workflow judges retries against them."""


class TrackedRun(BaseModel):
    """The workflow's in-memory view of one run; enough to judge retry eligibility."""

    id: str
    kind: RunKind
    state: RunState
    parent_id: str | None = None
    task_id: str | None = None
    task_name: str | None = None
    action_type: str | None = None
    produced: int = 0
    """Task runs of an event run; action runs of a task run."""
    attempts: int = 0


def retry_refusal(runs: dict[str, TrackedRun], run_id: str) -> str | None:
    """Why Mechanic's rules refuse a manual retry of `run_id` among an event's `runs`; None when allowed.

    The workflow's validator judges its in-memory runs with this; the starter judges the ledger's
    with it before reopening a closed event workflow, so both refuse with the same words.
    """
    view = runs.get(run_id)
    if view is None:
        return f"run {run_id} does not belong to this event"
    if not view.state.terminal:
        return f"run {run_id} is {view.state.value}; only finished runs can be retried"
    if view.kind == RunKind.event and view.produced:
        return f"event run {run_id} produced {view.produced} task run(s); a retry would discard them"
    if view.kind == RunKind.task and view.state == RunState.succeeded and view.produced:
        return f"task run {run_id} produced {view.produced} action run(s); a retry would discard them"
    if view.kind == RunKind.action and view.state == RunState.succeeded:
        return f"action run {run_id} succeeded; only failed action runs can be retried"
    return None


class RunInput(BaseModel):
    """One run for a run activity to perform: an event, task or action run of the ledger."""

    run_id: str
    shop_id: str
    shopify_gated: bool = False
    """Task runs and Shopify action runs wait (in Due, spending nothing) while the shop's Shopify API limits are
    exhausted."""
    attempt_base: int = 0
    """Attempts recorded before this activity execution (cumulative across manual retries)."""
    budget_used: int = 0
    """Attempts already spent from the current automatic budget (a throttle wait resumes it)."""
    manual_retry_note: str | None = None
    """Set on a manual retry: the note recorded on the run when its first attempt starts."""


class PlannedTaskRun(BaseModel):
    """A task run the event run created: the workflow starts it after its subscription's offset."""

    run_id: str
    task_id: str
    task_name: str
    subscription: str
    delay_seconds: float = 0.0


class RunOutcome(BaseModel):
    """What a run activity reports back to the event workflow."""

    attempts: int
    """Cumulative attempts recorded for the run when this activity execution ended."""
    throttle_wait_seconds: float = 0.0
    """> 0 when the shop's Shopify limits were exhausted: nothing ran, no attempt was spent, and the workflow waits this
    long (already scaled) in state Due before asking again."""
    budget_used: int = 0
    """Attempts spent from the automatic budget so far (resumed after a throttle wait)."""


class EventRunOutcome(RunOutcome):
    task_runs: list[PlannedTaskRun] = Field(default_factory=list)


class PlannedActionRun(BaseModel):
    """An action run a task run created, at its position in the task's output."""

    run_id: str
    action_type: str
    position: int


class TaskRunOutcome(RunOutcome):
    action_runs: list[PlannedActionRun] = Field(default_factory=list)
    in_sequence: bool = False
    halt_on_error: bool = False


class ActionRunOutcome(RunOutcome):
    pass


class RetryRequest(BaseModel):
    run_id: str
    reason: str = ""


class RetryAccepted(BaseModel):
    run_id: str
    kind: RunKind
    accepted: bool = True


class FailRunsInput(BaseModel):
    run_ids: list[str]
    reason: str


class RunNoteInput(BaseModel):
    run_id: str
    note: str


class SchedulerTick(BaseModel):
    """The schedule action's argument: which shop's which topic."""

    shop_id: str
    topic: str


class TickInput(BaseModel):
    shop_id: str
    topic: str
    scheduled_at: datetime


class BulkMonitorInput(BaseModel):
    shop_id: str
    gid: str
    time_scale: float = 1.0
    """RATCHET_TIME_SCALE of the deployment that started the monitor."""
    history_limit: int = 4000
    """History events after which the monitor continues as new (the starting deployment's limit)."""
    retention_days: float = RETENTION_DAYS
    """RATCHET_RETENTION_DAYS: the result file is kept as long as the event may be retried."""
    polls: int = 0
    """Polls made so far, carried across continue-as-new so the interval keeps growing."""


class BulkOperationRef(BaseModel):
    shop_id: str
    gid: str


class BulkCheck(BaseModel):
    tracked: bool
    """False when no task's action run recorded this operation (yet)."""
    status: str | None = None
    terminal: bool = False


class PurgeOutcome(BaseModel):
    """What one retention pass deleted."""

    events: int
    runs: int
    attempts: int
    cache_entries: int
    # Files the `files` action kept whose URLs expired; absent in results of older workers.
    stored_files: int = 0
    # Bulk retries finished before the window, with their items; absent in results of older workers.
    bulk_retries: int = 0


EventWorkflowInput.model_rebuild()


class BulkRetryInput(BaseModel):
    """A bulk retry's workflow input; its runs are the ledger's `bulk_retry_items`, by position."""

    bulk_retry_id: str
    shop_id: str
    total: int
    batch_size: int
    """Runs retried per activity."""
    seconds_per_batch: float
    """The (unscaled) seconds each batch takes at least: with `batch_size`, the rate."""
    time_scale: float = 1.0
    """RATCHET_TIME_SCALE of the deployment that started it (the workflow cannot read settings)."""
    next_position: int = 0
    """Where to start: a continued-as-new workflow carries on from here."""
    retried: int = 0
    refused: int = 0


class BulkRetryBatch(BaseModel):
    bulk_retry_id: str
    first_position: int
    count: int


class BulkRetryBatchOutcome(BaseModel):
    retried: int
    refused: int


class BulkRetryProgress(BaseModel):
    total: int
    done: int
    retried: int
    refused: int
    cancelled: bool


class BulkRetryFinish(BaseModel):
    bulk_retry_id: str
    state: str
    """completed or cancelled."""


class ReconcileInput(BaseModel):
    shop_id: str
    debounce_seconds: float
    """Real seconds a burst of task changes is gathered for before one reconcile runs (scaled)."""


# -- activity interfaces -----------------------------------------------------------------------------


class RunActivitiesInterface:
    """The run activities as the event workflow calls them (implemented in activities/runs.py)."""

    @activity.defn(name=PERFORM_EVENT_RUN)
    async def perform_event_run(self, inp: RunInput) -> EventRunOutcome:
        raise NotImplementedError

    @activity.defn(name=PERFORM_TASK_RUN)
    async def perform_task_run(self, inp: RunInput) -> TaskRunOutcome:
        raise NotImplementedError

    @activity.defn(name=PERFORM_ACTION_RUN)
    async def perform_action_run(self, inp: RunInput) -> ActionRunOutcome:
        raise NotImplementedError

    @activity.defn(name=FAIL_RUNS)
    async def fail_runs(self, inp: FailRunsInput) -> None:
        raise NotImplementedError

    @activity.defn(name=NOTE_RUN)
    async def note_run(self, inp: RunNoteInput) -> None:
        raise NotImplementedError


class SchedulerActivitiesInterface:
    """The scheduler tick's activity (implemented in activities/scheduler_tick.py)."""

    @activity.defn(name=CREATE_SCHEDULED_EVENT)
    async def create_scheduled_event(self, tick: TickInput) -> str:
        raise NotImplementedError


class BulkOperationActivitiesInterface:
    """The bulk operation monitor's activities (implemented in activities/bulk_operations.py)."""

    @activity.defn(name=CHECK_BULK_OPERATION)
    async def check(self, ref: BulkOperationRef) -> BulkCheck:
        raise NotImplementedError

    @activity.defn(name=COLLECT_BULK_OPERATION_RESULTS)
    async def collect(self, ref: BulkOperationRef) -> int:
        raise NotImplementedError

    @activity.defn(name=REPORT_BULK_OPERATION)
    async def report(self, ref: BulkOperationRef) -> str:
        raise NotImplementedError

    @activity.defn(name=DELETE_BULK_OPERATION_RESULTS)
    async def delete_results(self, ref: BulkOperationRef) -> None:
        raise NotImplementedError


class WebhookSubscriptionsActivitiesInterface:
    """Reconciling a shop's Shopify webhook subscriptions (implemented in activities/webhook_subscriptions.py)."""

    @activity.defn(name=RECONCILE_WEBHOOK_SUBSCRIPTIONS)
    async def reconcile_webhook_subscriptions(self, shop_id: str) -> dict[str, Any]:
        raise NotImplementedError


class RetentionActivitiesInterface:
    """The retention pass (implemented in activities/retention.py)."""

    @activity.defn(name=PURGE_EXPIRED)
    async def purge_expired(self) -> PurgeOutcome:
        raise NotImplementedError


class GrantRenewalOutcome(BaseModel):
    """What one pass over idle shops' grants did."""

    renewed: list[str]
    # Shop id -> why its token could not be renewed (the shop must be connected again).
    failed: dict[str, str]


class GrantRenewalActivitiesInterface:
    """Renewing tokens of idle shops before their refresh tokens expire (implemented in activities/grant_renewal.py)."""

    @activity.defn(name=RENEW_IDLE_GRANTS)
    async def renew_idle_grants(self) -> GrantRenewalOutcome:
        raise NotImplementedError


class RetryDeskActivitiesInterface:
    """A signalled manual retry (implemented in activities/retry_desk.py)."""

    @activity.defn(name=RETRY_REQUESTED_RUN)
    async def retry_requested_run(self, req: RetryRequest) -> str:
        raise NotImplementedError


class BulkRetryActivitiesInterface:
    """A bulk retry's batches and its end (implemented in activities/bulk_retry.py)."""

    @activity.defn(name=RETRY_BULK_BATCH)
    async def retry_bulk_batch(self, batch: BulkRetryBatch) -> BulkRetryBatchOutcome:
        raise NotImplementedError

    @activity.defn(name=FINISH_BULK_RETRY)
    async def finish_bulk_retry(self, finish: BulkRetryFinish) -> None:
        raise NotImplementedError
