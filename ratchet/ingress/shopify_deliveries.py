"""Shopify deliveries: the webhooks Shopify sends to `POST /webhooks/shopify/{shop}`.

A delivery is verified against its shop's webhook secret and becomes one event, exactly once per
Shopify event: redeliveries carry the same `X-Shopify-Event-Id`, which becomes the idempotency
key, so the event id (and with it the workflow id) is the same and Temporal refuses the second
start. No side table, and the dedupe holds across ingress processes and restarts.

`bulk_operations/finish` deliveries make no event: they wake the bulk operation's monitor, which
reports to its task.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select

from ratchet.core.bulk_operations import FINISH_WEBHOOK_TOPIC
from ratchet.errors import InvalidInput, NotFound
from ratchet.ingress import BadSignature
from ratchet.ingress.signatures import signature_matches
from ratchet.services.events import NewEvent
from ratchet.store.database import table_of
from ratchet.store.tables import Shop

# https://shopify.dev/docs/apps/build/webhooks/subscribe/https (headers of every delivery)
SIGNATURE_HEADER = "x-shopify-hmac-sha256"
TOPIC_HEADER = "x-shopify-topic"
SHOPIFY_TOPIC_RE = re.compile(r"^[a-z0-9_]+/[a-z0-9_]+$")
SHOPS = table_of(Shop)
# Only the secret: every other secret column of the row would be decrypted for nothing.
SHOP_WEBHOOK_SECRET = select(SHOPS.c.webhook_secret).where(SHOPS.c.id == bindparam("shop_id"))


@dataclass(frozen=True)
class VerifiedDelivery:
    """A delivery whose signature matched: its event's topic, data and idempotency key."""

    topic: str
    data: Any
    idempotency_key: str | None


@dataclass(frozen=True)
class ShopifyDelivery:
    """One delivery as it arrived; an `EventRequest` (ratchet/services/events.py).

    Its event is read on the connection that writes it: the shop's secret (whose row also
    proves the shop exists), then the signature, topic and body.
    """

    shop_id: str
    body: bytes
    headers: Mapping[str, str]
    """Lower-cased names, as ASGI servers give them."""

    @property
    def received_bytes(self) -> int:
        return len(self.body)

    @property
    def finishes_bulk_operation(self) -> bool:
        """Claims to be `bulk_operations/finish` (the claim is only believed once `verify` passes)."""
        return (self.headers.get(TOPIC_HEADER) or "").strip() == FINISH_WEBHOOK_TOPIC

    def read(self, conn: Connection) -> NewEvent:
        verified = self.verify(conn)
        return NewEvent(
            shop_id=self.shop_id,
            topic=verified.topic,
            data=verified.data,
            source="shopify",
            idempotency_key=verified.idempotency_key,
        )

    def verify(self, conn: Connection) -> VerifiedDelivery:
        """Check in this order: signature (before reading anything the sender controls), topic, JSON."""
        if not signature_matches(shop_secret(conn, self.shop_id), self.body, self.headers.get(SIGNATURE_HEADER)):
            raise BadSignature("invalid or missing X-Shopify-Hmac-SHA256")
        shopify_topic = (self.headers.get(TOPIC_HEADER) or "").strip()
        if not SHOPIFY_TOPIC_RE.match(shopify_topic):
            raise InvalidInput(f"invalid or missing X-Shopify-Topic {shopify_topic!r}: expected resource/verb")
        try:
            data = json.loads(self.body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidInput(f"invalid JSON body: {exc}") from exc
        # X-Shopify-Event-Id names the event across redeliveries; older API versions only send
        # X-Shopify-Webhook-Id, which is stable across retries of one delivery.
        event_id = self.headers.get("x-shopify-event-id") or self.headers.get("x-shopify-webhook-id")
        return VerifiedDelivery(
            topic=f"shopify/{shopify_topic}",
            data=data,
            idempotency_key=f"shopify:{event_id.strip()}" if event_id and event_id.strip() else None,
        )


def shop_secret(conn: Connection, shop_id: str) -> str:
    row = conn.execute(SHOP_WEBHOOK_SECRET, {"shop_id": shop_id}).first()
    if row is None:
        raise NotFound(f"unknown shop {shop_id!r}")
    if not row.webhook_secret:
        # Without a secret nothing can be verified; refusing beats accepting forgeries.
        raise BadSignature(f"shop {shop_id!r} has no webhook secret; set one with `ratchet shop set --webhook-secret`")
    return str(row.webhook_secret)
