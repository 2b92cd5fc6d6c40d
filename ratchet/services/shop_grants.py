"""Connecting a shop by an OAuth grant: client credentials, or the install link and its callback.

Both end the same way: Shopify issued an expiring token, the token is verified like any other
(`verify_connection`: the shop and its scopes), and the shop is saved with its token, expiry,
the app's client secret (which is also the webhook secret,
https://shopify.dev/docs/apps/build/authentication-authorization/client-secrets) and the grant
that renews the token (ratchet/shopify/tokens.py). Nothing is written until Shopify has said yes.

Install links (https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant):
the link carries a random single-use `state`, stored with the client secret it will be checked
with; the callback deletes the state as it reads it, so a link connects a shop once.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlmodel import Session, col, select

from ratchet.core.clock import utcnow
from ratchet.errors import InvalidInput
from ratchet.services.shop_connection import FetchedShop, ShopConnectionError, save_connection, verify_connection
from ratchet.services.shops import SavedShop, rotate_webhook_secret
from ratchet.shopify import oauth, tokens
from ratchet.shopify.client import ShopifyConfig, ShopTarget
from ratchet.shopify.domains import is_myshopify_domain, normalize_shop_domain
from ratchet.store.database import Store
from ratchet.store.tables import Shop, ShopifyGrant, ShopifyInstallState

CALLBACK_PATH = "/shopify/auth/callback"
# A shop connected by an install link renews its token only when something calls Shopify; one
# that stays idle renews anyway once its refresh token is this close to expiring (Shopify
# seconds), so the daily pass has a week of chances before the connection would be lost.
IDLE_RENEWAL_WINDOW_SECONDS = 7 * 24 * 3600.0
# How long an install link stays usable (Shopify seconds): long enough to send it to a merchant.
INSTALL_LINK_SECONDS = 7 * 24 * 3600.0


class InstallCallbackError(InvalidInput):
    """The callback cannot connect a shop; the message is the one line its page shows."""


@dataclass(frozen=True)
class AppCredentials:
    """The app's client ID and secret (Dev Dashboard › Settings); the secret also signs webhooks."""

    client_id: str
    client_secret: str


@dataclass(frozen=True)
class Grant:
    """What a grant gave: the token, which grant renews it, the app's credentials."""

    kind: str
    client_id: str
    client_secret: str
    issued: oauth.IssuedToken


async def _request_token(config: ShopifyConfig, shopify_domain: str, form: Mapping[str, str]) -> oauth.IssuedToken:
    def call() -> oauth.IssuedToken:
        with httpx.Client(timeout=config.timeout_seconds, follow_redirects=False) as http:
            return oauth.request_token(http, shopify_domain, form)

    try:
        return await asyncio.to_thread(call)
    except (oauth.TokenGrantError, oauth.TokenEndpointUnavailable) as exc:
        raise ShopConnectionError(str(exc)) from exc


async def connect_by_client_credentials(
    store: Store, config: ShopifyConfig, shop_id: str, shop_domain: str, app: AppCredentials
) -> SavedShop:
    """`ratchet shop connect`: take a token by the client credentials grant, verify it, save the shop."""
    domain = normalize_shop_domain(shop_domain)
    issued = await _request_token(config, domain, oauth.client_credentials_form(app.client_id, app.client_secret))
    grant = Grant(tokens.CLIENT_CREDENTIALS, app.client_id, app.client_secret, issued)
    fetched = await verify_connection(ShopTarget.for_domain(shop_id, domain, issued.access_token), config)
    return await asyncio.to_thread(save_granted_shop, store, config, shop_id, domain, grant, fetched)


def save_granted_shop(
    store: Store, config: ShopifyConfig, shop_id: str, domain: str, grant: Grant, fetched: FetchedShop
) -> SavedShop:
    """Create or update the shop with the grant's token and secret, in one transaction."""
    now = utcnow()
    times = tokens.TokenTimes.of(grant.issued, now, config.time_scale)
    with store.session() as session:
        shop = session.get(Shop, shop_id) or Shop(id=shop_id, created_at=now)
        shop.shopify_domain = domain
        shop.access_token, shop.access_token_renew_at = grant.issued.access_token, times.renew_at
        rotate_webhook_secret(shop, grant.client_secret, time_scale=config.time_scale)
        session.add(shop)
        row = session.get(ShopifyGrant, shop_id) or ShopifyGrant(shop_id=shop_id, grant=grant.kind, client_id="")
        row.grant, row.client_id, row.renewed_at = grant.kind, grant.client_id, now
        row.refresh_token, row.refresh_token_expires_at = grant.issued.refresh_token, times.refresh_expires_at
        row.access_token_expires_at = times.expires_at
        row.renewal_lease_until = None
        session.add(row)
        save_connection(session, shop, fetched)
    return SavedShop(shop, schedules_affected=True)


def create_install_link(
    store: Store,
    config: ShopifyConfig,
    shop_id: str,
    *,
    shop_domain: str,
    app: AppCredentials,
    scopes: list[str],
    public_url: str | None,
) -> str:
    """`ratchet shop install-url`: the authorize URL with a fresh single-use `state`."""
    if not public_url:
        raise InvalidInput(
            "RATCHET_PUBLIC_URL is required for an install link: Shopify sends the merchant back to "
            f"RATCHET_PUBLIC_URL{CALLBACK_PATH}, which must reach `ratchet serve`"
        )
    if not scopes:
        raise InvalidInput("no access scopes to ask for; give --scopes (see `ratchet shop scopes`)")
    domain = normalize_shop_domain(shop_domain)
    state = secrets.token_urlsafe(32)
    with store.session() as session:
        session.add(
            ShopifyInstallState(
                state=state,
                shop_id=shop_id,
                shopify_domain=domain,
                client_id=app.client_id,
                client_secret=app.client_secret,
                expires_at=utcnow() + timedelta(seconds=INSTALL_LINK_SECONDS * config.time_scale),
            )
        )
    return oauth.authorize_url(
        domain,
        client_id=app.client_id,
        scopes=",".join(sorted(set(scopes))),
        redirect_uri=public_url.rstrip("/") + CALLBACK_PATH,
        state=state,
    )


def _take_state(session: Session, state: str) -> ShopifyInstallState | None:
    row = session.get(ShopifyInstallState, state)
    if row is not None:
        session.delete(row)  # single use, whatever the outcome
    return row


async def complete_install(store: Store, config: ShopifyConfig, params: Mapping[str, str]) -> Shop:
    """The install callback: check `state`, the query HMAC and the shop, exchange the code, save the shop.

    Raises `InstallCallbackError` (one line for the page) when the shop cannot be connected.
    """
    state = params.get("state") or ""

    def take() -> ShopifyInstallState | None:
        with store.session() as session:
            return _take_state(session, state)

    pending = await asyncio.to_thread(take) if state else None
    if pending is None or pending.expires_at < utcnow():
        raise InstallCallbackError("this install link is unknown, expired or already used; make a new one")
    if not oauth.query_signed(params, pending.client_secret):
        raise InstallCallbackError("the request is not signed by Shopify for this app (query hmac mismatch)")
    shop_param = (params.get("shop") or "").lower()
    if not is_myshopify_domain(shop_param):
        raise InstallCallbackError(f"Shopify named no valid shop ({shop_param!r})")
    if is_myshopify_domain(pending.shopify_domain) and shop_param != pending.shopify_domain:
        raise InstallCallbackError(f"the link was made for {pending.shopify_domain}, not {shop_param}")
    form = oauth.authorization_code_form(pending.client_id, pending.client_secret, params.get("code") or "")
    try:
        issued = await _request_token(config, pending.shopify_domain, form)
        target = ShopTarget.for_domain(pending.shop_id, pending.shopify_domain, issued.access_token)
        fetched = await verify_connection(target, config)
    except ShopConnectionError as exc:
        raise InstallCallbackError(str(exc)) from exc
    if fetched.snapshot.get("myshopify_domain") != shop_param:
        # A proxy/fake base URL: the shop behind it must be the one Shopify named.
        raise InstallCallbackError(f"the shop at {pending.shopify_domain} is not {shop_param}")
    grant = Grant(tokens.AUTHORIZATION_CODE, pending.client_id, pending.client_secret, issued)
    saved = await asyncio.to_thread(
        save_granted_shop, store, config, pending.shop_id, pending.shopify_domain, grant, fetched
    )
    return saved.shop


@dataclass(frozen=True)
class IdleRenewals:
    """Shops whose tokens an idle-renewal pass renewed, and why others could not be."""

    renewed: list[str]
    failed: dict[str, str]


def renew_idle_grants(store: Store, keeper: tokens.TokenKeeper, window: timedelta) -> IdleRenewals:
    """Renew every shop whose refresh token expires within `window`, so an idle shop stays connected.

    Expiring offline tokens come with a refresh token that itself expires (90 days,
    https://shopify.dev/docs/apps/build/security/credentials-and-data/use-expiring-offline-access-tokens);
    a shop no task has called Shopify for in that time would otherwise lose its connection.
    Each renewal takes the shop's lease like any other (ratchet/shopify/tokens.py).
    """
    cutoff = utcnow() + window
    with store.session() as session:
        due = session.exec(
            select(Shop.id, Shop.access_token)
            .join(ShopifyGrant, col(ShopifyGrant.shop_id) == col(Shop.id))
            .where(col(ShopifyGrant.refresh_token_expires_at) < cutoff)
        ).all()
    renewed: list[str] = []
    failed: dict[str, str] = {}
    for shop_id, token in due:
        try:
            keeper.usable_token(shop_id, rejected=token)
        except (tokens.TokenRenewalError, oauth.TokenGrantError, oauth.TokenEndpointUnavailable) as error:
            failed[shop_id] = str(error)
        else:
            renewed.append(shop_id)
    return IdleRenewals(renewed, failed)
