"""Shopify webhooks: verify, name the topic, and make the event exactly once per Shopify event.

Redeliveries carry the same `X-Shopify-Event-Id`; it becomes the idempotency key, so the event
id (and with it the workflow id) is the same and Temporal refuses the second start. No side
table, and the dedupe holds across ingress processes and restarts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select

from ratchet.core.bulk_operations import FINISH_WEBHOOK_TOPIC
from ratchet.errors import InvalidInput, NotFound
from ratchet.ingress import BadSignature
from ratchet.ingress.webhooks import signature_matches
from ratchet.services.events import EventService, PendingEvent
from ratchet.store.database import table_of
from ratchet.store.tables import Shop

SHOPIFY_TOPIC_RE = re.compile(r"^[a-z0-9_]+/[a-z0-9_]+$")
# Not an event for tasks: it wakes the bulk operation's monitor, which reports to its task.
BULK_FINISH_TOPIC = f"shopify/{FINISH_WEBHOOK_TOPIC}"
SHOPS = table_of(Shop)
# Only the secret: every other secret column of the row would be decrypted for nothing.
SHOP_WEBHOOK_SECRET = select(SHOPS.c.webhook_secret).where(SHOPS.c.id == bindparam("shop_id"))


@dataclass(frozen=True)
class ShopifyDelivery:
    topic: str
    data: Any
    idempotency_key: str | None


@dataclass(frozen=True)
class RecordedDelivery:
    """A verified delivery; for an event topic, its event's rows too (written unless already there)."""

    delivery: ShopifyDelivery
    pending: PendingEvent | None
    inserted: bool


def shop_secret(conn: Connection, shop_id: str) -> str:
    row = conn.execute(SHOP_WEBHOOK_SECRET, {"shop_id": shop_id}).first()
    if row is None:
        raise NotFound(f"unknown shop {shop_id!r}")
    if not row.webhook_secret:
        # Without a secret nothing can be verified; refusing beats accepting forgeries.
        raise BadSignature(f"shop {shop_id!r} has no webhook secret; set one with `ratchet shop set --webhook-secret`")
    return str(row.webhook_secret)


def record_delivery(
    engine: Engine, events: EventService, shop_id: str, body: bytes, headers: Mapping[str, str]
) -> RecordedDelivery:
    """Verify a delivery and write its event's rows, in one transaction.

    The secret's read proves the shop exists, so the event write skips its own check.
    """
    with engine.begin() as conn:
        delivery = verify_delivery(shop_secret(conn, shop_id), body, headers)
        if delivery.topic == BULK_FINISH_TOPIC:
            return RecordedDelivery(delivery, None, inserted=False)
        pending = events.pending(
            shop_id=shop_id,
            topic=delivery.topic,
            data=delivery.data,
            source="shopify",
            idempotency_key=delivery.idempotency_key,
        )
        return RecordedDelivery(delivery, pending, events.write(conn, pending, shop_read=True))


def verify_delivery(secret: str, body: bytes, headers: Mapping[str, str]) -> ShopifyDelivery:
    """Check in this order: signature (before reading anything the sender controls), topic, JSON."""
    if not signature_matches(secret, body, headers.get("x-shopify-hmac-sha256")):
        raise BadSignature("invalid or missing X-Shopify-Hmac-SHA256")
    shopify_topic = (headers.get("x-shopify-topic") or "").strip()
    if not SHOPIFY_TOPIC_RE.match(shopify_topic):
        raise InvalidInput(f"invalid or missing X-Shopify-Topic {shopify_topic!r}: expected resource/verb")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"invalid JSON body: {exc}") from exc
    # X-Shopify-Event-Id names the event across redeliveries; older API versions only send
    # X-Shopify-Webhook-Id, which is stable across retries of one delivery.
    event_id = headers.get("x-shopify-event-id") or headers.get("x-shopify-webhook-id")
    return ShopifyDelivery(
        topic=f"shopify/{shopify_topic}",
        data=data,
        idempotency_key=f"shopify:{event_id.strip()}" if event_id and event_id.strip() else None,
    )
