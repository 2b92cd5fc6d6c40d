"""Reading events the engine created, and waiting until an event workflow has nothing in flight."""

from __future__ import annotations

from sqlmodel import col, select

from ratchet.store import ledger
from ratchet.store.tables import Event
from starter.api import Ratchet
from tests.conftest import eventually
from workflows.event import EventWorkflow


def child_events(api: Ratchet, parent_id: str, topic: str | None = None) -> list[Event]:
    """Events whose parent is `parent_id` (follow-ups, event actions), oldest first."""
    with api.store.session() as session:
        query = select(Event).where(Event.parent_id == parent_id)
        if topic is not None:
            query = query.where(Event.topic == topic)
        return list(session.exec(query.order_by(col(Event.created_at))))


async def wait_for_children(api: Ratchet, parent_id: str, topic: str, count: int = 1) -> list[Event]:
    async def check() -> list[Event] | None:
        found = child_events(api, parent_id, topic)
        return found if len(found) >= count else None

    return await eventually(check)


async def wait_until_idle(api: Ratchet, event_id: str) -> None:
    """Every run of the event's workflow has finished its activity, follow-ups included.

    The ledger marks a run finished before its activity creates the follow-ups, so "no follow-up
    was made" can only be asserted once the workflow itself has seen the activity return.
    """
    handle = api.client.get_workflow_handle(ledger.event_workflow_id(api.settings.shop, event_id))

    async def check() -> bool:
        runs = await handle.query(EventWorkflow.runs_query)
        return bool(runs) and all(r.state.terminal for r in runs)

    await eventually(check)
