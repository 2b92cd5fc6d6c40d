"""Events from the outside world over HTTP: Shopify webhooks and Mechanic webhooks.

`webhooks` (the table and the data mapping) stays free of web-framework imports so the store
can load its table without pulling in FastAPI; the ASGI app lives in `app`.
"""

from __future__ import annotations


class IngressError(Exception):
    """A request the ingress refuses; `status` is the HTTP answer, the message its JSON body."""

    status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(IngressError):
    status = 400


class BadSignature(IngressError):
    status = 401


class NotFound(IngressError):
    status = 404


class BodyTooLarge(IngressError):
    status = 413


class Unavailable(IngressError):
    """Temporal or the database could not take the event; the sender should retry later."""

    status = 503
