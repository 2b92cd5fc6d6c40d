"""Shopify deliveries: the webhooks Shopify sends to `POST /webhooks/shopify/{shop}`.

A delivery is verified against its shop's webhook secret — or, for an hour after a rotation, the
previous one, which Shopify may still sign with (https://shopify.dev/docs/apps/build/webhooks/verify-deliveries)
— and must name the shop behind the URL in `X-Shopify-Shop-Domain`: a delivery signed with the
app's secret for another shop of the same app is refused.

It becomes one event, exactly once per Shopify event and topic: Shopify sends one delivery per
subscription, so one Shopify event reaches each subscribed topic, and retries repeat the same
`X-Shopify-Event-Id` (`X-Shopify-Webhook-Id` identifies one delivery when no event id is sent;
https://shopify.dev/docs/apps/build/webhooks/ignore-duplicates). Topic + id becomes the
idempotency key, so the event id (and with it the workflow id) is the same and Temporal refuses
the second start. No side table, and the dedupe holds across ingress processes and restarts.

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
from ratchet.core.clock import utcnow
from ratchet.errors import InvalidInput, NotFound
from ratchet.ingress import BadSignature
from ratchet.ingress.signatures import signature_matches
from ratchet.services.events import NewEvent
from ratchet.shopify.domains import is_myshopify_domain
from ratchet.store.database import table_of
from ratchet.store.tables import Shop, ShopifyConnection

# https://shopify.dev/docs/apps/build/webhooks/subscribe/https (headers of every delivery)
SIGNATURE_HEADER = "x-shopify-hmac-sha256"
TOPIC_HEADER = "x-shopify-topic"
SHOPIFY_TOPIC_RE = re.compile(r"^[a-z0-9_]+/[a-z0-9_]+$")
SHOP_DOMAIN_HEADER = "x-shopify-shop-domain"
SHOPS = table_of(Shop)
CONNECTIONS = table_of(ShopifyConnection)
# Only what every delivery needs: the secret and the domain. The previous secret is read (and
# decrypted) only for a signature the current one does not match.
SHOP_WEBHOOK_SECRET = select(SHOPS.c.webhook_secret, SHOPS.c.shopify_domain).where(SHOPS.c.id == bindparam("shop_id"))
SHOP_PREVIOUS_SECRET = select(SHOPS.c.previous_webhook_secret, SHOPS.c.previous_webhook_secret_expires_at).where(
    SHOPS.c.id == bindparam("shop_id")
)
SHOP_SNAPSHOT = select(CONNECTIONS.c.snapshot).where(CONNECTIONS.c.shop_id == bindparam("shop_id"))


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
        """Check in this order: signature (before reading anything the sender controls), shop, topic, JSON."""
        secret, shopify_domain = shop_secret(conn, self.shop_id)
        if not self._signed(conn, secret):
            raise BadSignature("invalid or missing X-Shopify-Hmac-SHA256")
        expected = myshopify_domain(conn, self.shop_id, shopify_domain)
        claimed = (self.headers.get(SHOP_DOMAIN_HEADER) or "").strip().lower()
        if expected is not None and claimed != expected:
            raise BadSignature(f"X-Shopify-Shop-Domain {claimed!r} is not this shop ({expected})")
        shopify_topic = (self.headers.get(TOPIC_HEADER) or "").strip()
        if not SHOPIFY_TOPIC_RE.match(shopify_topic):
            raise InvalidInput(f"invalid or missing X-Shopify-Topic {shopify_topic!r}: expected resource/verb")
        try:
            data = json.loads(self.body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidInput(f"invalid JSON body: {exc}") from exc
        # X-Shopify-Event-Id names the Shopify event across redeliveries (each subscribed topic
        # gets its own delivery of it); X-Shopify-Webhook-Id is stable across retries of one delivery.
        event_id = (self.headers.get("x-shopify-event-id") or self.headers.get("x-shopify-webhook-id") or "").strip()
        return VerifiedDelivery(
            topic=f"shopify/{shopify_topic}",
            data=data,
            idempotency_key=f"shopify:{shopify_topic}:{event_id}" if event_id else None,
        )

    def _signed(self, conn: Connection, secret: str) -> bool:
        given = self.headers.get(SIGNATURE_HEADER)
        if signature_matches(secret, self.body, given):
            return True
        previous = conn.execute(SHOP_PREVIOUS_SECRET, {"shop_id": self.shop_id}).first()
        return (
            previous is not None
            and bool(previous.previous_webhook_secret)
            and previous.previous_webhook_secret_expires_at is not None
            and previous.previous_webhook_secret_expires_at > utcnow()
            and signature_matches(str(previous.previous_webhook_secret), self.body, given)
        )


def shop_secret(conn: Connection, shop_id: str) -> tuple[str, str | None]:
    """The shop's webhook secret and its `shopify_domain`; the row also proves the shop exists."""
    row = conn.execute(SHOP_WEBHOOK_SECRET, {"shop_id": shop_id}).first()
    if row is None:
        raise NotFound(f"unknown shop {shop_id!r}")
    if not row.webhook_secret:
        # Without a secret nothing can be verified; refusing beats accepting forgeries.
        raise BadSignature(f"shop {shop_id!r} has no webhook secret; set one with `ratchet shop connect`")
    return str(row.webhook_secret), row.shopify_domain


def myshopify_domain(conn: Connection, shop_id: str, shopify_domain: str | None) -> str | None:
    """The domain Shopify names the shop by in deliveries; None when the shop has none (secret only).

    A shop reached through a proxy or fake (a base URL) is named by what Shopify's `shop` query reported.
    """
    if shopify_domain is None:
        return None
    if is_myshopify_domain(shopify_domain):
        return shopify_domain
    row = conn.execute(SHOP_SNAPSHOT, {"shop_id": shop_id}).first()
    domain = (row.snapshot or {}).get("myshopify_domain") if row is not None else None
    return str(domain).lower() if domain else None
