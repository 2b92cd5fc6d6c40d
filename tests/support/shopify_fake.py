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
  POST/PUT echo the wrapped body (with an id), DELETE answers `{}`, GET needs a canned answer
  (`on_rest`), otherwise 404.
* A wrong `X-Shopify-Access-Token` answers 401.

Time: the buckets run on `clock`, which counts Shopify seconds = wall seconds / time_scale (so
a test running the engine with RATCHET_TIME_SCALE=0.05 sees Shopify refill 20x faster), and can
be frozen/advanced for exact assertions.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

INVALID_TOKEN_ERROR = "[API] Invalid API key or access token (unrecognized login or wrong password)"
REST_THROTTLED_ERROR = (
    "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
)


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
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._canned_graphql: list[CannedGraphQL] = []
        self._canned_rest: dict[tuple[str, str], tuple[int, Any]] = {}
        self._next_id = 1000
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
            self.requests.clear()

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

    def on_rest(self, method: str, path: str, status: int, body: Any) -> None:
        with self._lock:
            self._canned_rest[(method.upper(), path)] = (status, body)

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
            if request.headers.get("x-shopify-access-token") != self.access_token:
                return JSONResponse({"errors": INVALID_TOKEN_ERROR}, status_code=401)
            return JSONResponse(self._answer_graphql(body if isinstance(body, dict) else {}))

        @app.api_route("/admin/api/{version}/{rest:path}", methods=["GET", "POST", "PUT", "DELETE"])
        async def rest(version: str, rest: str, request: Request) -> Response:
            body = await self._record(request)
            if request.headers.get("x-shopify-access-token") != self.access_token:
                return JSONResponse({"errors": INVALID_TOKEN_ERROR}, status_code=401)
            return self._answer_rest(request.method, request.url.path, rest, body)

        return app

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

    def _answer_graphql(self, body: dict[str, Any]) -> dict[str, Any]:
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

    def _answer_rest(self, method: str, path: str, rest: str, body: Any) -> Response:
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
            if canned is not None:
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
            else:
                status, answer = 404, {"errors": "Not Found"}
        return JSONResponse(answer, status_code=status, headers=headers)
