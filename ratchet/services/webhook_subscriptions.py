"""Keep a shop's Shopify webhook subscriptions equal to what its enabled tasks need.

Wanted: one subscription per Shopify topic an enabled task subscribes to (its rendered
subscriptions), `bulk_operations/finish` when a task subscribes to
`mechanic/shopify/bulk_operation`, and always `shop/update` (the shop snapshot follows it).
Each points at RATCHET_PUBLIC_URL + /webhooks/shopify/{shop}. Reconciling creates what is
missing and deletes Ratchet's own subscriptions nothing needs; subscriptions whose callback is
not ours are never touched. A topic Shopify refuses (missing scope, not deliverable) is recorded
with its reason and does not stop the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col, delete, select

from ratchet.core.clock import utcnow
from ratchet.core.subscriptions import TopicError, parse_subscription
from ratchet.services.shop_connection import PUBLIC_URL_MISSING
from ratchet.shopify.client import AsyncShopifyClient, ShopifyConfig, ShopTarget
from ratchet.shopify.webhook_topics import (
    SHOP_UPDATE,
    UnknownWebhookTopic,
    WebhookTopic,
    topic_from_graphql_enum,
    webhook_topic_for,
)
from ratchet.store.database import Store
from ratchet.store.tables import Shop, ShopifyConnection, ShopifyWebhookSubscription, Task

LIST_QUERY = """query RatchetWebhooks($after: String) {
  webhookSubscriptions(first: 100, after: $after) { nodes { id topic uri } pageInfo { hasNextPage endCursor } }
}"""
CREATE_MUTATION = """mutation RatchetWebhookCreate($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) { webhookSubscription { id } userErrors { field message } }
}"""
DELETE_MUTATION = """mutation RatchetWebhookDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } }
}"""


def callback_url(public_url: str, shop_id: str) -> str:
    return f"{public_url.rstrip('/')}/webhooks/shopify/{shop_id}"


@dataclass
class ReconcileResult:
    """What one reconcile did: skipped (and why), or the topics created, deleted and refused."""

    shop_id: str
    skipped: str | None = None
    created: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def wanted_topics(tasks: list[Task]) -> tuple[set[str], dict[str, str]]:
    """Shopify topics the enabled tasks need (plus shop/update), and topics that cannot be subscribed."""
    wanted = {SHOP_UPDATE}
    problems: dict[str, str] = {}
    for task in tasks:
        if not task.enabled:
            continue
        for mechanic_topic, topic in _webhook_topics(task):
            if isinstance(topic, UnknownWebhookTopic):
                problems[mechanic_topic.removeprefix("shopify/")] = f"{topic} (task {task.name!r})"
            elif topic is not None:
                wanted.add(topic.name)
    return wanted, problems


def _webhook_topics(task: Task) -> Iterator[tuple[str, WebhookTopic | UnknownWebhookTopic | None]]:
    """Each topic the task subscribes to, with the Shopify webhook it needs, None, or why Shopify has none.

    Subscriptions that do not parse are left out: they subscribe to nothing.
    """
    for line in task.subscriptions or []:
        try:
            mechanic_topic = parse_subscription(line).topic
        except TopicError:
            continue
        try:
            yield mechanic_topic, webhook_topic_for(mechanic_topic)
        except UnknownWebhookTopic as exc:
            yield mechanic_topic, exc


def webhook_problems(store: Store, shop_id: str, tasks: list[Task]) -> dict[str, list[str]]:
    """Per task id: the Shopify topics it subscribes to that it will not receive, each with the reason.

    Those Shopify refused (missing scope, not deliverable) and those that have no webhook at all.
    """
    with store.session() as session:
        refused = {
            row.topic: row.error
            for row in session.exec(
                select(ShopifyWebhookSubscription).where(
                    col(ShopifyWebhookSubscription.shop_id) == shop_id,
                    col(ShopifyWebhookSubscription.error).is_not(None),
                )
            )
        }
    problems: dict[str, list[str]] = {}
    for task in tasks:
        for _, topic in _webhook_topics(task):
            if isinstance(topic, UnknownWebhookTopic):
                problems.setdefault(task.id, []).append(str(topic))
            elif topic is not None and topic.name in refused:
                problems.setdefault(task.id, []).append(
                    f"{topic.name}: Shopify refused the webhook: {refused[topic.name]}"
                )
    return problems


def public_url_note(task: Task, public_url: str | None) -> str | None:
    """One line for import and enable: the task needs Shopify webhooks that nothing can register yet."""
    if public_url or not task.enabled:
        return None
    wanted, _ = wanted_topics([task])
    wanted.discard(SHOP_UPDATE)
    if not wanted:
        return None
    return f"note: {task.name!r} subscribes to Shopify topics ({', '.join(sorted(wanted))}) but {PUBLIC_URL_MISSING}"


def _load(store: Store, shop_id: str) -> tuple[Shop | None, bool, list[Task]]:
    with store.session() as session:
        shop = session.get(Shop, shop_id)
        connected = session.get(ShopifyConnection, shop_id) is not None
        tasks = list(session.exec(select(Task).where(Task.shop_id == shop_id)))
        return shop, connected, tasks


def _user_errors(payload: dict[str, Any]) -> str | None:
    errors = payload.get("userErrors") or []
    return "; ".join(str(e.get("message")) for e in errors) or None


async def _existing(client: AsyncShopifyClient) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        body = await client.graphql(LIST_QUERY, {"after": after})
        if body.get("errors"):
            raise RuntimeError(f"Shopify refused to list webhook subscriptions: {body['errors']}")
        page = (body.get("data") or {}).get("webhookSubscriptions") or {}
        nodes.extend(page.get("nodes") or [])
        info = page.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return nodes
        after = info.get("endCursor")


async def reconcile_subscriptions(
    store: Store, shop_id: str, *, public_url: str | None, config: ShopifyConfig, http: Any = None
) -> ReconcileResult:
    """One reconcile pass. Shopify outages raise (the caller retries); refusals are recorded per topic."""
    result = ReconcileResult(shop_id)
    shop, connected, tasks = await asyncio.to_thread(_load, store, shop_id)
    if shop is None or not connected or not shop.access_token:
        result.skipped = "the shop has no Shopify connection"
        return result
    if not public_url:
        result.skipped = "RATCHET_PUBLIC_URL is not set"
        return result
    ours = callback_url(public_url, shop_id)
    wanted, result.errors = wanted_topics(tasks)
    async with AsyncShopifyClient(ShopTarget.from_shop(shop), config=config, store=store, http=http) as client:
        registered: dict[str, str] = {}
        for node in await _existing(client):
            if node.get("uri") != ours:
                continue  # someone else's subscription: never touched
            topic = topic_from_graphql_enum(str(node.get("topic")))
            if topic in wanted and topic not in registered:
                registered[topic] = str(node["id"])
                continue
            body = await client.graphql(DELETE_MUTATION, {"id": node["id"]})
            if body.get("errors"):
                raise RuntimeError(f"Shopify refused to delete webhook subscription {node['id']}: {body['errors']}")
            result.deleted.append(topic or str(node.get("topic")))
        for topic in sorted(wanted - registered.keys()):
            variables = {
                "topic": topic.upper().replace("/", "_"),
                "sub": {"uri": ours, "format": "JSON"},
            }
            body = await client.graphql(CREATE_MUTATION, variables)
            payload = (body.get("data") or {}).get("webhookSubscriptionCreate") or {}
            refused = _user_errors(payload) or (
                "; ".join(str(e.get("message")) for e in body["errors"]) if body.get("errors") else None
            )
            if refused:
                result.errors[topic] = refused
                continue
            registered[topic] = str((payload.get("webhookSubscription") or {}).get("id"))
            result.created.append(topic)
    await asyncio.to_thread(_record, store, shop_id, ours, registered, result.errors)
    return result


def _record(store: Store, shop_id: str, callback: str, registered: dict[str, str], errors: dict[str, str]) -> None:
    now = utcnow()
    with store.session() as session:
        session.execute(delete(ShopifyWebhookSubscription).where(col(ShopifyWebhookSubscription.shop_id) == shop_id))
        for topic, shopify_id in registered.items():
            session.add(
                ShopifyWebhookSubscription(
                    shop_id=shop_id, topic=topic, shopify_id=shopify_id, callback_url=callback, updated_at=now
                )
            )
        for topic, reason in errors.items():
            session.add(ShopifyWebhookSubscription(shop_id=shop_id, topic=topic, error=reason, updated_at=now))
