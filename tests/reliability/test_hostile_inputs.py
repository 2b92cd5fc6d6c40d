"""Malformed and hostile webhook inputs are rejected and create no event."""

from __future__ import annotations

import uuid

import httpx
import pytest

from ratchet.ingress.signatures import signature
from ratchet.services.mechanic_webhooks import add_webhook
from starter.api import Ratchet
from tests.support.ingress import SHOPIFY_SECRET, Ingress, count_events, shopify_body, shopify_headers

pytestmark = pytest.mark.reliability


async def test_hostile_inputs_create_no_event(
    api: Ratchet, shop: str, ingress: Ingress, http: httpx.AsyncClient
) -> None:
    await api.shops.set(shop, webhook_secret=SHOPIFY_SECRET)
    signed_hook = add_webhook(api.store, shop, "signed", "user/hostile/probe", secret="hook-secret")
    shopify_url = f"{ingress.url}/webhooks/shopify/{shop}"
    body = shopify_body({"id": 1})
    legit = shopify_headers(body, event_id=str(uuid.uuid4()))
    accepted = await http.post(shopify_url, content=body, headers=legit)
    assert accepted.status_code == 200

    ten_mb = b'{"pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    bad_json = b'{"id": '
    attacks: list[tuple[str, str, dict, int]] = [
        (
            "shopify bad HMAC",
            shopify_url,
            {
                "content": body,
                "headers": {**legit, "x-shopify-hmac-sha256": signature("guess", body), "x-shopify-event-id": "x1"},
            },
            401,
        ),
        (
            "shopify missing HMAC",
            shopify_url,
            {
                "content": body,
                "headers": {k: v for k, v in shopify_headers(body).items() if k != "x-shopify-hmac-sha256"},
            },
            401,
        ),
        (
            "shopify HMAC of another body",
            shopify_url,
            {"content": shopify_body({"id": 666}), "headers": shopify_headers(body)},
            401,
        ),
        ("shopify invalid JSON", shopify_url, {"content": bad_json, "headers": shopify_headers(bad_json)}, 400),
        ("shopify 10 MB body", shopify_url, {"content": ten_mb, "headers": shopify_headers(ten_mb)}, 413),
        (
            "shopify unknown topic",
            shopify_url,
            {"content": body, "headers": shopify_headers(body, topic="../../etc/passwd")},
            400,
        ),
        ("shopify replay", shopify_url, {"content": body, "headers": legit}, 200),
        (
            "shopify unknown shop",
            f"{ingress.url}/webhooks/shopify/no-such-shop",
            {"content": body, "headers": shopify_headers(body)},
            404,
        ),
        ("webhook unsigned", f"{ingress.url}/webhooks/{signed_hook.id}", {"content": body}, 401),
        (
            "webhook forged",
            f"{ingress.url}/webhooks/{signed_hook.id}",
            {"content": body, "headers": {"x-ratchet-hmac-sha256": signature("nope", body)}},
            401,
        ),
        ("webhook 10 MB body", f"{ingress.url}/webhooks/{signed_hook.id}", {"content": ten_mb}, 413),
        ("webhook unknown id", f"{ingress.url}/webhooks/{uuid.uuid4()}", {"content": body}, 204),
    ]
    print("\nhostile webhook inputs:")
    for label, url, kwargs, expected in attacks:
        response = await http.post(url, **kwargs)
        print(f"  {label:<30} → {response.status_code}")
        assert response.status_code == expected, (label, response.text)
    events = count_events(api.store, shop)
    print(f"  {len(attacks)} hostile requests, events created beyond the one legitimate delivery: {events - 1}")
    assert events == 1
