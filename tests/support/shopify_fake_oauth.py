"""The Shopify fake's token endpoint and install link, as Shopify documents them.

* `POST /admin/oauth/access_token` (form-encoded), three grants:
  - `grant_type=client_credentials&client_id&client_secret` → `{access_token, scope, expires_in}`,
    the token living about 24 h (`expires_in: 86399` in Shopify's example)
    https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/client-credentials-grant
    https://shopify.dev/docs/apps/build/authentication-authorization/client-secrets
  - `client_id&client_secret&code[&expiring=1]` → with `expiring=1` an offline token living one hour
    plus `refresh_token` (90 days) — without it a token that does not expire; a code works once
    https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant
    https://shopify.dev/docs/apps/build/security/credentials-and-data/use-expiring-offline-access-tokens
  - `grant_type=refresh_token&client_id&client_secret&refresh_token` → a new pair; the refresh token
    is replaced on every use, and the one used stays accepted until its replacement is used
    https://shopify.dev/changelog/offline-access-tokens-now-support-expiry-and-refresh
    https://shopify.dev/changelog/more-resilient-refreshes-for-expiring-offline-access-tokens
  A refused grant answers 400 `{"error": …, "error_description": …}` (OAuth 2.0 error response,
  RFC 6749 §5.2, which the client credentials page cites for the grant).
* `GET /admin/oauth/authorize?client_id&scope&redirect_uri&state`: the merchant approves at once;
  302 to `redirect_uri` with `code`, `hmac`, `host`, `shop`, `state`, `timestamp`, the `hmac` being
  the hex HMAC-SHA256 of the other parameters sorted and joined with `&` (authorization-code-grant, step 1/3).
* An access token past its expiry is refused by the Admin API with 401 and Shopify's invalid-token
  message (https://shopify.dev/docs/api/usage/response-codes: 401 Unauthorized).

Lifetimes are Shopify seconds on the fake's clock, so a test running RATCHET_TIME_SCALE=0.0001 sees
a 24 h token expire after 8.6 wall seconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response


def query_hmac(params: dict[str, str], secret: str) -> str:
    message = "&".join(f"{key}={value}" for key, value in sorted(params.items()) if key != "hmac")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def webhook_hmac(body: bytes, secret: str) -> str:
    """`X-Shopify-Hmac-SHA256`: base64 HMAC-SHA256 of the raw body (https://shopify.dev/docs/apps/build/webhooks/verify-deliveries)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class FakeOAuth:
    """The app's credentials and every token the fake issued, with its expiry on the fake clock."""

    now: Callable[[], float]
    scopes: Callable[[], list[str]]
    myshopify_domain: Callable[[], str]
    client_id: str = "fake-client-id"
    client_secret: str = "fake-client-secret"
    client_credentials_seconds: float = 86399.0
    offline_token_seconds: float = 3600.0
    refresh_token_seconds: float = 7776000.0
    # token -> expiry (fake clock), None: never expires.
    tokens: dict[str, float | None] = field(default_factory=dict)
    # Every grant answered, in order ("client_credentials", "authorization_code", "refresh_token").
    grants: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: set[str] = set()
        # (refresh token used to make `current`, current): the used one stays valid until `current` is used.
        self._refresh: tuple[str | None, str | None] = (None, None)

    def reset(self) -> None:
        with self._lock:
            self.tokens.clear()
            self.grants.clear()
            self._codes.clear()
            self._refresh = (None, None)
            self.client_secret = "fake-client-secret"

    def valid(self, token: str | None) -> bool:
        with self._lock:
            if token not in self.tokens:
                return False
            expiry = self.tokens[token]
            return expiry is None or self.now() < expiry

    def _issue(self, lifetime: float | None, *, refresh: bool = False) -> dict[str, Any]:
        token = "shpat_" + secrets.token_hex(16)
        self.tokens[token] = None if lifetime is None else self.now() + lifetime
        answer: dict[str, Any] = {"access_token": token, "scope": ",".join(self.scopes())}
        if lifetime is not None:
            answer["expires_in"] = int(lifetime)
        if refresh:
            answer["refresh_token"] = "shprt_" + secrets.token_hex(16)
            answer["refresh_token_expires_in"] = int(self.refresh_token_seconds)
            self._refresh = (None, answer["refresh_token"])
        return answer

    def token_response(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
                return 400, {"error": "invalid_client", "error_description": "Client authentication failed."}
            grant = form.get("grant_type") or "authorization_code"
            if grant == "client_credentials":
                self.grants.append(grant)
                return 200, self._issue(self.client_credentials_seconds)
            if grant == "refresh_token":
                return self._refresh_grant(form.get("refresh_token") or "")
            if grant == "authorization_code" and form.get("code") in self._codes:
                self._codes.discard(form["code"])
                self.grants.append(grant)
                if form.get("expiring") == "1":
                    return 200, self._issue(self.offline_token_seconds, refresh=True)
                return 200, self._issue(None)
            return 400, {"error": "invalid_grant", "error_description": "The authorization grant is invalid."}

    def _refresh_grant(self, used: str) -> tuple[int, dict[str, Any]]:
        previous, current = self._refresh
        if used != current and (used != previous or previous is None):
            return 400, {"error": "invalid_grant", "error_description": "The refresh token is invalid."}
        self.grants.append("refresh_token")
        answer = self._issue(self.offline_token_seconds, refresh=True)
        # The token just used stays good until the replacement is used; using the replacement
        # retires its predecessor.
        self._refresh = (used, answer["refresh_token"])
        return 200, answer

    def authorize_redirect(self, params: dict[str, str]) -> str:
        with self._lock:
            code = secrets.token_hex(12)
            self._codes.add(code)
        shop = self.myshopify_domain()
        query = {
            "code": code,
            "host": base64.b64encode(f"admin.shopify.com/store/{shop.split('.')[0]}".encode()).decode(),
            "shop": shop,
            "state": params.get("state", ""),
            "timestamp": str(int(time.time())),
        }
        query["hmac"] = query_hmac(query, self.client_secret)
        return f"{params.get('redirect_uri', '')}?{urlencode(query)}"

    def add_routes(self, app: FastAPI, record: Callable[[Request], Any]) -> None:
        @app.post("/admin/oauth/access_token")
        async def access_token(request: Request) -> Response:
            await record(request)
            form = dict(parse_qsl((await request.body()).decode()))
            status, body = self.token_response(form)
            return JSONResponse(body, status_code=status)

        @app.get("/admin/oauth/authorize")
        async def authorize(request: Request) -> Response:
            await record(request)
            params = dict(request.query_params)
            if params.get("client_id") != self.client_id:
                return JSONResponse({"errors": "unknown client_id"}, status_code=400)
            return RedirectResponse(self.authorize_redirect(params), status_code=302)
