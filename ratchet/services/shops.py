"""Shops: creating them, changing their settings (verifying a Shopify connection first), looking them up.

Every use case opens its own session (one unit of work per call); the synchronous ones are run
in a thread by callers on the event loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session

from ratchet.core.api_versions import check_api_version
from ratchet.core.clock import utcnow
from ratchet.errors import Conflict, InvalidInput, NotFound
from ratchet.services.shop_connection import FetchedShop, connection_for_update, save_connection, sync_connection
from ratchet.shopify.client import ShopifyConfig
from ratchet.shopify.domains import normalize_shop_domain
from ratchet.store.database import Store
from ratchet.store.tables import Shop, ShopifyGrant

# After a rotation in the Dev Dashboard, Shopify may keep signing deliveries with the previous
# client secret for up to an hour (https://shopify.dev/docs/apps/build/webhooks/verify-deliveries).
PREVIOUS_SECRET_VALID_SECONDS = 3600.0


class UnknownShop(NotFound):
    """No shop has this id."""


def rotate_webhook_secret(shop: Shop, secret: str, *, time_scale: float) -> None:
    """Set the shop's webhook secret; a replaced one keeps verifying deliveries for an hour."""
    if shop.webhook_secret and shop.webhook_secret != secret:
        shop.previous_webhook_secret = shop.webhook_secret
        shop.previous_webhook_secret_expires_at = utcnow() + timedelta(
            seconds=PREVIOUS_SECRET_VALID_SECONDS * time_scale
        )
    shop.webhook_secret = secret


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"unknown time zone {name!r}: use an IANA name such as America/New_York") from exc
    return name


def require_shop(session: Session, shop_id: str) -> Shop:
    shop = session.get(Shop, shop_id)
    if shop is None:
        raise UnknownShop(f"unknown shop {shop_id!r}")
    return shop


@dataclass(frozen=True)
class SavedShop:
    """A shop as saved, and whether what follows from it must be re-synced."""

    shop: Shop
    schedules_affected: bool
    """The shop's zone or Shopify connection changed: its schedules and Shopify webhooks must follow."""


async def save_shop(
    store: Store,
    config: ShopifyConfig,
    shop_id: str,
    *,
    create: bool,
    timezone_name: str | None = None,
    shopify_domain: str | None = None,
    access_token: str | None = None,
    webhook_secret: str | None = None,
    api_version: str | None = None,
) -> SavedShop:
    """Add a shop or change the given settings of an existing one; None leaves a setting as it is.

    New Shopify credentials are verified before anything is written, so a refused token saves nothing.

    Args:
        store: The configuration store.
        config: How to reach Shopify (timeouts, retries) when verifying new credentials.
        shop_id: The shop's id in Ratchet.
        create: Add a new shop (Conflict if it exists) rather than change one (UnknownShop if it does not).
        timezone_name: An IANA zone; a Shopify connection sets it from the shop instead.
        shopify_domain: The shop's `….myshopify.com` domain (or another base URL).
        access_token: An Admin API access token for that domain.
        webhook_secret: The secret Shopify signs the shop's webhooks with.
        api_version: The Admin API version tasks use by default.
    """
    if timezone_name is not None:
        check_timezone(timezone_name)
    if api_version is not None:
        check_api_version(api_version, today=utcnow().date())
    if shopify_domain is not None:
        shopify_domain = normalize_shop_domain(shopify_domain)
    fetched = await connection_for_update(
        store,
        shop_id,
        shopify_domain=shopify_domain,
        access_token=access_token,
        timezone_name=timezone_name,
        config=config,
    )

    changes = {
        "timezone": timezone_name,
        "shopify_domain": shopify_domain,
        "access_token": access_token,
        "webhook_secret": webhook_secret,
        "shopify_api_version": api_version,
    }
    shop, zone_changed = await asyncio.to_thread(
        _write_shop, store, shop_id, create, changes, fetched, config.time_scale
    )
    return SavedShop(shop, timezone_name is not None or zone_changed or fetched is not None)


def _write_shop(
    store: Store,
    shop_id: str,
    create: bool,
    changes: dict[str, str | None],
    fetched: FetchedShop | None,
    time_scale: float,
) -> tuple[Shop, bool]:
    """Save the shop's changed settings (None: unchanged) and verified connection; True when its zone changed.

    A new webhook secret leaves the replaced one valid for an hour; a token given by hand does not
    expire, so the grant that renewed the old one is gone.
    """
    with store.session() as session:
        shop = session.get(Shop, shop_id)
        if create and shop is not None:
            raise Conflict(f"shop {shop_id!r} already exists; use `ratchet shop set`")
        if not create and shop is None:
            raise UnknownShop(f"unknown shop {shop_id!r}; use `ratchet shop add`")
        shop = shop or Shop(id=shop_id, created_at=utcnow())
        for field, value in changes.items():
            if value is not None and field == "webhook_secret":
                rotate_webhook_secret(shop, value, time_scale=time_scale)
            elif value is not None:
                setattr(shop, field, value)
        if changes.get("access_token") is not None:
            shop.access_token_renew_at = None
            if (grant := session.get(ShopifyGrant, shop_id)) is not None:
                session.delete(grant)
        session.add(shop)
        zone_changed = save_connection(session, shop, fetched) if fetched is not None else False
        return shop, zone_changed


async def sync_shop(store: Store, config: ShopifyConfig, shop_id: str) -> Shop:
    """Fetch the shop from Shopify again (zone, currency, scopes)."""
    await sync_connection(store, shop_id, config)
    return await asyncio.to_thread(get_shop, store, shop_id)


def get_shop(store: Store, shop_id: str) -> Shop:
    with store.session() as session:
        return require_shop(session, shop_id)
