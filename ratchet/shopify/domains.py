"""A shop's address as users type it, reduced to what the Admin API is called at.

Shopify serves the Admin API, the OAuth endpoints and webhooks under the shop's permanent
`{name}.myshopify.com` domain; a custom (primary) domain answers the Admin API with a redirect to
it (https://shopify.dev/docs/api/admin-graphql#endpoints: "https://{store_name}.myshopify.com/admin/api/…";
https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant
step 1 validates `shop` as a `*.myshopify.com` hostname). Accepted spellings:

    name                              → name.myshopify.com
    name.myshopify.com                → name.myshopify.com
    https://name.myshopify.com/admin  → name.myshopify.com
    http://127.0.0.1:8080             → kept as given: a proxy or a local Admin API fake
    shop.example.com                  → refused: a custom domain is not an Admin API host
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ratchet.errors import InvalidInput

MYSHOPIFY_SUFFIX = ".myshopify.com"
# Shopify's own libraries validate `shop` with this pattern (letters, digits, hyphens).
_STORE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_MYSHOPIFY_HOST = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")


class ShopDomainError(InvalidInput):
    """The shop was named in a way that does not lead to its Admin API."""


def is_myshopify_domain(value: str) -> bool:
    return bool(_MYSHOPIFY_HOST.match(value))


def normalize_shop_domain(value: str) -> str:
    """`name.myshopify.com` for any accepted spelling of a real shop, or a scheme+host base URL as given."""
    raw = value.strip()
    if not raw:
        raise ShopDomainError("the shop domain is empty; give name.myshopify.com")
    if "://" not in raw:
        host = raw.lower().rstrip("/").split("/", 1)[0]
        if _STORE_NAME.match(host):
            return host + MYSHOPIFY_SUFFIX
        if is_myshopify_domain(host):
            return host
        raise ShopDomainError(_custom_domain_message(raw))
    parts = urlsplit(raw)
    host = (parts.hostname or "").lower()
    if is_myshopify_domain(host):
        return host
    if parts.scheme not in ("http", "https") or not host:
        raise ShopDomainError(f"{raw!r} is not a shop address; give name.myshopify.com")
    if parts.path.strip("/") or parts.query:
        # Only a myshopify URL may carry a path (/admin); anything else with one is a storefront.
        raise ShopDomainError(_custom_domain_message(raw))
    # A scheme plus host: where a proxy or a local Admin API fake answers (used as the base URL).
    return raw.rstrip("/")


def _custom_domain_message(raw: str) -> str:
    return (
        f"{raw!r} is not a myshopify.com domain; Shopify's Admin API answers only at the shop's permanent "
        "name.myshopify.com domain (Shopify admin › Settings › Domains)"
    )


def base_url(shopify_domain: str) -> str:
    """The Admin API base URL: https for a myshopify domain, the base URL itself for a proxy/fake."""
    domain = shopify_domain.strip().rstrip("/")
    return domain if "://" in domain else f"https://{domain}"


def redirect_hint(location: str | None) -> str:
    """What a 3xx from the Admin API tells the user: the myshopify domain it points to, when it names one."""
    host = (urlsplit(location or "").hostname or "").lower()
    if is_myshopify_domain(host):
        return f"Shopify redirects to {host}: connect the shop as {host}"
    return "the shop domain is not the shop's myshopify.com domain; use name.myshopify.com"
