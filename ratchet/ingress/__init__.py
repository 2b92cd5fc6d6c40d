"""Events from the outside world over HTTP: Shopify webhooks and Mechanic webhooks.

`webhooks` (the table and the data mapping) stays free of web-framework imports so the store
can load its table without pulling in FastAPI; the ASGI app lives in `app`.
"""

from __future__ import annotations

from ratchet.errors import InvalidInput


class BadSignature(InvalidInput):
    """The request's HMAC signature is missing or wrong."""

    http_status = 401


class BodyTooLarge(InvalidInput):
    http_status = 413
