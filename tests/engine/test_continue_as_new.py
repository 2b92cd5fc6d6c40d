"""An event workflow keeps its history bounded: past the limit it continues as new, and retries keep working."""

from __future__ import annotations

import pytest

from ratchet.core.runs import RunKind, RunState
from ratchet.store.ledger import event_workflow_id
from starter.api import Ratchet, RatchetError
from tests.support.tasks import add_task
from tests.support.waiting import eventually, of_kind, settled, wait_for_runs, wait_until_idle


async def test_history_is_bounded_and_retries_survive(api: Ratchet) -> None:
    small = Ratchet(api.settings.updated(history_limit=40), api.store, api.client)
    await add_task(
        small,
        "Keeps failing",
        '{% action "echo", n: 1, __error: "still broken" %}{% action "echo", ok: true %}',
        ["user/can/go"],
    )
    event_id = await small.events.send("user/can/go", None)
    runs = await wait_for_runs(small, event_id, settled(2))
    failed = next(r for r in of_kind(runs, RunKind.action) if r.state == RunState.failed)
    succeeded = next(r for r in of_kind(runs, RunKind.action) if r.state == RunState.succeeded)
    handle = small.client.get_workflow_handle(event_workflow_id(small.settings.shop, event_id))
    first_run_id = (await handle.describe()).run_id

    for attempt in range(2, 6):
        await wait_until_idle(small, event_id)
        await small.runs.retry(failed.id)

        async def retried(n: int = attempt) -> bool:
            detail = await small.runs.get(failed.id)
            return detail.attempts == n and detail.state == RunState.failed

        await eventually(retried)

    await wait_until_idle(small, event_id)
    executions = [w async for w in small.client.list_workflows(f"WorkflowId='{handle.id}'")]
    assert (await handle.describe()).run_id != first_run_id
    assert len(executions) >= 2
    history = await small.client.get_workflow_handle(handle.id).fetch_history()
    assert len(history.events) <= 40 + 20  # the current run's history stays near the limit

    # The new run still knows every run: eligibility and retries work as before.
    with pytest.raises(RatchetError, match="only failed action runs"):
        await small.runs.retry(succeeded.id)
    await small.runs.retry(failed.id)

    async def retried_again() -> bool:
        return (await small.runs.get(failed.id)).attempts >= 6

    await eventually(retried_again)
