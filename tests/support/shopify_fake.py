"""A local Shopify Admin API fake reproducing Shopify's documented rate-limit behaviour.

Runs as a real HTTP server (uvicorn on 127.0.0.1, background thread) so the production client is
exercised over the network exactly as against Shopify:

* GraphQL `POST /admin/api/{version}/graphql.json`: a leaky bucket of query cost
  (maximumAvailable, restoreRate, cost per query; configurable). Every response carries
  `extensions.cost` {requestedQueryCost, actualQueryCost, throttleStatus {...}}; a query costing
  more than is available gets HTTP 200 with `errors: [{message: "Throttled", extensions:
  {code: "THROTTLED"}}]` and `actualQueryCost: null`. Answers come from canned responses
  matched by a substring of the query (`on_graphql`), userErrors included.
* REST `/admin/api/{version}/...`: a request-count leaky bucket (40, leaking 2/s) reported in
  `X-Shopify-Shop-Api-Call-Limit: used/limit`; a full bucket answers 429 with `Retry-After`.
  POST/PUT echo the wrapped body (with an id), DELETE answers `{}`. A GET of a route Shopify does
  not document (`DOCUMENTED_GET_ROUTES`) is 404 like on Shopify; a documented one answers a canned
  answer (`on_rest`), else from `rest_resources` ({"orders": [...], ...}): `{plural}.json` (REST's
  status / fulfillment_status / financial_status / name filters (name: https://shopify.dev/docs/api/admin-rest/latest/resources/order#get-orders), orders default to status=open; pages of
  `limit` with a `Link: <…page_info=…>; rel="next"` header whose page_info carries the filters, as
  Shopify's does), `{plural}/count.json`, `{plural}/{id}.json`, `customers/{id}/orders.json`
  and `collections/{id}.json` (a custom or smart collection).
* OAuth (tests/support/shopify_fake_oauth.py): the token endpoint's three grants with expiring
  tokens and the install link's signed redirect. The Admin API accepts `access_token` (a legacy
  token that never expires) and every token `oauth` issued until it expires.
* A wrong or expired `X-Shopify-Access-Token` answers 401; `fail_graphql(match, status)` answers any status
  (403, 404, 500, ...) for queries containing `match`.
* Built in, after canned answers: the `shop` query (`shop` attribute, GraphQL shape) and
  `currentAppInstallation { accessScopes }` (`access_scopes`); `webhookSubscriptions` (list),
  `webhookSubscriptionCreate` and `webhookSubscriptionDelete` over the `webhooks` dict, with
  userErrors for topics given to `refuse_topic`.
* Bulk operations: `bulkOperationRunQuery` / `bulkOperationRunMutation` (when no canned answer
  matches) start an operation, refused with Shopify's userError while the API version's limit of
  operations of that type are running: one before 2026-01, five from 2026-01
  (https://shopify.dev/docs/api/usage/bulk-operations/queries#limitations,
  https://shopify.dev/docs/api/usage/bulk-operations/imports#limitations); `node(id:)` reports it. The test finishes it
  (`complete_bulk_operation`, `fail_bulk_operation`); the result JSONL is served at its `url`
  with HTTP Range support, and `send_bulk_finish_webhook` delivers `bulk_operations/finish`.

Time: the buckets run on `clock`, which counts Shopify seconds = wall seconds / time_scale (so
a test running the engine with RATCHET_TIME_SCALE=0.05 sees Shopify refill 20x faster), and can
be frozen/advanced for exact assertions.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import math
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from tests.support.shopify_fake_oauth import FakeOAuth

INVALID_TOKEN_ERROR = "[API] Invalid API key or access token (unrecognized login or wrong password)"
REST_THROTTLED_ERROR = (
    "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
)


# The REST GET routes Shopify documents that the fake serves (https://shopify.dev/docs/api/admin-rest,
# resources order, customer, draftorder, location, customcollection, smartcollection, collection,
# fulfillment, metafield, shop). Anything else is 404, as on Shopify: `collections.json` and
# `orders.json?customer_id=` are not routes, `locations/{id}/metafields.json` has no owner.
_LISTED = r"(orders|customers|draft_orders|locations|custom_collections|smart_collections)"
_METAFIELD_OWNERS = r"(orders|customers|draft_orders|collections|pages|blogs|articles)"
DOCUMENTED_GET_ROUTES = tuple(
    re.compile(pattern)
    for pattern in (
        r"shop\.json",
        rf"{_LISTED}\.json",
        rf"{_LISTED}/count\.json",
        rf"{_LISTED}/\d+\.json",
        r"collections/\d+\.json",
        r"customers/search\.json",
        r"customers/\d+/orders\.json",
        r"orders/\d+/fulfillments(/\d+)?\.json",
        r"metafields\.json",
        rf"{_METAFIELD_OWNERS}/\d+/metafields\.json",
    )
)


def documented_get_route(rest: str) -> bool:
    return any(route.fullmatch(rest) for route in DOCUMENTED_GET_ROUTES)


DEFAULT_SCOPES = ("read_orders", "write_products", "read_customers")
# The shop as the Admin GraphQL `shop` query answers it.
DEFAULT_SHOP: dict[str, Any] = {
    "id": "gid://shopify/Shop/548380009",
    "name": "Fake Outfitters",
    "email": "owner@fake-outfitters.example",
    "contactEmail": "help@fake-outfitters.example",
    "myshopifyDomain": "fake-outfitters.myshopify.com",
    "primaryDomain": {"host": "fake-outfitters.example", "url": "https://fake-outfitters.example"},
    "ianaTimezone": "America/New_York",
    "timezoneAbbreviation": "EST",
    "timezoneOffset": "-0500",
    "currencyCode": "EUR",
    "enabledPresentmentCurrencies": ["EUR"],
    "currencyFormats": {
        "moneyFormat": "€{{amount_with_comma_separator}}",
        "moneyWithCurrencyFormat": "€{{amount_with_comma_separator}} EUR",
        "moneyInEmailsFormat": "€{{amount_with_comma_separator}}",
        "moneyWithCurrencyInEmailsFormat": "€{{amount_with_comma_separator}} EUR",
    },
    "plan": {"publicDisplayName": "Basic", "partnerDevelopment": False, "shopifyPlus": False},
    "weightUnit": "KILOGRAMS",
    "taxesIncluded": True,
    "taxShipping": False,
    "setupRequired": False,
    "checkoutApiSupported": True,
    "shopOwnerName": "Fay Ke",
    "billingAddress": {
        "address1": "1 Fake Street",
        "address2": None,
        "city": "New York",
        "province": "New York",
        "provinceCode": "NY",
        "country": "United States",
        "countryCodeV2": "US",
        "zip": "10001",
        "phone": "+12125550100",
        "latitude": 40.75,
        "longitude": -73.99,
    },
    "createdAt": "2020-01-01T00:00:00Z",
    "updatedAt": "2026-01-01T00:00:00Z",
}


class FakeClock:
    """Shopify seconds since start; real time divided by time_scale unless frozen."""

    def __init__(self, time_scale: float = 1.0) -> None:
        self.time_scale = time_scale
        self._start = time.monotonic()
        self._frozen: float | None = None

    def now(self) -> float:
        if self._frozen is not None:
            return self._frozen
        return (time.monotonic() - self._start) / self.time_scale

    def freeze(self) -> None:
        self._frozen = self.now()

    def advance(self, seconds: float) -> None:
        """Move a frozen clock forward by `seconds` Shopify seconds."""
        if self._frozen is None:
            raise RuntimeError("advance() needs a frozen clock")
        self._frozen += seconds


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    params: dict[str, str]
    json: Any


@dataclass
class CannedGraphQL:
    match: str
    data: Any = None
    errors: list[dict[str, Any]] | None = None
    cost: int | None = None


@dataclass
class FakeBulkOperation:
    gid: str
    type: str  # QUERY or MUTATION
    query: str
    status: str = "RUNNING"
    error_code: str | None = None
    created_at: str = ""
    completed_at: str | None = None
    results: bytes = b""
    object_count: int = 0
    root_object_count: int = 0
    url: str | None = None
    # Children right below their parent in the JSONL (`groupObjects`), or in no promised order.
    group_objects: bool = True

    def node(self) -> dict[str, Any]:
        return {
            "id": self.gid,
            "status": self.status,
            "errorCode": self.error_code,
            "type": self.type,
            "objectCount": str(self.object_count),
            "rootObjectCount": str(self.root_object_count),
            "fileSize": str(len(self.results)) if self.url else None,
            "url": self.url,
            "partialDataUrl": None,
            "query": self.query,
            "createdAt": self.created_at,
            "completedAt": self.completed_at,
        }


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Bucket:
    level: float
    capacity: float
    rate: float
    updated: float

    def settle(self, now: float, *, filling: bool) -> None:
        """Advance to `now`: GraphQL refills towards capacity, REST drains towards zero."""
        delta = self.rate * max(0.0, now - self.updated)
        self.level = min(self.capacity, self.level + delta) if filling else max(0.0, self.level - delta)
        self.updated = now


@dataclass
class ShopifyFake:
    access_token: str = "shpat_fake_token"
    graphql_maximum: float = 1000.0
    graphql_restore_rate: float = 50.0
    default_query_cost: int = 10
    rest_limit: int = 40
    rest_leak_rate: float = 2.0
    time_scale: float = 1.0
    # Operations of one type that may run at once; None: what the request's API version allows.
    bulk_concurrency_limit: int | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    shop: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_SHOP))
    access_scopes: list[str] = field(default_factory=lambda: list(DEFAULT_SCOPES))
    # Webhook subscriptions by gid: {"topic": "ORDERS_CREATE", "uri": "https://..."}.
    webhooks: dict[str, dict[str, str]] = field(default_factory=dict)
    # A custom domain: every Admin API call is answered 301 to this myshopify domain, as Shopify
    # answers calls made to a shop's primary domain (the Admin API lives only at {shop}.myshopify.com,
    # https://shopify.dev/docs/api/admin-graphql#endpoints).
    redirect_to: str | None = None
    # REST resources by plural ("orders", "customers", "locations", ...), in REST shape.
    rest_resources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._canned_graphql: list[CannedGraphQL] = []
        self._canned_rest: dict[tuple[str, str], tuple[int, Any]] = {}
        self._next_id = 1000
        self.bulk_operations: dict[str, FakeBulkOperation] = {}
        # When set, the answer to a started operation waits for it: a test can finish the
        # operation (and send its webhook) before the caller learns the operation exists.
        self.bulk_start_gate: threading.Event | None = None
        # Never reset: operation ids stay unique across the tests sharing one fake.
        self._next_bulk_number = 5000
        self.oauth = FakeOAuth(
            now=lambda: self.clock.now(),
            scopes=lambda: list(self.access_scopes),
            myshopify_domain=lambda: str(self.shop.get("myshopifyDomain")),
        )
        self.reset()
        self.app = self._build_app()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # -- configuration -----------------------------------------------------------------------------

    def reset(self, *, time_scale: float | None = None) -> None:
        """Full buckets, empty log, no canned answers, a running clock (optionally rescaled)."""
        with self._lock:
            if time_scale is not None:
                self.time_scale = time_scale
            self.clock: FakeClock = FakeClock(self.time_scale)
            now = self.clock.now()
            self._graphql: _Bucket = _Bucket(self.graphql_maximum, self.graphql_maximum, self.graphql_restore_rate, now)
            self._rest: _Bucket = _Bucket(0.0, float(self.rest_limit), self.rest_leak_rate, now)
            self._canned_graphql.clear()
            self._canned_rest.clear()
            self._graphql_failures: list[tuple[str, int]] = []
            self._refused_topics: dict[str, str] = {}
            self.requests.clear()
            self.shop = dict(DEFAULT_SHOP)
            self.access_scopes = list(DEFAULT_SCOPES)
            self.webhooks.clear()
            self.rest_resources.clear()
            self._pages: dict[str, tuple[dict[str, str], int]] = {}
            self.bulk_operations.clear()
            self.bulk_start_gate = None
            self.bulk_concurrency_limit = None
            self.redirect_to = None
        self.oauth.reset()

    def set_graphql_bucket(
        self, *, available: float | None = None, maximum: float | None = None, restore_rate: float | None = None
    ) -> None:
        with self._lock:
            bucket = self._graphql
            bucket.settle(self.clock.now(), filling=True)
            if maximum is not None:
                bucket.capacity = maximum
            if restore_rate is not None:
                bucket.rate = restore_rate
            bucket.level = min(bucket.capacity, available if available is not None else bucket.level)

    def set_rest_used(self, used: float) -> None:
        with self._lock:
            self._rest.settle(self.clock.now(), filling=False)
            self._rest.level = used

    def on_graphql(
        self, match: str, data: Any = None, *, errors: list[dict[str, Any]] | None = None, cost: int | None = None
    ) -> None:
        """Answer queries containing `match` with `data`/`errors`, charging `cost` points."""
        with self._lock:
            self._canned_graphql.append(CannedGraphQL(match, data, errors, cost))

    def fail_graphql(self, match: str, status: int) -> None:
        """Answer queries containing `match` with HTTP `status` (401, 403, 404, 500, ...)."""
        with self._lock:
            self._graphql_failures.append((match, status))

    def refuse_topic(self, topic: str, message: str) -> None:
        """WebhookSubscriptionCreate for `topic` (enum, e.g. ORDERS_CREATE) answers this userError."""
        with self._lock:
            self._refused_topics[topic] = message

    def on_rest(self, method: str, path: str, status: int, body: Any) -> None:
        with self._lock:
            self._canned_rest[(method.upper(), path)] = (status, body)

    # -- bulk operations -------------------------------------------------------------------------------

    def running_bulk_operations(self) -> list[FakeBulkOperation]:
        with self._lock:
            return [op for op in self.bulk_operations.values() if op.status in ("CREATED", "RUNNING")]

    def complete_bulk_operation(self, gid: str, objects: list[dict[str, Any]]) -> FakeBulkOperation:
        """Finish an operation with these result lines (query objects or mutation line results)."""
        with self._lock:
            op = self.bulk_operations[gid]
            op.status = "COMPLETED"
            op.completed_at = _now_iso()
            if not op.group_objects:
                # Ungrouped output promises no order (changelog/bulk-operations-group-objects-default-
                # changed-to-false): the fake puts every child before the roots, the worst case.
                objects = [o for o in objects if "__parentId" in o] + [o for o in objects if "__parentId" not in o]
            op.results = b"".join(json.dumps(obj).encode() + b"\n" for obj in objects)
            op.object_count = len(objects)
            op.root_object_count = sum(1 for obj in objects if "__parentId" not in obj)
            # Shopify gives no file for an operation that found nothing.
            op.url = f"{self.base_url}/bulk-results/{gid.rsplit('/', 1)[1]}.jsonl" if objects else None
            return op

    def fail_bulk_operation(self, gid: str, error_code: str = "INTERNAL_SERVER_ERROR") -> FakeBulkOperation:
        with self._lock:
            op = self.bulk_operations[gid]
            op.status, op.error_code, op.completed_at = "FAILED", error_code, _now_iso()
            return op

    def bulk_finish_webhook(self, gid: str) -> bytes:
        """The body Shopify posts on `bulk_operations/finish` (snake_case, lowercase enums)."""
        with self._lock:
            op = self.bulk_operations[gid]
            payload = {
                "admin_graphql_api_id": op.gid,
                "completed_at": op.completed_at,
                "created_at": op.created_at,
                "error_code": op.error_code.lower() if op.error_code else None,
                "status": op.status.lower(),
                "type": op.type.lower(),
            }
        return json.dumps(payload).encode()

    def send_bulk_finish_webhook(self, gid: str, url: str, secret: str) -> httpx.Response:
        """Deliver `bulk_operations/finish` to `url`, signed with the shop's webhook secret."""
        body = self.bulk_finish_webhook(gid)
        digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
        headers = {
            "content-type": "application/json",
            "x-shopify-topic": "bulk_operations/finish",
            "x-shopify-hmac-sha256": digest,
            "x-shopify-event-id": f"bulk-finish-{gid.rsplit('/', 1)[1]}",
            "x-shopify-webhook-id": str(uuid.uuid4()),
            "x-shopify-shop-domain": str(self.shop.get("myshopifyDomain")),
        }
        return httpx.post(url, content=body, headers=headers, timeout=30)

    def result_downloads(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith("/bulk-results/")]

    @property
    def graphql_available(self) -> float:
        with self._lock:
            self._graphql.settle(self.clock.now(), filling=True)
            return self._graphql.level

    # -- server ------------------------------------------------------------------------------------

    def start(self) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("Shopify fake did not start")
            time.sleep(0.01)
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.base_url

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    def __enter__(self) -> ShopifyFake:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the API -----------------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/admin/api/{version}/graphql.json")
        async def graphql(version: str, request: Request) -> Response:
            body = await self._record(request)
            if self.redirect_to:
                return RedirectResponse(f"https://{self.redirect_to}{request.url.path}", status_code=301)
            if not self.authorized(request.headers.get("x-shopify-access-token")):
                return JSONResponse({"errors": INVALID_TOKEN_ERROR}, status_code=401)
            query = str(body.get("query") or "") if isinstance(body, dict) else ""
            failure = next((status for match, status in self._graphql_failures if match in query), None)
            if failure is not None:
                return JSONResponse({"errors": f"fake failure {failure}"}, status_code=failure)
            answer = self._answer_graphql(body if isinstance(body, dict) else {}, version)
            gate, data = self.bulk_start_gate, answer.get("data")
            if (
                gate is not None
                and isinstance(data, dict)
                and any(isinstance(value, dict) and value.get("bulkOperation") for value in data.values())
            ):
                await asyncio.to_thread(gate.wait, 60)
            return JSONResponse(answer)

        @app.get("/bulk-results/{name}")
        async def bulk_results(name: str, request: Request) -> Response:
            await self._record(request)
            return self._answer_download(name.removesuffix(".jsonl"), request.headers.get("range"))

        @app.api_route("/admin/api/{version}/{rest:path}", methods=["GET", "POST", "PUT", "DELETE"])
        async def rest(version: str, rest: str, request: Request) -> Response:
            body = await self._record(request)
            if not self.authorized(request.headers.get("x-shopify-access-token")):
                return JSONResponse({"errors": INVALID_TOKEN_ERROR}, status_code=401)
            return self._answer_rest(request.method, request.url.path, rest, body, dict(request.query_params))

        self.oauth.add_routes(app, self._record)
        return app

    def authorized(self, token: str | None) -> bool:
        return token == self.access_token or self.oauth.valid(token)

    async def _record(self, request: Request) -> Any:
        raw = await request.body()
        try:
            body = await request.json() if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        with self._lock:
            self.requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.url.path,
                    headers={k.lower(): v for k, v in request.headers.items()},
                    params=dict(request.query_params),
                    json=body,
                )
            )
        return body

    def _answer_graphql(self, body: dict[str, Any], version: str) -> dict[str, Any]:
        query = str(body.get("query") or "")
        with self._lock:
            canned = next((c for c in self._canned_graphql if c.match in query), None)
            cost = canned.cost if canned and canned.cost is not None else self.default_query_cost
            bucket = self._graphql
            bucket.settle(self.clock.now(), filling=True)
            throttled = bucket.level < cost
            if not throttled:
                bucket.level -= cost
            extensions = {
                "cost": {
                    "requestedQueryCost": cost,
                    "actualQueryCost": None if throttled else cost,
                    "throttleStatus": {
                        "maximumAvailable": bucket.capacity,
                        "currentlyAvailable": math.floor(bucket.level),
                        "restoreRate": bucket.rate,
                    },
                }
            }
        if throttled:
            return {
                "errors": [
                    {
                        "message": "Throttled",
                        "extensions": {
                            "code": "THROTTLED",
                            "documentation": "https://shopify.dev/api/usage/rate-limits",
                        },
                    }
                ],
                "extensions": extensions,
            }
        if canned is None:
            bulk_data = self._answer_bulk(query, body.get("variables") or {}, version)
            if bulk_data is not None:
                return {"data": bulk_data, "extensions": extensions}
            builtin = self._builtin_graphql(query, body.get("variables") or {})
            if builtin is not None:
                return {"data": builtin, "extensions": extensions}
            return {
                "errors": [
                    {
                        "message": "Shopify fake: no canned response matches this query",
                        "extensions": {"code": "NOT_CANNED"},
                    }
                ],
                "extensions": extensions,
            }
        response: dict[str, Any] = {}
        if canned.errors is not None:
            response["errors"] = canned.errors
        if canned.data is not None or canned.errors is None:
            response["data"] = canned.data
        response["extensions"] = extensions
        return response

    def _builtin_graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            if "webhookSubscriptionCreate" in query:
                return {"webhookSubscriptionCreate": self._create_webhook(variables)}
            if "webhookSubscriptionDelete" in query:
                gid = next((v for v in variables.values() if str(v).startswith("gid://")), None)
                found = self.webhooks.pop(str(gid), None)
                errors = [] if found else [{"field": ["id"], "message": "Webhook subscription does not exist"}]
                return {
                    "webhookSubscriptionDelete": {
                        "deletedWebhookSubscriptionId": gid if found else None,
                        "userErrors": errors,
                    }
                }
            if "webhookSubscriptions" in query:
                nodes = [{"id": gid, **hook} for gid, hook in self.webhooks.items()]
                return {"webhookSubscriptions": {"nodes": nodes, "pageInfo": {"hasNextPage": False, "endCursor": None}}}
            data: dict[str, Any] = {}
            if re.search(r"\bshop\s*\{", query):
                data["shop"] = dict(self.shop)
            if "currentAppInstallation" in query:
                data["currentAppInstallation"] = {"accessScopes": [{"handle": h} for h in self.access_scopes]}
            return data or None

    def _create_webhook(self, variables: dict[str, Any]) -> dict[str, Any]:
        # Variables are named by the caller's query: find them by shape.
        topic = str(next((v for v in variables.values() if isinstance(v, str) and v.isupper()), None))
        uri = str(next((v for v in variables.values() if isinstance(v, dict) and "uri" in v), {}).get("uri"))
        if topic in self._refused_topics:
            return {
                "webhookSubscription": None,
                "userErrors": [{"field": ["topic"], "message": self._refused_topics[topic]}],
            }
        if any(h["topic"] == topic and h["uri"] == uri for h in self.webhooks.values()):
            return {
                "webhookSubscription": None,
                "userErrors": [{"field": ["address"], "message": "Address for this topic has already been taken"}],
            }
        self._next_id += 1
        gid = f"gid://shopify/WebhookSubscription/{self._next_id}"
        self.webhooks[gid] = {"topic": topic, "uri": uri}
        return {"webhookSubscription": {"id": gid, "topic": topic, "uri": uri}, "userErrors": []}

    def bulk_limit(self, version: str) -> int:
        """Operations of one type that may run at once for a shop under API `version`."""
        if self.bulk_concurrency_limit is not None:
            return self.bulk_concurrency_limit
        return 5 if version >= "2026-01" else 1

    @staticmethod
    def _group_objects(query: str, version: str) -> bool:
        """`groupObjects` as given, else its default: true before 2026-01, false from 2026-01.

        (https://shopify.dev/docs/api/admin-graphql/2026-01/mutations/bulkoperationrunquery#arguments-groupObjects,
        https://shopify.dev/changelog/bulk-operations-group-objects-default-changed-to-false).
        """
        given = re.search(r"groupObjects\s*:\s*(true|false)", query)
        return given.group(1) == "true" if given else version < "2026-01"

    def _answer_bulk(self, query: str, variables: dict[str, Any], version: str) -> dict[str, Any] | None:
        """Start an operation, or report one to `node(id:)`; None for any other query."""
        with self._lock:
            for mutation, op_type in (("bulkOperationRunMutation", "MUTATION"), ("bulkOperationRunQuery", "QUERY")):
                if mutation not in query:
                    continue
                running = [
                    op
                    for op in self.bulk_operations.values()
                    if op.type == op_type and op.status in ("CREATED", "RUNNING")
                ]
                if len(running) >= self.bulk_limit(version):
                    message = (
                        f"A bulk {op_type.lower()} operation for this app and shop is already in progress: "
                        f"{running[0].gid}."
                    )
                    return {mutation: {"bulkOperation": None, "userErrors": [{"field": None, "message": message}]}}
                self._next_bulk_number += 1
                op = FakeBulkOperation(
                    gid=f"gid://shopify/BulkOperation/{self._next_bulk_number}",
                    type=op_type,
                    query=query,
                    created_at=_now_iso(),
                    group_objects=self._group_objects(query, version),
                )
                self.bulk_operations[op.gid] = op
                return {mutation: {"bulkOperation": {"id": op.gid, "status": "CREATED"}, "userErrors": []}}
            node_id = variables.get("id")
            if "node(" in query and isinstance(node_id, str) and node_id.startswith("gid://shopify/BulkOperation/"):
                found = self.bulk_operations.get(node_id)
                return {"node": found.node() if found else None}
        return None

    def _answer_download(self, number: str, range_header: str | None) -> Response:
        with self._lock:
            op = self.bulk_operations.get(f"gid://shopify/BulkOperation/{number}")
            content = op.results if op is not None and op.url else None
        if content is None:
            return Response(b"not found", status_code=404)
        if range_header and range_header.startswith("bytes=") and range_header.endswith("-"):
            start = int(range_header.removeprefix("bytes=").removesuffix("-"))
            if start >= len(content):
                return Response(b"", status_code=416, headers={"Content-Range": f"bytes */{len(content)}"})
            return Response(
                content[start:],
                status_code=206,
                media_type="application/jsonl",
                headers={"Content-Range": f"bytes {start}-{len(content) - 1}/{len(content)}"},
            )
        return Response(content, media_type="application/jsonl")

    def _answer_rest(self, method: str, path: str, rest: str, body: Any, params: dict[str, str]) -> Response:
        with self._lock:
            bucket = self._rest
            bucket.settle(self.clock.now(), filling=False)
            if bucket.level + 1 > bucket.capacity:
                retry_after = (bucket.level + 1 - bucket.capacity) / bucket.rate
                return JSONResponse(
                    {"errors": REST_THROTTLED_ERROR},
                    status_code=429,
                    headers={
                        "Retry-After": f"{retry_after:.1f}",
                        "X-Shopify-Shop-Api-Call-Limit": f"{self.rest_limit}/{self.rest_limit}",
                    },
                )
            bucket.level += 1
            headers = {"X-Shopify-Shop-Api-Call-Limit": f"{math.ceil(bucket.level)}/{self.rest_limit}"}
            canned = self._canned_rest.get((method, path))
            if canned is not None and (method != "GET" or documented_get_route(rest)):
                status, answer = canned
            elif method == "POST" and isinstance(body, dict) and len(body) == 1:
                self._next_id += 1
                ((wrapper, attrs),) = body.items()
                status, answer = 201, {wrapper: {**attrs, "id": self._next_id}}
            elif method == "PUT" and isinstance(body, dict) and len(body) == 1:
                ((wrapper, attrs),) = body.items()
                resource_id = rest.removesuffix(".json").rsplit("/", 1)[-1]
                status, answer = 200, {wrapper: {**attrs, "id": int(resource_id) if resource_id.isdigit() else None}}
            elif method == "DELETE":
                status, answer = 200, {}
            elif method == "GET" and not documented_get_route(rest):
                status, answer = 404, {"errors": "Not Found"}
            elif method == "GET" and (found := self._rest_resource(path, rest, params, headers)) is not None:
                status, answer = 200, found
            else:
                status, answer = 404, {"errors": "Not Found"}
        return JSONResponse(answer, status_code=status, headers=headers)

    _REST_FILTERS = ("status", "fulfillment_status", "financial_status", "name")

    def _rest_resource(self, path: str, rest: str, params: dict[str, str], headers: dict[str, str]) -> Any:
        parts = rest.removesuffix(".json").split("/")
        if parts[0] == "collections" and len(parts) == 2:
            # collections/{id}.json answers a custom or a smart collection alike (resources/collection).
            pool = self.rest_resources.get("custom_collections", []) + self.rest_resources.get("smart_collections", [])
            item = next((i for i in pool if str(i.get("id")) == parts[1]), None)
            return None if item is None else {"collection": item}
        if parts[0] == "customers" and len(parts) == 3 and parts[2] == "orders":
            # customers/{id}/orders.json (resources/customer): that customer's orders, same filters.
            owned = [
                o for o in self.rest_resources.get("orders", []) if str((o.get("customer") or {}).get("id")) == parts[1]
            ]
            return self._rest_list("orders", owned, path, params, headers, count=False)
        items = self.rest_resources.get(parts[0])
        if items is None:
            return None
        singular = parts[0].removesuffix("s")
        if len(parts) == 2 and parts[1] != "count":
            item = next((i for i in items if str(i.get("id")) == parts[1]), None)
            return None if item is None else {singular: item}
        return self._rest_list(parts[0], items, path, params, headers, count=parts[-1] == "count")

    def _rest_list(
        self,
        plural: str,
        items: list[dict[str, Any]],
        path: str,
        params: dict[str, str],
        headers: dict[str, str],
        *,
        count: bool,
    ) -> Any:
        if "page_info" in params:
            filters, offset = self._pages[params["page_info"]]
        else:
            filters, offset = {k: v for k, v in params.items() if k in self._REST_FILTERS}, 0
        if plural == "orders":
            filters.setdefault("status", "open")
        matching = [i for i in items if all(self._rest_matches(i, k, v) for k, v in filters.items())]
        if count:
            return {"count": len(matching)}
        limit = int(params.get("limit", 50))
        if offset + limit < len(matching):
            self._next_id += 1
            page_info = f"page{self._next_id}"
            self._pages[page_info] = (filters, offset + limit)
            headers["Link"] = f'<{self.base_url}{path}?limit={limit}&page_info={page_info}>; rel="next"'
        return {plural: matching[offset : offset + limit]}

    @staticmethod
    def _rest_matches(item: dict[str, Any], key: str, value: str) -> bool:
        if key == "status":
            closed, cancelled = item.get("closed_at") is not None, item.get("cancelled_at") is not None
            return {
                "any": True,
                "open": not closed and not cancelled,
                "closed": closed,
                "cancelled": cancelled,
            }.get(value, item.get("status") == value)
        if key == "fulfillment_status" and value == "unshipped":
            return item.get("fulfillment_status") is None
        return item.get(key) == value
