"""Waiting on and reading runs through the starter API, as a user would."""

from __future__ import annotations

from collections.abc import Callable

from ratchet.core.runs import RunKind, RunState
from starter.api import Ratchet, RunView
from tests.conftest import eventually


async def wait_for_runs(
    api: Ratchet, event_id: str, ready: Callable[[list[RunView]], bool], timeout: float = 60.0
) -> list[RunView]:
    async def check() -> list[RunView] | None:
        runs = await api.list_runs(event_id=event_id)
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
