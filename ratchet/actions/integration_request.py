"""The request shape the `slack`, `airtable` and `google` actions share (spec 7.9).

Options `{account, method, url_path, headers, body}`: `account` names a connected account
(ratchet/services/accounts.py), `url_path` is appended to the provider's API base URL (a setting),
`body` is JSON (a hash or array; sent as query parameters on GET, as Mechanic's Google demo relies
on) or a string sent as it is. The account's credential becomes the `Authorization` header.

Result `{status, body}`: `body` parsed when the response is JSON, else text. Any response the
service answers is a result the task can inspect (the library's Google demo checks `status`),
except 429 and 5xx, which are transient errors (Mechanic's retries), and what a provider's
`check` refuses. Secret references are not resolved here: Mechanic's integrations do not
receive shop secrets (https://learn.mechanic.dev/platform/globals-and-secrets).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from ratchet.actions.base import ActionContext, ActionOptionsError, PermanentActionError, TransientActionError
from ratchet.actions.http import METHODS, HttpConfig, header_options, response_body
from ratchet.errors import NotFound
from ratchet.services import accounts
from ratchet.services.accounts import Credential

HTTP = HttpConfig()


@dataclass(frozen=True)
class IntegrationRequest:
    account: str
    method: str
    url_path: str
    headers: dict[str, str] = field(default_factory=dict)
    # JSON (hash/array), text, or None.
    body: Any = None


def account_option(options: Any) -> str:
    """The `account` every integration action names (options must be a hash)."""
    if not isinstance(options, dict):
        raise ActionOptionsError("options", "must be a hash")
    account = options.get("account")
    if not isinstance(account, str) or not account.strip():
        raise ActionOptionsError("account", "is required: the name of a connected account")
    return account.strip()


def parse_request(options: Any, *, json_defaults: bool = False) -> IntegrationRequest:
    """Validate the shared options.

    `json_defaults` adds JSON Accept/Content-Type headers when missing (Google's documented behaviour).
    """
    account = account_option(options)
    method = options.get("method")
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise ActionOptionsError("method", f"must be one of {', '.join(m.upper() for m in METHODS)}, got {method!r}")
    url_path = options.get("url_path")
    if not isinstance(url_path, str) or not url_path.startswith("/"):
        raise ActionOptionsError("url_path", f"must be a path starting with '/', got {url_path!r}")
    headers = header_options(options.get("headers"))
    body = options.get("body")
    if body is not None and not isinstance(body, (dict, list, str)):
        raise ActionOptionsError("body", f"must be a hash, array or string, got {body!r}")
    if json_defaults:
        present = {name.lower() for name in headers}
        if "accept" not in present:
            headers["Accept"] = "application/json"
        if "content-type" not in present and isinstance(body, (dict, list)):
            headers["Content-Type"] = "application/json"
    return IntegrationRequest(account, method.upper(), url_path, headers, body)


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def build_request(client: httpx.AsyncClient, base_url: str, request: IntegrationRequest, token: str) -> httpx.Request:
    headers = {name: value for name, value in request.headers.items() if name.lower() != "authorization"}
    headers["Authorization"] = f"Bearer {token}"
    url = base_url + request.url_path
    body = request.body
    if request.method == "GET" and isinstance(body, dict):
        params = {str(key): _query_value(value) for key, value in body.items() if value is not None}
        return client.build_request("GET", url, headers=headers, params=params)
    if isinstance(body, (dict, list)):
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = "application/json"
        content: bytes | None = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    else:
        content = None if body is None else body.encode("utf-8")
    return client.build_request(request.method, url, headers=headers, content=content)


async def send(
    base_url: str,
    request: IntegrationRequest,
    token: str,
    *,
    provider: str,
    check: Callable[[int, Any], None] | None = None,
) -> dict[str, Any]:
    """Perform `request` against `base_url`; `check(status, body)` may refuse a response."""
    where = f"{provider} {request.method} {request.url_path}"
    try:
        async with httpx.AsyncClient(timeout=HTTP.timeout, follow_redirects=True) as client:
            response = await client.send(build_request(client, base_url, request, token))
    except httpx.TransportError as error:
        raise TransientActionError(f"{where} failed: {type(error).__name__}: {error}") from error
    if len(response.content) > HTTP.max_response_bytes:
        raise PermanentActionError(f"{where}: response body exceeds {HTTP.max_response_bytes} bytes")
    result = {
        "status": response.status_code,
        "body": response_body(response.content, response.headers.get("content-type")),
    }
    if response.status_code == 429 or response.status_code >= 500:
        raise TransientActionError(f"{where} returned HTTP {response.status_code}", result=result)
    if check is not None:
        check(response.status_code, result["body"])
    return result


async def account_credential(ctx: ActionContext, provider: str, account: str) -> Credential:
    """The named account's credential; an unknown account fails the run permanently."""
    try:
        return await asyncio.to_thread(accounts.account_credential, ctx.store, ctx.shop.id, provider, account)
    except NotFound as error:
        raise PermanentActionError(str(error)) from error
