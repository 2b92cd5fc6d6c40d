"""The baseline for benchmarks: bare Temporal with Ratchet's activity shape and priorities, no engine work.

Kept in its own module with nothing but temporalio imports, because the workflow sandbox
re-imports the module that defines a workflow.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import Priority
from temporalio.worker import Worker

BARE_QUEUE = "bare-bench"


@activity.defn
async def bare_step(kind: str) -> str:
    return datetime.now(UTC).isoformat()


@workflow.defn
class BareEventWorkflow:
    @workflow.run
    async def run(self) -> str:
        done = ""
        for kind, key in (("event", 3), ("task", 2), ("action", 1)):
            done = await workflow.execute_activity(
                bare_step, kind, start_to_close_timeout=timedelta(seconds=60), priority=Priority(priority_key=key)
            )
        return done


async def bare_worker(address: str) -> None:
    client = await Client.connect(address)
    async with Worker(client, task_queue=BARE_QUEUE, workflows=[BareEventWorkflow], activities=[bare_step]):
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(bare_worker(sys.argv[1]))
