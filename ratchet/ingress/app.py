"""The HTTP ingress (FastAPI on uvicorn): webhooks in, durable events out.

A 2xx means the event's workflow has started (EventService.create returned); anything that
stops short of that answers an error and leaves nothing behind (EventService removes its
ledger rows when the start fails). Bodies are capped while they stream in, so an oversized
request costs at most RATCHET_MAX_BODY_BYTES of memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from temporalio.client import Client
from temporalio.service import RPCError

from ratchet.config import IngressSettings, Settings
from ratchet.engine.metrics import metrics
from ratchet.errors import RatchetError, Unavailable
from ratchet.ingress import BadSignature, BodyTooLarge
from ratchet.ingress.shopify_webhooks import record_delivery
from ratchet.ingress.webhooks import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    IncomingRequest,
    event_data,
    request_id_for,
    signature_matches,
)
from ratchet.services.bulk_operations import BulkOperationService
from ratchet.services.events import CreatedEvent, EventService
from ratchet.services.webhook_config import get_webhook
from ratchet.store.database import Store

log = logging.getLogger("ratchet.ingress")

# Senders (Shopify included) retry on 503; this tells polite ones when.
RETRY_AFTER_SECONDS = 5
HEALTH_CHECK_TIMEOUT = timedelta(seconds=2)


ASGIApp = Callable[
    [dict[str, Any], Callable[[], Awaitable[dict[str, Any]]], Callable[[dict[str, Any]], Awaitable[None]]],
    Awaitable[None],
]


class LimitBody:
    """ASGI middleware: 413 past the limit, from Content-Length at once or while the body streams.

    The rest of an oversized body is read and discarded (never stored) up to `DRAIN_FACTOR`
    times the limit before answering: most HTTP clients only read the response once they
    have sent the whole request, so closing on them would turn the 413 into a connection
    reset. Beyond that the connection is simply closed.
    """

    DRAIN_FACTOR = 4

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._drain(receive, 0)
            await _error_response(BodyTooLarge(self._message()))(scope, receive, send)
            return
        seen = 0

        async def limited() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    if message.get("more_body"):
                        await self._drain(receive, seen)
                    # Raised into the handler's body read; the app's RatchetError handler answers.
                    raise BodyTooLarge(self._message())
            return message

        await self.app(scope, limited, send)

    async def _drain(self, receive: Any, seen: int) -> None:
        while seen <= self.max_bytes * self.DRAIN_FACTOR:
            message = await receive()
            if message["type"] != "http.request":
                return
            seen += len(message.get("body", b""))
            if not message.get("more_body"):
                return

    def _message(self) -> str:
        return f"request body exceeds {self.max_bytes} bytes (RATCHET_MAX_BODY_BYTES)"


# Why a webhook was refused, by the status it was answered with.
REJECTION_REASONS = {400: "invalid", 401: "bad_signature", 404: "unknown_shop", 413: "too_large", 503: "unavailable"}


class CountWebhooks:
    """ASGI middleware: ratchet_webhooks_total by source and outcome, for every answer (413s included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not path.startswith("/webhooks/"):
            await self.app(scope, receive, send)
            return
        source = "shopify" if path.startswith("/webhooks/shopify/") else "mechanic"

        async def counted(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                outcome = "accepted" if status < 300 else REJECTION_REASONS.get(status, str(status))
                metrics().webhooks.add(1, {"source": source, "outcome": outcome})
            await send(message)

        await self.app(scope, receive, counted)


def _error_response(exc: RatchetError) -> JSONResponse:
    headers = {"retry-after": str(RETRY_AFTER_SECONDS)} if isinstance(exc, Unavailable) else None
    # 413 closes the connection: the unread rest of the body must not be parsed as a request.
    if isinstance(exc, BodyTooLarge):
        headers = {"connection": "close"}
    return JSONResponse(
        {"error": {"message": exc.message, "status": exc.http_status}}, status_code=exc.http_status, headers=headers
    )


async def _temporal_reachable(client: Client) -> bool:
    try:
        return await client.service_client.check_health(timeout=HEALTH_CHECK_TIMEOUT)
    except (RPCError, RuntimeError):
        return False


def _database_reachable(store: Store) -> bool:
    try:
        with store.session() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


@contextlib.contextmanager
def _durable() -> Iterator[None]:
    """Map failures to start the event onto answers a sender can act on."""
    try:
        yield
    except (RPCError, OperationalError, RuntimeError) as exc:
        log.warning("event not accepted: %s", exc)
        raise Unavailable("the event could not be stored; retry later") from exc


def create_app(settings: Settings, store: Store, client: Client, config: IngressSettings | None = None) -> FastAPI:
    config = config or settings.ingress
    events = EventService(settings, store, client)
    bulk_operations = BulkOperationService(settings, store, client, events)

    async def create_event(**fields: Any) -> CreatedEvent:
        with _durable():
            return await events.create(**fields)

    app = FastAPI(title="Ratchet ingress", openapi_url=None, docs_url=None, redoc_url=None)
    app.add_middleware(LimitBody, max_bytes=config.max_body_bytes)
    app.add_middleware(CountWebhooks)  # outermost, so it also sees LimitBody's 413s
    # Mechanic webhooks accept CORS requests from every origin (spec 10.1).
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["POST"],
        allow_headers=["*"],
        expose_headers=["x-request-id"],
    )

    @app.exception_handler(RatchetError)
    async def ratchet_error(_request: Request, exc: RatchetError) -> JSONResponse:
        return _error_response(exc)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """For load balancers and operators: 200 when Temporal and the database both answer, else 503."""
        checks = {
            "temporal": await _temporal_reachable(client),
            "database": await asyncio.to_thread(_database_reachable, store),
        }
        return JSONResponse({"ok": all(checks.values()), **checks}, status_code=200 if all(checks.values()) else 503)

    @app.post("/webhooks/shopify/{shop_id}")
    async def shopify_webhook(shop_id: str, request: Request) -> JSONResponse:
        body = await request.body()
        with _durable():
            recorded = await asyncio.to_thread(record_delivery, store, events, shop_id, body, request.headers)
            if recorded.pending is None:
                data = recorded.delivery.data
                gid = data.get("admin_graphql_api_id") if isinstance(data, dict) else None
                await bulk_operations.signal_finished(shop_id, str(gid))
                return JSONResponse({"bulk_operation": gid})
            created = await events.start(recorded.pending, recorded.inserted)
        return JSONResponse({"event_id": created.id, "duplicate": created.duplicate})

    @app.post("/webhooks/{webhook_id}")
    async def mechanic_webhook(webhook_id: str, request: Request) -> Response:
        body = await request.body()
        hook = await asyncio.to_thread(get_webhook, store, webhook_id)
        request_id = request_id_for(webhook_id, request.headers.get(IDEMPOTENCY_HEADER))
        if hook is None:
            # Mechanic answers 204 even for unknown ids: the URL is the only secret, and
            # a different answer would let anyone probe for valid ones.
            return Response(status_code=204, headers={"x-request-id": request_id})
        if hook.secret and not signature_matches(hook.secret, body, request.headers.get(SIGNATURE_HEADER)):
            raise BadSignature("invalid or missing X-Ratchet-Hmac-SHA256")
        incoming = IncomingRequest(
            body=body,
            content_type=request.headers.get("content-type"),
            query_string=request.url.query,
            headers=request.headers.items(),
            client_ip=request.client.host if request.client else None,
        )
        data = event_data(incoming, hook.mode, request_id=request_id, webhook_id=hook.id)
        await create_event(
            shop_id=hook.shop_id,
            topic=hook.topic,
            data=data,
            source=f"webhook:{hook.id}",
            idempotency_key=f"webhook:{hook.id}:{request_id}",
            webhook_request_id=request_id,
        )
        return Response(status_code=204, headers={"x-request-id": request_id})

    return app


class _EmbeddedServer(uvicorn.Server):
    # The process owner (`ratchet serve`, `ratchet dev`, tests) handles signals and sets
    # `should_exit`; uvicorn must not replace their handlers or re-raise signals on exit.
    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()


def build_server(app: FastAPI, config: IngressSettings) -> uvicorn.Server:
    return _EmbeddedServer(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level="warning",
            access_log=False,
            proxy_headers=True,
            forwarded_allow_ips=config.forwarded_allow_ips,
            # Webhook senders hold connections open; keep them reusable a while.
            timeout_keep_alive=30,
        )
    )


async def serve(
    settings: Settings, store: Store, client: Client, stop: asyncio.Event, config: IngressSettings | None = None
) -> None:
    """Serve until `stop` is set, then finish in-flight requests."""
    config = config or settings.ingress
    server = build_server(create_app(settings, store, client, config), config)
    serving = asyncio.create_task(server.serve())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopping.cancel()
    try:
        await serving
    except SystemExit as exc:  # uvicorn exits this way when it cannot bind
        raise OSError(f"the ingress could not listen on {config.host}:{config.port}") from exc


async def serve_with_settings(settings: Settings, stop: asyncio.Event) -> None:
    """`ratchet dev`'s ingress: its own Temporal client and the process-wide store."""
    from ratchet.engine.connection import connect
    from ratchet.store.database import get_store

    await serve(settings, get_store(settings.effective_database_url), await connect(settings), stop)
