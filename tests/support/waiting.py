"""Waiting until the engine has done something, and reading what it did, as a user would.

`eventually` is the one polling loop; the helpers below wait on runs (through the starter API) and on
the events a run created (follow-ups, event actions).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlmodel import col, select

from ratchet.core.runs import RunKind, RunState
from ratchet.store import ledger
from ratchet.store.tables import Event
from starter.api import Ratchet, RunView
from workflows.event import EventWorkflow


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 60.0, interval: float = 0.2) -> Any:
    """Poll until `check` returns something truthy; fail with the last value otherwise."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s; last value: {last!r}")


async def until_answering(url: str, timeout: float = 20.0) -> None:
    """Wait until a server started in the background answers GET `url` with 200."""

    async def answering() -> bool:
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(url)).status_code == 200
        except httpx.TransportError:
            return False

    await eventually(answering, timeout=timeout, interval=0.05)


# -- runs -------------------------------------------------------------------------------------------


async def wait_for_runs(
    api: Ratchet, event_id: str, ready: Callable[[list[RunView]], bool], timeout: float = 60.0
) -> list[RunView]:
    async def check() -> list[RunView] | None:
        runs = await api.runs.list(event_id=event_id)
        return runs if ready(runs) else None

    return await eventually(check, timeout=timeout)


def of_kind(runs: list[RunView], kind: RunKind) -> list[RunView]:
    return sorted((r for r in runs if r.kind == kind), key=lambda r: (r.enqueued_at is None, r.enqueued_at, r.id))


def all_terminal(runs: list[RunView]) -> bool:
    return bool(runs) and all(r.state in (RunState.failed, RunState.succeeded) for r in runs)


def settled(expected_actions: int) -> Callable[[list[RunView]], bool]:
    """Every run finished and the expected number of action runs exist."""

    def ready(runs: list[RunView]) -> bool:
        return all_terminal(runs) and len(of_kind(runs, RunKind.action)) == expected_actions

    return ready


# -- events a run created ---------------------------------------------------------------------------


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
