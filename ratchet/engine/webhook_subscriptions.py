"""Asking for a shop's Shopify webhook subscriptions to be reconciled: signal-with-start of its workflow.

One `WebhookSubscriptionsWorkflow` per shop (id `webhooks/{shop}`). Every task or shop change
signals it; a burst of changes lands in one debounce window and becomes one reconcile
(ratchet/services/webhook_subscriptions.py). When Shopify is down the reconcile activity is
retried with backoff until it succeeds.
"""

from __future__ import annotations

import asyncio

from sqlmodel import select
from temporalio.client import Client

from ratchet.config import Settings
from ratchet.engine.contract import RECONCILE_SIGNAL, WEBHOOK_SUBSCRIPTIONS_WORKFLOW, ReconcileInput
from ratchet.store.database import Store
from ratchet.store.tables import ShopifyConnection

# Real seconds a burst of task changes is gathered for before one reconcile runs.
DEBOUNCE_SECONDS = 5.0


def subscriptions_workflow_id(shop_id: str) -> str:
    return f"webhooks/{shop_id}"


async def request_reconcile(client: Client, settings: Settings, shop_id: str) -> None:
    # Temporal timers never fire sooner than ~1 s, so scaled test waits stay at that floor.
    debounce = max(1.0, settings.scaled(DEBOUNCE_SECONDS).total_seconds())
    await client.start_workflow(
        WEBHOOK_SUBSCRIPTIONS_WORKFLOW,
        ReconcileInput(shop_id=shop_id, debounce_seconds=debounce),
        id=subscriptions_workflow_id(shop_id),
        task_queue=settings.temporal.task_queue,
        start_signal=RECONCILE_SIGNAL,
        static_summary=f"Shopify webhook subscriptions · {shop_id}",
    )


def _connected_shops(store: Store) -> list[str]:
    with store.session() as session:
        return list(session.exec(select(ShopifyConnection.shop_id)))


async def request_all_reconciles(client: Client, settings: Settings, store: Store) -> None:
    """At worker start: changes made while no worker ran (or Shopify-side drift) are caught up."""
    for shop_id in await asyncio.to_thread(_connected_shops, store):
        await request_reconcile(client, settings, shop_id)
