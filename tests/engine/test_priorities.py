"""Priorities: with one activity slot saturated, due action runs go first, then task runs, then event runs.

The runs are queued in the worst order for FIFO (events, then tasks, then actions) while no
activity worker polls; then a worker with a single activity slot starts and the order in which
it starts them is read back from the ledger.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

from temporalio.client import Client

from ratchet.core.runs import RunKind, RunState
from ratchet.store.database import Store
from starter.api import Ratchet
from tests.support.tasks import add_task
from tests.support.waiting import of_kind, settled, wait_for_runs, wait_until_idle
from worker import build_worker


async def _pending_activities(client: Client, workflow_ids: list[str]) -> int:
    total = 0
    for workflow_id in workflow_ids:
        total += len((await client.get_workflow_handle(workflow_id).describe()).raw_description.pending_activities)
    return total


async def test_actions_before_tasks_before_events(api: Ratchet, client: Client, store: Store) -> None:
    queue = f"priorities-{uuid.uuid4().hex[:8]}"
    prio = Ratchet(api.settings.updated(temporal={"task_queue": queue}), api.store, api.client)
    await add_task(prio, "Failing action", '{% action "echo", __error: "fails" %}', ["user/prio/action"])
    await add_task(prio, "Failing task", '{% error "fails" %}', ["user/prio/task"])
    await add_task(prio, "Event target", '{% log "ok" %}', ["user/prio/event"])

    # Phase 1: a normal worker produces three failed action runs and three failed task runs.
    async with build_worker(client, prio.settings, store, task_queue=queue):
        action_events = [await prio.events.send("user/prio/action", None) for _ in range(3)]
        task_events = [await prio.events.send("user/prio/task", None) for _ in range(3)]
        failed_actions = [of_kind(await wait_for_runs(prio, e, settled(1)), RunKind.action)[0] for e in action_events]
        failed_tasks = [
            of_kind(
                await wait_for_runs(prio, e, lambda rs: len(rs) == 2 and all(r.state.terminal for r in rs)),
                RunKind.task,
            )[0]
            for e in task_events
        ]
        for event_id in action_events + task_events:
            await wait_until_idle(prio, event_id)  # the workflows have seen the failures too

    # Phase 2: only workflows are processed; queue event runs, then task runs, then action runs.
    async with build_worker(client, prio.settings, store, task_queue=queue, activities=False):
        new_events = [await prio.events.send("user/prio/event", None) for _ in range(3)]
        for task_run in failed_tasks:
            await prio.runs.retry(task_run.id)
        for action_run in failed_actions:
            await prio.runs.retry(action_run.id)
        workflow_ids = [f"event/{prio.settings.shop}/{e}" for e in new_events + task_events + action_events]
        for _ in range(100):
            if await _pending_activities(client, workflow_ids) == 9:
                break
            await asyncio.sleep(0.1)
        assert await _pending_activities(client, workflow_ids) == 9

        # Phase 3: one activity slot drains the queue.
        async with build_worker(
            client, prio.settings, store, task_queue=queue, workflows=False, max_concurrent_activities=1
        ):
            for event_id in new_events:
                await wait_for_runs(
                    prio, event_id, lambda rs: len(rs) == 2 and all(r.state == RunState.succeeded for r in rs)
                )
            for event_id in task_events:
                await wait_for_runs(
                    prio,
                    event_id,
                    lambda rs: of_kind(rs, RunKind.task)[0].attempts == 2 and all(r.state.terminal for r in rs),
                )
            for event_id in action_events:
                await wait_for_runs(
                    prio,
                    event_id,
                    lambda rs: of_kind(rs, RunKind.action)[0].attempts == 2 and all(r.state.terminal for r in rs),
                )

    started = []
    for event_id in new_events:
        started.append(("event", of_kind(await prio.runs.list(event_id=event_id), RunKind.event)[0].started_at))
    for run in failed_tasks:
        started.append(("task", (await prio.runs.get(run.id)).started_at))
    for run in failed_actions:
        started.append(("action", (await prio.runs.get(run.id)).started_at))
    assert all(at is not None for _, at in started), started
    order = [kind for kind, _ in sorted(started, key=lambda item: item[1] or datetime.max)]
    print("start order with one slot:", order)
    assert order == ["action"] * 3 + ["task"] * 3 + ["event"] * 3
