"""Starting the retry desk (workflows/retry_desk.py), the workflow operators signal for manual retries."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from ratchet.config import Settings
from ratchet.engine.contract import RETRY_DESK_ID, RETRY_DESK_WORKFLOW


async def ensure_retry_desk(client: Client, settings: Settings) -> None:
    """Start the desk unless it is running (every worker calls this; the first one starts it)."""
    await client.start_workflow(
        RETRY_DESK_WORKFLOW,
        id=RETRY_DESK_ID,
        task_queue=settings.temporal.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary='manual retries: signal `retry` with {"run_id": …, "reason": …}',
    )
