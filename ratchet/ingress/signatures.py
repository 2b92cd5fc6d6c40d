"""Webhook signatures: base64 of HMAC-SHA256 over the raw body, keyed by a shared secret.

Shopify signs its deliveries this way (X-Shopify-Hmac-SHA256, keyed by the app's secret;
https://shopify.dev/docs/apps/build/webhooks/subscribe/https, "Validate the origin of each
webhook"), and Mechanic webhooks with a secret reuse the scheme (X-Ratchet-Hmac-SHA256).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac


def signature(secret: str, body: bytes) -> str:
    """The signature a sender holding `secret` puts on `body`."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signature_matches(secret: str, body: bytes, claimed: str | None) -> bool:
    """Whether `claimed` (the header's value, absent or malformed ones included) signs `body` with `secret`."""
    if not claimed:
        return False
    try:
        claimed_digest = base64.b64decode(claimed.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    # Compare digests, not strings, and in constant time: no timing oracle on the secret.
    return hmac.compare_digest(hmac.new(secret.encode(), body, hashlib.sha256).digest(), claimed_digest)
