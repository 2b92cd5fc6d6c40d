"""The ingress's plain ASGI parts: body limits, webhook counts, error answers, and the Shopify deliveries' route.

Plain ASGI rather than FastAPI so that the route most webhooks take, `POST
/webhooks/shopify/{shop}`, pays for nothing but its own work: FastAPI's routing, dependency
solving and middleware layers are Python run on every request, on a path whose every
CPU-millisecond comes out of the same budget as the Temporal server's.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from sqlalchemy.exc import OperationalError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.service import RPCError

from ratchet.engine.metrics import metrics
from ratchet.errors import RatchetError, Unavailable
from ratchet.ingress import BodyTooLarge
from ratchet.ingress.shopify_deliveries import ShopifyDelivery

log = logging.getLogger("ratchet.ingress")

# A delivery as it arrived → the JSON answer once it is accepted (`Ingress.shopify_delivery`).
ReceiveShopifyDelivery = Callable[[ShopifyDelivery], Awaitable[dict[str, Any]]]

# Senders (Shopify included) retry on 503; this tells polite ones when.
RETRY_AFTER_SECONDS = 5
# Why a webhook was refused, by the status it was answered with.
REJECTION_REASONS = {400: "invalid", 401: "bad_signature", 404: "unknown_shop", 413: "too_large", 503: "unavailable"}
SHOPIFY_DELIVERY_PREFIX = "/webhooks/shopify/"


def error_response(exc: RatchetError) -> JSONResponse:
    headers = {"retry-after": str(RETRY_AFTER_SECONDS)} if isinstance(exc, Unavailable) else None
    # 413 closes the connection: the unread rest of the body must not be parsed as a request.
    if isinstance(exc, BodyTooLarge):
        headers = {"connection": "close"}
    return JSONResponse(
        {"error": {"message": exc.message, "status": exc.http_status}}, status_code=exc.http_status, headers=headers
    )


@contextlib.contextmanager
def durable() -> Iterator[None]:
    """Map failures to start the event onto answers a sender can act on."""
    try:
        yield
    except (RPCError, OperationalError, RuntimeError) as exc:
        log.warning("event not accepted: %s", exc)
        raise Unavailable("the event could not be stored; retry later") from exc


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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._drain(receive, 0)
            await error_response(BodyTooLarge(self._message()))(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    if message.get("more_body"):
                        await self._drain(receive, seen)
                    # Raised into the handler's body read; the handler answers it like any RatchetError.
                    raise BodyTooLarge(self._message())
            return message

        await self.app(scope, limited, send)

    async def _drain(self, receive: Receive, seen: int) -> None:
        while seen <= self.max_bytes * self.DRAIN_FACTOR:
            message = await receive()
            if message["type"] != "http.request":
                return
            seen += len(message.get("body", b""))
            if not message.get("more_body"):
                return

    def _message(self) -> str:
        return f"request body exceeds {self.max_bytes} bytes (RATCHET_MAX_BODY_BYTES)"


class CountWebhooks:
    """ASGI middleware: ratchet_webhooks_total by source and outcome, for every answer (413s included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not path.startswith("/webhooks/"):
            await self.app(scope, receive, send)
            return
        source = "shopify" if path.startswith(SHOPIFY_DELIVERY_PREFIX) else "mechanic"

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                outcome = "accepted" if status < 300 else REJECTION_REASONS.get(status, str(status))
                metrics().webhooks.add(1, {"source": source, "outcome": outcome})
            await send(message)

        await self.app(scope, receive, counted)


def delivery_shop(scope: Scope) -> str | None:
    """The shop of a `POST /webhooks/shopify/{shop}` request, else None."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path: str = scope["path"]
    if not path.startswith(SHOPIFY_DELIVERY_PREFIX):
        return None
    shop_id = path[len(SHOPIFY_DELIVERY_PREFIX) :]
    return shop_id if shop_id and "/" not in shop_id else None


class ShopifyDeliveryRoute:
    """`POST /webhooks/shopify/{shop}` answered here, everything else by `fallback` (the FastAPI app).

    Same limits, counts and answers as a FastAPI route would give: 413 past the body limit,
    a RatchetError's status and JSON body, uvicorn's 500 for anything unexpected.
    """

    def __init__(self, receive: ReceiveShopifyDelivery, fallback: ASGIApp, max_body_bytes: int) -> None:
        self.receive = receive
        self.fallback = fallback
        self.endpoint = CountWebhooks(LimitBody(self._answer, max_body_bytes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        shop_id = delivery_shop(scope)
        if shop_id is None:
            await self.fallback(scope, receive, send)
        else:
            # Where Starlette's router puts a route's parameters.
            scope["path_params"] = {"shop_id": shop_id}
            await self.endpoint(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        shop_id: str = scope["path_params"]["shop_id"]
        try:
            body = await _read_body(receive)
            # ASGI servers lower-case header names; the first of repeated headers wins, as in Starlette.
            headers: dict[str, str] = {}
            for name, value in scope["headers"]:
                headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
            response = JSONResponse(await self.receive(ShopifyDelivery(shop_id, body, headers)))
        except RatchetError as exc:
            response = error_response(exc)
        await response(scope, receive, send)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            # The sender gave up; nothing was accepted, and there is no one to answer.
            raise Unavailable("the sender disconnected before the body arrived")
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)
