"""The durable side of retention: a Temporal Schedule for the ledger, namespace retention for Temporal.

`ratchet-retention` starts one RetentionWorkflow an hour, a housekeeping Schedule
(ratchet/engine/housekeeping.py). Temporal keeps closed workflow histories for the namespace's
retention, which the embedded server gets set to the same window.
"""

from __future__ import annotations

from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from temporalio.api.namespace.v1 import NamespaceConfig
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, UpdateNamespaceRequest
from temporalio.client import (
    Client,
)

from ratchet.config import Settings
from ratchet.engine.contract import RETENTION_WORKFLOW
from ratchet.engine.housekeeping import ensure_interval_schedule

RETENTION_SCHEDULE_ID = "ratchet-retention"
RETENTION_INTERVAL = timedelta(hours=1)
# Temporal refuses a namespace retention below one day.
MINIMUM_NAMESPACE_RETENTION = timedelta(days=1)


async def ensure_retention_schedule(client: Client, settings: Settings) -> None:
    """Create the schedule if it is missing (every worker calls this; the first one creates it)."""
    await ensure_interval_schedule(
        client, RETENTION_SCHEDULE_ID, RETENTION_WORKFLOW, RETENTION_INTERVAL, settings.temporal.task_queue
    )


def namespace_retention(settings: Settings) -> timedelta:
    return max(settings.retention, MINIMUM_NAMESPACE_RETENTION)


async def set_namespace_retention(client: Client, settings: Settings) -> None:
    """Match Temporal's history retention to the ledger's (the embedded server; clusters are configured)."""
    ttl = Duration()
    ttl.FromTimedelta(namespace_retention(settings))
    await client.workflow_service.update_namespace(
        UpdateNamespaceRequest(namespace=client.namespace, config=NamespaceConfig(workflow_execution_retention_ttl=ttl))
    )


async def get_namespace_retention(client: Client) -> timedelta:
    described = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=client.namespace))
    return described.config.workflow_execution_retention_ttl.ToTimedelta()
