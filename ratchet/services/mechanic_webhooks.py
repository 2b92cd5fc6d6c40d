"""Mechanic webhooks' configuration (spec 10.1): the rows behind `/webhooks/{id}` URLs.

A webhook turns HTTP requests into `user/…` events of one topic; ratchet/ingress/mechanic_webhooks.py maps
each request to its event data. Each use case opens its own session.
"""

from __future__ import annotations

import uuid

from sqlmodel import or_, select

from ratchet.core.clock import utcnow
from ratchet.core.subscriptions import TopicError, validate_topic
from ratchet.errors import Conflict, InvalidInput, NotFound
from ratchet.services.shops import require_shop
from ratchet.store.database import Store
from ratchet.store.tables import MechanicWebhook

MODES = ("auto", "full")


class WebhookConfigError(InvalidInput):
    """An invalid `ratchet webhook add` request; the message is one readable line."""


def add_webhook(
    store: Store, shop_id: str, name: str, topic: str, mode: str = "auto", secret: str | None = None
) -> MechanicWebhook:
    """Add a Mechanic webhook: a URL whose requests become `topic` events.

    Args:
        store: The configuration store.
        shop_id: The shop the events belong to.
        name: Unique within the shop.
        topic: A `user/…` topic.
        mode: "auto" makes the event data the request's parameters (query and form or JSON body), or its
            text; "full" makes it the whole request (headers, raw body, query, client address).
        secret: When set, requests must carry an HMAC-SHA256 signature made with it.
    """
    try:
        topic = validate_topic(topic)
    except TopicError as exc:
        raise WebhookConfigError(str(exc)) from exc
    if not topic.startswith("user/"):
        # Mechanic webhooks make user/… events; mechanic/… topics are the platform's own.
        raise WebhookConfigError(f"webhook topics start with user/, got {topic!r}")
    if mode not in MODES:
        raise WebhookConfigError(f"unknown mode {mode!r}: use auto or full")
    if not name.strip():
        raise WebhookConfigError("a webhook needs a name")
    with store.session() as session:
        require_shop(session, shop_id)
        if session.exec(
            select(MechanicWebhook).where(MechanicWebhook.shop_id == shop_id, MechanicWebhook.name == name)
        ).first():
            raise Conflict(f"shop {shop_id!r} already has a webhook named {name!r}")
        hook = MechanicWebhook(
            id=str(uuid.uuid4()),
            shop_id=shop_id,
            name=name.strip(),
            topic=topic,
            mode=mode,
            secret=secret or None,
            created_at=utcnow(),
        )
        session.add(hook)
        return hook


def list_webhooks(store: Store, shop_id: str) -> list[MechanicWebhook]:
    with store.session() as session:
        query = select(MechanicWebhook).where(MechanicWebhook.shop_id == shop_id).order_by(MechanicWebhook.name)
        return list(session.exec(query))


def remove_webhook(store: Store, shop_id: str, ref: str) -> MechanicWebhook:
    """Remove by name or id; its URL answers 204 without making events from then on."""
    with store.session() as session:
        hook = session.exec(
            select(MechanicWebhook).where(
                MechanicWebhook.shop_id == shop_id, or_(MechanicWebhook.id == ref, MechanicWebhook.name == ref)
            )
        ).first()
        if hook is None:
            raise NotFound(f"unknown webhook {ref!r} in shop {shop_id!r}")
        session.delete(hook)
        return hook


def get_webhook(store: Store, webhook_id: str) -> MechanicWebhook | None:
    with store.session() as session:
        return session.get(MechanicWebhook, webhook_id)
