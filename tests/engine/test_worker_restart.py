"""Runs survive their worker: a durable offset timer fires while no worker runs, and a new one finishes the work."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.client import Client

from ratchet.core.runs import RunKind, RunState
from ratchet.store.database import Store
from starter.api import Ratchet
from tests.support.tasks import add_task
from tests.support.waiting import of_kind, settled, wait_for_runs
from worker import build_worker


async def test_work_continues_on_a_new_worker(api: Ratchet, client: Client, store: Store) -> None:
    queue = f"restart-{uuid.uuid4().hex[:8]}"
    local = Ratchet(api.settings.updated(temporal={"task_queue": queue}), api.store, api.client)
    await add_task(local, "Outlives its worker", '{% action "echo", survived: true %}', ["user/restart/go+40.seconds"])

    async with build_worker(client, local.settings, store, task_queue=queue):
        event_id = await local.events.send("user/restart/go", None)
        runs = await wait_for_runs(
            local, event_id, lambda rs: any(r.kind == RunKind.task and r.state == RunState.scheduled for r in rs)
        )
    # The worker is gone; the 2 s offset timer comes due with nobody polling.
    task_run = of_kind(runs, RunKind.task)[0]
    await asyncio.sleep(3)
    assert (await local.runs.get(task_run.id)).state == RunState.scheduled

    async with build_worker(client, local.settings, store, task_queue=queue):
        runs = await wait_for_runs(local, event_id, settled(1))
    assert [r.state for r in runs] == [RunState.succeeded] * 3
    action = of_kind(runs, RunKind.action)[0]
    assert (await local.runs.get(action.id)).result == {"survived": True}
    assert len(runs) == 3  # nothing recorded twice
