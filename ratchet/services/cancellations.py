"""Cancelling an event while it is still scheduled or queued, as Mechanic's event page allows.

Allowed only while none of its runs has started: every run is finished or waiting (scheduled for
its `run_at` or subscription offset, or due and queued). The event's workflow is cancelled
through Temporal, which ends its timers and drops its activities that no worker has started
(https://docs.temporal.io/develop/python/cancellation), and once it has closed, the waiting runs
are failed in the ledger as cancelled. They can be retried like any failed run.

A run whose activity a worker picked up in the moment between the check and the cancellation is
left to finish, and keeps the state its activity records: the ledger's update only touches runs
still waiting.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import Session, select
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError, RPCStatusCode

from ratchet.core.clock import utcnow
from ratchet.core.runs import RunState
from ratchet.errors import Conflict, NotFound, Unavailable
from ratchet.services.event_listing import WAITING_STATES
from ratchet.store.database import Store, table_of
from ratchet.store.tables import Event, Run

CANCELLED_REASON = "cancelled by user"
# How long the cancelled workflow is given to close before the ledger is updated anyway.
CLOSE_TIMEOUT_SECONDS = 30


class CancelRefused(Conflict):
    """The event cannot be cancelled now; the message says why."""


@dataclass(frozen=True)
class CancelledEvent:
    """What a cancellation did: the event, and the runs it failed as cancelled."""

    event_id: str
    cancelled_run_ids: list[str]


def _waiting_runs(session: Session, shop_id: str, event_id: str) -> tuple[Event, list[str]]:
    event = session.get(Event, event_id)
    if event is None or event.shop_id != shop_id:
        raise NotFound(f"unknown event {event_id!r}")
    runs = list(session.exec(select(Run).where(Run.event_id == event_id)))
    started = [r.id for r in runs if r.state == RunState.started]
    waiting = [r.id for r in runs if r.state in WAITING_STATES]
    if started:
        raise CancelRefused(
            f"cannot cancel: run {started[0]} has started; only scheduled or queued events can be cancelled"
        )
    if not waiting:
        raise CancelRefused("cannot cancel: every run of this event has finished")
    return event, waiting


def fail_waiting(session: Session, run_ids: list[str], reason: str) -> list[str]:
    """Fail those of `run_ids` still waiting (a run that started meanwhile is left to its activity)."""
    runs = table_of(Run)
    failed = session.connection().execute(
        update(runs)
        .where(runs.c.id.in_(run_ids), runs.c.state.in_(WAITING_STATES))
        .values(state=RunState.failed, ok=False, error=reason, stopped_at=utcnow())
        .returning(runs.c.id)
    )
    ids = [row[0] for row in failed]
    session.commit()
    return ids


async def cancel_event(store: Store, client: Client, shop_id: str, event_id: str) -> CancelledEvent:
    """Cancel a scheduled or queued event; CancelRefused when any run has started or all have finished."""

    def read() -> tuple[Event, list[str]]:
        with store.session() as session:
            return _waiting_runs(session, shop_id, event_id)

    event, waiting = await asyncio.to_thread(read)
    handle = client.get_workflow_handle(event.workflow_id)
    try:
        await handle.cancel()
        await asyncio.wait_for(handle.result(), timeout=CLOSE_TIMEOUT_SECONDS)
    except WorkflowFailureError:
        pass  # closed as cancelled: what was asked
    except RPCError as exc:
        # Already closed (the ledger alone then holds its waiting runs); anything else is an outage.
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise Unavailable(f"cannot cancel: {exc}") from exc
    except TimeoutError as exc:
        raise Unavailable("cannot cancel: the event's workflow did not close; try again") from exc

    def record() -> list[str]:
        with store.session() as session:
            return fail_waiting(session, waiting, CANCELLED_REASON)

    return CancelledEvent(event.id, await asyncio.to_thread(record))
