"""A shop's Shopify connection: verify a domain and token, keep Shopify's shop snapshot, follow its zone.

A token is checked the moment it is set (`verify_connection`): one GraphQL request that reads
the shop and the token's granted scopes. Anything short of a usable connection is refused with
one line that says what to fix, and nothing is saved. The snapshot that request returns becomes
the Liquid `shop` object and sets the shop's time zone; `shop/update` webhooks and
`ratchet shop sync` refresh it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, select

from ratchet.core.clock import utcnow
from ratchet.errors import InvalidInput
from ratchet.shopify.client import (
    AsyncShopifyClient,
    ShopifyConfig,
    ShopifyHTTPError,
    ShopifyThrottled,
    ShopifyTransportError,
    ShopTarget,
)
from ratchet.shopify.shop_snapshot import SHOP_QUERY, snapshot_from_graphql
from ratchet.store.database import Store
from ratchet.store.tables import Shop, ShopifyConnection, ShopifyGrant, ShopifyWebhookSubscription


class ShopConnectionError(InvalidInput):
    """The shop's Shopify connection is unusable; the message is one line saying what to fix."""


@dataclass(frozen=True)
class FetchedShop:
    """What a verified connection read from Shopify: the shop's snapshot and the token's granted scopes."""

    snapshot: dict[str, Any]
    access_scopes: list[str]


def _granted(scopes: Iterable[str]) -> set[str]:
    # Shopify grants read access with every write scope (write_orders implies read_orders).
    granted = set(scopes)
    return granted | {f"read_{scope.removeprefix('write_')}" for scope in granted if scope.startswith("write_")}


def missing_scopes(granted: Iterable[str], needed: Iterable[str]) -> list[str]:
    have = _granted(granted)
    return sorted(set(needed) - have)


async def verify_connection(target: ShopTarget, config: ShopifyConfig, store: Store | None = None) -> FetchedShop:
    """Read the shop and the token's scopes, or raise `ShopConnectionError` naming the problem.

    With `store`, a saved shop's expiring token is renewed as any call would renew it.
    """
    where = target.base_url
    try:
        async with AsyncShopifyClient(target, config=config, store=store) as client:
            body = await client.graphql(SHOP_QUERY)
    except ShopifyTransportError as exc:
        raise ShopConnectionError(
            f"cannot reach Shopify at {where} ({exc.__cause__ or exc}); check --shopify-domain and the network"
        ) from exc
    except ShopifyThrottled as exc:
        raise ShopConnectionError(
            f"Shopify is rate-limiting {where}; try again in {max(1, round(exc.retry_after_seconds))} s"
        ) from exc
    except ShopifyHTTPError as exc:
        if 300 <= exc.status_code < 400:
            raise ShopConnectionError(f"{where} is not a shop's Admin API address ({exc})") from exc
        if exc.status_code in (401, 403):
            raise ShopConnectionError(
                f"Shopify refused the access token for {where} (HTTP {exc.status_code}); "
                "check --access-token (an Admin API token, shpat_…)"
            ) from exc
        if exc.status_code == 404:
            raise ShopConnectionError(
                f"no Shopify Admin API at {where} (HTTP 404); check --shopify-domain (example.myshopify.com)"
            ) from exc
        raise ShopConnectionError(f"Shopify answered HTTP {exc.status_code} for {where}; try again later") from exc
    errors = body.get("errors")
    data = body.get("data") or {}
    shop = data.get("shop")
    if errors or not isinstance(shop, dict):
        message = errors[0].get("message") if isinstance(errors, list) and errors else "no shop in the answer"
        raise ShopConnectionError(f"Shopify could not read the shop at {where}: {message}")
    installation = data.get("currentAppInstallation") or {}
    scopes = sorted(
        str(scope.get("handle")) for scope in installation.get("accessScopes") or [] if isinstance(scope, dict)
    )
    if not scopes:
        # A token with no scope can read nothing and receive no resource webhook: useless to every task.
        raise ShopConnectionError(
            f"the access token for {where} has no access scopes; grant the scopes your tasks need "
            "(e.g. read_orders, write_products) in the app's configuration and reinstall it"
        )
    return FetchedShop(snapshot_from_graphql(shop), scopes)


def _zone_of(snapshot: dict[str, Any]) -> str | None:
    zone = snapshot.get("iana_timezone")
    if not isinstance(zone, str):
        return None
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return None  # a zone this machine's tzdata lacks: keep the last known one
    return zone


def save_connection(session: Session, shop: Shop, fetched: FetchedShop) -> bool:
    """Store the snapshot and scopes; the shop's zone follows Shopify's. True when the zone changed."""
    row = session.get(ShopifyConnection, shop.id) or ShopifyConnection(shop_id=shop.id)
    row.snapshot = fetched.snapshot
    row.access_scopes = fetched.access_scopes
    row.synced_at = utcnow()
    session.add(row)
    return _follow_zone(session, shop, fetched.snapshot)


def _follow_zone(session: Session, shop: Shop, snapshot: dict[str, Any]) -> bool:
    zone = _zone_of(snapshot)
    if zone is None or zone == shop.timezone:
        return False
    shop.timezone = zone
    session.add(shop)
    return True


def apply_shop_update(store: Store, shop_id: str, payload: Any) -> bool:
    """A `shop/update` webhook: its payload is the REST shop, so it replaces the snapshot's fields.

    Returns True when the shop's time zone changed (its schedules must move).
    """
    if not isinstance(payload, dict):
        return False
    with store.session() as session:
        shop = session.get(Shop, shop_id)
        row = session.get(ShopifyConnection, shop_id)
        if shop is None or row is None:
            return False  # not connected through Ratchet: nothing to refresh
        row.snapshot = {**(row.snapshot or {}), **payload}
        row.synced_at = utcnow()
        session.add(row)
        return _follow_zone(session, shop, row.snapshot)


async def sync_connection(store: Store, shop_id: str, config: ShopifyConfig) -> None:
    """`ratchet shop sync`: fetch the shop again."""
    shop = await asyncio.to_thread(_get_shop, store, shop_id)
    if not shop.access_token:
        raise ShopConnectionError(
            f"shop {shop_id!r} has no Shopify connection; set one with `ratchet shop set {shop_id} "
            "--shopify-domain … --access-token …`"
        )
    fetched = await verify_connection(ShopTarget.from_shop(shop), config, store)

    def write() -> None:
        with store.session() as session:
            current = session.get(Shop, shop_id)
            assert current is not None
            save_connection(session, current, fetched)

    await asyncio.to_thread(write)


def _get_shop(store: Store, shop_id: str) -> Shop:
    with store.session() as session:
        shop = session.get(Shop, shop_id)
    if shop is None:
        raise ShopConnectionError(f"unknown shop {shop_id!r}")
    return shop


async def connection_for_update(
    store: Store,
    shop_id: str,
    *,
    shopify_domain: str | None,
    access_token: str | None,
    timezone_name: str | None,
    config: ShopifyConfig,
) -> FetchedShop | None:
    """Verify the connection a `shop add|set` is about to save; None when it changes no credentials.

    Raises `ShopConnectionError` before anything is written, so a refused token saves nothing.
    """

    def current() -> tuple[Shop | None, bool]:
        with store.session() as session:
            return session.get(Shop, shop_id), session.get(ShopifyConnection, shop_id) is not None

    shop, connected = await asyncio.to_thread(current)
    token = access_token or (shop.access_token if shop else None)
    domain = shopify_domain or (shop.shopify_domain if shop else None) or f"{shop_id}.myshopify.com"
    fetched = None
    if (shopify_domain is not None or access_token is not None) and token:
        fetched = await verify_connection(ShopTarget.for_domain(shop_id, domain, token), config)
    if timezone_name is not None and (fetched is not None or connected):
        raise ShopConnectionError(
            f"shop {shop_id!r} takes its time zone from Shopify; --timezone is only for shops without a Shopify connection"
        )
    return fetched


def connection_status(store: Store, shop_id: str, public_url: str | None) -> dict[str, Any]:
    """`shop status`'s Shopify section: the snapshot's essentials, granted scopes, registered webhooks."""
    with store.session() as session:
        row = session.get(ShopifyConnection, shop_id)
        subscriptions = list(
            session.exec(select(ShopifyWebhookSubscription).where(ShopifyWebhookSubscription.shop_id == shop_id))
        )
        grant = session.get(ShopifyGrant, shop_id)
    if row is None:
        return {"connected": False}
    snapshot = row.snapshot or {}
    return {
        "connected": True,
        "name": snapshot.get("name"),
        "myshopify_domain": snapshot.get("myshopify_domain"),
        "iana_timezone": snapshot.get("iana_timezone"),
        "currency": snapshot.get("currency"),
        "plan_display_name": snapshot.get("plan_display_name"),
        "synced_at": row.synced_at.isoformat() if row.synced_at else None,
        "access_scopes": row.access_scopes,
        # How the token is renewed: "client_credentials", "authorization_code", or None for a legacy token.
        "grant": grant.grant if grant else None,
        "token_expires_at": grant.access_token_expires_at.isoformat()
        if grant and grant.access_token_expires_at
        else None,
        "public_url": public_url,
        "webhooks_note": None if public_url else PUBLIC_URL_MISSING,
        "webhooks": [
            {"topic": s.topic, "id": s.shopify_id, "callback_url": s.callback_url, "error": s.error}
            for s in sorted(subscriptions, key=lambda s: s.topic)
        ],
    }


PUBLIC_URL_MISSING = (
    "no Shopify webhooks are registered: set RATCHET_PUBLIC_URL to the https address where Shopify reaches "
    "`ratchet serve`, then run `ratchet shop sync`"
)
