"""Shopify's token endpoint and install link: the three grants Ratchet gets access tokens by.

`POST {shop}/admin/oauth/access_token`, form-encoded, answers
`{access_token, scope, expires_in[, refresh_token, refresh_token_expires_in]}`:

* client credentials — `grant_type=client_credentials&client_id&client_secret`; for an app of the
  merchant's own organization; the token expires (about 24 h) and is fetched again the same way
  (https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/client-credentials-grant,
  https://shopify.dev/docs/apps/build/authentication-authorization/client-secrets).
* authorization code — the merchant approves the install link (`/admin/oauth/authorize`), Shopify
  redirects to our callback with `code`, `shop`, `state`, `timestamp` and a query `hmac`; the code is
  exchanged with `expiring=1` for an offline token lasting one hour and a refresh token
  (https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant,
  https://shopify.dev/docs/apps/build/security/credentials-and-data/use-expiring-offline-access-tokens).
* refresh token — `grant_type=refresh_token&client_id&client_secret&refresh_token`; Shopify replaces
  the refresh token on every use and keeps accepting the previous one until the replacement is used
  (https://shopify.dev/changelog/offline-access-tokens-now-support-expiry-and-refresh,
  https://shopify.dev/changelog/more-resilient-refreshes-for-expiring-offline-access-tokens).

Errors: `TokenGrantError` (Shopify refused the grant: wrong secret, used code, revoked refresh
token) and `TokenEndpointUnavailable` (no answer, or a 5xx/429: worth trying again).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from ratchet.errors import InvalidInput, Unavailable
from ratchet.shopify.domains import base_url

TOKEN_PATH = "/admin/oauth/access_token"
AUTHORIZE_PATH = "/admin/oauth/authorize"


class TokenGrantError(InvalidInput):
    """Shopify refused to issue a token; the message says what to fix."""


class TokenEndpointUnavailable(Unavailable):
    """The token endpoint gave no usable answer (network, 5xx, 429); nothing was issued."""


@dataclass(frozen=True)
class IssuedToken:
    """One answer of the token endpoint; lifetimes in Shopify seconds, None when the token does not expire."""

    access_token: str
    scope: str
    expires_in: float | None
    refresh_token: str | None = None
    refresh_token_expires_in: float | None = None

    @classmethod
    def from_response(cls, body: Mapping[str, Any]) -> IssuedToken:
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise TokenGrantError("Shopify's token endpoint answered without an access_token")
        return cls(
            access_token=token,
            scope=str(body.get("scope") or ""),
            expires_in=_seconds(body.get("expires_in")),
            refresh_token=body.get("refresh_token") or None,
            refresh_token_expires_in=_seconds(body.get("refresh_token_expires_in")),
        )


def _seconds(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and value > 0 else None


def client_credentials_form(client_id: str, client_secret: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}


def authorization_code_form(client_id: str, client_secret: str, code: str) -> dict[str, str]:
    # expiring=1 asks for an expiring offline token with a refresh token instead of a permanent one.
    return {"client_id": client_id, "client_secret": client_secret, "code": code, "expiring": "1"}


def refresh_token_form(client_id: str, client_secret: str, refresh_token: str) -> dict[str, str]:
    return {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
    }


def request_token(http: httpx.Client, shopify_domain: str, form: Mapping[str, str]) -> IssuedToken:
    """POST `form` to the shop's token endpoint and read the issued token."""
    url = base_url(shopify_domain) + TOKEN_PATH
    try:
        response = http.post(url, data=dict(form), headers={"Accept": "application/json"})
    except httpx.TransportError as exc:
        raise TokenEndpointUnavailable(f"cannot reach Shopify's token endpoint at {url} ({exc!r})") from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise TokenEndpointUnavailable(f"Shopify's token endpoint answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict):
        raise TokenGrantError(
            f"Shopify refused the {form.get('grant_type', 'authorization_code')} grant at {url} "
            f"(HTTP {response.status_code}: {_reason(body, response)})"
        )
    return IssuedToken.from_response(body)


def _reason(body: Any, response: httpx.Response) -> str:
    if isinstance(body, dict):
        for key in ("error_description", "error", "errors"):
            if body.get(key):
                return str(body[key])[:300]
    return response.text[:300] or "no reason given"


def authorize_url(shopify_domain: str, *, client_id: str, scopes: str, redirect_uri: str, state: str) -> str:
    """The install link: the merchant approves `scopes`, Shopify redirects to `redirect_uri` with a code.

    No `grant_options[]=per-user`: the token is an offline one, for background work.
    """
    query = urlencode({"client_id": client_id, "scope": scopes, "redirect_uri": redirect_uri, "state": state})
    return f"{base_url(shopify_domain)}{AUTHORIZE_PATH}?{query}"


def query_signature(params: Mapping[str, str], secret: str) -> str:
    """Shopify's query `hmac`: hex HMAC-SHA256 of the other parameters as sorted `key=value` pairs joined by `&`.

    https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant
    (step 2, "Verify the installation request" / "Remove the HMAC parameter from the query string").
    """
    message = "&".join(f"{key}={value}" for key, value in sorted(params.items()) if key not in ("hmac", "signature"))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def query_signed(params: Mapping[str, str], secret: str) -> bool:
    given = params.get("hmac") or ""
    return bool(given) and hmac.compare_digest(query_signature(params, secret), given)
