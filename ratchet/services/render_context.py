"""Builds the Liquid environment objects (event, task, shop) from ledger rows, as Mechanic exposes them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ratchet.shopify.shop_snapshot import liquid_shop
from ratchet.store.database import read_row
from ratchet.store.tables import Event, Shop, ShopifyConnection, Task

PARENT_GENERATIONS = 5


def event_object(conn: Connection, event: Event, generations: int = PARENT_GENERATIONS) -> dict[str, Any]:
    """The Liquid `event` object, with its parent events (`event.parent.parent…`).

    Args:
        conn: A connection to the ledger.
        event: The event's row.
        generations: How many parent events to include.
    """
    parent = None
    if event.parent_id and generations > 0:
        parent_row = read_row(conn, Event, event.parent_id)
        if parent_row is not None:
            parent = event_object(conn, parent_row, generations - 1)
    return {
        "id": event.id,
        "topic": event.topic,
        "data": event.data,
        "source": event.source,
        "created_at": event.created_at.isoformat() if event.created_at else None,
        "shopify_topic": event.topic if event.topic.startswith("shopify/") else None,
        "parent": parent,
        "webhook_request_id": event.webhook_request_id,
        "flow_action_run_id": None,
    }


def task_object(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "name": task.name,
        "options": task.options,
        "script": task.script,
        "subscriptions": task.subscriptions,
        "subscriptions_template": task.subscriptions_template,
        "event_topics": sorted({s.split("+", 1)[0] for s in task.subscriptions or []}),
        "enabled": task.enabled,
        "docs": task.docs,
        "online_store_javascript": task.online_store_javascript,
        "order_status_javascript": task.order_status_javascript,
        "shopify_api_version": task.shopify_api_version,
        "liquid_profiling": False,
        "perform_action_runs_in_sequence": task.perform_action_runs_in_sequence,
        "halt_action_run_sequence_on_error": task.halt_action_run_sequence_on_error,
        "created_at": task.created_at.isoformat() if task.created_at else None,
        "updated_at": task.updated_at.isoformat() if task.updated_at else None,
    }


def shop_object(conn: Connection, shop: Shop) -> dict[str, Any]:
    """The Liquid `shop` object: Shopify's snapshot of the shop when it is connected."""
    connection = read_row(conn, ShopifyConnection, shop.id)
    return liquid_shop(
        shop.id, connection.snapshot if connection else None, timezone=shop.timezone, shopify_domain=shop.shopify_domain
    )
