"""The Admin API client against the Shopify fake: cost tracking, throttling, errors, Liquid callable."""

from __future__ import annotations

import pytest

from ratchet.engine.devserver import free_port
from ratchet.shopify import (
    AsyncShopifyClient,
    ShopifyClient,
    ShopifyConfig,
    ShopifyConfigurationError,
    ShopifyHTTPError,
    ShopifyRateLimitExceeded,
    ShopifyThrottled,
    ShopifyTransportError,
    ShopTarget,
    make_liquid_shopify_callable,
)
from ratchet.shopify.client import DEFAULT_API_VERSION
from ratchet.shopify.throttle import get_state, seconds_until_available
from ratchet.store.database import Store
from ratchet.store.tables import Shop
from tests.support.shopify_fake import ShopifyFake

SHOP_QUERY = "query ShopName { shop { name } }"


def test_shop_target_base_url() -> None:
    bare = ShopTarget.from_shop(Shop(id="acme", shopify_domain="acme.myshopify.com", access_token="t"))
    assert bare.base_url == "https://acme.myshopify.com"
    mock = ShopTarget.from_shop(Shop(id="acme", shopify_domain="http://127.0.0.1:1234/", access_token="t"))
    assert mock.base_url == "http://127.0.0.1:1234"
    default = ShopTarget.from_shop(Shop(id="acme", access_token="t"))
    assert default.base_url == "https://acme.myshopify.com"
    with pytest.raises(ShopifyConfigurationError, match="access token"):
        ShopTarget.from_shop(Shop(id="acme", shopify_domain="acme.myshopify.com"))


async def test_graphql_returns_whole_response_and_records_cost(
    db_store: Store, db_shop: Shop, fake: ShopifyFake
) -> None:
    fake.clock.freeze()
    fake.on_graphql("ShopName", {"shop": {"name": "Fake Shop"}}, cost=12)
    async with AsyncShopifyClient(ShopTarget.from_shop(db_shop), store=db_store) as client:
        response = await client.graphql(SHOP_QUERY, {"unused": 1})

    assert response["data"] == {"shop": {"name": "Fake Shop"}}
    assert response["extensions"]["cost"]["throttleStatus"] == {
        "maximumAvailable": 1000.0,
        "currentlyAvailable": 988,
        "restoreRate": 50.0,
    }
    (request,) = fake.requests
    assert request.path == f"/admin/api/{DEFAULT_API_VERSION}/graphql.json"
    assert request.headers["x-shopify-access-token"] == fake.access_token
    assert request.json == {"query": SHOP_QUERY, "variables": {"unused": 1}}

    state = get_state(db_store, db_shop.id)
    assert state is not None
    assert (state.graphql_currently_available, state.graphql_maximum_available, state.graphql_restore_rate) == (
        988,
        1000,
        50,
    )
    assert client.stats.graphql_cost == 12
    assert client.stats.graphql_requests == 1
    assert client.stats.rest_requests == 0


async def test_bucket_size_and_rate_are_read_from_responses(db_store: Store, db_shop: Shop, fake: ShopifyFake) -> None:
    fake.clock.freeze()
    fake.set_graphql_bucket(maximum=20000, restore_rate=1000, available=20000)
    fake.on_graphql("ShopName", {"shop": {"name": "Plus"}})
    async with AsyncShopifyClient(ShopTarget.from_shop(db_shop), store=db_store) as client:
        await client.graphql(SHOP_QUERY)
    state = get_state(db_store, db_shop.id)
    assert state is not None
    assert (state.graphql_maximum_available, state.graphql_restore_rate) == (20000, 1000)


async def test_throttled_graphql_raises_and_gates_the_shop(db_store: Store, db_shop: Shop, fake: ShopifyFake) -> None:
    fake.clock.freeze()
    fake.set_graphql_bucket(available=5)
    fake.on_graphql("ShopName", {"shop": {"name": "Fake Shop"}}, cost=10)
    async with AsyncShopifyClient(ShopTarget.from_shop(db_shop), store=db_store) as client:
        with pytest.raises(ShopifyThrottled) as caught:
            await client.graphql(SHOP_QUERY)

    # Needs 10 points, 5 available, restoring 50/s.
    assert caught.value.retry_after_seconds == pytest.approx(0.1)
    assert caught.value.response["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert client.stats.graphql_cost == 0
    state = get_state(db_store, db_shop.id)
    assert state is not None
    assert state.graphql_currently_available == 5
    assert state.throttled_retry_after_seconds == pytest.approx(0.1)
    assert seconds_until_available(db_store, db_shop.id) > 0


async def test_rest_call_limit_header_is_recorded(db_store: Store, db_shop: Shop, fake: ShopifyFake) -> None:
    fake.clock.freeze()
    fake.set_rest_used(30)
    fake.on_rest("GET", "/admin/api/2025-10/shop.json", 200, {"shop": {"id": 1}})
    async with AsyncShopifyClient(ShopTarget.from_shop(db_shop), store=db_store) as client:
        body = await client.request("get", "/admin/api/2025-10/shop.json", params={"fields": "id"})
    assert body == {"shop": {"id": 1}}
    assert fake.requests[0].params == {"fields": "id"}
    state = get_state(db_store, db_shop.id)
    assert state is not None
    assert (state.rest_used, state.rest_limit) == (31, 40)
    assert client.stats.rest_requests == 1
    assert seconds_until_available(db_store, db_shop.id) == 0.0


async def test_rest_429_raises_with_retry_after(db_store: Store, db_shop: Shop, fake: ShopifyFake) -> None:
    fake.clock.freeze()
    fake.set_rest_used(40)
    async with AsyncShopifyClient(ShopTarget.from_shop(db_shop), store=db_store) as client:
        with pytest.raises(ShopifyThrottled) as caught:
            await client.request("GET", "/admin/api/2025-10/orders.json")
    # One slot frees after 1 / (2 per second).
    assert caught.value.retry_after_seconds == pytest.approx(0.5)
    state = get_state(db_store, db_shop.id)
    assert state is not None
    assert (state.rest_used, state.rest_limit) == (40, 40)
    assert state.throttled_retry_after_seconds == pytest.approx(0.5)
    assert seconds_until_available(db_store, db_shop.id) > 0


async def test_http_errors_and_transport_errors(sqlite_shop: Shop, fake: ShopifyFake) -> None:
    wrong_token = ShopTarget(sqlite_shop.id, fake.base_url, "not-the-token")
    async with AsyncShopifyClient(wrong_token) as client:
        with pytest.raises(ShopifyHTTPError) as caught:
            await client.graphql(SHOP_QUERY)
    assert caught.value.status_code == 401
    assert not caught.value.retryable

    nowhere = ShopTarget(sqlite_shop.id, f"http://127.0.0.1:{free_port()}", "t")
    async with AsyncShopifyClient(nowhere) as client:
        with pytest.raises(ShopifyTransportError):
            await client.graphql(SHOP_QUERY)


def test_sync_client_records_like_the_async_one(sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake) -> None:
    fake.clock.freeze()
    fake.on_graphql("ShopName", {"shop": {"name": "Fake Shop"}}, cost=100)
    with ShopifyClient(ShopTarget.from_shop(sqlite_shop), api_version="2024-07", store=sqlite_store) as client:
        response = client.graphql(SHOP_QUERY)
    assert response["data"]["shop"]["name"] == "Fake Shop"
    assert fake.requests[0].path == "/admin/api/2024-07/graphql.json"
    state = get_state(sqlite_store, sqlite_shop.id)
    assert state is not None and state.graphql_currently_available == 900


def test_liquid_callable_waits_out_throttling(sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake) -> None:
    scale = 0.05
    fake.reset(time_scale=scale)
    # 500 points at 50/s: 10 Shopify seconds (0.5 s of wall time at this scale) to recover.
    fake.set_graphql_bucket(available=0, restore_rate=50)
    fake.on_graphql("ShopName", {"shop": {"name": "Fake Shop"}}, cost=500)
    shopify = make_liquid_shopify_callable(sqlite_store, sqlite_shop, "2025-07", config=ShopifyConfig(time_scale=scale))

    response = shopify(SHOP_QUERY, None)

    assert response["data"] == {"shop": {"name": "Fake Shop"}}
    assert len(fake.requests) >= 2
    assert fake.requests[0].json["query"] == SHOP_QUERY
    assert shopify.stats.graphql_requests == len(fake.requests)
    assert shopify.stats.graphql_cost == 500


def test_liquid_callable_gives_up_after_bounded_retries(
    sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake
) -> None:
    fake.clock.freeze()  # the bucket never refills
    fake.set_graphql_bucket(available=0)
    fake.on_graphql("ShopName", {"shop": {"name": "Fake Shop"}}, cost=10)
    config = ShopifyConfig(time_scale=0.001, throttle_retries=3)
    shopify = make_liquid_shopify_callable(sqlite_store, sqlite_shop, None, config=config)

    with pytest.raises(ShopifyRateLimitExceeded, match="did not recover"):
        shopify(SHOP_QUERY, None)
    assert len(fake.requests) == 4


def test_liquid_callable_refuses_waits_beyond_its_bound(
    sqlite_store: Store, sqlite_shop: Shop, fake: ShopifyFake
) -> None:
    fake.clock.freeze()
    fake.set_graphql_bucket(available=0, restore_rate=1)  # 10 points at 1/s: a 10 s wait
    fake.on_graphql("ShopName", {"shop": {"name": "Fake Shop"}}, cost=10)
    config = ShopifyConfig(time_scale=0.001, max_throttle_wait_seconds=5)
    shopify = make_liquid_shopify_callable(sqlite_store, sqlite_shop, None, config=config)

    with pytest.raises(ShopifyRateLimitExceeded):
        shopify(SHOP_QUERY, None)
    assert len(fake.requests) == 1
