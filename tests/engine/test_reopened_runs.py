"""A closed event workflow reopens for each retry.

Every run's history stays short, and the runs carried from the ledger keep eligibility and
attempts exact across reopenings.
"""

from __future__ import annotations

import pytest

from ratchet.core.runs import RunKind, RunState
from ratchet.store.ledger import event_workflow_id
from starter.api import Ratchet, RatchetError
from tests.support.tasks import add_task
from tests.support.waiting import eventually, of_kind, settled, wait_for_runs, wait_until_idle


async def test_each_retry_is_a_short_run_and_eligibility_survives(api: Ratchet) -> None:
    await add_task(
        api,
        "Keeps failing",
        '{% action "echo", n: 1, __error: "still broken" %}{% action "echo", ok: true %}',
        ["user/can/go"],
    )
    event_id = await api.events.send("user/can/go", None)
    runs = await wait_for_runs(api, event_id, settled(2))
    failed = next(r for r in of_kind(runs, RunKind.action) if r.state == RunState.failed)
    succeeded = next(r for r in of_kind(runs, RunKind.action) if r.state == RunState.succeeded)
    handle = api.client.get_workflow_handle(event_workflow_id(api.settings.shop, event_id))

    for attempt in range(2, 6):
        await wait_until_idle(api, event_id)
        await api.runs.retry(failed.id)

        async def retried(n: int = attempt) -> bool:
            detail = await api.runs.get(failed.id)
            return detail.attempts == n and detail.state == RunState.failed

        await eventually(retried)

    await wait_until_idle(api, event_id)

    async def one_run_per_retry() -> bool:
        # The first run and one per retry; `eventually`, as visibility lags the runs a little.
        return len([w async for w in api.client.list_workflows(f"WorkflowId='{handle.id}'")]) == 5

    await eventually(one_run_per_retry)
    history = await handle.fetch_history()
    assert len(history.events) < 30  # the last run holds one retry's events, not all five

    # The reopened run knows every run: eligibility and retries work as before.
    with pytest.raises(RatchetError, match="only failed action runs"):
        await api.runs.retry(succeeded.id)
    await api.runs.retry(failed.id)

    async def retried_again() -> bool:
        return (await api.runs.get(failed.id)).attempts == 6

    await eventually(retried_again)
