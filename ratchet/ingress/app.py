"""The HTTP ingress (uvicorn): webhooks in, durable events out. `Ingress` has one method per route.

A 2xx means the event's workflow has started (`EventService.create` returned); anything that
stops short of that answers an error and leaves nothing behind (`EventService.create` removes
its ledger rows when the start fails). Bodies are capped while they stream in, so an oversized
request costs at most RATCHET_MAX_BODY_BYTES of memory.

Shopify deliveries take a plain ASGI route (ratchet/ingress/asgi.py); FastAPI serves the rest.
"""

from __future__ import annotations

import asyncio
import html
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import Client
from temporalio.service import RPCError

from ratchet.config import IngressSettings, Settings
from ratchet.engine.schedules import sync_schedules
from ratchet.engine.webhook_subscriptions import request_reconcile
from ratchet.errors import RatchetError
from ratchet.files.storage import FileStorage
from ratchet.ingress import BadSignature
from ratchet.ingress.asgi import ASGIApp, CountWebhooks, LimitBody, ShopifyDeliveryRoute, durable, error_response
from ratchet.ingress.inbound_email import start_inbound_email
from ratchet.ingress.mechanic_webhooks import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    IncomingRequest,
    event_data,
    request_id_for,
)
from ratchet.ingress.shopify_deliveries import ShopifyDelivery, VerifiedDelivery
from ratchet.ingress.signatures import signature_matches
from ratchet.ingress.stored_files import stored_file_response
from ratchet.services.bulk_operations import BulkOperationService
from ratchet.services.events import EventService, NewEvent
from ratchet.services.mechanic_webhooks import get_webhook
from ratchet.services.shop_grants import CALLBACK_PATH, complete_install
from ratchet.serving import EmbeddedServer, serve_until
from ratchet.shopify.client import ShopifyConfig
from ratchet.store.database import Store

HEALTH_CHECK_TIMEOUT = timedelta(seconds=2)
logger = logging.getLogger(__name__)


def delivery_threads(store: Store) -> int:
    """Threads for verifying and writing Shopify deliveries off the event loop.

    One on SQLite, which takes one writer at a time (and where most deliveries never leave
    the loop: `EventService.create` writes small ones right there while the lock is free);
    more on PostgreSQL, whose writes wait on the network, within its pool.
    """
    return 1 if store.is_sqlite else 8


class Ingress:
    """The ingress's routes, one method each; `asgi()` is the app uvicorn serves.

    `GET /healthz`, `POST /webhooks/{id}` (Mechanic webhooks), `POST /webhooks/shopify/{shop}`
    (Shopify deliveries), `GET /files/{token}/{name}` (what the `files` action kept) and
    `GET /shopify/auth/callback` (install links).

    Args:
        delivery_pool: the threads that write events off the event loop (`delivery_threads`).
        config: listening address and body limit; the settings' own by default.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        client: Client,
        delivery_pool: ThreadPoolExecutor,
        config: IngressSettings | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.client = client
        self.delivery_pool = delivery_pool
        self.config = config or settings.ingress
        self.events = EventService(settings, store, client, executor=delivery_pool)
        self.bulk_operations = BulkOperationService(settings, store, client, self.events)
        self.files = FileStorage.under(settings.home)

    def asgi(self) -> ASGIApp:
        app = FastAPI(title="Ratchet ingress", openapi_url=None, docs_url=None, redoc_url=None)
        app.add_middleware(LimitBody, max_bytes=self.config.max_body_bytes)
        app.add_middleware(CountWebhooks)  # outermost, so it also sees LimitBody's 413s
        # Mechanic webhooks accept CORS requests from every origin (spec 10.1).
        app.add_middleware(
            CORSMiddleware,
            allow_origins=["*"],
            allow_methods=["POST"],
            allow_headers=["*"],
            expose_headers=["x-request-id"],
        )
        app.add_exception_handler(RatchetError, _ratchet_error)  # type: ignore[arg-type]
        app.add_api_route("/healthz", self.healthz, methods=["GET"])
        app.add_api_route("/webhooks/{webhook_id}", self.mechanic_webhook, methods=["POST"])
        app.add_api_route("/files/{token}/{name}", self.stored_file, methods=["GET"])
        app.add_api_route(CALLBACK_PATH, self.shopify_install, methods=["GET"])
        return ShopifyDeliveryRoute(self.shopify_delivery, app, self.config.max_body_bytes)

    async def healthz(self) -> JSONResponse:
        """For load balancers and operators: 200 when Temporal and the database both answer, else 503."""
        checks = {
            "temporal": await _temporal_reachable(self.client),
            "database": await asyncio.to_thread(_database_reachable, self.store),
        }
        return JSONResponse({"ok": all(checks.values()), **checks}, status_code=200 if all(checks.values()) else 503)

    async def mechanic_webhook(self, webhook_id: str, request: Request) -> Response:
        """A request to a Mechanic webhook's URL becomes one `user/…` event of its topic (spec 10.1)."""
        body = await request.body()
        hook = await asyncio.to_thread(get_webhook, self.store, webhook_id)
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
        event = NewEvent(
            shop_id=hook.shop_id,
            topic=hook.topic,
            data=event_data(incoming, hook.mode, request_id=request_id, webhook_id=hook.id),
            source=f"webhook:{hook.id}",
            idempotency_key=f"webhook:{hook.id}:{request_id}",
            webhook_request_id=request_id,
        )
        with durable():
            await self.events.create(event)
        return Response(status_code=204, headers={"x-request-id": request_id})

    async def stored_file(self, token: str, name: str) -> Response:
        """A file the `files` action kept, until it expires (the token decides; the name is for people)."""
        return await stored_file_response(self.files, token)

    async def shopify_delivery(self, delivery: ShopifyDelivery) -> dict[str, Any]:
        """A verified delivery becomes its event, once; `bulk_operations/finish` wakes the operation's monitor."""
        with durable():
            if delivery.finishes_bulk_operation:
                verified = await asyncio.get_running_loop().run_in_executor(self.delivery_pool, self._verify, delivery)
                gid = verified.data.get("admin_graphql_api_id") if isinstance(verified.data, dict) else None
                await self.bulk_operations.signal_finished(delivery.shop_id, str(gid))
                return {"bulk_operation": gid}
            created = await self.events.create(delivery)
        return {"event_id": created.id, "duplicate": created.duplicate}

    async def shopify_install(self, request: Request) -> HTMLResponse:
        """Where Shopify sends a merchant who approved an install link: one line says which shop was connected or why not."""
        params = dict(request.query_params)
        try:
            shop = await complete_install(self.store, ShopifyConfig.from_settings(self.settings), params)
        except RatchetError as exc:
            return HTMLResponse(_one_line_page(f"Not connected: {exc}"), status_code=400)
        try:
            # Its schedules and webhook subscriptions, as after `ratchet shop connect`.
            await sync_schedules(self.client, self.store, shop.id, task_queue=self.settings.temporal.task_queue)
            await request_reconcile(self.client, self.settings, shop.id)
        except (RatchetError, RPCError):
            logger.warning("shop %s connected; its schedules and webhooks follow at the next worker start", shop.id)
        return HTMLResponse(_one_line_page(f"Connected {params.get('shop')} to Ratchet as shop {shop.id}."))

    def _verify(self, delivery: ShopifyDelivery) -> VerifiedDelivery:
        with self.store.reading() as conn:
            return delivery.verify(conn)


def _one_line_page(line: str) -> str:
    return f"<!doctype html><meta charset=utf-8><title>Ratchet</title><p>{html.escape(line)}</p>\n"


async def _ratchet_error(_request: Request, exc: RatchetError) -> JSONResponse:
    return error_response(exc)


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


def build_server(app: ASGIApp, config: IngressSettings) -> uvicorn.Server:
    return EmbeddedServer(
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
    """Serve HTTP (and inbound email, when RATCHET_INBOUND_SMTP_ADDRESS is set) until `stop` is set, then finish in-flight requests."""
    config = config or settings.ingress
    with ThreadPoolExecutor(delivery_threads(store), thread_name_prefix="ratchet-ingress") as delivery_pool:
        ingress = Ingress(settings, store, client, delivery_pool, config)
        mail = settings.inbound_email
        mail_server = await start_inbound_email(mail, store, ingress.events) if mail.address else None
        try:
            await serve_until(build_server(ingress.asgi(), config), stop, "ingress")
        finally:
            if mail_server is not None:
                mail_server.close()
                await mail_server.wait_closed()


async def serve_with_settings(settings: Settings, stop: asyncio.Event) -> None:
    """`ratchet dev`'s ingress: its own Temporal client and the process-wide store."""
    from ratchet.engine.connection import connect
    from ratchet.store.database import get_store

    await serve(settings, get_store(settings.effective_database_url), await connect(settings), stop)
