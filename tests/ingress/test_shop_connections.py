"""Shops connected through the ingress: the install link's callback, deliveries per shop and topic, rotation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from ratchet.core.clock import utcnow
from ratchet.core.runs import RunState
from ratchet.shopify.tokens import AUTHORIZATION_CODE
from ratchet.store.tables import Shop, ShopifyGrant
from starter.api import Ratchet
from tests.support.engine import TIME_SCALE
from tests.support.ingress import Ingress, count_events, shopify_body, shopify_headers
from tests.support.shopify_fake import ShopifyFake
from tests.support.tasks import add_task
from tests.support.waiting import settled, wait_for_runs

MYSHOPIFY = "fake-outfitters.myshopify.com"


@pytest.fixture
def scaled_fake(shopify_fake_server: ShopifyFake) -> Iterator[ShopifyFake]:
    fake = shopify_fake_server
    fake.reset(time_scale=TIME_SCALE)
    fake.oauth.offline_token_seconds = 40.0  # two wall seconds at TIME_SCALE
    yield fake
    fake.reset()


async def _connect(api: Ratchet, fake: ShopifyFake) -> None:
    await api.shops.connect(
        api.settings.shop, shop=fake.base_url, client_id=fake.oauth.client_id, client_secret=fake.oauth.client_secret
    )


def _headers(body: bytes, secret: str, **fields: str) -> dict[str, str]:
    headers = shopify_headers(body, secret=secret) | {"x-shopify-shop-domain": MYSHOPIFY}
    return headers | {f"x-shopify-{name.replace('_', '-')}": value for name, value in fields.items()}


async def test_an_install_link_connects_a_second_shop_through_the_callback(
    api: Ratchet, ingress: Ingress, http: httpx.AsyncClient, scaled_fake: ShopifyFake
) -> None:
    fake = scaled_fake
    agency = Ratchet(api.settings.updated(ingress={"public_url": ingress.url}), api.store, api.client)
    shop_id = f"client-{uuid.uuid4().hex[:8]}"
    link = await agency.shops.install_url(
        shop_id,
        shop=fake.base_url,
        client_id=fake.oauth.client_id,
        client_secret=fake.oauth.client_secret,
        scopes=["read_orders"],
    )
    approved = await http.get(link)  # the merchant approves; Shopify redirects to our callback
    callback = approved.headers["location"]
    assert callback.startswith(f"{ingress.url}/shopify/auth/callback?")
    page = await http.get(callback)
    assert page.status_code == 200, page.text
    assert f"Connected {MYSHOPIFY} to Ratchet as shop {shop_id}" in page.text
    with api.store.session() as session:
        grant = session.get(ShopifyGrant, shop_id)
        assert grant is not None and grant.grant == AUTHORIZATION_CODE

    # The shop runs tasks that read Shopify, across its hour-long (here: two-second) tokens.
    await add_task(
        Ratchet(api.settings.updated(shop=shop_id), api.store, api.client),
        "Reader",
        '{% assign r = "query { shop { name } }" | shopify %}{% action "echo", name: r.data.shop.name %}',
        ["user/install/read"],
    )
    client_api = Ratchet(api.settings.updated(shop=shop_id), api.store, api.client)
    first = await client_api.events.send("user/install/read", None)
    (await wait_for_runs(client_api, first, settled(1)))
    await _sleep_past_a_token()
    second = await client_api.events.send("user/install/read", None)
    runs = await wait_for_runs(client_api, first, settled(1)) + await wait_for_runs(client_api, second, settled(1))
    assert all(run.state == RunState.succeeded for run in runs), [r.error for r in runs]
    assert fake.oauth.grants[-1] == "refresh_token"

    again = await http.get(callback)  # the link was single use
    assert again.status_code == 400 and "already used" in again.text and "\n" not in again.text.strip()


async def _sleep_past_a_token() -> None:
    import asyncio

    await asyncio.sleep(40.0 * TIME_SCALE + 0.5)


async def test_deliveries_are_one_event_per_topic_and_refused_for_another_shop(
    api: Ratchet, ingress: Ingress, http: httpx.AsyncClient, scaled_fake: ShopifyFake
) -> None:
    fake = scaled_fake
    await _connect(api, fake)
    url = f"{ingress.url}/webhooks/shopify/{api.settings.shop}"
    secret = fake.oauth.client_secret
    body = shopify_body({"id": 1})
    event_id = str(uuid.uuid4())
    # One Shopify event delivered to two subscriptions (topics), each delivered twice.
    for topic in ("orders/create", "orders/updated"):
        for _ in range(2):
            headers = _headers(body, secret, topic=topic, event_id=event_id, webhook_id=str(uuid.uuid4()))
            assert (await http.post(url, content=body, headers=headers)).status_code == 200
    assert count_events(api.store, api.settings.shop) == 2
    # Without an event id, the webhook id identifies the delivery across retries.
    webhook_id = str(uuid.uuid4())
    for _ in range(2):
        headers = _headers(body, secret, webhook_id=webhook_id)
        headers.pop("x-shopify-event-id")
        assert (await http.post(url, content=body, headers=headers)).status_code == 200
    assert count_events(api.store, api.settings.shop) == 3

    # Signed with the app's secret, but for another shop: refused, nothing recorded.
    other = _headers(body, secret, shop_domain="someone-else.myshopify.com")
    refused = await http.post(url, content=body, headers=other)
    assert refused.status_code == 401 and "X-Shopify-Shop-Domain" in refused.text
    assert count_events(api.store, api.settings.shop) == 3


async def test_the_previous_secret_verifies_for_an_hour_after_a_rotation(
    api: Ratchet, ingress: Ingress, http: httpx.AsyncClient, scaled_fake: ShopifyFake
) -> None:
    fake = scaled_fake
    await _connect(api, fake)
    old = fake.oauth.client_secret
    fake.oauth.client_secret = "rotated-secret"
    await _connect(api, fake)
    url = f"{ingress.url}/webhooks/shopify/{api.settings.shop}"
    body = shopify_body({"id": 2})
    for secret, status in ((old, 200), ("rotated-secret", 200), ("never-a-secret", 401)):
        response = await http.post(url, content=body, headers=_headers(body, secret))
        assert response.status_code == status, (secret, response.text)

    with api.store.session() as session:  # the hour is over
        shop = session.get(Shop, api.settings.shop)
        assert shop is not None
        shop.previous_webhook_secret_expires_at = utcnow() - timedelta(seconds=1)
        session.add(shop)
    response = await http.post(url, content=body, headers=_headers(body, old))
    assert response.status_code == 401
