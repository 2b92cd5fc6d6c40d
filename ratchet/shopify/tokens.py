"""Expiring access tokens: renewed before they expire, one renewal per shop at a time across every worker.

Shops connected by a grant (`ratchet shop connect`, the install link) hold tokens that expire:
about 24 h by client credentials, one hour by an expiring offline token
(https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/client-credentials-grant,
https://shopify.dev/docs/apps/build/security/credentials-and-data/use-expiring-offline-access-tokens).
Shopify advises refreshing "a few minutes before they expire, and when you receive a 401"
(https://shopify.dev/changelog/offline-access-tokens-now-support-expiry-and-refresh), so the
Shopify client asks `TokenKeeper.usable_token` for a new one once the token's `renew_at` has
passed — RENEW_BEFORE_EXPIRY_SECONDS before expiry, or a tenth of the lifetime for shorter-lived
tokens — and once more after a 401 before the call fails.

One renewal at a time: the renewer takes a lease on the shop's `shopify_grants` row (a
conditional UPDATE, atomic on SQLite and PostgreSQL), re-reads the token under it — another
worker may have renewed meanwhile — and only then calls the token endpoint. Everyone else waits
for the lease to end and reads the token it left. A lease outlives the token request's timeout,
so a renewer that died mid-way releases the shop by expiry alone. A refresh whose answer is lost
strands nothing: Shopify accepts the previous refresh token until its replacement is used
(https://shopify.dev/changelog/more-resilient-refreshes-for-expiring-offline-access-tokens).

A store lease rather than a per-shop workflow: renewal happens inside synchronous Liquid renders,
inside activities and in CLI commands that run without Temporal; the store is the one thing all
of them share, and a renewal is one short HTTP call, not a process worth a history.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import or_, update
from sqlmodel import col

from ratchet.core.clock import utcnow
from ratchet.errors import InvalidInput
from ratchet.shopify import oauth
from ratchet.store.database import Store
from ratchet.store.tables import Shop, ShopifyGrant

# Shopify seconds before expiry at which a token is renewed ("a few minutes before") ...
RENEW_BEFORE_EXPIRY_SECONDS = 300.0
# ... or this share of its lifetime, when that is shorter.
RENEW_BEFORE_EXPIRY_FRACTION = 0.1
# A renewal's lease: longer than the token request may take (its timeout) plus the write.
RENEWAL_LEASE_SECONDS = 60.0
# How often a worker waiting on another's renewal looks again (wall seconds, not scaled: a poll).
LEASE_POLL_SECONDS = 0.05

CLIENT_CREDENTIALS = "client_credentials"
AUTHORIZATION_CODE = "authorization_code"


class TokenRenewalError(InvalidInput):
    """The shop's token could not be renewed: its grant was refused (revoked app, rotated secret, ...)."""


@dataclass(frozen=True)
class UsableToken:
    access_token: str
    renew_at: datetime | None


@dataclass(frozen=True)
class TokenTimes:
    """An issued token's moments on the engine's (scaled) clock; None for what does not expire."""

    renew_at: datetime | None
    expires_at: datetime | None
    refresh_expires_at: datetime | None

    @classmethod
    def of(cls, issued: oauth.IssuedToken, now: datetime, time_scale: float) -> TokenTimes:
        def at(seconds: float | None) -> datetime | None:
            return None if seconds is None else now + timedelta(seconds=seconds * time_scale)

        lifetime = issued.expires_in
        margin = None if lifetime is None else min(RENEW_BEFORE_EXPIRY_SECONDS, lifetime * RENEW_BEFORE_EXPIRY_FRACTION)
        return cls(
            renew_at=at(None if lifetime is None or margin is None else lifetime - margin),
            expires_at=at(lifetime),
            refresh_expires_at=at(issued.refresh_token_expires_in),
        )


def renewal_form(grant: ShopifyGrant, client_secret: str) -> dict[str, str]:
    if grant.grant == AUTHORIZATION_CODE:
        if not grant.refresh_token:
            raise TokenRenewalError(f"shop {grant.shop_id!r} has no refresh token; install the app again")
        return oauth.refresh_token_form(grant.client_id, client_secret, grant.refresh_token)
    return oauth.client_credentials_form(grant.client_id, client_secret)


@dataclass(frozen=True)
class TokenKeeper:
    """Hands out a shop's usable access token, renewing it under the shop's lease when needed."""

    store: Store
    time_scale: float = 1.0
    timeout_seconds: float = 30.0

    @staticmethod
    def due(renew_at: datetime | None) -> bool:
        """True when a token to be renewed at `renew_at` should be renewed now."""
        return renew_at is not None and renew_at <= utcnow()

    def usable_token(self, shop_id: str, *, rejected: str | None = None) -> UsableToken | None:
        """The shop's token if it has time left and is not `rejected`, else a renewed one.

        `rejected` is the token Shopify just answered 401 to. None when the shop has no grant to
        renew by: its caller keeps what it has.
        """
        deadline = time.monotonic() + 2 * RENEWAL_LEASE_SECONDS * self.time_scale + self.timeout_seconds
        while True:
            shop, grant = self._read(shop_id)
            if shop is None or grant is None:
                return None
            token = shop.access_token
            if token and token != rejected and not self.due(shop.access_token_renew_at):
                return UsableToken(token, shop.access_token_renew_at)
            lease = self._take_lease(shop_id)
            if lease is not None:
                return self._renew(shop_id, lease, rejected)
            if time.monotonic() > deadline:
                # Transient: the lease expires on its own, and the next attempt renews.
                raise oauth.TokenEndpointUnavailable(f"shop {shop_id!r}: another worker's token renewal did not finish")
            time.sleep(LEASE_POLL_SECONDS)

    def _read(self, shop_id: str) -> tuple[Shop | None, ShopifyGrant | None]:
        with self.store.session() as session:
            return session.get(Shop, shop_id), session.get(ShopifyGrant, shop_id)

    def _take_lease(self, shop_id: str) -> datetime | None:
        now = utcnow()
        until = now + timedelta(seconds=RENEWAL_LEASE_SECONDS * self.time_scale)
        statement = (
            update(ShopifyGrant)
            .where(col(ShopifyGrant.shop_id) == shop_id)
            .where(or_(col(ShopifyGrant.renewal_lease_until).is_(None), col(ShopifyGrant.renewal_lease_until) < now))
            .values(renewal_lease_until=until)
        )
        with self.store.session() as session:
            taken = session.execute(statement).rowcount == 1  # type: ignore[attr-defined]
        return until if taken else None

    def _renew(self, shop_id: str, lease: datetime, rejected: str | None) -> UsableToken:
        try:
            shop, grant = self._read(shop_id)
            if shop is None or grant is None:
                raise TokenRenewalError(f"shop {shop_id!r} was disconnected during a token renewal")
            token = shop.access_token
            if token and token != rejected and not self.due(shop.access_token_renew_at):
                return UsableToken(token, shop.access_token_renew_at)  # renewed while we waited
            if not shop.webhook_secret or not shop.shopify_domain:
                raise TokenRenewalError(f"shop {shop_id!r} has no client secret; run `ratchet shop connect` again")
            with httpx.Client(timeout=self.timeout_seconds, follow_redirects=False) as http:
                issued = oauth.request_token(http, shop.shopify_domain, renewal_form(grant, shop.webhook_secret))
            return self._save(shop_id, issued)
        finally:
            self._release(shop_id, lease)

    def _save(self, shop_id: str, issued: oauth.IssuedToken) -> UsableToken:
        now = utcnow()
        times = TokenTimes.of(issued, now, self.time_scale)
        with self.store.session() as session:
            # The token pair is written in one transaction (Shopify: "store every refreshed token pair atomically").
            shop = session.get(Shop, shop_id)
            grant = session.get(ShopifyGrant, shop_id)
            if shop is None or grant is None:
                raise TokenRenewalError(f"shop {shop_id!r} was disconnected during a token renewal")
            shop.access_token, shop.access_token_renew_at = issued.access_token, times.renew_at
            if issued.refresh_token:
                grant.refresh_token, grant.refresh_token_expires_at = issued.refresh_token, times.refresh_expires_at
            grant.access_token_expires_at, grant.renewed_at = times.expires_at, now
            session.add(shop)
            session.add(grant)
        return UsableToken(issued.access_token, times.renew_at)

    def _release(self, shop_id: str, lease: datetime) -> None:
        statement = (
            update(ShopifyGrant)
            .where(col(ShopifyGrant.shop_id) == shop_id)
            .where(col(ShopifyGrant.renewal_lease_until) == lease)
            .values(renewal_lease_until=None)
        )
        with self.store.session() as session:
            session.execute(statement)
