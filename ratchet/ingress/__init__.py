"""Events from the outside world over HTTP: Shopify deliveries and Mechanic webhooks.

`app` holds the routes (`Ingress`, one method each) and `asgi` the plain ASGI parts they run
in; `shopify_deliveries` verifies and reads a Shopify delivery, `mechanic_webhooks` maps a
request to its event's data, and `signatures` checks the HMAC both carry.
"""

from __future__ import annotations

from ratchet.errors import InvalidInput


class BadSignature(InvalidInput):
    """The request's HMAC signature is missing or wrong."""

    http_status = 401


class BodyTooLarge(InvalidInput):
    http_status = 413
