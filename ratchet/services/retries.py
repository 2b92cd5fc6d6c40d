"""Manual retries: Mechanic's eligibility rules, then the event workflow's validated update.

An event workflow closes once its runs settle, so most retries find it closed: the ledger's runs
are then the truth, judged here with the rules the workflow's validator uses
(`contract.retry_refusal`), and an eligible retry starts the workflow again under the event's id
with those runs (update-with-start). While the workflow is still open the update goes to it, and
its validator judges against its own runs, which can be a moment ahead of the ledger.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass

from sqlmodel import select
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from ratchet.config import Settings
from ratchet.core.runs import summary_state
from ratchet.engine.contract import (
    EVENT_WORKFLOW,
    RETRY_RUN_IN_FLIGHT,
    RETRY_UPDATE,
    EventWorkflowInput,
    RetryAccepted,
    RetryRequest,
    TrackedRun,
    retry_refusal,
)
from ratchet.errors import Conflict, Unavailable
from ratchet.services.events import event_workflow_options
from ratchet.services.runs import find_run
from ratchet.store import ledger
from ratchet.store.database import Store
from ratchet.store.tables import Event, Run

# How long a retry asked for in the moment between a run's end in the ledger and its workflow
# hearing of it waits for the workflow to catch up.
RETRY_IN_FLIGHT_POLLS = 20
RETRY_IN_FLIGHT_POLL_SECONDS = 0.25


class RetryRefused(Conflict):
    """Mechanic's rules refuse this retry (or the run is still being performed); `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"cannot retry: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class RetryTarget:
    """The run to retry and its event's runs, as the ledger has them."""

    run_id: str
    event: Event
    runs: dict[str, TrackedRun]

    @property
    def run(self) -> TrackedRun:
        """The run to retry."""
        return self.runs[self.run_id]


def tracked_runs(rows: list[Run]) -> dict[str, TrackedRun]:
    """The workflow's view of an event's runs, rebuilt from their ledger rows."""
    produced = Counter(r.parent_id for r in rows if r.parent_id)
    return {
        r.id: TrackedRun(
            id=r.id,
            kind=r.kind,
            state=r.state,
            parent_id=r.parent_id,
            task_id=r.task_id,
            task_name=r.task_name,
            action_type=r.action_type,
            produced=produced[r.id],
            attempts=r.attempts,
        )
        for r in rows
    }


def shop_of_run(store: Store, run_id: str) -> str | None:
    with store.session() as session:
        run = session.get(Run, run_id)
        return run.shop_id if run is not None else None


def retry_target(store: Store, shop_id: str, run_ref: str) -> RetryTarget:
    """The run (by id or unique prefix) with every run of its event, read in one session."""
    with store.session() as session:
        run = find_run(session, shop_id, run_ref)
        event = session.get(Event, run.event_id)
        assert event is not None  # runs are deleted with their event
        rows = list(session.exec(select(Run).where(Run.event_id == run.event_id)))
        return RetryTarget(run_id=run.id, event=event, runs=tracked_runs(rows))


def reopening(settings: Settings, target: RetryTarget) -> WithStartWorkflowOperation[None, None]:
    """The event workflow's start, used only when it has closed: same id, the ledger's runs."""
    event = target.event
    runs = list(target.runs.values())
    return WithStartWorkflowOperation(
        EVENT_WORKFLOW,
        EventWorkflowInput(
            event_id=event.id,
            event_run_id=ledger.derived_id("event-run", event.id),
            shop_id=event.shop_id,
            topic=event.topic,
            time_scale=settings.time_scale,
            closes_when_settled=True,
            runs=runs,
        ),
        id=event.workflow_id,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # The event's first start refuses any earlier workflow with its id (deduplication); a
        # retry is the one start allowed to follow a closed one.
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        **event_workflow_options(
            settings,
            event.model_dump(),
            summary_state(r.state for r in runs),
            sorted({r.task_name for r in runs if r.task_name}),
        ),
    )


async def retry_run(
    settings: Settings, store: Store, client: Client, shop_id: str, run_ref: str, reason: str = ""
) -> RetryAccepted:
    """Retry a finished run, or raise RetryRefused with Mechanic's reason for refusing it.

    Args:
        settings: The deployment's settings (task queue, time scale) for reopening a closed workflow.
        store: The ledger, whose runs judge eligibility once the workflow has closed.
        client: Temporal, to reach or reopen the event's workflow.
        shop_id: The shop the run must belong to.
        run_ref: The run's id or a unique prefix of it, as `ratchet runs list` prints it.
        reason: Recorded on the run as the manual retry's note.
    """
    target = await asyncio.to_thread(retry_target, store, shop_id, run_ref)
    finished = target.run.state.terminal
    refusal = retry_refusal(target.runs, target.run_id)
    if finished and refusal is not None:
        raise RetryRefused(refusal)
    request = RetryRequest(run_id=target.run_id, reason=reason)
    for _ in range(RETRY_IN_FLIGHT_POLLS):
        try:
            return await client.execute_update_with_start_workflow(
                RETRY_UPDATE, request, start_workflow_operation=reopening(settings, target), result_type=RetryAccepted
            )
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            in_flight = isinstance(cause, ApplicationError) and cause.type == RETRY_RUN_IN_FLIGHT
            if not (finished and in_flight):
                raise RetryRefused(str(getattr(cause, "message", None) or cause)) from exc
        except RPCError as exc:
            raise Unavailable(f"cannot retry: {exc}") from exc
        await asyncio.sleep(RETRY_IN_FLIGHT_POLL_SECONDS)
    raise RetryRefused(f"run {target.run_id} is still being performed")
