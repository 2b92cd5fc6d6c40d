"""The HTTP ingress (uvicorn): webhooks in, durable events out.

A 2xx means the event's workflow has started (EventService.create returned); anything that
stops short of that answers an error and leaves nothing behind (EventService removes its
ledger rows when the start fails). Bodies are capped while they stream in, so an oversized
request costs at most RATCHET_MAX_BODY_BYTES of memory.

Shopify deliveries take a plain ASGI route (ratchet/ingress/asgi.py); FastAPI serves the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
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
from ratchet.errors import RatchetError
from ratchet.ingress import BadSignature
from ratchet.ingress.asgi import ASGIApp, CountWebhooks, LimitBody, ShopifyWebhookRoute, durable, error_response
from ratchet.ingress.shopify_webhooks import RecordedDelivery, record_delivery
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
from ratchet.store.database import Store, is_lock_wait

HEALTH_CHECK_TIMEOUT = timedelta(seconds=2)


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


# Deliveries up to this size are verified and written on the event loop when SQLite is free.
INLINE_DELIVERY_BYTES = 64 * 1024


def delivery_threads(store: Store) -> int:
    """Threads for verifying and writing Shopify deliveries off the event loop.

    One on SQLite, which takes one writer at a time (and where most deliveries never leave
    the loop); more on PostgreSQL, whose writes wait on the network, within its pool.
    """
    return 1 if store.is_sqlite else 8


def create_app(
    settings: Settings,
    store: Store,
    client: Client,
    delivery_pool: ThreadPoolExecutor,
    config: IngressSettings | None = None,
) -> ASGIApp:
    config = config or settings.ingress
    events = EventService(settings, store, client)
    bulk_operations = BulkOperationService(settings, store, client, events)

    async def create_event(**fields: Any) -> CreatedEvent:
        with durable():
            return await events.create(**fields)

    async def record(shop_id: str, body: bytes, headers: Mapping[str, str]) -> RecordedDelivery:
        """On SQLite, a small delivery is recorded right here when no other writer holds the lock:
        measured, the thread hop cost more than the write. Otherwise (a busy database, a large
        body, PostgreSQL) on the delivery threads, which wait so the event loop never does."""
        if store.is_sqlite and len(body) <= INLINE_DELIVERY_BYTES:
            try:
                return record_delivery(store.no_wait_engine, events, shop_id, body, headers)
            except OperationalError as exc:
                if not is_lock_wait(exc):
                    raise
        return await asyncio.get_running_loop().run_in_executor(
            delivery_pool, functools.partial(record_delivery, store.engine, events, shop_id, body, headers)
        )

    async def shopify_webhook(shop_id: str, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        with durable():
            recorded = await record(shop_id, body, headers)
            if recorded.pending is None:
                data = recorded.delivery.data
                gid = data.get("admin_graphql_api_id") if isinstance(data, dict) else None
                await bulk_operations.signal_finished(shop_id, str(gid))
                return {"bulk_operation": gid}
            created = await events.start(recorded.pending, recorded.inserted)
        return {"event_id": created.id, "duplicate": created.duplicate}

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
        return error_response(exc)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """For load balancers and operators: 200 when Temporal and the database both answer, else 503."""
        checks = {
            "temporal": await _temporal_reachable(client),
            "database": await asyncio.to_thread(_database_reachable, store),
        }
        return JSONResponse({"ok": all(checks.values()), **checks}, status_code=200 if all(checks.values()) else 503)

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

    return ShopifyWebhookRoute(shopify_webhook, app, config.max_body_bytes)


class _EmbeddedServer(uvicorn.Server):
    # The process owner (`ratchet serve`, `ratchet dev`, tests) handles signals and sets
    # `should_exit`; uvicorn must not replace their handlers or re-raise signals on exit.
    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()


def build_server(app: ASGIApp, config: IngressSettings) -> uvicorn.Server:
    return _EmbeddedServer(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            http="httptools",
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
    with ThreadPoolExecutor(delivery_threads(store), thread_name_prefix="ratchet-ingress") as delivery_pool:
        server = build_server(create_app(settings, store, client, delivery_pool, config), config)
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
