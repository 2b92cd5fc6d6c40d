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

from ratchet.errors import InvalidInput, NotFound
from ratchet.ingress import BadSignature
from ratchet.ingress.webhooks import signature_matches
from ratchet.store.database import Store, read_row
from ratchet.store.tables import Shop

SHOPIFY_TOPIC_RE = re.compile(r"^[a-z0-9_]+/[a-z0-9_]+$")


@dataclass(frozen=True)
class ShopifyDelivery:
    topic: str
    data: Any
    idempotency_key: str | None


def shop_secret(store: Store, shop_id: str) -> str:
    with store.engine.connect() as conn:
        shop = read_row(conn, Shop, shop_id)
    if shop is None:
        raise NotFound(f"unknown shop {shop_id!r}")
    if not shop.webhook_secret:
        # Without a secret nothing can be verified; refusing beats accepting forgeries.
        raise BadSignature(f"shop {shop_id!r} has no webhook secret; set one with `ratchet shop set --webhook-secret`")
    return shop.webhook_secret


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
