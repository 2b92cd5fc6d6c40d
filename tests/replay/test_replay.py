"""Replay event-workflow histories against the current workflow code.

Runs can wait for months on offset timers, so a deploy must never break a history already in
flight. Committed histories (tests/replay/histories/) come from earlier versions — `legacy-*`
from before event workflows closed once settled (they stayed open 15 days for retries),
`patch-marker-*` from when new workflows learned that from `workflow.patched` (a marker in every
history) — and fresh ones are recorded here from the scenarios that exercise every branch. Set
RATCHET_RECORD_HISTORIES=1 to (re)write the `<scenario>-run<N>` set after a deliberate,
`workflow.patched`-guarded change.
"""

from __future__ import annotations

import os
from pathlib import Path

from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from ratchet.core.runs import RunKind, RunState
from ratchet.engine.connection import DATA_CONVERTER
from ratchet.store.ledger import event_workflow_id
from starter.api import Ratchet
from tests.support.tasks import add_task
from tests.support.waiting import eventually, of_kind, settled, wait_for_runs
from workflows.event import EventWorkflow

HISTORIES = Path(__file__).parent / "histories"


def replayer() -> Replayer:
    # The SDK's default, strict sandbox: the worker runs workflows unsandboxed for speed
    # (worker.py), so this replay is where a non-deterministic call in workflow code fails.
    return Replayer(workflows=[EventWorkflow], data_converter=DATA_CONVERTER, workflow_runner=SandboxedWorkflowRunner())


async def test_committed_histories_replay() -> None:
    files = sorted(HISTORIES.glob("*.json"))
    assert files, "no recorded histories: run with RATCHET_RECORD_HISTORIES=1 once"
    for path in files:
        from temporalio.client import WorkflowHistory

        history = WorkflowHistory.from_json(path.stem, path.read_text())
        await replayer().replay_workflow(history)


async def _scenarios(api: Ratchet) -> dict[str, str]:
    """Event ids of runs that went through each branch of the workflow."""
    await add_task(api, "Replay echo", '{% action "echo", x: 1 %}', ["user/replay/flow", "user/replay/flow+20.seconds"])
    await add_task(
        api,
        "Replay sequence",
        '{% action "echo", a: 1 %}{% action "echo", __error: "stop" %}{% action "echo", c: 3 %}',
        ["user/replay/seq"],
        perform_action_runs_in_sequence=True,
        halt_action_run_sequence_on_error=True,
    )
    await add_task(api, "Replay retry", '{% action "test_flaky", succeed_on: 2 %}', ["user/replay/retry"])
    flow = await api.events.send("user/replay/flow", None)
    seq = await api.events.send("user/replay/seq", None)
    retry = await api.events.send("user/replay/retry", None)
    await wait_for_runs(api, flow, settled(2))
    runs = await wait_for_runs(api, seq, settled(3))
    await wait_for_runs(api, retry, settled(1))
    failed = next(
        r
        for r in of_kind(runs, RunKind.action)
        if r.state == RunState.failed and not (r.error or "").startswith("halted")
    )
    await api.runs.retry(failed.id, reason="replay scenario")

    async def retried() -> bool:
        return (await api.runs.get(failed.id)).attempts == 2

    await eventually(retried)
    return {"offset-and-flow": flow, "sequence-halt-manual-retry": seq, "automatic-retry": retry}


async def test_fresh_histories_replay(api: Ratchet, client: Client) -> None:
    scenarios = await _scenarios(api)
    for name, event_id in scenarios.items():
        workflow_id = event_workflow_id(api.settings.shop, event_id)
        # A retry reopens the closed workflow: every run of the id is its own history, recorded
        # once all have closed.
        query = f"WorkflowId='{workflow_id}'"

        async def all_closed(query: str = query) -> list[WorkflowExecution] | None:
            found = [w async for w in client.list_workflows(query)]
            return found if all(w.status == WorkflowExecutionStatus.COMPLETED for w in found) else None

        executions = await eventually(all_closed)
        for number, execution in enumerate(sorted(executions, key=lambda w: w.start_time), start=1):
            history = await client.get_workflow_handle(workflow_id, run_id=execution.run_id).fetch_history()
            await replayer().replay_workflow(history)
            # New starts say in their input that they close once settled: no patch marker.
            assert not [e for e in history.events if e.HasField("marker_recorded_event_attributes")]
            if os.environ.get("RATCHET_RECORD_HISTORIES"):
                (HISTORIES / f"{name}-run{number}.json").write_text(history.to_json())
