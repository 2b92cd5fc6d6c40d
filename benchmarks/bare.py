"""The baseline for benchmarks: bare Temporal with Ratchet's activity shape, no engine work.

The same three activities in sequence (event, task, action) with Ratchet's priority keys, fairness
key and heartbeat timeout, on a worker built with Ratchet's worker options (`worker.WORKER_OPTIONS`:
workflow runner, sticky-queue timeout, build id), so the ratio measures Ratchet's own work and
nothing the platform could have been told to skip. `--sandboxed` runs the same workflow in the
SDK's default sandbox instead, to keep what unsandboxing saves visible.

The module imports nothing but temporalio and Ratchet's constants (passed through) at its top,
because the sandbox re-imports the module that defines a workflow; the worker's options are
imported when the worker starts.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import Priority
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

with workflow.unsafe.imports_passed_through():
    from ratchet.core.runs import PRIORITY_ACTION, PRIORITY_EVENT, PRIORITY_TASK, RUN_HEARTBEAT_TIMEOUT_SECONDS

BARE_QUEUE = "bare-bench"
SANDBOXED_QUEUE = "bare-bench-sandboxed"
BARE_SHOP = "default"


@activity.defn
async def bare_step(kind: str) -> str:
    return datetime.now(UTC).isoformat()


@workflow.defn
class BareEventWorkflow:
    @workflow.run
    async def run(self) -> str:
        done = ""
        for kind, key in (("event", PRIORITY_EVENT), ("task", PRIORITY_TASK), ("action", PRIORITY_ACTION)):
            done = await workflow.execute_activity(
                bare_step,
                kind,
                start_to_close_timeout=timedelta(seconds=60),
                heartbeat_timeout=timedelta(seconds=RUN_HEARTBEAT_TIMEOUT_SECONDS),
                priority=Priority(priority_key=key, fairness_key=BARE_SHOP),
            )
        return done


async def bare_worker(address: str, *, sandboxed: bool) -> None:
    from worker import WORKER_OPTIONS

    options = dict(WORKER_OPTIONS)
    if sandboxed:
        options["workflow_runner"] = SandboxedWorkflowRunner()
    client = await Client.connect(address)
    async with Worker(
        client,
        task_queue=SANDBOXED_QUEUE if sandboxed else BARE_QUEUE,
        workflows=[BareEventWorkflow],
        activities=[bare_step],
        **options,
    ):
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="a bare Temporal worker for the benchmarks")
    parser.add_argument("address")
    parser.add_argument("--sandboxed", action="store_true", help="run the workflow in the SDK's default sandbox")
    args = parser.parse_args()
    asyncio.run(bare_worker(args.address, sandboxed=args.sandboxed))
