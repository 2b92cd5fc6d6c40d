"""Typed payloads between starters, workflows and activities (pydantic, via pydantic_data_converter)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from ratchet.core.runs import RunKind, RunState


class EventWorkflowInput(BaseModel):
    event_id: str
    event_run_id: str
    shop_id: str
    topic: str
    # Set when the event was created with a future run_at: the event run waits until then.
    run_at: datetime | None = None
    # RATCHET_TIME_SCALE of the deployment that created the event; the workflow cannot read the
    # environment (determinism), so its waits are scaled by this.
    time_scale: float = 1.0
    # Continue-as-new (only ever while idle) once the history has more events than this.
    history_limit: int = 4000
    # Carried across continue-as-new so the workflow keeps serving retries.
    runs: list[TrackedRun] | None = None


class TrackedRun(BaseModel):
    """The workflow's in-memory view of one run; enough to judge retry eligibility."""

    id: str
    kind: RunKind
    state: RunState
    parent_id: str | None = None
    task_id: str | None = None
    task_name: str | None = None
    action_type: str | None = None
    produced: int = 0  # task runs of an event run / action runs of a task run
    attempts: int = 0


class RunInput(BaseModel):
    run_id: str
    shop_id: str
    # Task runs and Shopify action runs wait (in Due, spending nothing) while the shop's
    # Shopify API limits are exhausted.
    shopify_gated: bool = False
    # Attempts recorded before this activity execution (cumulative across manual retries).
    attempt_base: int = 0
    # Attempts already spent from the current automatic budget (a throttle wait resumes it).
    budget_used: int = 0
    # Set on a manual retry: the note recorded on the run when its first attempt starts.
    manual_retry_note: str | None = None


class PlannedTaskRun(BaseModel):
    run_id: str
    task_id: str
    task_name: str
    subscription: str
    delay_seconds: float = 0.0


class RunOutcome(BaseModel):
    # Cumulative attempts recorded for the run when this activity execution ended.
    attempts: int
    # > 0 when the shop's Shopify limits were exhausted: nothing ran, no attempt was spent, and
    # the workflow waits this long (already scaled) in state Due before asking again.
    throttle_wait_seconds: float = 0.0
    # Attempts spent from the automatic budget so far (resumed after a throttle wait).
    budget_used: int = 0


class EventRunOutcome(RunOutcome):
    task_runs: list[PlannedTaskRun] = Field(default_factory=list)


class PlannedActionRun(BaseModel):
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


EventWorkflowInput.model_rebuild()
