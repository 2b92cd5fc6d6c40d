"""The Ratchet worker: every Ratchet workflow and activity on one task queue, and its services.

It runs the event workflows with their run activities, and the scheduler ticks, bulk operation
monitors, Shopify webhook reconciles, the retention pass and the retry desk. The services they
share (`WorkerServices`) are built once per worker and handed to each activity class as the
typed constructor arguments it uses.

Scale out by running more of these (`ratchet worker` or `python worker.py`) against the same
Temporal cluster and database; Temporal does all queueing and scheduling.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from dataclasses import dataclass
from datetime import timedelta
from importlib.metadata import version
from typing import Any

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.bulk_operations import BulkOperationActivities
from activities.bulk_retry import BulkRetryActivities
from activities.grant_renewal import GrantRenewalActivities
from activities.retention import RetentionActivities
from activities.retry_desk import RetryDeskActivities
from activities.runs import RunActivities
from activities.scheduler_tick import SchedulerActivities
from activities.webhook_subscriptions import WebhookSubscriptionsActivities
from ratchet.config import Settings, load_settings
from ratchet.engine.connection import connect, ensure_search_attributes
from ratchet.engine.grant_renewal import ensure_grant_renewal_schedule
from ratchet.engine.logs import quiet_http_client_logs
from ratchet.engine.retention import ensure_retention_schedule
from ratchet.engine.retry_desk import ensure_retry_desk
from ratchet.engine.schedules import sync_all_schedules
from ratchet.engine.webhook_subscriptions import request_all_reconciles
from ratchet.files.pdf_scripts import close_script_browsers
from ratchet.services.bulk_operations import BulkOperationService
from ratchet.services.events import EventService
from ratchet.services.perform import PerformService
from ratchet.services.shop_cache import purge_expired
from ratchet.shopify.client import ShopifyConfig
from ratchet.shopify.pools import ShopifyPools
from ratchet.store.database import Store, get_store
from workflows.bulk_operations import BulkOperationWorkflow
from workflows.bulk_retry import BulkRetryWorkflow
from workflows.event import EventWorkflow
from workflows.grant_renewal import GrantRenewalWorkflow
from workflows.retention import RetentionWorkflow
from workflows.retry_desk import RetryDeskWorkflow
from workflows.scheduler_tick import SchedulerTickWorkflow
from workflows.webhook_subscriptions import WebhookSubscriptionsWorkflow

# Workflows run outside the SDK's sandbox. The sandbox re-executes every workflow activation
# through its import hooks and restricted builtins: measured with benchmarks/throughput.py, that
# was 2.6 of the worker's 18.7 CPU-ms per event, a cost every event pays for a check that only
# matters when workflow code changes. The check is kept where it belongs, in the tests:
# tests/replay/test_replay.py replays committed and fresh histories of every event-workflow
# branch under the SDK's default (strict) sandbox, which fails on any non-deterministic call,
# and tests/engine/test_contract.py fails if a workflow module imports the store, the network or
# the Temporal client.
WORKFLOW_RUNNER = UnsandboxedWorkflowRunner()

BUILD_ID = f"ratchet-{version('ratchet')}"

# A killed worker's sticky queue would hold its workflows' next task for 10 s by default.
STICKY_QUEUE_TIMEOUT = timedelta(seconds=2)

# The SDK options every Ratchet worker runs with; benchmarks/bare.py builds its baseline worker
# with them too, so the benchmark compares Ratchet's work, not the platform's settings.
WORKER_OPTIONS: dict[str, Any] = {
    "sticky_queue_schedule_to_start_timeout": STICKY_QUEUE_TIMEOUT,
    "workflow_runner": WORKFLOW_RUNNER,
    # Without an explicit build id the SDK hashes the code of every loaded module at start.
    "build_id": BUILD_ID,
}


@dataclass(frozen=True)
class WorkerServices:
    """The services one worker builds once and shares between its activities (and their actions)."""

    events: EventService
    """Creates events (follow-ups, scheduler ticks, bulk operation reports, the event action)."""
    shopify_pools: ShopifyPools
    """The process's Shopify connections, pooled per shop; closed when the worker shuts down."""
    bulk_operations: BulkOperationService
    """Follows the bulk operations `shopify` actions start, and reports them back."""
    perform: PerformService
    """Performs and records each attempt of a run."""


def build_services(settings: Settings, store: Store, client: Client) -> WorkerServices:
    events = EventService(settings, store, client)
    shopify_pools = ShopifyPools(ShopifyConfig.from_settings(settings))
    bulk_operations = BulkOperationService(settings, store, client, events)
    return WorkerServices(
        events=events,
        shopify_pools=shopify_pools,
        bulk_operations=bulk_operations,
        perform=PerformService(settings, store, events, shopify_pools, bulk_operations),
    )


class RatchetWorker(Worker):
    """A Worker that keeps its services, and releases their Shopify connection pools and PDF browser when it shuts down."""

    def __init__(self, client: Client, *, services: WorkerServices, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self.services = services

    async def shutdown(self) -> None:
        await super().shutdown()
        await self.services.shopify_pools.aclose()
        await close_script_browsers()


def build_worker(
    client: Client,
    settings: Settings,
    store: Store,
    *,
    task_queue: str | None = None,
    workflows: bool = True,
    activities: bool = True,
    max_concurrent_activities: int | None = None,
) -> RatchetWorker:
    """A worker on `task_queue` (the settings' by default), its services built here, once.

    Args:
        client: the Temporal client it polls with.
        settings: Ratchet's settings (task queue, time scale, Shopify and ingress options).
        store: the ledger's database.
        task_queue: the queue it polls; the settings' when None.
        workflows: whether it runs workflows (tests turn either side off to queue work unpolled).
        activities: whether it runs activities.
        max_concurrent_activities: the SDK's limit on activities in flight (its default when None).
    """
    quiet_http_client_logs()
    services = build_services(settings, store, client)
    kwargs: dict[str, Any] = {}
    if max_concurrent_activities is not None:
        kwargs["max_concurrent_activities"] = max_concurrent_activities
    return RatchetWorker(
        client,
        services=services,
        task_queue=task_queue or settings.temporal.task_queue,
        workflows=[
            EventWorkflow,
            SchedulerTickWorkflow,
            WebhookSubscriptionsWorkflow,
            BulkOperationWorkflow,
            RetentionWorkflow,
            RetryDeskWorkflow,
            BulkRetryWorkflow,
            GrantRenewalWorkflow,
        ]
        if workflows
        else [],
        activities=RunActivities(settings, services.perform).all()
        + SchedulerActivities(services.events).all()
        + WebhookSubscriptionsActivities(settings, store, services.shopify_pools).all()
        + BulkOperationActivities(services.bulk_operations).all()
        + RetentionActivities(settings, store).all()
        + RetryDeskActivities(settings, store, client).all()
        + BulkRetryActivities(settings, store, client).all()
        + GrantRenewalActivities(settings, store).all()
        if activities
        else [],
        **WORKER_OPTIONS,
        **kwargs,
    )


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    client = await connect(settings)
    await ensure_search_attributes(client)
    store = get_store(settings.effective_database_url)
    worker = build_worker(client, settings, store)
    # Catch up schedule changes made while no Temporal was reachable (offline CLI edits).
    await sync_all_schedules(client, store, task_queue=settings.temporal.task_queue)
    await request_all_reconciles(client, settings, store)
    # Bulk operations whose monitor could not be started when their action ran.
    await worker.services.bulk_operations.resume_monitors()
    await ensure_retention_schedule(client, settings)
    await ensure_grant_renewal_schedule(client, settings)
    await ensure_retry_desk(client, settings)
    await asyncio.to_thread(purge_expired, store)
    # Everything loaded so far (modules, settings, pools) lives as long as the process: frozen out
    # of the cyclic collector, later collections walk only what runs allocate.
    gc.freeze()
    async with worker:
        await (stop.wait() if stop else asyncio.Event().wait())


if __name__ == "__main__":
    from ratchet.engine import metrics
    from ratchet.engine.logs import configure_logging

    main_settings = load_settings()
    configure_logging(main_settings)
    metrics.install(main_settings)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_worker(main_settings))
