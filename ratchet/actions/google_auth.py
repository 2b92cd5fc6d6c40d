"""Google API access for connected Google accounts: access tokens and authorised requests.

A connected account (ratchet/services/accounts.py) holds one of:

* a service-account key: a JWT signed RS256 with its private key is exchanged for an access token
  (OAuth 2.0 JWT bearer grant,
  https://developers.google.com/identity/protocols/oauth2/service-account#authorizingrequests);
* OAuth client credentials with a refresh token, exchanged the same way a web server refreshes
  (https://developers.google.com/identity/protocols/oauth2/web-server#offline).

Both post to RATCHET_GOOGLE_TOKEN_URL and receive `{access_token, expires_in, token_type}`.
Tokens are kept per process until a minute before they expire; an API answering 401 drops the
kept token so the next request fetches a new one. The scope is `drive.file`: like Mechanic's
integration, Ratchet reaches only the files and spreadsheets it created
(https://developers.google.com/workspace/drive/api/guides/api-specific-auth).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from ratchet.actions.base import ActionContext, PermanentActionError, TransientActionError
from ratchet.actions.integration_request import HTTP, account_credential
from ratchet.services.accounts import Credential, service_account_key

SCOPE = "https://www.googleapis.com/auth/drive.file"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_LIFETIME_SECONDS = 3600  # the longest a service-account assertion may ask for
EXPIRY_MARGIN_SECONDS = 60


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def service_account_assertion(key_json: dict[str, Any], token_url: str, now: float) -> str:
    """The signed JWT of the service-account grant: iss, scope, aud, iat, exp (RS256)."""
    header = {"alg": "RS256", "typ": "JWT"}
    if key_json.get("private_key_id"):
        header["kid"] = key_json["private_key_id"]
    claims = {
        "iss": key_json["client_email"],
        "scope": SCOPE,
        "aud": token_url,
        "iat": int(now),
        "exp": int(now) + TOKEN_LIFETIME_SECONDS,
    }
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    key = service_account_key(key_json["private_key"])
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


def _grant(credential: Credential, token_url: str) -> dict[str, str]:
    data = json.loads(credential.secret)
    if credential.kind == "service_account":
        return {"grant_type": JWT_BEARER_GRANT, "assertion": service_account_assertion(data, token_url, time.time())}
    return {
        "grant_type": "refresh_token",
        "client_id": data["client_id"],
        "client_secret": data["client_secret"],
        "refresh_token": data["refresh_token"],
    }


class GoogleTokens:
    """Access tokens by credential (a digest of it, so a replaced credential gets a new token)."""

    def __init__(self) -> None:
        self._tokens: dict[str, tuple[str, float]] = {}

    @staticmethod
    def _key(credential: Credential) -> str:
        return hashlib.sha256(credential.secret.encode("utf-8")).hexdigest()

    def forget(self, credential: Credential) -> None:
        self._tokens.pop(self._key(credential), None)

    async def token(self, client: httpx.AsyncClient, token_url: str, credential: Credential) -> str:
        kept = self._tokens.get(self._key(credential))
        if kept is not None and kept[1] > time.monotonic():
            return kept[0]
        try:
            response = await client.post(token_url, data=_grant(credential, token_url))
        except httpx.TransportError as error:
            raise TransientActionError(f"google token request failed: {type(error).__name__}: {error}") from error
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientActionError(f"google token endpoint returned HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code != 200 or not isinstance(answer.get("access_token"), str):
            # RFC 6749 §5.2 error response: {"error": "invalid_grant", "error_description": …}
            reason = answer.get("error_description") or answer.get("error") or f"HTTP {response.status_code}"
            raise PermanentActionError(f"Google refused the account's credential: {reason}")
        expires_in = float(answer.get("expires_in") or TOKEN_LIFETIME_SECONDS)
        self._tokens[self._key(credential)] = (
            answer["access_token"],
            time.monotonic() + max(0.0, expires_in - EXPIRY_MARGIN_SECONDS),
        )
        return str(answer["access_token"])


TOKENS = GoogleTokens()


def google_error(response: httpx.Response) -> str:
    """Google's error message, else the status.

    Google answers `{"error": {"code", "message", "status"}}`
    (https://cloud.google.com/apis/design/errors#http_mapping).
    """
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict) and error.get("message"):
        return f"HTTP {response.status_code}: {error['message']}"
    return f"HTTP {response.status_code}"


@dataclass
class GoogleSession:
    """Authorised requests to Google's APIs for one action run, as one connected account."""

    client: httpx.AsyncClient
    ctx: ActionContext
    credential: Credential

    @classmethod
    async def open(cls, ctx: ActionContext, account: str, client: httpx.AsyncClient) -> GoogleSession:
        return cls(client, ctx, await account_credential(ctx, "google", account))

    async def token(self) -> str:
        return await TOKENS.token(self.client, self.ctx.settings.integrations.google_token_url, self.credential)

    async def request(self, method: str, url: str, *, retry_transient: bool = True, **kwargs: Any) -> Any:
        """The JSON answer of an authorised request (bytes for a non-JSON one); errors name Google's message.

        `retry_transient=False` is for writes Google may have applied before a timeout or 5xx:
        those fail permanently, since another attempt could repeat them (429 is always retried:
        Google refuses rate-limited requests before applying them).
        """
        where = f"google {method} {url.split('?', 1)[0]}"
        for attempt in (1, 2):
            headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {await self.token()}"}
            try:
                response = await self.client.request(method, url, headers=headers, **kwargs)
            except httpx.TransportError as error:
                if not retry_transient:
                    raise PermanentActionError(f"{where} failed and is not retried: {error!r}") from error
                raise TransientActionError(f"{where} failed: {type(error).__name__}: {error}") from error
            if response.status_code == 401 and attempt == 1:
                TOKENS.forget(self.credential)  # revoked or expired early: one more try with a new token
                kwargs["headers"] = {k: v for k, v in headers.items() if k != "Authorization"}
                continue
            break
        if response.status_code == 429 or (response.status_code >= 500 and retry_transient):
            raise TransientActionError(f"{where}: {google_error(response)}")
        if response.status_code >= 400:
            raise PermanentActionError(f"{where}: {google_error(response)}")
        if len(response.content) > HTTP.max_response_bytes:
            raise PermanentActionError(f"{where}: response exceeds {HTTP.max_response_bytes} bytes")
        if "json" in response.headers.get("content-type", ""):
            return response.json()
        return response.content


def google_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=HTTP.timeout, follow_redirects=True)
