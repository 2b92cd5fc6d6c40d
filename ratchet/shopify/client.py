"""Shopify Admin API client: GraphQL and REST, async (actions) and sync (the Liquid `shopify` filter).

Both variants share `ShopifyConfig`, the URL/header rules of `ShopTarget`, the response
interpretation and one exception hierarchy rooted at `ShopifyError`:

    ShopifyError
    ├── ShopifyConfigurationError   the shop has no access token
    ├── ShopifyTransportError       no complete response (connection refused, timeout, ...)
    ├── ShopifyHTTPError            non-2xx (other than 429) or a body that is not JSON; 3xx and 4xx are final
    ├── ShopifyThrottled            THROTTLED / 429: wait `retry_after_seconds`, then try again
    ├── ShopifyGraphQLError         (sync callable) a read answered with non-throttling GraphQL errors
    └── ShopifyRateLimitExceeded    (sync callable) throttled calls did not recover in its bound

Every response updates the shop's shared throttle state (`ratchet.shopify.throttle`) when the
client was given a store. Clients never sleep on throttling by default: the engine decides how a
run waits. Only the Liquid callable waits in place, because a render cannot be suspended.

Base URL: a shop's `shopify_domain` is normally a bare domain (`acme.myshopify.com`, spoken to
over https). A value with a scheme (`http://127.0.0.1:8080`) is used as the base URL as given;
that is how Ratchet is pointed at a proxy or a local Admin API mock (ratchet/shopify/domains.py).

Expiring tokens: a client given a store renews its shop's token shortly before it expires and,
once, after a 401, then repeats the call (ratchet/shopify/tokens.py). A 3xx is never followed
(it would re-send the token elsewhere) and never retried: Shopify redirects a custom domain to
the shop's myshopify.com domain, and asking again changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from sqlalchemy.exc import SQLAlchemyError

from ratchet.core.api_versions import LATEST_STABLE_API_VERSION
from ratchet.errors import InvalidInput, RatchetError, Unavailable
from ratchet.shopify import throttle
from ratchet.shopify.domains import base_url, redirect_hint
from ratchet.shopify.oauth import TokenEndpointUnavailable
from ratchet.shopify.throttle import GraphQLThrottleStatus
from ratchet.shopify.tokens import TokenKeeper

if TYPE_CHECKING:
    from ratchet.config import Settings
    from ratchet.store.database import Store
    from ratchet.store.tables import Shop

logger = logging.getLogger(__name__)

# Calls that belong to no task run (shop verification, webhook registration) use this one.
DEFAULT_API_VERSION = LATEST_STABLE_API_VERSION
CALL_LIMIT_HEADER = "X-Shopify-Shop-Api-Call-Limit"


@dataclass(frozen=True)
class ShopifyConfig:
    api_version: str = DEFAULT_API_VERSION
    timeout_seconds: float = 30.0
    # RATCHET_TIME_SCALE: in-place throttle waits (sync callable) are scaled like every engine wait.
    time_scale: float = 1.0
    # Sync callable only: how many throttled calls it waits out before giving up ...
    throttle_retries: int = 5
    # ... and the longest single wait it accepts (longer ones fail at once rather than hold a
    # worker thread); both in Shopify seconds.
    max_throttle_wait_seconds: float = 60.0
    user_agent: str = "Ratchet"

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> ShopifyConfig:
        return replace(cls(time_scale=settings.time_scale), **overrides)


# -- errors ------------------------------------------------------------------------------------------


class ShopifyError(RatchetError):
    """Base of every error raised by the Shopify client."""


class ShopifyConfigurationError(ShopifyError, InvalidInput):
    """The shop cannot be called: it lacks an access token."""


class ShopifyTransportError(ShopifyError, Unavailable):
    """No complete response arrived (connection error, timeout, broken stream)."""


class ShopifyHTTPError(ShopifyError):
    """Shopify answered with a non-2xx status (other than 429), or with a body that is not JSON."""

    def __init__(self, status_code: int, body: Any, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body
        # 5xx are Shopify-side outages; a 2xx whose body is not JSON is a broken proxy or
        # maintenance page, equally worth another attempt. 3xx (a custom domain redirected to the
        # myshopify one) and 4xx will fail the same way again.
        self.retryable = status_code >= 500 or 200 <= status_code < 300


class ShopifyThrottled(ShopifyError):
    """The shop's rate limit is exhausted: nothing was done, try again after the wait.

    Deliberately not an ActionError: the engine waits it out without spending an attempt.
    `retry_after_seconds` is in Shopify (unscaled) seconds.
    """

    retryable = True

    def __init__(self, retry_after_seconds: float, message: str, *, response: Any = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
        self.response = response


class ShopifyGraphQLError(ShopifyError):
    """A read answered with GraphQL errors other than throttling (bad query, missing scope, ...)."""


class ShopifyRateLimitExceeded(ShopifyError):
    """The rate limit did not recover within the in-place retry bound (a permanent failure)."""


# -- shop addressing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShopTarget:
    """Where and as whom to call one shop's Admin API."""

    shop_id: str
    base_url: str
    access_token: str
    # When the token is to be renewed (engine clock, shortly before it expires); None: it does not expire.
    renew_at: datetime | None = None

    @classmethod
    def from_shop(cls, shop: Shop) -> ShopTarget:
        if not shop.access_token:
            raise ShopifyConfigurationError(
                f"shop {shop.id!r} has no Shopify access token; connect it with `ratchet shop connect`"
            )
        # Same fallback the Liquid `shop` object shows, so both agree on the shop's domain.
        target = cls.for_domain(shop.id, shop.shopify_domain or f"{shop.id}.myshopify.com", shop.access_token)
        return replace(target, renew_at=shop.access_token_renew_at)

    @classmethod
    def for_domain(cls, shop_id: str, shopify_domain: str, access_token: str) -> ShopTarget:
        return cls(shop_id=shop_id, base_url=base_url(shopify_domain), access_token=access_token)


@dataclass
class CallStats:
    """What the calls of one run cost; surfaces as Mechanic's `result_meta`."""

    api_time_ms: float = 0.0
    graphql_cost: float = 0.0
    graphql_requests: int = 0
    rest_requests: int = 0

    def as_result_meta(self) -> dict[str, Any]:
        return {
            "shopify_admin_api_time_ms": round(self.api_time_ms),
            "shopify_admin_graphql_api_cost": self.graphql_cost,
            "shopify_admin_rest_api_requests_count": self.rest_requests,
            "shopify_admin_graphql_api_requests_count": self.graphql_requests,
        }


# -- response interpretation (shared by both clients) ------------------------------------------------


@dataclass
class _Outcome:
    body: Any = None
    graphql_status: GraphQLThrottleStatus | None = None
    call_limit: tuple[int, int] | None = None
    failure: ShopifyError | None = None
    # REST lists: the query parameters of the next page (Shopify's `Link: <…>; rel="next"`).
    next_page: dict[str, str] | None = None


def _json_or_text(response: httpx.Response) -> tuple[Any, bool]:
    if not response.content:
        return {}, True
    try:
        return response.json(), True
    except ValueError:
        return response.text, False


def _parse_call_limit(response: httpx.Response) -> tuple[int, int] | None:
    raw = response.headers.get(CALL_LIMIT_HEADER)
    if not raw:
        return None
    used, _, limit = raw.partition("/")
    try:
        return int(used), int(limit)
    except ValueError:
        return None


def _retry_after_header(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


_STATUS_HINTS = {
    401: "the shop's access token is invalid or was revoked; connect the shop again with `ratchet shop connect`",
    403: "the shop's access token lacks a scope this call needs; grant it in the app's configuration",
    404: "no such resource or API version at this shop",
}


def _http_error(response: httpx.Response, body: Any) -> ShopifyHTTPError:
    if response.is_redirect:
        redirect = redirect_hint(response.headers.get("Location"))
        return ShopifyHTTPError(response.status_code, body, f"Shopify answered HTTP {response.status_code}: {redirect}")
    hint = _STATUS_HINTS.get(response.status_code)
    return ShopifyHTTPError(
        response.status_code,
        body,
        f"Shopify answered HTTP {response.status_code}" + (f" ({hint})" if hint else "") + f": {str(body)[:500]}",
    )


def _unauthorized(outcome: _Outcome) -> bool:
    return isinstance(outcome.failure, ShopifyHTTPError) and outcome.failure.status_code == 401


def is_transient(error: BaseException) -> bool:
    """Shopify-side outages and broken connections are worth another attempt; everything else is not."""
    return isinstance(error, ShopifyTransportError) or (isinstance(error, ShopifyHTTPError) and error.retryable)


def _graphql_outcome(response: httpx.Response) -> _Outcome:
    body, is_json = _json_or_text(response)
    if response.status_code == 429:
        wait = _retry_after_header(response) or throttle.UNKNOWN_RATE_RECHECK_SECONDS
        return _Outcome(body=body, failure=ShopifyThrottled(wait, "Shopify GraphQL API answered 429", response=body))
    if response.status_code >= 300 or not is_json or not isinstance(body, dict):
        return _Outcome(body=body, failure=_http_error(response, body))

    cost = (body.get("extensions") or {}).get("cost") or {}
    status = GraphQLThrottleStatus.from_response(cost.get("throttleStatus") or {})
    outcome = _Outcome(body=body, graphql_status=status)
    throttled = any(
        isinstance(error, dict) and (error.get("extensions") or {}).get("code") == "THROTTLED"
        for error in body.get("errors") or []
    )
    if throttled:
        # Shopify refused the whole query: wait until the bucket holds its requested cost.
        requested = cost.get("requestedQueryCost")
        if status is not None and status.restore_rate > 0 and isinstance(requested, int | float):
            wait = max(0.0, (requested - status.currently_available) / status.restore_rate)
        else:
            wait = throttle.UNKNOWN_RATE_RECHECK_SECONDS
        outcome.failure = ShopifyThrottled(
            wait, f"Shopify GraphQL API throttled the query (retry after {wait:g} s)", response=body
        )
    return outcome


def _rest_outcome(response: httpx.Response) -> _Outcome:
    body, is_json = _json_or_text(response)
    outcome = _Outcome(body=body, call_limit=_parse_call_limit(response))
    next_url = response.links.get("next", {}).get("url")
    if next_url:
        outcome.next_page = dict(parse_qsl(urlsplit(next_url).query))
    if response.status_code == 429:
        wait = _retry_after_header(response)
        if wait is None and outcome.call_limit is not None:
            used, limit = outcome.call_limit
            wait = max(0.0, used - (limit - 1)) * throttle.REST_BUCKET_DRAIN_SECONDS / limit
        wait = wait or throttle.UNKNOWN_RATE_RECHECK_SECONDS
        outcome.failure = ShopifyThrottled(
            wait, f"Shopify REST API answered 429 (retry after {wait:g} s)", response=body
        )
    elif response.status_code >= 300 or not is_json:
        outcome.failure = _http_error(response, body)
    return outcome


class _ClientBase:
    def __init__(
        self,
        target: ShopTarget,
        *,
        api_version: str | None = None,
        config: ShopifyConfig | None = None,
        store: Store | None = None,
        stats: CallStats | None = None,
    ) -> None:
        self.target = target
        self.config = config or ShopifyConfig()
        self.api_version = api_version or self.config.api_version
        self.store = store
        self.stats = stats or CallStats()

    @property
    def graphql_url(self) -> str:
        return f"{self.target.base_url}/admin/api/{self.api_version}/graphql.json"

    def rest_url(self, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError(f"REST path must start with '/', got {path!r}")
        return f"{self.target.base_url}{path}"

    def _headers(self) -> dict[str, str]:
        # Sent per request, not set on the HTTP client: a shop's pooled client outlives token changes.
        return {
            "X-Shopify-Access-Token": self.target.access_token,
            "Accept": "application/json",
            "User-Agent": self.config.user_agent,
        }

    @staticmethod
    def _graphql_payload(query: str, variables: Mapping[str, Any] | None) -> dict[str, Any]:
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = dict(variables)
        return payload

    def _count(self, kind: str, started: float, outcome: _Outcome) -> None:
        self.stats.api_time_ms += (time.perf_counter() - started) * 1000
        if kind == "graphql":
            self.stats.graphql_requests += 1
            body = outcome.body if isinstance(outcome.body, dict) else {}
            actual = ((body.get("extensions") or {}).get("cost") or {}).get("actualQueryCost")
            if isinstance(actual, int | float):
                self.stats.graphql_cost += actual
        else:
            self.stats.rest_requests += 1

    def _record(self, outcome: _Outcome) -> None:
        """Share what this response says about the bucket with every other worker."""
        if self.store is None:
            return
        shop_id = self.target.shop_id
        try:
            if outcome.graphql_status is not None:
                throttle.record_graphql(self.store, shop_id, outcome.graphql_status)
            if outcome.call_limit is not None:
                throttle.record_rest(self.store, shop_id, *outcome.call_limit)
            if isinstance(outcome.failure, ShopifyThrottled):
                throttle.record_throttled(self.store, shop_id, outcome.failure.retry_after_seconds)
        except SQLAlchemyError:
            # The Shopify call already happened (perhaps a mutation): failing it now would make
            # the engine repeat it. Gating degrades to the next observation instead.
            logger.warning("could not record Shopify throttle state for shop %s", shop_id, exc_info=True)

    def _keeper(self) -> TokenKeeper | None:
        if self.store is None:
            return None
        return TokenKeeper(self.store, time_scale=self.config.time_scale, timeout_seconds=self.config.timeout_seconds)

    def _renewal_due(self) -> bool:
        keeper = self._keeper()
        return keeper is not None and keeper.due(self.target.renew_at)

    def _swap_token(self, rejected: str | None) -> bool:
        """Take the shop's current token, renewed if due or `rejected` by a 401; True when it changed.

        Blocking (store and token endpoint): the async client runs it in a thread.
        """
        keeper = self._keeper()
        if keeper is None:
            return False
        try:
            usable = keeper.usable_token(self.target.shop_id, rejected=rejected)
        except TokenEndpointUnavailable as exc:
            raise ShopifyTransportError(
                f"cannot renew the access token of shop {self.target.shop_id!r}: {exc}"
            ) from exc
        except InvalidInput as exc:
            # The grant itself was refused (revoked app, rotated secret): as final as a 401.
            raise ShopifyHTTPError(401, None, f"the shop's access token could not be renewed: {exc}") from exc
        if usable is None or usable.access_token == self.target.access_token:
            return False
        self.target = replace(self.target, access_token=usable.access_token, renew_at=usable.renew_at)
        return True

    @staticmethod
    def _result(outcome: _Outcome) -> Any:
        if outcome.failure is not None:
            raise outcome.failure
        return outcome.body


def http_client_options(config: ShopifyConfig) -> dict[str, Any]:
    return {
        "timeout": config.timeout_seconds,
        # A redirect from the Admin API means a renamed/moved shop; following it would
        # re-send the access token to wherever it points.
        "follow_redirects": False,
    }


class AsyncShopifyClient(_ClientBase):
    """Async client for one shop; use as `async with AsyncShopifyClient(...) as client`.

    With `http`, requests go through that shared connection pool, which the client never closes.
    """

    def __init__(self, target: ShopTarget, *, http: httpx.AsyncClient | None = None, **kwargs: Any) -> None:
        super().__init__(target, **kwargs)
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(**http_client_options(self.config))

    async def __aenter__(self) -> AsyncShopifyClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """POST a query/mutation; returns the whole response (`data`, `errors`, `extensions`)."""
        return await self._send("graphql", "POST", self.graphql_url, json=self._graphql_payload(query, variables))

    async def request(self, method: str, path: str, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        """A REST call to `path` (e.g. `/admin/api/2025-10/orders.json`); returns the parsed body."""
        return await self._send("rest", method.upper(), self.rest_url(path), json=json, params=params)

    async def _send(self, kind: str, method: str, url: str, **kwargs: Any) -> Any:
        if self._renewal_due():
            await asyncio.to_thread(self._swap_token, None)
        rejected = self.target.access_token
        outcome = await self._exchange(kind, method, url, **kwargs)
        if _unauthorized(outcome) and await asyncio.to_thread(self._swap_token, rejected):
            outcome = await self._exchange(kind, method, url, **kwargs)
        return self._result(outcome)

    async def _exchange(self, kind: str, method: str, url: str, **kwargs: Any) -> _Outcome:
        started = time.perf_counter()
        try:
            response = await self._http.request(method, url, headers=self._headers(), **kwargs)
        except httpx.TransportError as exc:
            raise ShopifyTransportError(f"Shopify request failed: {exc!r}") from exc
        outcome = _graphql_outcome(response) if kind == "graphql" else _rest_outcome(response)
        self._count(kind, started, outcome)
        await asyncio.to_thread(self._record, outcome)
        return outcome


class ShopifyClient(_ClientBase):
    """Blocking client for one shop (the Liquid filter runs inside a synchronous render)."""

    def __init__(self, target: ShopTarget, *, http: httpx.Client | None = None, **kwargs: Any) -> None:
        super().__init__(target, **kwargs)
        self._owns_http = http is None
        self._http = http or httpx.Client(**http_client_options(self.config))

    def __enter__(self) -> ShopifyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self._result(
            self._send("graphql", "POST", self.graphql_url, json=self._graphql_payload(query, variables))
        )

    def request(self, method: str, path: str, json: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        return self._result(self._send("rest", method.upper(), self.rest_url(path), json=json, params=params))

    def get_page(self, path: str, params: Mapping[str, Any] | None = None) -> tuple[Any, dict[str, str] | None]:
        """A REST GET of one page of a list: the body and the next page's query parameters (None at the end)."""
        outcome = self._send("rest", "GET", self.rest_url(path), params=params)
        return self._result(outcome), outcome.next_page

    def _send(self, kind: str, method: str, url: str, **kwargs: Any) -> _Outcome:
        if self._renewal_due():
            self._swap_token(None)
        rejected = self.target.access_token
        outcome = self._exchange(kind, method, url, **kwargs)
        if _unauthorized(outcome) and self._swap_token(rejected):
            outcome = self._exchange(kind, method, url, **kwargs)
        return outcome

    def _exchange(self, kind: str, method: str, url: str, **kwargs: Any) -> _Outcome:
        started = time.perf_counter()
        try:
            response = self._http.request(method, url, headers=self._headers(), **kwargs)
        except httpx.TransportError as exc:
            raise ShopifyTransportError(f"Shopify request failed: {exc!r}") from exc
        outcome = _graphql_outcome(response) if kind == "graphql" else _rest_outcome(response)
        self._count(kind, started, outcome)
        self._record(outcome)
        return outcome


# -- the Liquid `shopify` filter -----------------------------------------------------------------------


@dataclass
class LiquidShopifyCallable:
    """`callable(query, variables) -> whole GraphQL response`, waiting out throttling in place.

    Spec 4.3: inside a run, a throttled call is waited on and retried a bounded number of times;
    `ShopifyRateLimitExceeded` (permanent) when it does not recover. A response with other
    GraphQL errors raises `ShopifyGraphQLError`, as Mechanic fails such reads; other
    `ShopifyError`s pass through unchanged. `stats` accumulates over every call of the render;
    `on_progress` is told after every answer and before every wait (the run's liveness signal).
    """

    shop: Shop
    api_version: str | None
    config: ShopifyConfig
    store: Store | None
    http: httpx.Client | None = None
    on_progress: Callable[[], None] | None = None
    stats: CallStats = field(default_factory=CallStats)

    def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response: dict[str, Any] = self._waiting_out_throttles(lambda client: client.graphql(query, variables))
        errors = response.get("errors")
        if errors:
            raise ShopifyGraphQLError(f"Shopify answered with GraphQL errors: {_error_messages(errors)}")
        return response

    def rest_get(self, path: str, params: Mapping[str, Any] | None = None) -> tuple[Any, dict[str, str] | None]:
        """GET `path` under the run's API version (`orders/1.json`): the body and the next page's parameters.

        The REST lookups of Mechanic's Liquid (`shop.orders`, `order.reload`, ...) read through this.
        """
        return self._waiting_out_throttles(
            lambda client: client.get_page(f"/admin/api/{client.api_version}/{path}", params)
        )

    def _waiting_out_throttles(self, call: Callable[[ShopifyClient], Any]) -> Any:
        # Resolved per call so that renders which never read Shopify need no access token.
        target = ShopTarget.from_shop(self.shop)
        waited = 0.0
        with ShopifyClient(
            target,
            api_version=self.api_version,
            config=self.config,
            store=self.store,
            stats=self.stats,
            http=self.http,
        ) as client:
            for retry in range(self.config.throttle_retries + 1):
                try:
                    answer = call(client)
                except ShopifyThrottled as exc:
                    wait = exc.retry_after_seconds
                    if retry == self.config.throttle_retries or wait > self.config.max_throttle_wait_seconds:
                        break
                    self._progress()
                    time.sleep(wait * self.config.time_scale)
                    waited += wait
                    continue
                self._progress()
                return answer
        raise ShopifyRateLimitExceeded(
            f"Shopify API rate limit for shop {target.shop_id!r} did not recover: still throttled after "
            f"{retry} retries and {waited:g} s of waiting (next wait would be {wait:g} s)"
        )

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress()


def _error_messages(errors: Any) -> str:
    if isinstance(errors, list):
        return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)[:500]
    return str(errors)[:500]


def make_liquid_shopify_callable(
    store: Store | None,
    shop: Shop,
    api_version: str | None,
    *,
    config: ShopifyConfig | None = None,
    http: httpx.Client | None = None,
    on_progress: Callable[[], None] | None = None,
) -> LiquidShopifyCallable:
    """The GraphQL function behind the Liquid `shopify` filter for one shop and API version.

    Without `config`, timings follow the environment's RATCHET_TIME_SCALE.
    """
    if config is None:
        from ratchet.config import load_settings

        config = ShopifyConfig.from_settings(load_settings())
    return LiquidShopifyCallable(shop, api_version, config, store, http=http, on_progress=on_progress)
